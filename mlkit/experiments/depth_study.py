"""`mlkit depth-study`: why depth hurts sigmoid MLPs on MNIST (seeds 000/002), the gradient
norms that show why, the fixes (He init, batch norm, residual, seed 002's sigmoid-first), and
seed 004's comparison of a linear model, two MLPs and a CNN (`--recipe seed`: as the seed ran it).

Every run trains through `mlkit.training.fit`, is scored on the test images after every epoch
as the seeds did (their validation data was the test set) and keeps its last epoch's weights.
There is no validation split: carving one from the training images would change what every
model learns. So the best run, the one `metrics` describes and `--save` writes, is the one with
the highest test accuracy (the first of equals): an optimistic pick, which the record says in
`config.selection_split` ("test"). The per-run figures are in the record's `runs`; a run whose
loss overflowed (inf or NaN) is stopped there and flagged `diverged`, with a note saying why (mlkit/divergence.py).
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..depth_plans import (ACTIVATIONS, DIVERGENCE_CAUSES, MAX_DEPTH, RECIPES, SEED_MODELS, VARIANTS, TrainingPlan,
                           comparison_plans, depth_plans)
from ..divergence import Divergence
from ..errors import ConfigError
from ..files import check_output_folder, check_output_path
from ..record import Record, data_block, file_entry
from ..training import FitOutcome

# metrics: the best run's figures, except wall_seconds (the whole command) and diverged_runs
# (how many runs' loss overflowed to inf or NaN).
METRICS = ("test_accuracy", "loss", "train_accuracy", "seconds", "wall_seconds", "images_per_second",
           "diverged_runs")
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 65_536
MAX_GRADIENT_SAMPLES = 10_000  # the probe is one batch with gradients, before training and after every epoch
TEST_BATCH_SIZE = 1000


@dataclass
class DepthStudyConfig:
    """Everything one `depth-study` run needs; the defaults are the seeds' setup."""

    data: str = "mnist"
    data_dir: Path | None = None
    activations: tuple[str, ...] = ("sigmoid", "relu")
    depths: tuple[int, ...] = (1, 2, 3)
    variants: tuple[str, ...] = ("seed",)
    models: tuple[str, ...] = ()  # when given, seed 004's comparison replaces the depth grid
    recipe: str = "default"  # for --models: "seed" trains them as seed 004 did (depth_plans.py)
    epochs: int | None = None  # None: the recipe's (10; seed recipe: each model's seed epochs)
    batch_size: int | None = None  # None: the seeds' 128 (depth grid) or 100 (comparison)
    subset: int | None = None
    every_batches: int = 100  # comparison runs log loss and accuracy this often (seed 004)
    gradient_samples: int = 1000
    seed: int = 0
    plot_dir: Path | None = None
    save: Path | None = None
    quiet: bool = False

    @property
    def mode(self) -> str:
        return "models" if self.models else "depth"

    def validate(self) -> None:
        """Raise ConfigError for a value no run can use, before anything is loaded."""
        checks = [
            (set(self.activations) <= set(ACTIVATIONS), f"--activations takes {', '.join(ACTIVATIONS)}"),
            (set(self.variants) <= set(VARIANTS), f"--variant takes {', '.join(VARIANTS)}"),
            (set(self.models) <= set(SEED_MODELS), f"--models takes {', '.join(SEED_MODELS)}"),
            (self.recipe in RECIPES, f"--recipe takes {', '.join(RECIPES)}"),
            (self.recipe == "default" or bool(self.models),
             "--recipe seed applies to --models (seed 004); the depth grid's setup is already the seeds'"),
            (all(1 <= depth <= MAX_DEPTH for depth in self.depths), f"--depths must be 1 to {MAX_DEPTH}"),
            (bool(self.activations and self.depths and self.variants), "give at least one activation, depth and variant"),
            (self.epochs is None or 1 <= self.epochs <= MAX_EPOCHS, f"--epochs must be 1 to {MAX_EPOCHS}"),
            (self.batch_size is None or 1 <= self.batch_size <= MAX_BATCH_SIZE, f"--batch-size must be 1 to {MAX_BATCH_SIZE}"),
            (self.subset is None or self.subset >= 1, "--subset must be at least 1"),
            (self.every_batches >= 0, "--every-batches must be 0 (off) or more"),
            (1 <= self.gradient_samples <= MAX_GRADIENT_SAMPLES, f"--gradient-samples must be 1 to {MAX_GRADIENT_SAMPLES}"),
            (self.save is None or Path(self.save).suffix == ".keras", "--save must name a .keras file"),
        ]
        for passed, message in checks:
            if not passed:
                raise ConfigError(f"{message}; see `mlkit depth-study --help`.")

    def settings(self, plans: list[TrainingPlan]) -> dict:
        """Every effective setting, one value each (the record's `config`); `epochs` is one number
        for the depth grid and one per model for --models, whose `plans` give each model's settings."""
        depth = self.mode == "depth"
        epochs = plans[0].epochs if depth else {plan.label: plan.epochs for plan in plans}
        return {"mode": self.mode, "recipe": self.recipe, "data": self.data,
                "activations": list(self.activations) if depth else None,
                "depths": list(self.depths) if depth else None, "variants": list(self.variants) if depth else None,
                "models": list(self.models) or None, "epochs": epochs, "batch_size": plans[0].batch_size,
                "subset": self.subset, "every_batches": 0 if depth else self.every_batches,
                "gradient_samples": self.gradient_samples, "plot_dir": self.plot_dir, "save": self.save,
                "selection_split": "test", "best_run": "highest test_accuracy", "epoch_figures": "last epoch",
                "plans": [plan.to_dict() for plan in plans]}


