"""Keras building blocks the lessons need but Keras does not ship: layers and regularizers.

The models themselves (Dense, Dropout, L2) are written in the notebooks, where a learner reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.rules import check_rate
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
        self.rate, self.seed = check_rate(rate), int(seed)

    def build(self, input_shape):
        units = int(input_shape[-1])
        kept = np.random.default_rng(self.seed).permutation(units) < round((1 - self.rate) * units)
        # A constant, not a weight: the mask is a choice of architecture, not a parameter (so models
        # with different mask seeds are different architectures to `training.fit_full_batch`).
        self.mask = keras.ops.convert_to_tensor(kept.astype("float32"))

    def call(self, inputs):
        return inputs * self.mask / (1.0 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="nnreg_keras")
class MaskedDropout(keras.layers.Layer):
    """Inverted dropout with a given mask: `inputs * mask / keep_prob` in training, identity at inference.

    `mask` has shape (m, units), one row per training example as the course draws it, or (1, units),
    one mask for the whole batch. With the course's fixed masks this trains exactly what the
    assignment trains; the training batch must then be the m examples the mask was drawn for."""

    def __init__(self, mask: np.ndarray, keep_prob: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < keep_prob <= 1:
            raise ParameterError(f"keep_prob = {keep_prob!r}: accepted a number in (0, 1]")
        self.mask_values = np.asarray(mask, dtype="float32")
        if self.mask_values.ndim != 2 or not np.isin(self.mask_values, (0, 1)).all():
            raise ParameterError(
                f"mask of shape {self.mask_values.shape}: accepted a 2-D array of 0/1 "
                "with shape (m, units) or (1, units)"
            )
        self.keep_prob = float(keep_prob)
        # A variable rather than a constant, so models that differ only in their masks share one traced step.
        self.mask = self.add_weight(
            shape=self.mask_values.shape,
            trainable=False,
            name="mask",
            initializer=keras.initializers.Constant(self.mask_values),
        )

    def call(self, inputs, training=None):
        if training:
            return inputs * self.mask / self.keep_prob
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask_values.tolist(),
            "keep_prob": self.keep_prob,
        }


@keras.saving.register_keras_serializable(package="nnreg_keras")
class AdaptiveL2(keras.regularizers.Regularizer):
    """The quadratic dropout penalty R_q/m of a sigmoid unit without bias, as a kernel regularizer.

    For `Dense(1, activation="sigmoid", use_bias=False)` trained with binary cross-entropy (a mean
    over the batch) on the full training inputs `x`, it adds ½·δ/(1−δ)·mean_i p_i(1−p_i)·Σ_j x_ij²·w_j²
    with p_i = sigmoid(x_i·w) recomputed from the current kernel, so its gradient also flows through
    p: it replaces `Dropout(rate)` on the inputs, to second order.
    """

    def __init__(self, rate: float, x: Any):
        self.rate = check_rate(rate)
        self.x = np.asarray(x, dtype="float32")
        if self.x.ndim != 2:
            raise ParameterError(
                f"x must be the training inputs, shape (examples, features), got {self.x.shape}"
            )

    def __call__(self, kernel):
        if tuple(kernel.shape) not in ((self.x.shape[1], 1), (self.x.shape[1],)):
            raise ParameterError(
                f"AdaptiveL2 holds inputs with {self.x.shape[1]} features, but the kernel "
                f"has shape {tuple(kernel.shape)}; expected ({self.x.shape[1]}, 1)"
            )
        ops = keras.ops
        x = ops.convert_to_tensor(self.x, dtype=kernel.dtype)
        w = ops.reshape(kernel, (-1,))
        p = ops.sigmoid(ops.matmul(x, w))
        spread = ops.matmul(ops.square(x), ops.square(w))  # Σ_j x_ij² w_j², per example
        return 0.5 * self.rate / (1.0 - self.rate) * ops.mean(p * (1.0 - p) * spread)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "x": self.x.tolist()}


@keras.saving.register_keras_serializable(package="nnreg_keras")
class FeatureDropout(keras.layers.Layer):
    """Inverted dropout with one rate per input feature, for dropping chosen features only.

    In training, feature j of each example is zeroed with probability `rates[j]` and kept values
    are scaled by 1/(1 − rates[j]), so every feature keeps its mean; at inference it is the
    identity. With every rate equal it draws what `keras.layers.Dropout(rate)` draws; with a rate
    on one feature and 0 elsewhere it hides that feature alone. Like `keras.layers.Dropout`, its
    random state is a `keras.random.SeedGenerator` (a variable), so models that differ only in
    their seed share one traced training step, and an explicit `seed` leaves the global random
    streams (which draw the initial weights of later layers) untouched.
    """

    def __init__(self, rates: list[float], seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        rates = list(np.ravel(rates))
        if not rates:
            raise ParameterError("rates must hold one dropout rate per input feature, got none")
        self.rates = [check_rate(r, f"rates[{j}]") for j, r in enumerate(rates)]
        self.seed = seed
        if any(self.rates):
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if int(input_shape[-1]) != len(self.rates):
            raise ParameterError(
                f"FeatureDropout holds {len(self.rates)} rates, one per input feature, but its "
                f"input has {input_shape[-1]} features"
            )

    def call(self, inputs, training=None):
        if not training or not any(self.rates):
            return inputs
        keep = keras.ops.convert_to_tensor(1.0 - np.array(self.rates), dtype=inputs.dtype)
        draw = keras.random.uniform(
            keras.ops.shape(inputs), seed=self.seed_generator, dtype=inputs.dtype
        )
        return keras.ops.where(draw < keep, inputs / keep, keras.ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rates": self.rates, "seed": self.seed}
