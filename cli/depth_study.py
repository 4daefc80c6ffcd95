"""`mlkit depth-study`: sigmoid vs ReLU MLPs of growing depth on MNIST, gradient norms, fixes,
and seed 004's model comparison."""

from typing import Annotated

import typer

from ._options import DataDirOption, DataOption, JsonOption, PlotDirOption, QuietOption, SeedOption
from ._output import make_table, print_json, print_tables, report_files

# Imported at start-up: this module is Keras-free, and it keeps the defaults in one place.
from mlkit.experiments.depth_study import DepthStudyConfig, parse_list, run

DEFAULTS = DepthStudyConfig()


ActivationsOption = Annotated[str, typer.Option(
    "--activations", help="Comma-separated hidden activations: sigmoid, relu, tanh, elu, selu, gelu.")]
DepthsOption = Annotated[str, typer.Option("--depths", help="Comma-separated numbers of hidden layers (1 to 30).")]
VariantOption = Annotated[str, typer.Option(
    "--variant", help="Comma-separated MLP variants: seed (as the seeds), he (He init), batchnorm, residual.")]
ModelsOption = Annotated[str, typer.Option(
    "--models", help="Instead of the depth grid, compare seed 004's models: linear, mlp, mlp-dropout, cnn.")]
EpochsOption = Annotated[int, typer.Option("--epochs", help="Training epochs per model.")]
BatchOption = Annotated[int | None, typer.Option(
    "--batch-size", help="Batch size (default: the seeds', 128 for the depth grid, 100 with --models).")]
SubsetOption = Annotated[int | None, typer.Option("--subset", help="Train on this many random training images (quick runs).")]
EveryBatchesOption = Annotated[int, typer.Option(
    "--every-batches", help="With --models, log loss and accuracy every N batches (0: off).")]


def depth_study(
    activations: ActivationsOption = ",".join(DEFAULTS.activations),
    depths: DepthsOption = ",".join(map(str, DEFAULTS.depths)),
    variant: VariantOption = ",".join(DEFAULTS.variants),
    models: ModelsOption = ",".join(DEFAULTS.models),
    epochs: EpochsOption = DEFAULTS.epochs,
    batch_size: BatchOption = DEFAULTS.batch_size,
    subset: SubsetOption = DEFAULTS.subset,
    every_batches: EveryBatchesOption = DEFAULTS.every_batches,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = DEFAULTS.seed,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Why depth hurts sigmoid MLPs on MNIST: gradient norms per layer, and fixes.

    Trains the seeds' MLP (per hidden layer Dense(512) + Dropout(0.2);
    SGD 0.01, batch 128) for every variant x activation x depth, and reports
    the mean |dL/dW| of each layer before training and after every epoch:
    in deep sigmoid nets it vanishes towards the input. --variant he,
    batchnorm or residual shows which change lets depth help. --models runs
    seed 004's comparison instead: linear, 3x1500 MLP with and without
    dropout, and a CNN (Adam 1e-3, batch 100, logs every 100 batches).

    Example: mlkit depth-study --variant seed,batchnorm --plot-dir plots
    """
    config = DepthStudyConfig(
        data=data, data_dir=data_dir, activations=parse_list(activations, str, "--activations"),
        depths=parse_list(depths, int, "--depths"), variants=parse_list(variant, str, "--variant"),
        models=parse_list(models, str, "--models"), epochs=epochs, batch_size=batch_size,
        subset=subset, every_batches=every_batches, seed=seed, plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    if json:
        print_json(result)
        return
    print_tables(*_tables(result))
    report_files(result.plots, quiet)


def _tables(result) -> list:
    """The runs table, then per-layer gradient norms before training and after the last epoch
    (layers as rows and runs as columns, so ten-layer nets still fit a terminal)."""
    depth_mode = result.mode == "depth"
    names = ["activation", "depth", "variant"] if depth_mode else ["model"]
    tables = [make_table(
        f"{result.data}: {result.train_images} training images, {result.epochs} epochs, "
        f"batch {result.batch_size} ({result.seconds:.0f} s in all)",
        [*names, "parameters", "test loss", "test acc", "seconds"],
        [[*([run.activation, run.depth, run.variant] if depth_mode else [run.model]), run.parameters,
          run.test_loss, run.test_accuracy, round(run.seconds)]
         for run in result.runs])]
    width = max(len(run.layers) for run in result.runs)
    layer_names = [f"L{i + 1}" for i in range(width - 1)] + ["out", "L1/out"]
    for row, when in ((0, "before training"), (-1, f"after epoch {result.epochs}")):
        columns = [[*_padded(run.gradient_norms[row], width), _ratio(run.gradient_norms[row])]
                   for run in result.runs]
        rows = [[name, *(_scientific(column[index]) for column in columns)]
                for index, name in enumerate(layer_names)]
        tables.append(make_table(f"Mean |dL/dW| {when} (L1 = input side)",
                                 ["layer", *(run.label for run in result.runs)], rows))
    return tables


def _padded(norms: list[float], width: int) -> list[float | None]:
    """Hidden layers first, blanks up to `width`, the output layer last."""
    return [*norms[:-1], *[None] * (width - len(norms)), norms[-1]]


def _ratio(norms: list[float]) -> float | None:
    return norms[0] / norms[-1] if norms[-1] else None


def _scientific(value: float | None) -> str:
    return "" if value is None else f"{value:.1e}"
