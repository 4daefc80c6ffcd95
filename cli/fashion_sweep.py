"""`mlkit fashion-sweep`: the Fashion-MNIST batch-size / learning-rate study (seed 003)."""

from pathlib import Path
from typing import Annotated

import typer
from rich import box

from mlkit.experiments.fashion_sweep import FashionSweepConfig

from ._options import DataDirOption, JsonOption, PlotDirOption, QuietOption, SeedOption, comma_list
from ._output import make_table, print_json, print_tables, report_files

DEFAULTS = FashionSweepConfig()  # defaults live in the config dataclass (STYLE rule 8)

# The seed's columns (learning rate ... validation accuracy), abbreviated to fit 80 columns.
RUN_COLUMNS = ["lr", "batch", "epochs", "best", "train loss", "train acc", "val loss", "val acc",
               "test acc", "seconds"]


def fashion_sweep(
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Comma-separated batch sizes.")] = ",".join(map(str, DEFAULTS.batch_sizes)),
    learning_rates: Annotated[str, typer.Option("--learning-rates", help="Comma-separated Adam learning rates.")] = ",".join(map(str, DEFAULTS.learning_rates)),
    model: Annotated[str, typer.Option("--model", help="mlp (the seed's Dense 128) or cnn.")] = DEFAULTS.model,
    epochs: Annotated[int, typer.Option("--epochs", help="Most epochs per run.")] = DEFAULTS.epochs,
    patience: Annotated[int, typer.Option("--patience", help="Stop a run after this many epochs without a lower val loss; its best epoch's weights are kept.")] = DEFAULTS.patience,
    lr_patience: Annotated[int, typer.Option("--lr-patience", help="Halve the learning rate after this many epochs without a lower val loss; 0 keeps it constant (as the seed).")] = DEFAULTS.lr_patience,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of each class held out for validation.")] = DEFAULTS.val_fraction,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Runs at the same time, each in its own process.")] = DEFAULTS.jobs,
    threads: Annotated[int | None, typer.Option("--threads", help="TensorFlow threads per run (default: cores / jobs).")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (processes on this machine) or ray.")] = DEFAULTS.executor,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join (ray://head:10001 or auto); its nodes need mlkit installed and the data at the same path. Default: a private local Ray instance sized to --jobs.")] = None,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, help="Keep every finished run here; running the same sweep again reuses them.")] = None,
    save: Annotated[Path | None, typer.Option("--save", dir_okay=False, help="Save the best run's model (.keras).")] = None,
    data: Annotated[str, typer.Option("--data", help="fashion-mnist (or another 28x28 dataset name / mlkit HDF5 file).")] = DEFAULTS.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = DEFAULTS.seed,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Class histogram, stratified split, then one run per (learning rate, batch size).

    Each run stops once its validation loss has not improved for --patience epochs and keeps its best epoch's weights. The table has the seed's columns plus test accuracy and seconds.

    Runs go in parallel with --jobs (separate processes, each with a fixed thread budget) or as Ray tasks with --executor ray. With --out, finished runs are kept and a repeated or interrupted sweep reuses them.

    Example: mlkit fashion-sweep --jobs 2 --out runs/fashion --plot-dir plots
    """
    from mlkit.experiments.fashion_sweep import run

    config = FashionSweepConfig(
        data=data, data_dir=data_dir, model=model, batch_sizes=comma_list(batch_sizes, int, "--batch-sizes"),
        learning_rates=comma_list(learning_rates, float, "--learning-rates"), epochs=epochs,
        patience=patience, lr_patience=lr_patience, val_fraction=val_fraction, seed=seed, jobs=jobs, threads=threads,
        executor=executor, address=address, out=out, plot_dir=plot_dir, save=save, quiet=quiet)
    result = run(config)
    if json:
        print_json(result)
        return
    _print_result(result)
    report_files(list(result.files.values()), quiet)


def _print_result(result) -> None:
    histogram = make_table(f"{result.data['name']}: images per class", ["class", "train", "fit", "val", "test"],
                           [[row["class"], row["train"], row["fit"], row["val"], row["test"]]
                            for row in result.class_counts])
    runs = make_table("Runs (metrics at each run's best validation loss)", RUN_COLUMNS, [
        [row["learning_rate"], row["batch_size"], row["epochs_trained"], row["best_epoch"], row["train_loss"],
         row["train_accuracy"], row["val_loss"], row["val_accuracy"], row["test_accuracy"], row["seconds"]]
        for row in result.runs])
    # No column rules and single spaces between columns, so ten columns fit in 80 characters.
    runs.box, runs.pad_edge, runs.collapse_padding = box.SIMPLE_HEAD, False, True
    best, execution = result.best, result.execution
    summary = make_table("Best run (highest validation accuracy)",
                         ["run", "val acc", "test acc", "trained", "reused", "wall seconds"],
                         [[best["name"], best["val_accuracy"], best["test_accuracy"], execution["trained"],
                           execution["reused"], execution["wall_seconds"]]])
    print_tables(histogram, runs, summary)
