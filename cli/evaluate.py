"""`mlkit evaluate`: score a saved image classifier on a dataset split, for graders' scripts."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ._options import DataDirOption, DataOption, ExpectOption, JsonOption, PlotDirOption, QuietOption
from ._output import expectations, finish, make_table, print_tables

# Above this many classes the confusion matrix goes to the JSON and the PNG only: wider tables
# no longer fit 80 columns.
TABLE_MATRIX_CLASSES = 10


class Split(str, Enum):
    test = "test"
    train = "train"


class Scale(str, Enum):
    one = "1"
    full = "255"


ModelArgument = Annotated[Path, typer.Argument(metavar="MODEL", dir_okay=False, help="The saved model (.keras).")]
SplitOption = Annotated[Split, typer.Option("--split", help="Which split of the data to score.")]
ScaleOption = Annotated[Scale | None, typer.Option(
    "--scale", help="255: feed pixels 0-255 as stored; 1: feed pixels/255. Default: 255 when the model "
    "scales its own pixels (before its first weighted layer, a Rescaling layer that shrinks them or a "
    "Normalization layer set for 0-255, as in every mlkit model), else 1 (docs/grading.md).")]


def evaluate(
    model: ModelArgument,
    data: DataOption,
    split: SplitOption = Split.test,
    scale: ScaleOption = None,
    data_dir: DataDirOption = None,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Score a saved image classifier: accuracy, loss, per-class accuracy, confusion matrix.

    Loads MODEL in Keras safe mode (mlkit's own from --save, or anyone's .keras file), checks
    that its input shape and class count fit the data, and predicts every image of the split.
    Grey images (N, 28, 28) fit models taking (28, 28), (28, 28, 1) or flat 784 vectors.
    Outputs may be probabilities or logits (see docs/grading.md). The accuracy is reported as
    test_accuracy or train_accuracy after the split; --expect fails the run (exit 3) on a
    missed target.

    Example: mlkit evaluate b.keras --data cifar10 --expect 'test_accuracy>=0.5' --json
    """
    from mlkit.experiments.evaluate import METRICS, EvaluateConfig, run
    from mlkit.files import check_output_folder

    targets = expectations(expect, METRICS)
    if plot_dir is not None:
        check_output_folder(plot_dir, "--plot-dir")
    config = EvaluateConfig(model=model, data=data, split=split.value, scale=int(scale.value) if scale else None,
                            data_dir=data_dir, plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: render(result), quiet=quiet)


def render(result) -> None:
    evaluation, metrics = result.evaluation, result.metrics()
    names = evaluation.class_names
    summary = [["accuracy", result.accuracy], ["loss", result.loss], ["images", result.images],
               ["seconds", result.seconds], ["images/s", metrics["images_per_second"]],
               ["scale", result.scale.scale], ["scale from", result.scale.reason], ["outputs", result.outputs]]
    counts = evaluation.confusion.sum(axis=1)
    tables = [make_table(f"{result.config.model.name} on {result.data['name']} {result.config.split}",
                         ["metric", "value"], summary),
              make_table("Per-class accuracy", ["class", "images", "accuracy"],
                         [[name, int(count), accuracy] for (name, accuracy), count
                          in zip(evaluation.per_class_accuracy().items(), counts)])]
    if len(names) <= TABLE_MATRIX_CLASSES:
        tables.append(make_table("Confusion matrix (rows: true class, columns: predicted)",
                                 ["true", *map(str, range(len(names)))],
                                 [[_row_label(i, name), *map(int, row)] for i, (name, row)
                                  in enumerate(zip(names, evaluation.confusion))]))
    pairs = evaluation.confused_pairs()
    if pairs:
        tables.append(make_table("Most confused pairs", ["first", "second", "mistakes", "first as second",
                                                         "second as first"],
                                 [[*pair["classes"], pair["count"], pair["first_as_second"],
                                   pair["second_as_first"]] for pair in pairs]))
    print_tables(*tables)


def _row_label(index: int, name: str) -> str:
    """'3 cat': the column number beside the class name, once where the name is the number."""
    return name if name == str(index) else f"{index} {name}"
