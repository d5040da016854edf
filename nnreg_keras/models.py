"""Keras building blocks the lessons need but Keras does not ship: layers and regularizers.

The models themselves (Dense, Dropout, L2) are written in the notebooks, where a learner reads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.rules import check_rate
from nnreg_keras.training import BACKEND, MASK_BITS, keras, mask_scale, mask_threshold

__all__ = ["MASK_BITS", "mask_scale", "mask_threshold"]  # and the layers below


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


def hash_bits(index: Any, key0: Any, key1: Any) -> Any:
    """Random-looking uint32 words from uint32 `index` and keys (broadcast against it), on TensorFlow
    and JAX: MurmurHash3's 32-bit finalizer applied twice, to index·φ + key0 and then with key1.

    A counter-based hash: a few integer operations per unit where Keras's dropout runs a Threefry or
    Philox round per word and converts it to a float. Its statistics are more than dropout needs
    (each output bit depends on every input bit); it is not meant for cryptography or Monte Carlo."""
    if BACKEND == "jax":
        import jax.numpy as jnp

        def const(value):
            return jnp.uint32(value)

        xor, shift, mul = jnp.bitwise_xor, jnp.right_shift, jnp.multiply
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        def const(value):
            return tf.constant(value, tf.uint32)

        xor, shift, mul = tf.bitwise.bitwise_xor, tf.bitwise.right_shift, tf.math.multiply
    else:
        raise NotImplementedError(f"hash_bits runs on TensorFlow and JAX, not {BACKEND}")

    def finalize(h):
        h = mul(xor(h, shift(h, const(16))), const(0x85EBCA6B))
        h = mul(xor(h, shift(h, const(13))), const(0xC2B2AE35))
        return xor(h, shift(h, const(16)))

    return finalize(xor(finalize(mul(index, const(0x9E3779B9)) + key0), key1))


def _keep_mask(inputs: Any, seed: Any, threshold: int) -> Any:
    """Where a hashed mask keeps a unit of a tensor shaped like `inputs`: the hash of the unit's
    index and the seed state (SeedGenerator.next()) at least `threshold`."""
    if BACKEND == "jax":
        import jax.numpy as jnp

        index = jnp.arange(inputs.size, dtype=jnp.uint32).reshape(inputs.shape)
        return hash_bits(index, seed[0], seed[1]) >= jnp.uint32(threshold)
    import tensorflow as tf

    threshold = tf.constant(threshold, tf.uint32)
    if tf.executing_eagerly():  # a call outside a traced step (Monte Carlo passes): one XLA kernel
        return _eager_keep_mask(inputs, seed, threshold)
    return _tf_keep_mask(inputs, seed, threshold)


def hash_dropout(
    inputs: Any, rate: float, seed_generator: Any, noise_shape: tuple | None = None
) -> Any:
    """Inverted dropout in training with a mask from `hash_bits`: each unit (or each entry of
    `noise_shape`, broadcast as Keras does) kept with probability 1 - round(rate·2³²)/2³², kept
    units scaled by 1/(1 - rate); the seed generator advances once per call, as in Keras's layer.
    On PyTorch, Keras's uniform draw against the same threshold."""
    if rate >= 1:
        return keras.ops.zeros_like(inputs)
    shape = tuple(inputs.shape)
    if noise_shape is not None:
        shape = tuple(s if d is None else d for s, d in zip(shape, noise_shape, strict=True))
    threshold = mask_threshold(rate)
    if BACKEND in ("jax", "tensorflow"):
        like = inputs if shape == tuple(inputs.shape) else keras.ops.zeros(shape, "float32")
        keep = _keep_mask(like, seed_generator.next(), threshold)
    else:
        uniform = keras.random.uniform(shape, seed=seed_generator)
        keep = keras.ops.greater_equal(uniform, threshold / 2**MASK_BITS)
    if shape != tuple(inputs.shape):
        keep = keras.ops.broadcast_to(keep, keras.ops.shape(inputs))
    return keras.ops.where(keep, inputs * mask_scale(rate), keras.ops.zeros_like(inputs))


