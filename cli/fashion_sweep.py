"""`mlkit fashion-sweep`: the Fashion-MNIST batch-size / learning-rate study (seed 003)."""

from pathlib import Path
from typing import Annotated

import typer
from rich import box

from mlkit.experiments.fashion_sweep import MAX_JOBS, METRICS, RECIPES, VAL_SPLITS, FashionSweepConfig

from ._options import (DataDirOption, EpochsOption, ExpectOption, JsonOption, PlotDirOption, QuietOption,
                       SaveOption, SeedOption, comma_list, finite)
from ._output import expectations, finish, make_table, print_tables

DEFAULTS = FashionSweepConfig()  # the defaults live in the config dataclass

# The seed's columns (learning rate ... validation accuracy), abbreviated to fit 80 columns.
RUN_COLUMNS = ["lr", "batch", "epochs", "kept", "train loss", "train acc", "val loss", "val acc",
               "test acc", "seconds"]


def fashion_sweep(
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Comma-separated batch sizes.")] = ",".join(map(str, DEFAULTS.batch_sizes)),
    learning_rates: Annotated[str, typer.Option("--learning-rates", help="Comma-separated Adam learning rates.")] = ",".join(map(str, DEFAULTS.learning_rates)),
    arch: Annotated[str, typer.Option("--arch", help="mlp (the seed's Dense 128) or cnn.")] = DEFAULTS.arch,
    epochs: EpochsOption = DEFAULTS.epochs,
    recipe: Annotated[str, typer.Option("--recipe", help="default (early stopping, rate halving, stratified split) or seed (seed 003 as it ran: every epoch at a constant rate, the last 30% of the training file as validation data, last-epoch figures). Options given explicitly override the recipe.")] = "default",
    patience: Annotated[int | None, typer.Option("--patience", min=0, help=f"Stop after this many epochs without a lower val loss; 0 = off (train every epoch, report the last). Default: {RECIPES['default']['patience']}, seed recipe 0.")] = None,
    lr_patience: Annotated[int | None, typer.Option("--lr-patience", min=0, help=f"Halve the learning rate after this many epochs without a lower val loss; 0 keeps it constant (as the seed). Default: {RECIPES['default']['lr_patience']}, seed recipe 0.")] = None,
    val_fraction: Annotated[float, typer.Option("--val-fraction", parser=finite(0, 1, low_open=True, high_open=True), help="Share of the training set held out for validation.")] = DEFAULTS.val_fraction,
    val_split: Annotated[str | None, typer.Option("--val-split", help=f"How validation images are chosen: {' or '.join(VAL_SPLITS)} (the last share of the training file, Keras' validation_split). Default: stratified, seed recipe last.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=MAX_JOBS, help="Runs at the same time, each in its own process.")] = DEFAULTS.jobs,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="TensorFlow threads per run (default: cores / jobs).")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (processes on this machine) or ray.")] = DEFAULTS.executor,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join (ray://head:10001 or auto); its nodes need mlkit installed and the data at the same path. Default: a private local Ray instance sized to --jobs.")] = None,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, help="Keep every finished run here; running the same sweep again reuses them (one sweep at a time per folder).")] = None,
    save: SaveOption = None,
    data: Annotated[str, typer.Option("--data", help="fashion-mnist (or another 28x28 dataset name / mlkit HDF5 file).")] = DEFAULTS.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = DEFAULTS.seed,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Class histogram, validation split, then one run per (learning rate, batch size).

    Each run stops once its validation loss has not improved for --patience epochs and keeps its best epoch's weights; --patience 0 trains every epoch and reports the last one, as the seed did (with --lr-patience 0, the seed's constant rate). --recipe seed is the seed's whole setup (add --epochs 15 --batch-sizes 16 for its part 2f). The best run has the highest validation accuracy: the metrics are its figures, and --save writes its model (it takes the dataset's 0-255 images).

    Runs go in parallel with --jobs (separate processes, each with a fixed thread budget) or as Ray tasks with --executor ray. With --out, finished runs are kept and a repeated or interrupted sweep reuses them (each checked against its model file first).

    Example: mlkit fashion-sweep --jobs 2 --out runs/fashion --plot-dir plots --save best.keras
    """
    from mlkit.experiments.fashion_sweep import run

    config = FashionSweepConfig.from_recipe(
        recipe, data=data, data_dir=data_dir, arch=arch, batch_sizes=comma_list(batch_sizes, int, "--batch-sizes"),
        learning_rates=comma_list(learning_rates, float, "--learning-rates"), epochs=epochs,
        patience=patience, lr_patience=lr_patience, val_fraction=val_fraction, val_split=val_split, seed=seed,
        jobs=jobs, threads=threads,
        executor=executor, address=address, out=out, plot_dir=plot_dir, save=save, quiet=quiet)
    targets = expectations(expect, METRICS)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: _print_result(result), quiet=quiet)


def _print_result(result) -> None:
    histogram = make_table(f"{result.data['name']}: images per class", ["class", "train", "fit", "val", "test"],
                           [[row["class"], row["train"], row["fit"], row["val"], row["test"]]
                            for row in result.class_counts])
    kept = "best validation loss" if result.config.patience else "last epoch"
    runs = make_table(f"Runs (metrics at each run's {kept})", RUN_COLUMNS, [
        [f"{row['learning_rate']:g}", row["batch_size"], row["epochs_trained"], row["epoch"],
         *(_short(row[key]) for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy")),
         f"{row['seconds']:.1f}"]
        for row in result.runs])
    # No column rules and single spaces between columns, so ten columns fit in 80 characters;
    # the cells are at most 7 characters, so none needs folding.
    runs.box, runs.pad_edge, runs.collapse_padding = box.SIMPLE_HEAD, False, True
    for column in runs.columns:
        column.min_width = max(len(str(cell)) for cell in column.cells)
    best, execution = result.best, result.execution
    summary = make_table("Best run (highest validation accuracy)",
                         ["arch", "batch", "lr", "val acc", "test acc", "trained", "reused", "wall seconds"],
                         [[best["arch"], best["batch_size"], f"{best['learning_rate']:g}", best["val_accuracy"],
                           best["test_accuracy"], execution["trained"], execution["reused"],
                           f"{execution['wall_seconds']:.1f}"]])
    print_tables(histogram, runs, summary)


def _short(value: float | None) -> str:
    """At most 7 characters, so the ten run columns fit 80: 0.1234, 1.9e-04."""
    if value is None:
        return ""
    return f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"
