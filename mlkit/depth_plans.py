"""What `depth-study` trains: one TrainingPlan (model builder, optimizer, batch size, epochs) per run.

The numbers are the seeds': SGD 0.01 and batch 128 for the depth grid (seeds 000/002);
SGD 0.5 for the linear model, Adam 1e-3 for the others and batch 100 (seed 004). Seed 004's
comparison has two recipes: "default" (mlkit's fixes, 10 epochs each) and "seed" (the seed's
setup as it ran: its epochs per model, its initialisers, Adam's epsilon 1e-8, no clipping).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .models.initializers import SEED_INITIALIZER
from .models.mlp import ACTIVATIONS, VARIANTS, build_depth_mlp, build_linear, build_wide_mlp
from .models.mnist_cnn import HE_INITIALIZER, build_mnist_cnn

SEED_MODELS = ("linear", "mlp", "mlp-dropout", "cnn")
RECIPES = ("default", "seed")
MAX_DEPTH = 30
DEFAULT_EPOCHS = 10
DEPTH_BATCH_SIZE = 128
DEPTH_LEARNING_RATE = 0.01
COMPARISON_BATCH_SIZE = 100
LINEAR_LEARNING_RATE = 0.5
# Two stacked linear layers at SGD 0.5 diverge on today's Keras: the loss passes 1e33 and
# overflows within the first 100 batches (measured on MNIST, seeds 0-3: batch 75-82; the cause
# is in DIVERGENCE_CAUSES). The default recipe clips each gradient to norm 1, which keeps the seed's
# learning rate and bounds every step; the seed recipe does not, and reports the divergence.
LINEAR_CLIPNORM = 1.0
# Why a run of a model diverges, for the note beside its overflowed figures (unclipped runs only).
DIVERGENCE_CAUSES = {
    "linear": ("Today's Keras takes the cross-entropy of a softmax from its logits, whose gradient never "
               "vanishes, and with two stacked linear layers each layer's SGD 0.5 step grows with the other's "
               "weights, so the weights grow geometrically until the logits overflow float32. The seed's Keras "
               "2.2 clipped the probabilities to [1e-7, 1 - 1e-7] before the log, which stops the gradient of "
               "every saturated example; with that loss the same run reaches 0.913-0.915 (measured on MNIST)"),
}
ADAM_LEARNING_RATE = 1e-3
SEED_ADAM_EPSILON = 1e-8  # the seed's; Keras' default is 1e-7
WIDE_DROPOUT_RATE = 0.5
SEED_EPOCHS = {"linear": 17, "mlp": 34, "mlp-dropout": 34, "cnn": 34}

__all__ = ["ACTIVATIONS", "DEFAULT_EPOCHS", "DIVERGENCE_CAUSES", "MAX_DEPTH", "RECIPES", "SEED_EPOCHS",
           "SEED_MODELS", "VARIANTS", "TrainingPlan", "comparison_plans", "depth_plans"]


@dataclass(frozen=True)
class TrainingPlan:
    """How to build and train one model of the study."""

    label: str
    model: str
    build: Callable  # (input_shape, num_classes) -> uncompiled keras.Model
    optimizer_name: str
    learning_rate: float
    batch_size: int
    epochs: int
    kernel_initializer: str  # as the record names it
    activation: str | None = None
    depth: int | None = None
    variant: str | None = None
    clipnorm: float | None = None
    adam_epsilon: float | None = None  # None: Keras' default (Adam plans only)

    def optimizer(self):
        """A fresh Keras optimizer (one per model: optimizers keep per-variable state)."""
        import keras

        if self.optimizer_name == "sgd":
            return keras.optimizers.SGD(learning_rate=self.learning_rate, clipnorm=self.clipnorm)
        epsilon = {} if self.adam_epsilon is None else {"epsilon": self.adam_epsilon}
        return keras.optimizers.Adam(learning_rate=self.learning_rate, clipnorm=self.clipnorm, **epsilon)

    def to_dict(self) -> dict:
        """The plan's settings, JSON-ready (the builder itself left out)."""
        return {"label": self.label, "model": self.model, "activation": self.activation, "depth": self.depth,
                "variant": self.variant, "kernel_initializer": self.kernel_initializer,
                "optimizer": self.optimizer_name, "learning_rate": self.learning_rate,
                "adam_epsilon": self.effective_epsilon, "clipnorm": self.clipnorm, "batch_size": self.batch_size,
                "epochs": self.epochs}

    @property
    def effective_epsilon(self) -> float | None:
        if self.optimizer_name != "adam":
            return None
        if self.adam_epsilon is None:
            import keras

            return keras.optimizers.Adam().epsilon
        return self.adam_epsilon


def depth_plans(activations, depths, variants, batch_size: int | None = None,
                epochs: int | None = None) -> list[TrainingPlan]:
    """The grid variant x activation x depth of seed MLPs, trained with SGD 0.01.

    A value given twice (`--depths 1,1`) is trained once.
    """
    plans = []
    for variant in dict.fromkeys(variants):
        for activation in dict.fromkeys(activations):
            for depth in dict.fromkeys(depths):
                label = f"{activation} d{depth}" + ("" if variant == "seed" else f" {variant}")
                build = partial(_build_depth, depth=depth, activation=activation, variant=variant)
                plans.append(TrainingPlan(
                    label, "mlp", build, "sgd", DEPTH_LEARNING_RATE, batch_size or DEPTH_BATCH_SIZE,
                    epochs or DEFAULT_EPOCHS, "he_normal" if variant == "he" else "glorot_uniform",
                    activation, depth, variant))
    return plans


def _build_depth(input_shape, num_classes, depth, activation, variant):
    return build_depth_mlp(input_shape, num_classes, depth, activation, variant)


def comparison_plans(models, recipe: str = "default", batch_size: int | None = None,
                     epochs: int | None = None) -> list[TrainingPlan]:
    """Seed 004's models, in the order given (each once), under `recipe` (see RECIPES).

    Args:
        batch_size, epochs: None for the recipe's; a value given applies to every model.
    """
    seed = recipe == "seed"
    cnn_initializer = SEED_INITIALIZER if seed else HE_INITIALIZER
    builders = {  # builder, optimizer, learning rate, kernel initializer of the hidden layers
        "linear": (build_linear, "sgd", LINEAR_LEARNING_RATE, "zeros"),
        "mlp": (build_wide_mlp, "adam", ADAM_LEARNING_RATE, SEED_INITIALIZER),
        "mlp-dropout": (partial(build_wide_mlp, dropout_rate=WIDE_DROPOUT_RATE), "adam", ADAM_LEARNING_RATE,
                        SEED_INITIALIZER),
        "cnn": (partial(build_mnist_cnn, initializer=cnn_initializer), "adam", ADAM_LEARNING_RATE, cnn_initializer),
    }
    plans = []
    for name in dict.fromkeys(models):
        build, optimizer, learning_rate, initializer = builders[name]
        plans.append(TrainingPlan(
            name, name, build, optimizer, learning_rate, batch_size or COMPARISON_BATCH_SIZE,
            epochs or (SEED_EPOCHS[name] if seed else DEFAULT_EPOCHS), initializer,
            clipnorm=LINEAR_CLIPNORM if name == "linear" and not seed else None,
            adam_epsilon=SEED_ADAM_EPSILON if seed and optimizer == "adam" else None))
    return plans
