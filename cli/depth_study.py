"""`mlkit depth-study`: sigmoid vs ReLU MLPs of growing depth on MNIST, gradient norms, fixes,
and seed 004's model comparison."""

from typing import Annotated

import typer

from ._options import (BatchSizeOption, DataDirOption, DataOption, EpochsOption, ExpectOption, JsonOption,
                       PlotDirOption, QuietOption, SaveOption, SeedOption, SubsetOption, comma_list)
from ._output import expectations, finish, make_table, print_tables

# Imported at start-up: this module is Keras-free, and it keeps the defaults in one place.
from mlkit.experiments.depth_study import MAX_GRADIENT_SAMPLES, METRICS, DepthStudyConfig, run

DEFAULTS = DepthStudyConfig()
RUNS_PER_TABLE = 4  # gradient-norm columns per table: four labels such as "relu d3 sigmoid-first" fit 80 columns

ActivationsOption = Annotated[str, typer.Option(
    "--activations", help="Comma-separated hidden activations: sigmoid, relu, tanh, elu, selu, gelu.")]
DepthsOption = Annotated[str, typer.Option("--depths", help="Comma-separated numbers of hidden layers (1 to 30).")]
VariantOption = Annotated[str, typer.Option(
    "--variant", help="Comma-separated MLP variants: seed (as the seeds), he (He init), batchnorm, residual, "
    "sigmoid-first (seed 002's fix: first hidden layer sigmoid, the others the run's activation).")]
ModelsOption = Annotated[str, typer.Option(
    "--models", help="Instead of the depth grid, compare seed 004's models: linear, mlp, mlp-dropout, cnn.")]
EveryBatchesOption = Annotated[int, typer.Option(
    "--every-batches", min=0, help="With --models, log loss and accuracy every N batches (0: off).")]
GradientSamplesOption = Annotated[int, typer.Option(
    "--gradient-samples", min=1, help=f"Training images in the gradient-norm probe (at most {MAX_GRADIENT_SAMPLES}).")]


def depth_study(
    activations: ActivationsOption = ",".join(DEFAULTS.activations),
    depths: DepthsOption = ",".join(map(str, DEFAULTS.depths)),
    variant: VariantOption = ",".join(DEFAULTS.variants),
    models: ModelsOption = ",".join(DEFAULTS.models),
    epochs: EpochsOption = DEFAULTS.epochs,
    batch_size: BatchSizeOption = DEFAULTS.batch_size,
    subset: SubsetOption = DEFAULTS.subset,
    every_batches: EveryBatchesOption = DEFAULTS.every_batches,
    gradient_samples: GradientSamplesOption = DEFAULTS.gradient_samples,
    data: DataOption = DEFAULTS.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = DEFAULTS.seed,
    plot_dir: PlotDirOption = None,
    save: SaveOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Why depth hurts sigmoid MLPs on MNIST: gradient norms per layer, and fixes.

    Trains the seeds' MLP (per hidden layer Dense(512) + Dropout(0.2); SGD 0.01, batch 128)
    for every variant x activation x depth, scores it on the test images after every epoch
    (as the seeds did; the last epoch's weights are kept), and reports the mean |dL/dW| of
    each layer before training and after every epoch: in deep sigmoid nets it vanishes
    towards the input. --variant he, batchnorm, residual or sigmoid-first shows which change
    lets depth help (seed 002's model: --variant sigmoid-first --activations relu). --models
    runs seed 004's comparison instead: linear, 3x1500 MLP with and without dropout, and a
    CNN (Adam 1e-3, batch 100, logs every 100 batches).

    There is no validation split, so the best run (the one the metrics describe and --save
    writes, a model taking the dataset's 0-255 images) is the one with the highest test
    accuracy.

    Example: mlkit depth-study --variant seed,batchnorm --plot-dir plots --save best.keras
    """
    config = DepthStudyConfig(
        data=data, data_dir=data_dir, activations=comma_list(activations, str, "--activations"),
        depths=comma_list(depths, int, "--depths"), variants=comma_list(variant, str, "--variant"),
        models=comma_list(models, str, "--models"), epochs=epochs, batch_size=batch_size, subset=subset,
        every_batches=every_batches, gradient_samples=gradient_samples, seed=seed, plot_dir=plot_dir,
        save=save, quiet=quiet)
    targets = expectations(expect, METRICS)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: print_tables(*_tables(result)), quiet=quiet)


def _tables(result) -> list:
    """The runs table, the best run, then per-layer gradient norms before training and after
    the last epoch: layers as rows and at most RUNS_PER_TABLE runs as columns per table, so
    ten-layer nets and long grids still fit 80 columns."""
    depth_mode = result.config.mode == "depth"
    names = ["activation", "depth", "variant"] if depth_mode else ["model"]
    settings, data, best = result.settings, result.data, result.best
    epochs = settings["epochs"]
    tables = [make_table(
        f"{data['name']}: {data['train_images']} training images, {epochs} epoch{'s' * (epochs > 1)}, "
        f"batch {settings['batch_size']} ({result.wall_seconds:.0f} s in all)",
        [*names, "params", "test loss", "test acc", "seconds"],
        [[*([run.plan.activation, run.plan.depth, run.plan.variant] if depth_mode else [run.plan.model]),
          run.parameters, run.test_loss, run.test_accuracy, round(run.outcome.train_seconds)]
         for run in result.runs]),
        make_table("Best run (highest test accuracy: there is no validation split)",
                   ["run", "test acc", "test loss", "train acc"],
                   [[best.label, best.test_accuracy, best.test_loss, best.train_accuracy]])]
    for row, when in ((0, "before training"), (-1, f"after epoch {epochs}")):
        for start in range(0, len(result.runs), RUNS_PER_TABLE):
            tables.append(_norms_table(result.runs[start:start + RUNS_PER_TABLE], row, when))
    return tables


def _norms_table(runs: list, row: int, when: str):
    """One table of mean |dL/dW| per layer (rows) for a few runs (columns)."""
    width = max(len(run.layers) for run in runs)
    layer_names = [f"L{i + 1}" for i in range(width - 1)] + ["out", "L1/out"]
    columns = [[*_padded(run.gradient_norms[row], width), _ratio(run.gradient_norms[row])] for run in runs]
    rows = [[name, *(_scientific(column[index]) for column in columns)] for index, name in enumerate(layer_names)]
    return make_table(f"Mean |dL/dW| {when} (L1 = input side)", ["layer", *(run.label for run in runs)], rows)


def _padded(norms: list[float], width: int) -> list[float | None]:
    """Hidden layers first, blanks up to `width`, the output layer last."""
    return [*norms[:-1], *[None] * (width - len(norms)), norms[-1]]


def _ratio(norms: list[float]) -> float | None:
    return norms[0] / norms[-1] if norms[-1] else None


def _scientific(value: float | None) -> str:
    return "" if value is None else f"{value:.1e}"