@dataclass
class RunResult:
    """One trained model: its plan, test score, training figures and gradient norms."""

    plan: TrainingPlan
    parameters: int
    test_loss: float
    test_accuracy: float  # share of test images classified right
    outcome: FitOutcome
    layers: list[str]
    gradient_norms: list[list[float]]  # row 0 before training, row k after epoch k
    divergence: Divergence | None = None  # where the loss overflowed (training stopped there)

    def __repr__(self) -> str:
        return f"RunResult({self.label!r}, test_accuracy={self.test_accuracy:.4f})"

    @property
    def label(self) -> str:
        return self.plan.label

    @property
    def train_accuracy(self) -> float | None:
        return self.outcome.last("accuracy")

    @property
    def diverged(self) -> bool:
        return self.divergence is not None

    @property
    def note(self) -> str | None:
        """What went wrong and why, for a run that diverged."""
        if self.divergence is None:
            return None
        cause = DIVERGENCE_CAUSES.get(self.plan.model) if self.plan.clipnorm is None else None
        return self.divergence.describe() + (f". {cause}" if cause else ".")

    def to_dict(self) -> dict:
        history = self.outcome.history.to_dict()
        # Keras calls the per-epoch scores on the test images val_*; name the split for what it is.
        history["epochs"] = {key.replace("val_", "test_", 1): values for key, values in history["epochs"].items()}
        return {**self.plan.to_dict(), "parameters": self.parameters, "test_loss": self.test_loss,
                "test_accuracy": self.test_accuracy, "train_accuracy": self.train_accuracy,
                "diverged": self.diverged, "divergence": self.divergence, "note": self.note,
                "epochs_run": self.outcome.epochs_run, "seconds": self.outcome.train_seconds,
                "wall_seconds": self.outcome.wall_seconds, "images_per_second": self.outcome.images_per_second,
                "layers": self.layers, "gradient_norms": self.gradient_norms, "history": history}


@dataclass
class DepthStudyResult:
    """All runs of one `depth-study` call, the best one, the files written and the wall time."""

    config: DepthStudyConfig
    settings: dict
    data: dict
    runs: list[RunResult]
    best_index: int
    plots: list[Path]
    wall_seconds: float

    def __repr__(self) -> str:
        return f"DepthStudyResult(mode={self.config.mode!r}, runs={len(self.runs)}, best={self.best.label!r})"

    @property
    def best(self) -> RunResult:
        return self.runs[self.best_index]

    def record(self) -> Record:
        best = self.best
        metrics = {"test_accuracy": best.test_accuracy, "loss": best.test_loss, "train_accuracy": best.train_accuracy,
                   "seconds": best.outcome.train_seconds, "wall_seconds": self.wall_seconds,
                   "images_per_second": best.outcome.images_per_second,
                   "diverged_runs": sum(run.diverged for run in self.runs)}
        files = [file_entry(path, "plot") for path in self.plots]
        if self.config.save:
            files.append(file_entry(self.config.save, "model"))
        return Record("depth-study", self.settings, metrics, self.data, files, seed=self.config.seed,
                      sections={"best": best.label, "runs": [run.to_dict() for run in self.runs]})