def _keras_dropouts(model: Any) -> list[Any]:
    """Every `keras.layers.Dropout` (the class itself, not a subclass) that drops: the layer itself,
    or the layers of a model, nested ones too."""
    if type(model) is keras.layers.Dropout:
        return [model] if model.rate > 0 else []
    found = []
    for layer in getattr(model, "layers", []):
        if type(layer) is keras.layers.Dropout and layer.rate > 0:
            found.append(layer)
        found += _keras_dropouts(layer)
    return found


def has_keras_dropout(model: Any) -> bool:
    """Whether `fast_masks` changes anything in the model."""
    return bool(_keras_dropouts(model))


def _fast_call(layer: Any):
    def call(inputs, training=False):
        if not training:
            return inputs
        return hash_dropout(inputs, layer.rate, layer.seed_generator, layer.noise_shape)

    return call


def use_fast_masks(model: Any) -> Callable[[], None]:
    """Make every `keras.layers.Dropout` in `model` draw its masks with `hash_dropout` (see
    `fast_masks`) from now on; return a function that gives them Keras's masks back."""
    layers = _keras_dropouts(model)
    for layer in layers:
        object.__setattr__(layer, "call", _fast_call(layer))

    def restore() -> None:
        for layer in layers:
            layer.__dict__.pop("call", None)

    return restore


@contextlib.contextmanager
def fast_masks(model: Any) -> Iterator[Any]:
    """Within the block, every `keras.layers.Dropout` of `model` draws its training masks from the
    counter-based `hash_bits` (what `BitsDropout` draws) instead of Keras's random generator:
    the same keep probability (within 2⁻³³), the same inverted scaling, masks independent across
    steps, units, examples, layers and models (each layer's seed state is the key), the identity
    at inference. A step traced within the block keeps the hashed masks."""
    restore = use_fast_masks(model)
    try:
        yield model
    finally:
        restore()


def _tf_keep_mask(inputs: Any, seed: Any, threshold: Any) -> Any:
    """`_keep_mask` on TensorFlow, `threshold` a uint32 tensor."""
    import tensorflow as tf

    index = tf.reshape(tf.range(tf.size(inputs), dtype=tf.int64), tf.shape(inputs))
    seed = tf.cast(seed, tf.uint32)
    bits = hash_bits(tf.cast(index, tf.uint32), seed[0], seed[1])
    return bits >= threshold


if BACKEND == "tensorflow":
    import tensorflow as _tf

    # The same integer operations compiled together: about twice as fast as a dozen eager ops.
    _eager_keep_mask = _tf.function(
        _tf_keep_mask, jit_compile=True, reduce_retracing=True, autograph=False
    )


@keras.saving.register_keras_serializable(package="nnreg_keras")
class BitsDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with cheaper masks: a unit is kept when 32 hashed bits reach a threshold.

    The same layer as Keras's (it is a subclass: `isinstance(layer, keras.layers.Dropout)` holds),
    drawing its masks another way. In training, each unit of each example is kept with probability
    1 - round(rate·2³²)/2³² (within 2⁻³³ of 1 - rate) and kept units are scaled by 1/(1 - rate); at
    inference it is the identity. The bits are `hash_bits` of the unit's index and the layer's seed
    state, a SeedGenerator variable advanced once per call as in Keras's layer, so models that
    differ only in their seed share one traced training step. On TensorFlow and JAX the mask costs a
    few integer operations per unit instead of a random-number generator's rounds and a float
    conversion (`make bench` measures the difference); on PyTorch it is Keras's uniform draw against
    the same threshold. `noise_shape` (one mask shared along some axes) is not offered.

    A lesson keeps `keras.layers.Dropout` in its model and asks the training call for these masks
    (`training.fit_many(..., masks="fast")`, see `fast_masks`); this layer is the same draw as a
    layer of its own, for code that wants the hashed masks in every call.
    """

    def __init__(self, rate: float, seed: int | None = None, noise_shape=None, **kwargs):
        if noise_shape is not None:
            raise ParameterError(
                f"BitsDropout: noise_shape = {noise_shape!r}: accepted None (one mask entry per "
                "unit); use keras.layers.Dropout for a shared mask"
            )
        super().__init__(check_rate(rate), seed=seed, **kwargs)
        self.threshold = mask_threshold(self.rate)
        self.scale = mask_scale(self.rate)

    def call(self, inputs, training=False):
        if not training or self.threshold == 0:
            return inputs
        return hash_dropout(inputs, self.rate, self.seed_generator)


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
