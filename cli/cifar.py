"""`mlkit cifar`: seed 001's four CIFAR-10 networks, with the seed's recipe or a fast one, and airbench94's."""

from typing import Annotated

import typer

from mlkit.experiments.cifar import METRICS, CifarConfig

from ._options import (BatchSizeOption, DataDirOption, DataOption, EpochsOption, ExpectOption, JsonOption,
                       PatienceOption, PlotDirOption, PrecisionOption, QuietOption, ResumeOption, SaveOption,
                       SeedOption, SubsetOption, TestCurvesOption, finite)
from ._output import expectations, finish, make_table, print_tables

DEFAULTS = CifarConfig()  # defaults live in the config dataclass

ArchOption = Annotated[str, typer.Option(
    "--arch", help="Network a, b, c, d, airbench, or all (trains a-d, overlays them).")]
RecipeOption = Annotated[str | None, typer.Option(
    "--recipe", help="fast (batch norm, AdamW, warm-up + cosine, mirror averaging at test time) or seed for a-d; airbench for airbench "
    "(default: fast, or airbench for --arch airbench).")]
DropoutOption = Annotated[float | None, typer.Option(
    "--dropout", parser=finite(0.0, 1.0, high_open=True),
    help="Dropout rate after the hidden dense layer, in [0, 1) (default: the recipe's; network b has no such layer).")]


def cifar(
    arch: ArchOption = DEFAULTS.arch,
    recipe: RecipeOption = DEFAULTS.recipe,
    precision: PrecisionOption = DEFAULTS.precision,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    epochs: EpochsOption = DEFAULTS.epochs,
    batch_size: BatchSizeOption = DEFAULTS.batch_size,
    patience: PatienceOption = DEFAULTS.patience,
    test_curves: TestCurvesOption = None,
    dropout: DropoutOption = DEFAULTS.dropout_rate,
    subset: SubsetOption = DEFAULTS.subset,
    seed: SeedOption = DEFAULTS.seed,
    save: SaveOption = None,
    resume: ResumeOption = None,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train CIFAR-10 networks a-d of seed 001, or airbench94's; report accuracy, time and images/s.

    The run keeps the model it ends with (its rate decays to zero) and scores
    it on the 10,000 test images, so no epoch is chosen by the images it is
    scored on; --test-curves also scores each epoch, for the curves.
    --recipe seed scores every epoch and keeps the best, as the seed did.
    The test accuracy reported is the kept model's,
    and --save writes it (with --arch all, one file per network; the metrics
    are the most accurate network's). --arch airbench trains airbench94's
    network (whitened input, Nesterov SGD, weight averaging), scored with the
    mean of six views of each test image (itself, moved a pixel each way, and
    their mirrors). --epochs and --batch-size default to the recipe's (fast: 8
    and 256; seed: 10 and 300; airbench: 12 and 1024; a resumed model: its own
    batch size). --resume continues a model saved with --save from the epoch
    and best accuracy stored in it, and never replaces it with a worse one.
    --plot-dir writes accuracy/loss curves and confusion matrices.

    Example: mlkit cifar --arch d --save d.keras --expect 'test_accuracy>=0.85'
    """
    from mlkit.experiments.cifar import run

    targets = expectations(expect, METRICS)
    config = CifarConfig(arch=arch, recipe=recipe, precision=precision, data=data, data_dir=data_dir, epochs=epochs,
                         batch_size=batch_size, patience=patience, test_curves=test_curves, dropout_rate=dropout, subset=subset, seed=seed,
                         save=save, resume=resume, plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: render(result), quiet=quiet)


def render(result) -> None:
    from mlkit.image_training import per_class_rows

    columns = ["arch", "params", "epoch", "train acc", "test acc", "loss", "seconds", "images/s"]
    kept = "best epochs" if result.settings()["selection_split"] else "last epoch"
    rows = [[r.arch, r.parameters, r.best_epoch, r.train_accuracy, r.test_accuracy, r.loss,
             round(r.outcome.train_seconds), round(r.outcome.images_per_second)] for r in result.runs]
    title = (f"CIFAR-10, {result.recipe.name} recipe, {result.data['train_images']} training images, "
             f"{result.settings()['precision']} ({kept})")
    print_tables(make_table(title, columns, rows),
                 make_table("Per-class test accuracy", ["class", *(r.arch for r in result.runs)],
                            per_class_rows(result.runs)))
