"""`mlkit depth-study`: why depth hurts sigmoid MLPs on MNIST (seeds 000/002), the gradient
norms that show why, the fixes (He init, batch norm, residual), and seed 004's comparison of
a linear model, two MLPs and a CNN."""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..options import parse_list  # re-exported: the depth-study CLI and tests use it from here
from ..training import History
from .depth_study_plans import (ACTIVATIONS, MAX_DEPTH, SEED_MODELS, VARIANTS, TrainingPlan,
                                comparison_plans, depth_plans)


@dataclass
class DepthStudyConfig:
    """Everything one `depth-study` run needs; the defaults are the seeds' setup."""

    data: str = "mnist"
    data_dir: Path | None = None
    activations: tuple[str, ...] = ("sigmoid", "relu")
    depths: tuple[int, ...] = (1, 2, 3)
    variants: tuple[str, ...] = ("seed",)
    models: tuple[str, ...] = ()  # when given, seed 004's comparison replaces the depth grid
    epochs: int = 10
    batch_size: int | None = None  # None: the seeds' 128 (depth grid) or 100 (comparison)
    subset: int | None = None
    every_batches: int = 100  # comparison runs log loss and accuracy this often (seed 004)
    gradient_samples: int = 1000
    seed: int = 0
    plot_dir: Path | None = None
    quiet: bool = False

    @property
    def mode(self) -> str:
        return "models" if self.models else "depth"

    def validate(self) -> None:
        """Raise ConfigError for a value no run can use."""
        checks = [
            (set(self.activations) <= set(ACTIVATIONS), f"--activations takes {', '.join(ACTIVATIONS)}"),
            (set(self.variants) <= set(VARIANTS), f"--variant takes {', '.join(VARIANTS)}"),
            (set(self.models) <= set(SEED_MODELS), f"--models takes {', '.join(SEED_MODELS)}"),
            (all(1 <= depth <= MAX_DEPTH for depth in self.depths), f"--depths must be 1 to {MAX_DEPTH}"),
            (bool(self.activations and self.depths and self.variants), "give at least one activation, depth and variant"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size is None or self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.every_batches >= 0, "--every-batches must be 0 (off) or more"),
            (self.gradient_samples >= 1, "--gradient-samples must be at least 1"),
        ]
        for passed, message in checks:
            if not passed:
                raise ConfigError(f"{message}; see `mlkit depth-study --help`.")


@dataclass
class RunResult:
    """One trained model: its test score, time, gradient norms and history."""

    label: str
    model: str
    activation: str | None
    depth: int | None
    variant: str | None
    parameters: int
    test_loss: float
    test_accuracy: float
    seconds: float  # training, the per-epoch validation and gradient probes, and the final test
    images_per_second: float  # training images seen per second of `seconds`
    layers: list[str]
    gradient_norms: list[list[float]]  # row 0 before training, row k after epoch k
    history: History = field(repr=False)


@dataclass
class DepthStudyResult:
    """All runs of one `depth-study` call, the plots written and the wall time."""

    mode: str
    data: str
    train_images: int
    test_images: int
    epochs: int
    batch_size: int
    runs: list[RunResult]
    plots: list[Path]
    seconds: float

    def __repr__(self) -> str:
        return f"DepthStudyResult(mode={self.mode!r}, runs={len(self.runs)}, seconds={self.seconds:.1f})"


def run(config: DepthStudyConfig) -> DepthStudyResult:
    """Train every model the config asks for and return their scores, norms and histories."""
    from ..data import load_data

    config.validate()
    started = time.perf_counter()
    dataset = load_data(config.data, config.data_dir).subset(config.subset, config.seed)
    x_train, x_test = _scale(dataset.x_train), _scale(dataset.x_test)
    rows = np.random.default_rng(config.seed).permutation(len(x_train))[: config.gradient_samples]
    probe = (x_train[rows], dataset.y_train[rows])
    if config.mode == "models":
        plans = comparison_plans(config.models, config.batch_size)
    else:
        plans = depth_plans(config.activations, config.depths, config.variants, config.batch_size)
    runs = [_train(plan, config, (x_train, dataset.y_train), (x_test, dataset.y_test), probe,
                   dataset.input_shape, dataset.num_classes) for plan in plans]
    plots = _write_plots(config, runs) if config.plot_dir else []
    return DepthStudyResult(config.mode, dataset.name, len(x_train), len(x_test), config.epochs,
                            plans[0].batch_size, runs, plots, time.perf_counter() - started)


def _scale(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1], as the seeds feed them."""
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return (images / scale).astype(np.float32)


def _train(plan: TrainingPlan, config: DepthStudyConfig, train, test, probe,
           input_shape, num_classes) -> RunResult:
    """Build, compile, fit and score one model, recording gradient norms every epoch."""
    from ..gradients import gradient_norm_recorder, kernel_layers
    from ..training import set_seed, training_callbacks

    set_seed(config.seed)
    model = plan.build(input_shape, num_classes)
    model.compile(optimizer=plan.optimizer(), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history, norms = History(), []
    every_batches = config.every_batches if config.mode == "models" else 0
    callbacks = [gradient_norm_recorder(*probe, norms), *training_callbacks(
        history, every_batches=every_batches, quiet=config.quiet, label=plan.label)]
    started = time.perf_counter()
    model.fit(*train, validation_data=test, epochs=config.epochs, batch_size=plan.batch_size,
              verbose=0, callbacks=callbacks)
    test_loss, test_accuracy = model.evaluate(*test, batch_size=1000, verbose=0)
    seconds = time.perf_counter() - started
    if not config.quiet:
        sys.stderr.write(f"{plan.label}: test accuracy {test_accuracy:.4f}  {seconds:.1f}s\n")
    return RunResult(plan.label, plan.model, plan.activation, plan.depth, plan.variant,
                     model.count_params(), float(test_loss), float(test_accuracy), seconds,
                     len(train[0]) * history.num_epochs / seconds, [layer.name for layer in kernel_layers(model)], norms, history)


def _write_plots(config: DepthStudyConfig, runs: list[RunResult]) -> list[Path]:
    """Training curves and gradient norms as PNGs in config.plot_dir."""
    from ..gradients import plot_gradient_norms
    from ..plots import plot_curves

    folder = Path(config.plot_dir)
    epochs = {run.label: run.history.epochs for run in runs}
    title = "Seed 004 models on MNIST" if config.mode == "models" else "MLP depth study"
    plots = [
        plot_curves(epochs, ["accuracy", "loss"], folder / f"depth_study_{config.mode}_curves.png",
                    title=f"{title}: train (solid) and validation (dashed)"),
        plot_gradient_norms({run.label: run.gradient_norms for run in runs},
                            folder / f"depth_study_{config.mode}_gradients.png"),
    ]
    if config.mode == "models" and config.every_batches:
        plots.append(plot_curves(
            {run.label: run.history.batches for run in runs}, ["loss", "accuracy"],
            folder / "depth_study_models_batches.png", xlabel="batch",
            steps={run.label: run.history.batch_steps for run in runs},
            title=f"Training loss and accuracy every {config.every_batches} batches"))
    return plots

