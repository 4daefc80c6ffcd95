"""`mlkit augment`: CIFAR-10 training with on-the-fly augmentation, and its error analysis."""

from typing import Annotated

import typer

from mlkit.augmentation import MAX_CROP
from mlkit.experiments.augment import METRICS, AugmentConfig

from ._options import (FRACTION, BatchSizeOption, DataDirOption, DataOption, EpochsOption, ExpectOption,
                       JsonOption, ModelOption, PatienceOption, PlotDirOption, PrecisionOption, QuietOption,
                       ResumeOption, SaveOption, SeedOption, SubsetOption, TestCurvesOption)
from ._output import expectations, finish, make_table, print_tables
from .cifar import RecipeOption

DEFAULTS = AugmentConfig()  # defaults live in the config dataclass
AUGMENTATION = DEFAULTS.augmentation


def fraction(name: str, help: str):
    """A float option in [0, 1] (finite), where 0 turns the transformation off."""
    return typer.Option(name, parser=FRACTION, help=f"{help} In [0, 1]; 0 turns it off.")


ArchOption = Annotated[str, typer.Option("--arch", help="Network a, b, c, d or airbench of `mlkit cifar`.")]
FlipOption = Annotated[str, typer.Option(
    "--flip", help="horizontal, vertical, both, alternate (random in epoch 0, then the other way each epoch) or none.")]
CropOption = Annotated[int, typer.Option(
    "--crop", min=0, max=MAX_CROP, help="Largest whole-pixel shift (reflect-padded crop); 0 turns it off.")]
TranslateOption = Annotated[float, fraction("--translate", "Largest shift, fraction of the size.")]
RotateOption = Annotated[float, fraction("--rotate", "Largest rotation, fraction of a full turn.")]
ZoomOption = Annotated[float, fraction("--zoom", "Largest zoom in or out, fraction of the size.")]
ContrastOption = Annotated[float, fraction("--contrast", "Largest contrast change, fraction.")]
CutoutOption = Annotated[float, fraction("--cutout", "Probability of erasing a random rectangle.")]
CompareOption = Annotated[bool, typer.Option("--compare", help="Also train the same network without augmentation.")]
PreviewOption = Annotated[int, typer.Option("--preview", min=0,
                                            help="Write a PNG grid of this many augmented training images.")]


def augment(
    arch: ArchOption = DEFAULTS.arch,
    model: ModelOption = None,
    flip: FlipOption = AUGMENTATION.flip,
    translate: TranslateOption = AUGMENTATION.translate,
    rotate: RotateOption = AUGMENTATION.rotate,
    zoom: ZoomOption = AUGMENTATION.zoom,
    contrast: ContrastOption = AUGMENTATION.contrast,
    cutout: CutoutOption = AUGMENTATION.cutout,
    crop: CropOption = AUGMENTATION.crop,
    recipe: RecipeOption = DEFAULTS.recipe,
    precision: PrecisionOption = DEFAULTS.precision,
    epochs: EpochsOption = DEFAULTS.epochs,
    batch_size: BatchSizeOption = DEFAULTS.batch_size,
    patience: PatienceOption = DEFAULTS.patience,
    test_curves: TestCurvesOption = None,
    compare: CompareOption = DEFAULTS.compare,
    preview: PreviewOption = DEFAULTS.preview,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    subset: SubsetOption = DEFAULTS.subset,
    seed: SeedOption = DEFAULTS.seed,
    save: SaveOption = None,
    resume: ResumeOption = None,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train a CIFAR-10 network with random flips, shifts, rotations, zooms,
    contrast changes and erased rectangles; show per-class accuracy, the most
    confused class pairs and misclassified images.

    --model starts from a trained model file (e.g. from `mlkit cifar --save`)
    instead of --arch, with a new optimizer; --resume continues a run saved
    with --save. The model the run ends with is kept, scored on the test
    images and saved with --save (--test-curves also scores each epoch, for
    the curves; --recipe seed scores every epoch and keeps the best, as the
    seed did). Every
    random draw is keyed by --seed, epoch and batch, so the same seed repeats
    the run exactly. The metrics are the augmented run's; --compare adds
    plain_test_accuracy. --arch airbench trains airbench94's network with its
    recipe; its own augmentation is --flip alternate --crop 2 --translate 0.
    --epochs defaults to 22 (fast recipe: about 18 minutes for network d on a
    2-core CPU), 20 with --recipe seed (as seed 001 ran it), 12 for airbench.

    Example: mlkit augment --arch d --compare --preview 32 --plot-dir plots
    """
    from mlkit.augmentation import Augmentation
    from mlkit.experiments.augment import run

    targets = expectations(expect, METRICS)
    augmentation = Augmentation(flip, translate, rotate, zoom, contrast, cutout, crop)
    config = AugmentConfig(arch=arch, model=model, recipe=recipe, precision=precision, augmentation=augmentation,
                           epochs=epochs, batch_size=batch_size, patience=patience, test_curves=test_curves,
                           compare=compare, preview=preview,
                           data=data, data_dir=data_dir, subset=subset, seed=seed, save=save, resume=resume,
                           plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: render(result), quiet=quiet)


def render(result) -> None:
    from mlkit.image_training import per_class_rows

    runs = result.runs
    columns = ["training", "epoch", "train acc", "test acc", "loss", "seconds", "images/s"]
    rows = [[r.label, r.best_epoch, r.train_accuracy, r.test_accuracy, r.loss, round(r.outcome.train_seconds),
             round(r.outcome.images_per_second)] for r in runs]
    pairs = [[" / ".join(p["classes"]), p["count"], p["first_as_second"], p["second_as_first"]]
             for p in result.augmented.evaluation.confused_pairs()]
    kept = "best epochs" if result.settings()["selection_split"] else "last epoch"
    print_tables(make_table(f"CIFAR-10, network {result.augmented.arch} ({kept})", columns, rows),
                 make_table("Per-class test accuracy", ["class", *(r.label for r in runs)], per_class_rows(runs)),
                 make_table("Most confused pairs", ["classes", "errors", "first as second", "second as first"], pairs))
