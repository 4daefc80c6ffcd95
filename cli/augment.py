"""`mlkit augment`: CIFAR-10 training with on-the-fly augmentation, and its error analysis."""

from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.augment import AugmentConfig

from ._options import DataDirOption, DataOption, JsonOption, PlotDirOption, QuietOption, SeedOption
from ._output import make_table, print_json, print_tables, report_files
from .cifar import BatchOption, PatienceOption, RecipeOption, ResumeOption, SaveOption, SubsetOption

DEFAULTS = AugmentConfig()  # defaults live in the config dataclass (STYLE rule 8)
AUGMENTATION = DEFAULTS.augmentation


def augment(
    arch: Annotated[str, typer.Option("--arch", help="Network a, b, c or d of `mlkit cifar`.")] = DEFAULTS.arch,
    model: Annotated[Path | None, typer.Option("--model", dir_okay=False, help="Start from a network saved by `mlkit cifar --save` instead of --arch.")] = None,
    flip: Annotated[str, typer.Option("--flip", help="horizontal, vertical, both or none.")] = AUGMENTATION.flip,
    translate: Annotated[float, typer.Option("--translate", help="Largest shift, fraction of the size.")] = AUGMENTATION.translate,
    rotate: Annotated[float, typer.Option("--rotate", help="Largest rotation, fraction of a full turn.")] = AUGMENTATION.rotate,
    zoom: Annotated[float, typer.Option("--zoom", help="Largest zoom in or out, fraction of the size.")] = AUGMENTATION.zoom,
    contrast: Annotated[float, typer.Option("--contrast", help="Largest contrast change, fraction.")] = AUGMENTATION.contrast,
    cutout: Annotated[float, typer.Option("--cutout", help="Probability of erasing a random rectangle.")] = AUGMENTATION.cutout,
    recipe: RecipeOption = DEFAULTS.recipe,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs of training.")] = DEFAULTS.epochs,
    batch_size: BatchOption = DEFAULTS.batch_size,
    patience: PatienceOption = DEFAULTS.patience,
    compare: Annotated[bool, typer.Option("--compare", help="Also train the same network without augmentation.")] = DEFAULTS.compare,
    preview: Annotated[int, typer.Option("--preview", help="Write a PNG grid of this many augmented training images.")] = DEFAULTS.preview,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    subset: SubsetOption = DEFAULTS.subset,
    seed: SeedOption = DEFAULTS.seed,
    save: SaveOption = None,
    resume: ResumeOption = None,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train a CIFAR-10 network with augmentation from Keras preprocessing layers, then show
    per-class accuracy, the most confused class pairs and misclassified images.

    Example: mlkit augment --arch d --compare --preview 32 --plot-dir plots
    """
    from mlkit.augmentation import Augmentation
    from mlkit.experiments.augment import AugmentConfig, run
    from mlkit.experiments.cifar import per_class_rows

    augmentation = Augmentation(flip, translate, rotate, zoom, contrast, cutout)
    config = AugmentConfig(arch=arch, model=model, recipe=recipe, augmentation=augmentation, epochs=epochs,
                           batch_size=batch_size, patience=patience, compare=compare, preview=preview,
                           data=data, data_dir=data_dir, subset=subset, seed=seed, save=save, resume=resume,
                           plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    if json:
        print_json(result)
        return
    runs = [run for run in (result.augmented, result.plain) if run is not None]
    columns = ["training", "epochs", "train acc", "val acc", "seconds", "images/s"]
    rows = [[r.recipe, r.epochs, r.train_accuracy, r.val_accuracy, round(r.seconds), round(r.images_per_second)]
            for r in runs]
    pairs = [[" / ".join(p["classes"]), p["count"], p["first_as_second"], p["second_as_first"]]
             for p in result.augmented.evaluation.confused_pairs()]
    print_tables(make_table(f"CIFAR-10, network {result.augmented.arch}", columns, rows),
                 make_table("Per-class val accuracy", ["class", *(r.recipe for r in runs)], per_class_rows(runs)),
                 make_table("Most confused pairs", ["classes", "errors", "first as second", "second as first"], pairs))
    report_files(([result.augmented.saved] if result.augmented.saved else []) + result.plots, quiet)
