"""`mlkit cifar`: seed 001's four CIFAR-10 networks, with the seed's recipe or a fast one."""

from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.cifar import CifarConfig

from ._options import DataDirOption, DataOption, JsonOption, PlotDirOption, QuietOption, SeedOption
from ._output import make_table, print_json, print_tables, report_files

DEFAULTS = CifarConfig()  # defaults live in the config dataclass (STYLE rule 8)


ArchOption = Annotated[str, typer.Option("--arch", help="Network a, b, c, d, or all (trains the four, overlays them).")]
RecipeOption = Annotated[str, typer.Option("--recipe", help="fast (batch norm, AdamW, warm-up + cosine) or seed.")]
EpochsOption = Annotated[int | None, typer.Option("--epochs", help="Epochs (default: the recipe's, fast 8, seed 10).")]
BatchOption = Annotated[int | None, typer.Option("--batch-size", help="Batch size (default: the recipe's, fast 256, seed 300).")]
PatienceOption = Annotated[int, typer.Option("--patience", help="Stop after this many epochs without a better val accuracy; 0 = off.")]
SubsetOption = Annotated[int | None, typer.Option("--subset", help="Train on this many random training images (quick runs).")]
SaveOption = Annotated[Path | None, typer.Option("--save", dir_okay=False, help="Save the best model here (.keras; with --arch all, one file per network).")]
ResumeOption = Annotated[Path | None, typer.Option("--resume", dir_okay=False, help="Continue training a model saved with --save.")]


def cifar(
    arch: ArchOption = DEFAULTS.arch,
    recipe: RecipeOption = DEFAULTS.recipe,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    epochs: EpochsOption = DEFAULTS.epochs,
    batch_size: BatchOption = DEFAULTS.batch_size,
    patience: PatienceOption = DEFAULTS.patience,
    subset: SubsetOption = DEFAULTS.subset,
    seed: SeedOption = DEFAULTS.seed,
    save: SaveOption = None,
    resume: ResumeOption = None,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train CIFAR-10 networks a-d of seed 001 and report accuracy, time and images per second.

    Validation is on the 10,000 test images, as in the seed. Writes accuracy/loss curves and
    confusion matrices with --plot-dir.

    Example: mlkit cifar --arch d --save d.keras --plot-dir plots
    """
    from mlkit.experiments.cifar import CifarConfig, per_class_rows, run

    config = CifarConfig(arch=arch, recipe=recipe, data=data, data_dir=data_dir, epochs=epochs,
                         batch_size=batch_size, patience=patience, subset=subset, seed=seed, save=save,
                         resume=resume, plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    if json:
        print_json(result)
        return
    columns = ["arch", "recipe", "parameters", "epochs", "train acc", "val acc", "seconds", "images/s"]
    rows = [[r.arch, r.recipe, r.parameters, r.epochs, r.train_accuracy, r.val_accuracy, round(r.seconds),
             round(r.images_per_second)] for r in result.runs]
    print_tables(make_table(f"CIFAR-10 ({result.data['train_images']} training images)", columns, rows),
                 make_table("Per-class val accuracy", ["class", *(r.arch for r in result.runs)],
                            per_class_rows(result.runs)))
    report_files([r.saved for r in result.runs if r.saved] + result.plots, quiet)
