"""Where an image-classifier run starts: a new CIFAR network, a trained model (new optimizer),
or a model saved by `--save` to resume, with the training state stored in it.

Everything read from a file is checked before any training starts: the model takes the data's
images and classes, a resumed one has an optimizer and an intact training state.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import Dataset
from .errors import DataError, ModelError
from .recipes import Recipe
from .training import load_model, read_checkpoint

# The monitored value of every checkpoint cifar and augment write (see image_training.MONITOR).
RESUMABLE_MONITOR = "val_accuracy"
AIRBENCH = "airbench"


@dataclass
class Start:
    """The network a run trains and where it came from.

    Args:
        model: the Keras model.
        checkpoint: the training state stored with a resumed model (see training.save_model):
            epoch reached, best monitored value, batch size, steps per epoch; None otherwise.
        source: the file the model was read from, if any.
        inference: the model scored and saved when it is not `model` itself (airbench's flip
            averaging, which shares `model`'s weights).
    """

    model: Any
    checkpoint: dict | None = None
    source: Path | None = None
    inference: Any = None

    def __repr__(self) -> str:
        return f"Start({self.model.name!r}, resumed={self.resumed}, source={self.source})"

    @property
    def resumed(self) -> bool:
        return self.checkpoint is not None

    @property
    def epoch(self) -> int | None:
        """The epoch a resumed model was saved after (counted from 1)."""
        return self.checkpoint["epoch"] if self.resumed else None

    @property
    def batch_size(self) -> int | None:
        return self.checkpoint.get("batch_size") if self.resumed else None

    @property
    def arch(self) -> str:
        return self.model.name.removeprefix("cifar_")

    @property
    def scored(self):
        """The model scored on the test split and written by --save."""
        return self.model if self.inference is None else self.inference

    @property
    def precision(self) -> str:
        """"bfloat16" when the network computes in mixed bfloat16, else "float32"."""
        return "bfloat16" if "mixed_bfloat16" in set(_policies(self.model)) else "float32"


def _policies(model):
    """The dtype policy names of every layer, those of nested models included."""
    for layer in model.layers:
        yield layer.dtype_policy.name
        if hasattr(layer, "layers"):
            yield from _policies(layer)


def new_network(arch: str, data: Dataset, recipe: Recipe, dtype_policy: str = "float32") -> Start:
    """A fresh network `arch` for the data's images and classes, built as the recipe says.

    Args:
        dtype_policy: "float32" or "mixed_bfloat16" (see mlkit.precision).

    Raises:
        DataError: the images are too small for the network's max-pools.
    """
    from .models import airbench
    from .models.cifar import build_cifar_model, smallest_image_side

    height, width = data.input_shape[:2]
    side = airbench.smallest_image_side() if arch == AIRBENCH else smallest_image_side(arch)
    if min(height, width) < side:
        raise DataError(f"{data.name} images are {height}x{width}, too small for network {arch}: its max-pools "
                        f"need at least {side}x{side}; choose a network with fewer poolings (a or b).")
    if arch == AIRBENCH:
        models = airbench.build_airbench(data.x_train, data.num_classes, dtype_policy)
        return Start(models.train, inference=models.inference)
    return Start(build_cifar_model(arch, batch_norm=recipe.batch_norm, dropout_rate=recipe.dropout_rate,
                                   input_shape=data.input_shape, num_classes=data.num_classes,
                                   dtype_policy=dtype_policy, mirror_views=recipe.mirror_views))


def trained_network(path: Path) -> Start:
    """A trained model to start from with a new optimizer (its own state, if any, is dropped).

    Raises:
        ModelError: the file is missing or damaged, or holds an airbench model (see refuse_airbench).
    """
    return Start(refuse_airbench(load_model(path), path), source=Path(path))


def refuse_airbench(model, path: Path):
    """`model`, unless it is a saved airbench model: its file holds the view-averaging model, whose
    training would see every image both ways round, and not the network it trained."""
    if model.name == f"cifar_{AIRBENCH}":
        raise ModelError(f"{path} holds an airbench model, which trains from the start only; evaluate it with "
                         "`mlkit evaluate`, or train a new one with `mlkit cifar --arch airbench`.")
    return model


def resumed_network(path: Path) -> Start:
    """A model saved by `--save`, to continue from the epoch and best value stored with it.

    Raises:
        ModelError: the file is missing or damaged, holds no optimizer (an uncompiled model) or
            no intact mlkit training state.
    """
    model = refuse_airbench(load_model(path), path)
    optimizer = getattr(model, "optimizer", None)  # an uncompiled model may have no such attribute
    if optimizer is None or not getattr(optimizer, "built", False):
        raise ModelError(f"{path} holds no optimizer state to resume from (an uncompiled model?); resume a "
                         "model saved by `mlkit cifar --save`, or start from its weights with `mlkit augment --model`.")
    state = read_checkpoint(path)
    if state is None:
        raise ModelError(f"{path} holds no mlkit training state (epoch, best value) to resume from; resume a "
                         "model saved by `mlkit cifar --save`, or start from its weights with `mlkit augment --model`.")
    return Start(model, checked_state(state, path), Path(path))


def checked_state(state: dict, path: Path) -> dict:
    """The stored training state, refused unless every field is what `--save` writes."""
    def positive_int(value, allow_none: bool) -> bool:
        return (value is None and allow_none) or (type(value) is int and value >= 1)

    best = state.get("best")
    best_is_number = isinstance(best, (int, float)) and not isinstance(best, bool)
    checks = [
        ("monitor", state.get("monitor") == RESUMABLE_MONITOR),
        ("epoch", positive_int(state.get("epoch"), allow_none=False)),
        ("best", best is None or (best_is_number and math.isfinite(best))),
        ("batch_size", positive_int(state.get("batch_size"), allow_none=True)),
        ("steps_per_epoch", positive_int(state.get("steps_per_epoch"), allow_none=True)),
    ]
    damaged = ", ".join(f"{name}={state.get(name)!r}" for name, ok in checks if not ok)
    if damaged:
        raise ModelError(f"the training state stored in {path} is damaged or not cifar's ({damaged}); "
                         "save the model again with `mlkit cifar --save`.")
    return state


def check_fits(start: Start, data: Dataset) -> None:
    """Refuse a model that does not take the data's images or predict its number of classes."""
    model = start.model
    takes, classes = tuple(model.input_shape[1:]), model.output_shape[-1]
    if takes != data.input_shape or classes != data.num_classes:
        raise ModelError(f"{start.source or model.name} takes {takes} images into {classes} classes, "
                         f"but the data has {data.input_shape} images and {data.num_classes} classes.")
