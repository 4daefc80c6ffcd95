"""A learning-rate schedule Keras lacks: a linear warm-up, then a linear decay (airbench94's).

Keras' own schedules decay by a cosine, exponentially, piecewise or by a polynomial without a
warm-up. The class is registered under "mlkit>WarmupLinearDecay", so a model saved with an
optimizer following it loads in safe mode (`mlkit.training.load_model` passes `custom_objects`).
"""

import functools


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


def custom_objects() -> dict:
    """mlkit's schedules by registered name, for `keras.saving.load_model`."""
    return {"mlkit>WarmupLinearDecay": warmup_linear_decay()}
