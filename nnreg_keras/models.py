"""Keras building blocks the lessons need but Keras does not ship.

The models themselves (Dense, Dropout, L2) are written in the notebooks, where a learner reads them.
"""
from __future__ import annotations

import numpy as np

from nnreg_keras.training import keras


@keras.saving.register_keras_serializable(package="nnreg_keras")
class FixedMaskDropout(keras.layers.Layer):
    """Dropout whose mask is drawn once and then kept, in training and at inference.

    Exactly round((1 - rate) · units) units are kept, chosen at random with `seed`; kept units are
    scaled by 1/(1 - rate) like inverted dropout. Since the same units are dropped on every step,
    the layers around it train one thinned sub-network: a smaller network inside a wide one.
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}")
        self.rate, self.seed = float(rate), int(seed)

    def build(self, input_shape):
        units = int(input_shape[-1])
        kept = np.random.default_rng(self.seed).permutation(units) < round((1 - self.rate) * units)
        # Not trainable: the mask is a choice of architecture, not a parameter. A variable rather than a
        # constant, so models that differ only in their mask share one traced training step.
        self.mask = self.add_weight(shape=(units,), initializer=keras.initializers.Constant(kept.astype("float32")),
                                    trainable=False, name="mask")

    def call(self, inputs):
        return inputs * self.mask / (1.0 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
