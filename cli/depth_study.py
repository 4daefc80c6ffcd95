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
RecipeOption = Annotated[str, typer.Option(
    "--recipe", help="With --models: default (mlkit's fixes, 10 epochs each) or seed (seed 004 as it ran: "
    "its epochs per model, initialisers and optimizers, no clipping; a diverging run is flagged).")]
EveryBatchesOption = Annotated[int, typer.Option(
    "--every-batches", min=0, help="With --models, log loss and accuracy every N batches (0: off).")]
GradientSamplesOption = Annotated[int, typer.Option(
    "--gradient-samples", min=1, help=f"Training images in the gradient-norm probe (at most {MAX_GRADIENT_SAMPLES}).")]


def depth_study(
    activations: ActivationsOption = ",".join(DEFAULTS.activations),
    depths: DepthsOption = ",".join(map(str, DEFAULTS.depths)),
    variant: VariantOption = ",".join(DEFAULTS.variants),
    models: ModelsOption = ",".join(DEFAULTS.models),
    recipe: RecipeOption = DEFAULTS.recipe,
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
    CNN (Adam 1e-3, batch 100, logs every 100 batches), 10 epochs each, the linear model's
    gradients clipped and the CNN started with He init. --recipe seed trains them as seed 004
    did: linear 17 epochs, the others 34, the CNN started like the MLPs (truncated normal
    0.01, biases 0.1), Adam's epsilon 1e-8, nothing clipped; a run whose loss overflows to
    inf or NaN (the linear model's does on today's Keras) is stopped there and flagged
    "diverged" with a note saying why.
    --epochs, when given, replaces every model's epochs (and the depth grid's 10).

    There is no validation split, so the best run (the one the metrics describe and --save
    writes, a model taking the dataset's 0-255 images) is the one with the highest test
    accuracy.

    Example: mlkit depth-study --models linear,mlp,mlp-dropout,cnn --recipe seed --json
    """
    config = DepthStudyConfig(
        data=data, data_dir=data_dir, activations=comma_list(activations, str, "--activations"),
        depths=comma_list(depths, int, "--depths"), variants=comma_list(variant, str, "--variant"),
        models=comma_list(models, str, "--models"), recipe=recipe, epochs=epochs, batch_size=batch_size,
        subset=subset, every_batches=every_batches, gradient_samples=gradient_samples, seed=seed,
        plot_dir=plot_dir, save=save, quiet=quiet)
    targets = expectations(expect, METRICS)
    result = run(config)
    finish(result.record(), json=json, expect=targets, render=lambda: print_tables(*_tables(result)), quiet=quiet)


def _tables(result) -> list:
    """The runs table, the best run, any diverged runs with their notes, then per-layer gradient
    norms before training and after the last epoch: layers as rows and at most RUNS_PER_TABLE
    runs as columns per table, so ten-layer nets and long grids still fit 80 columns."""
    settings, best = result.settings, result.best
    tables = [_runs_table(result), make_table(
        "Best run (highest test accuracy: there is no validation split)", ["run", "test acc", "test loss", "train acc"],
        [[best.label, best.test_accuracy, best.test_loss, best.train_accuracy]])]
    diverged = [run for run in result.runs if run.diverged]
    if diverged:
        tables.append(make_table("Diverged runs (loss not finite: their accuracy is what overflowed outputs pick)",
                                 ["run", "note"], [[run.label, run.note] for run in diverged]))
    last = f"after epoch {settings['epochs']}" if result.config.mode == "depth" else "after each run's last epoch"
    for row, when in ((0, "before training"), (-1, last)):
        for start in range(0, len(result.runs), RUNS_PER_TABLE):
            tables.append(_norms_table(result.runs[start:start + RUNS_PER_TABLE], row, when))
    return tables


def _runs_table(result):
    """One row per run: what it was, its size, test figures and training seconds (and, for
    --models, the epochs each model trained, which the seed recipe sets per model)."""
    settings, data = result.settings, result.data
    head = f"{data['name']}: {data['train_images']} training images, batch {settings['batch_size']}"
    if result.config.mode == "depth":
        epochs = settings["epochs"]
        title = f"{head}, {epochs} epoch{'s' * (epochs > 1)} ({result.wall_seconds:.0f} s in all)"
        names = ["activation", "depth", "variant"]
        rows = [[run.plan.activation, run.plan.depth, run.plan.variant] for run in result.runs]
    else:
        title = f"{head}, {settings['recipe']} recipe ({result.wall_seconds:.0f} s in all)"
        names = ["model", "epochs"]
        rows = [[run.plan.model, _epochs_cell(run)] for run in result.runs]
    return make_table(title, [*names, "params", "test loss", "test acc", "seconds"],
                      [[*row, run.parameters, run.test_loss, run.test_accuracy, round(run.outcome.train_seconds)]
                       for row, run in zip(rows, result.runs)])


def _epochs_cell(run) -> str:
    """Epochs trained; a run stopped by divergence shows how far it got: "1 of 17 (inf)"."""
    if run.diverged:
        return f"{run.outcome.epochs_run} of {run.plan.epochs} ({run.divergence.loss})"
    return str(run.outcome.epochs_run)


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
