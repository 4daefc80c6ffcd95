"""What `depth-study` trains: one TrainingPlan (model builder, optimizer, batch size) per run.

The numbers are the seeds': SGD 0.01 and batch 128 for the depth grid (seeds 000/002);
SGD 0.5 for the linear model, Adam 1e-3 for the others and batch 100 (seed 004).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .models.mlp import ACTIVATIONS, VARIANTS, build_depth_mlp, build_linear, build_wide_mlp
from .models.mnist_cnn import build_mnist_cnn

SEED_MODELS = ("linear", "mlp", "mlp-dropout", "cnn")
MAX_DEPTH = 30
DEPTH_BATCH_SIZE = 128
DEPTH_LEARNING_RATE = 0.01
COMPARISON_BATCH_SIZE = 100
LINEAR_LEARNING_RATE = 0.5
# Two stacked linear layers at SGD 0.5 sit on the edge of stability: with some seeds the loss
# reaches 1e33 within 70 batches and then NaN (measured on MNIST). Clipping each gradient to
# norm 1 keeps the seed's learning rate and stops the blow-up.
LINEAR_CLIPNORM = 1.0
ADAM_LEARNING_RATE = 1e-3
WIDE_DROPOUT_RATE = 0.5

__all__ = ["ACTIVATIONS", "MAX_DEPTH", "SEED_MODELS", "VARIANTS", "TrainingPlan",
           "comparison_plans", "depth_plans"]


@dataclass(frozen=True)
class TrainingPlan:
    """How to build and train one model of the study."""

    label: str
    model: str
    build: Callable  # (input_shape, num_classes) -> uncompiled keras.Model
    optimizer_name: str
    learning_rate: float
    batch_size: int
    activation: str | None = None
    depth: int | None = None
    variant: str | None = None
    clipnorm: float | None = None

    def optimizer(self):
        """A fresh Keras optimizer (one per model: optimizers keep per-variable state)."""
        import keras

        optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}
        return optimizers[self.optimizer_name](learning_rate=self.learning_rate, clipnorm=self.clipnorm)

    def to_dict(self) -> dict:
        """The plan's settings, JSON-ready (the builder itself left out)."""
        return {"label": self.label, "model": self.model, "activation": self.activation, "depth": self.depth,
                "variant": self.variant, "optimizer": self.optimizer_name, "learning_rate": self.learning_rate,
                "clipnorm": self.clipnorm, "batch_size": self.batch_size}


def depth_plans(activations, depths, variants, batch_size: int | None = None) -> list[TrainingPlan]:
    """The grid variant x activation x depth of seed MLPs, trained with SGD 0.01.

    A value given twice (`--depths 1,1`) is trained once.
    """
    plans = []
    for variant in dict.fromkeys(variants):
        for activation in dict.fromkeys(activations):
            for depth in dict.fromkeys(depths):
                label = f"{activation} d{depth}" + ("" if variant == "seed" else f" {variant}")
                build = partial(_build_depth, depth=depth, activation=activation, variant=variant)
                plans.append(TrainingPlan(label, "mlp", build, "sgd", DEPTH_LEARNING_RATE,
                                          batch_size or DEPTH_BATCH_SIZE, activation, depth, variant))
    return plans


def _build_depth(input_shape, num_classes, depth, activation, variant):
    return build_depth_mlp(input_shape, num_classes, depth, activation, variant)


def comparison_plans(models, batch_size: int | None = None) -> list[TrainingPlan]:
    """Seed 004's models, in the order given (each once)."""
    builders = {
        "linear": (build_linear, "sgd", LINEAR_LEARNING_RATE),
        "mlp": (build_wide_mlp, "adam", ADAM_LEARNING_RATE),
        "mlp-dropout": (partial(build_wide_mlp, dropout_rate=WIDE_DROPOUT_RATE), "adam", ADAM_LEARNING_RATE),
        "cnn": (build_mnist_cnn, "adam", ADAM_LEARNING_RATE),
    }
    return [TrainingPlan(name, name, *builders[name], batch_size or COMPARISON_BATCH_SIZE,
                         clipnorm=LINEAR_CLIPNORM if name == "linear" else None)
            for name in dict.fromkeys(models)]