def run(config: DepthStudyConfig) -> DepthStudyResult:
    """Train every model the config asks for and return their scores, norms and histories."""
    import numpy as np

    from ..data import load_data
    from ..models.pixels import check_pixel_images

    config.validate()
    _check_outputs(config)
    started = time.perf_counter()
    dataset = load_data(config.data, config.data_dir).subset(config.subset, config.seed)
    check_pixel_images(dataset.x_train, dataset.name)
    rows = np.random.default_rng(config.seed).permutation(len(dataset.x_train))[: config.gradient_samples]
    probe = (dataset.x_train[rows], dataset.y_train[rows])
    if config.mode == "models":
        plans = comparison_plans(config.models, config.recipe, config.batch_size, config.epochs)
    else:
        plans = depth_plans(config.activations, config.depths, config.variants, config.batch_size, config.epochs)
    runs, best_model = [], None
    for plan in plans:
        trained, model = _train(plan, config, dataset, probe)
        runs.append(trained)
        if best_model is None or trained.test_accuracy > max(run.test_accuracy for run in runs[:-1]):
            best_model = model  # only the best is kept: a grid of deep MLPs would fill memory
    best_index = max(range(len(runs)), key=lambda index: runs[index].test_accuracy)  # first of equals
    plots = _write_plots(config, runs) if config.plot_dir else []
    if config.save:
        from ..training import save_model

        save_model(best_model, config.save)
    data = data_block(dataset.name, dataset.source, dataset.fingerprint(), train_images=len(dataset.x_train),
                      test_images=len(dataset.x_test))
    return DepthStudyResult(config, config.settings(plans), data, runs, best_index, plots,
                            time.perf_counter() - started)


def _check_outputs(config: DepthStudyConfig) -> None:
    """Refuse unwritable output paths before any training (nothing trains and then fails to save)."""
    if config.save is not None:
        check_output_path(config.save, "--save")
    if config.plot_dir is not None:
        check_output_folder(config.plot_dir, "--plot-dir")


def _train(plan: TrainingPlan, config: DepthStudyConfig, dataset, probe) -> tuple[RunResult, object]:
    """Build, compile, fit and score one model, probing gradient norms before training and after
    every epoch (a callback of `fit`, so the probes are not counted as training time)."""
    from ..divergence import divergence_watch
    from ..evaluation import evaluate_classifier
    from ..gradients import gradient_norm_recorder, kernel_layers
    from ..training import FitOptions, fit, set_seed

    set_seed(config.seed)
    model = plan.build(dataset.input_shape, dataset.num_classes)
    model.compile(optimizer=plan.optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    norms: list[list[float]] = []
    divergences: list[Divergence] = []
    options = FitOptions(epochs=plan.epochs, batch_size=plan.batch_size, monitor="val_accuracy",
                         every_batches=config.every_batches if config.mode == "models" else 0,
                         quiet=config.quiet, label=plan.label)
    test = (dataset.x_test, dataset.y_test)
    outcome = fit(model, dataset.x_train, dataset.y_train, options=options, validation=test,
                  callbacks=[divergence_watch(divergences), gradient_norm_recorder(*probe, norms)])
    test_loss, _ = model.evaluate(*test, batch_size=TEST_BATCH_SIZE, verbose=0)
    # Counted from the predictions the way `mlkit evaluate` counts them, so scoring the saved
    # model gives this very number.
    test_accuracy = evaluate_classifier(model, *test, dataset.class_names).accuracy
    trained = RunResult(plan, model.count_params(), float(test_loss), test_accuracy, outcome,
                        [layer.name for layer in kernel_layers(model)], norms, next(iter(divergences), None))
    if not config.quiet:
        sys.stderr.write(f"{plan.label}: test accuracy {test_accuracy:.4f}  {outcome.train_seconds:.1f}s training"
                         f"{'  ' + trained.note if trained.diverged else ''}\n")
    return trained, model


def _write_plots(config: DepthStudyConfig, runs: list[RunResult]) -> list[Path]:
    """Training curves and gradient norms as PNGs in config.plot_dir."""
    from ..gradients import plot_gradient_norms
    from ..plots import plot_curves

    folder = Path(config.plot_dir)
    histories = {run.label: run.outcome.history for run in runs}
    title = "Seed 004 models on MNIST" if config.mode == "models" else "MLP depth study"
    plots = [
        plot_curves({label: history.epochs for label, history in histories.items()}, ["accuracy", "loss"],
                    folder / f"depth_study_{config.mode}_curves.png",
                    title=f"{title}: train (solid) and test images (dashed)"),
        plot_gradient_norms({run.label: run.gradient_norms for run in runs},
                            folder / f"depth_study_{config.mode}_gradients.png"),
    ]
    if config.mode == "models" and config.every_batches:
        plots.append(plot_curves(
            {label: history.batches for label, history in histories.items()}, ["loss", "accuracy"],
            folder / "depth_study_models_batches.png", xlabel="batch",
            steps={label: history.batch_steps for label, history in histories.items()},
            title=f"Training loss and accuracy every {config.every_batches} batches"))
    return plots
