"""Learning-rate schedules with a warm-up: a straight-line decay after it (airbench94's), which
Keras lacks, and Keras' cosine decay, the warm-up chosen without a `cond`.

Both pick the warm-up or the decay with `where`. Keras' CosineDecay picks with `cond`, and
TensorFlow's AdamW and SGD ask for the rate once per weight when they decay it, so one `cond`
was traced per weight: 2.2 of the 7.5 s it took to trace the seq2seq transformer's training step,
and 3 s of its first step. The classes are registered as "mlkit>WarmupLinearDecay" and
"mlkit>WarmupCosineDecay", so a model saved with an optimizer following one loads in safe mode
(`mlkit.training.load_model` passes `custom_objects`).
"""

import functools
import math


@functools.cache
def warmup_linear_decay():
    """The schedule class, defined on first use so that importing mlkit does not import Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="mlkit")
    class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
        """From `initial_learning_rate` up to `warmup_target` over `warmup_steps`, then down to
        `alpha` x `warmup_target` over `decay_steps`, both in straight lines, and flat after.
        The arguments are CosineDecay's, so either fits where the other did."""

        def __init__(self, initial_learning_rate: float, warmup_target: float, warmup_steps: int,
                     decay_steps: int, alpha: float = 0.0, name: str = "WarmupLinearDecay"):
            super().__init__()
            self.initial_learning_rate = initial_learning_rate
            self.warmup_target = warmup_target
            self.warmup_steps = warmup_steps
            self.decay_steps = decay_steps
            self.alpha = alpha
            self.name = name

        def __call__(self, step):
            ops = keras.ops
            step = ops.cast(step, "float32")
            warmed = ops.minimum(1.0, step / max(1, self.warmup_steps))
            rising = self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * warmed
            decayed = ops.clip((step - self.warmup_steps) / max(1, self.decay_steps), 0.0, 1.0)
            falling = self.warmup_target * (1 - (1 - self.alpha) * decayed)
            return ops.where(step < self.warmup_steps, rising, falling)

        def get_config(self) -> dict:
            return {"initial_learning_rate": self.initial_learning_rate, "warmup_target": self.warmup_target,
                    "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps, "alpha": self.alpha,
                    "name": self.name}

    return WarmupLinearDecay


@functools.cache
def warmup_cosine_decay():
    """The schedule class, defined on first use so that importing mlkit does not import Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="mlkit")
    class WarmupCosineDecay(keras.optimizers.schedules.CosineDecay):
        """Keras' CosineDecay with a warm-up, the same rate at every step (the same operations
        in the same order), the warm-up or the decay picked with `where` instead of `cond`."""

        def __call__(self, step):
            if self.warmup_target is None:
                return super().__call__(step)
            ops = keras.ops
            initial = ops.convert_to_tensor(self.initial_learning_rate)
            dtype = initial.dtype
            decay_steps, warmup_steps = ops.cast(self.decay_steps, dtype), ops.cast(self.warmup_steps, dtype)
            target = ops.cast(self.warmup_target, dtype)
            step = ops.minimum(ops.cast(step, dtype), decay_steps + warmup_steps)
            rising = (target - initial) * (step / warmup_steps) + initial
            completed = ops.divide(step - warmup_steps, decay_steps)
            cosine = 0.5 * (1.0 + ops.cos(ops.multiply(ops.array(math.pi, dtype=dtype), completed)))
            falling = ops.multiply(target, (1 - self.alpha) * cosine + self.alpha)
            return ops.where(step < warmup_steps, rising, falling)

    return WarmupCosineDecay


def custom_objects() -> dict:
    """mlkit's schedules by registered name, for `keras.saving.load_model`."""
    return {"mlkit>WarmupLinearDecay": warmup_linear_decay(), "mlkit>WarmupCosineDecay": warmup_cosine_decay()}
