"""Options every command spells the same way: one definition each (docs/architecture.md).

Names are Keras' in kebab case. Range checks live here, so a value that does not parse or is
out of range is a usage error (exit 2) before any work starts, in every command alike.
"""

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from mlkit.errors import ConfigError
from mlkit.options import parse_list


def finite(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Callable[[str], float]:
    """A parser for a float option: finite (no nan or inf) and inside [low, high].

    Click's own FloatRange lets nan through (every comparison with nan is false).
    """
    def parse(text: str) -> float:
        if isinstance(text, float):  # the default, already a number
            value = text
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number.") from None
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number.")
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError(f"{value:g} must be {'above' if low_open else 'at least'} {low:g}.")
        if high is not None and (value >= high if high_open else value > high):
            raise ValueError(f"{value:g} must be {'below' if high_open else 'at most'} {high:g}.")
        return value

    parse.__name__ = "FLOAT"
    return parse


def comma_list(text: str, cast: type, option: str) -> tuple:
    """An option's comma-separated list; a malformed one is a usage error (exit 2)."""
    try:
        return parse_list(text, cast, option)
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


POSITIVE = finite(0.0, low_open=True)
FRACTION = finite(0.0, 1.0)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (docs/json.md) instead of tables.")]


def _quiet_tensorflow(quiet: bool) -> bool:
    """--quiet also keeps TensorFlow's C++ notices off stderr (oneDNN announces a fallback when a
    last batch is short). TensorFlow reads the level when it is first imported, which commands
    do only after their options are parsed."""
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return quiet


QuietOption = Annotated[bool, typer.Option("--quiet", "-q", callback=_quiet_tensorflow,
                                           help="No progress on stderr, TensorFlow's notices included.")]
DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", envvar="MLKIT_DATA_DIR", file_okay=False,
    help="Folder holding the datasets (searched before the Keras cache).")]
DataOption = Annotated[str, typer.Option("--data", help="Dataset name (mnist, fashion-mnist, cifar10) or an mlkit HDF5 file.")]
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding, which Keras' set_random_seed calls, takes 0..2**32-1
SeedOption = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed; the same seed repeats the run on the same machine and threads.")]
PlotDirOption = Annotated[Path | None, typer.Option("--plot-dir", file_okay=False, help="Write PNG plots to this folder.")]
EpochsOption = Annotated[int | None, typer.Option("--epochs", min=1, help="Passes over the training data.")]
BatchSizeOption = Annotated[int | None, typer.Option("--batch-size", min=1, help="Examples per training step.")]
LearningRateOption = Annotated[float | None, typer.Option(
    "--learning-rate", "--lr", parser=POSITIVE, help="The optimizer's (first) learning rate.")]
PrecisionOption = Annotated[str | None, typer.Option(
    "--precision", help="auto, float32 or bfloat16 (mixed: bfloat16 math, float32 weights); auto: bfloat16 where "
    "the hardware computes it.")]
PatienceOption = Annotated[int, typer.Option(
    "--patience", min=0, help="--recipe seed only (it keeps the epoch best on the test split): stop after this many "
    "epochs without improvement; 0 = off. Other recipes keep the model the run ends with.")]
TestCurvesOption = Annotated[bool | None, typer.Option(
    "--test-curves/--no-test-curves", help="Score the test images after every epoch, for the curves (each "
    "scoring takes seconds); without it only the model the run ends with is scored [default: off; "
    "--recipe seed: on, it keeps its best epoch].", show_default=False)]
SubsetOption = Annotated[int | None, typer.Option("--subset", min=1, help="Train on this many random training images (quick runs).")]
SaveOption = Annotated[Path | None, typer.Option("--save", dir_okay=False, help="Save the model the run keeps here (.keras).")]
ResumeOption = Annotated[Path | None, typer.Option("--resume", dir_okay=False, help="Continue training a model saved with --save.")]
ModelOption = Annotated[Path, typer.Option("--model", dir_okay=False, help="A saved model file (.keras).")]
ExpectOption = Annotated[list[str] | None, typer.Option(
    "--expect", metavar="METRIC>=VALUE",
    help="Exit 3 unless the result's metric meets this (>= or <=); repeatable (docs/grading.md).")]
