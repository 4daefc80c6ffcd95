"""Training one image classifier with a recipe: the pieces `mlkit cifar` and `mlkit augment` share.

A network starts fresh, from a trained model, or from a model saved by `--save` (resumed from
the training state stored in it), trains through mlkit.training.fit while validating on the
test split each epoch (as seed 001 did), and is then scored with the weights of its best epoch,
or with a recipe that keeps the last model (airbench) as the run ends: exactly the model
`--save` keeps, so `mlkit evaluate` on the saved file reports the same test accuracy as the run.
"""

import math
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .augmentation import Augmentation, TrainingBatches, make_dataset
from .data import Dataset, load_data
from .errors import ConfigError
from .evaluation import Evaluation, cross_entropy, predict_outputs
from .files import atomic_path
from .fused_batch_norm import use_fused_batch_norm
from .network_start import AIRBENCH, Start
from .precision import PRECISIONS
from .recipes import Recipe, compile_classifier, get_recipe, stretch_schedule
from .training import FitOptions, FitOutcome, fit, save_model

# Keras calls the accuracy on the validation data `val_accuracy`; here that data is the test split.
MONITOR = "val_accuracy"
SELECTION_SPLIT = "test"
SCORE_BATCH_SIZE = 500


@dataclass
class TrainingOptions:
    """Options `mlkit cifar` and `mlkit augment` share; None means "the recipe's default"."""

    recipe: str | None = None  # "airbench" for --arch airbench, else "fast"
    precision: str = "auto"  # see mlkit.precision
    data: str = "cifar10"
    data_dir: str | None = None
    batch_size: int | None = None
    subset: int | None = None
    seed: int = 0
    save: Path | None = None
    resume: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False
    test_curves: bool | None = None  # score the test split after every epoch (see test_curves_for)

    def validate_counts(self) -> None:
        """Refuse counts below 1 (epochs, batch size, subset) and a negative patience."""
        for name in ("epochs", "batch_size", "subset"):
            value = getattr(self, name, None)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
        if (getattr(self, "patience", 0) or 0) < 0:
            raise ConfigError(f"--patience must be 0 (off) or more, got {self.patience}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.")

    def recipe_for(self, arch: str) -> Recipe:
        """--recipe, or the network's own: airbench trains only with its recipe, and its recipe
        only airbench."""
        name = self.recipe or (AIRBENCH if arch == AIRBENCH else "fast")
        if (arch == AIRBENCH) != (name == AIRBENCH):
            raise ConfigError(f"--arch airbench trains with --recipe airbench only (got --arch {arch} "
                              f"--recipe {name}); leave --recipe out to get the network's own.")
        return get_recipe(name)

    def test_curves_for(self, recipe: Recipe) -> bool:
        """Whether the test split is scored after every epoch. A recipe keeping its best epoch
        does so to pick it, as the seed did; the others only when asked (--test-curves), as the
        test images grade the model the run ends with and each scoring costs time (about 4 s
        for network d, 8 s for airbench, on the 2-core CPU)."""
        if recipe.keep == "best":
            if self.test_curves is False:
                raise ConfigError(f"the {recipe.name} recipe picks its best epoch by scoring the test split "
                                  "after every epoch; --no-test-curves does not apply.")
            return True
        return bool(self.test_curves)

    def patience_for(self, recipe: Recipe, default: int) -> int:
        """--patience, or `default`; a recipe keeping the last model stops early never (stopping
        would choose an epoch by the test split)."""
        if recipe.keep == "last":
            if self.patience:
                raise ConfigError(f"the {recipe.name} recipe keeps the model the run ends with; "
                                  "--patience does not apply (leave it out or give 0).")
            return 0
        return default if self.patience is None else self.patience


def load_images(spec: str, data_dir=None, subset: int | None = None, seed: int = 0) -> Dataset:
    """The dataset with channels-last images (grey images get one channel), cut to `subset`."""
    data = load_data(spec, data_dir).subset(subset, seed)
    if data.x_train.ndim == 3:
        data = replace(data, x_train=data.x_train[..., None], x_test=data.x_test[..., None])
    if data.x_train.ndim != 4:
        raise ConfigError(f"{spec} holds arrays of shape {data.x_train.shape}; expected images (N, H, W, C).")
    return data


@dataclass
class TrainPlan:
    """How one network trains: the effective settings, after defaults, recipe and checkpoint."""

    label: str  # names the run in log lines and tables, e.g. "b/fast" or "d/augmented"
    epochs: int
    batch_size: int
    patience: int
    seed: int
    augmentation: Augmentation
    save: Path | None = None
    quiet: bool = False
    test_curves: bool = True  # score the test split after every epoch (else only the model kept)
    budget_seconds: float | None = None  # end after the first epoch past this (benchmarks' short runs)


@dataclass
class NetworkRun:
    """One network trained and scored, with the weights of its best epoch.

    `best_epoch` counts from the start of training, a resumed run's earlier epochs included;
    when no epoch of this run beat the resumed model, that model is the one kept and scored.
    """

    arch: str
    label: str
    parameters: int
    dropout_rate: float
    precision: str
    outcome: FitOutcome
    evaluation: Evaluation
    loss: float
    best_epoch: int | None
    train_accuracy: float | None
    wall_seconds: float
    saved: Path | None = None

    def __repr__(self) -> str:
        return f"NetworkRun({self.label!r}, test_accuracy={self.test_accuracy:.4f}, best_epoch={self.best_epoch})"

    @property
    def test_accuracy(self) -> float:
        return self.evaluation.accuracy

    def metrics(self) -> dict:
        """This run's numbers under the shared metric names (docs/json.md)."""
        return {"train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy, "loss": self.loss,
                "best_epoch": self.best_epoch, "seconds": self.outcome.train_seconds,
                "wall_seconds": self.wall_seconds, "images_per_second": self.outcome.images_per_second}

    def to_dict(self) -> dict:
        outcome = self.outcome
        return {"arch": self.arch, "label": self.label, "parameters": self.parameters,
                "dropout_rate": self.dropout_rate, "precision": self.precision, **self.metrics(),
                "epochs": outcome.epochs,
                "initial_epoch": outcome.initial_epoch, "epochs_run": outcome.epochs_run,
                "epoch_seconds": outcome.epoch_seconds, "saved": self.saved,
                "history": outcome.history.to_dict(), "evaluation": self.evaluation.to_dict()}


def train_network(start: Start, data: Dataset, recipe: Recipe, plan: TrainPlan) -> NetworkRun:
    """Train `start.model` as `plan` says and score the model the recipe keeps: the best epoch's
    weights, or with `recipe.keep` "last" the model the run ends with (then no epoch is chosen)."""
    started = time.perf_counter()
    model = start.model
    use_fused_batch_norm(model)
    batches = TrainingBatches(data.x_train, data.y_train, data.num_classes, plan.batch_size,
                              augmentation=plan.augmentation, seed=plan.seed)
    initial_epoch, best = prepare_optimizer(start, recipe, batches.steps, plan.epochs)
    keeps_best = recipe.keep == "best"
    options = FitOptions(epochs=plan.epochs, batch_size=plan.batch_size, monitor=MONITOR, patience=plan.patience,
                         checkpoint=plan.save if keeps_best else None, initial_epoch=initial_epoch, best=best,
                         shuffle=False, quiet=plan.quiet, label=f"[{plan.label}]")
    keeper = best_weights_keeper(model, options) if keeps_best else None
    callbacks = [batches.epoch_callback(), *([keeper] if keeper else []),
                 *run_callbacks(model, recipe, plan, batches.steps * (plan.epochs - initial_epoch))]
    outcome = fit(model, batches.dataset, options=options, callbacks=callbacks,
                  validation=make_dataset(data.x_test, data.y_test, data.num_classes, SCORE_BATCH_SIZE)
                  if plan.test_curves else None,
                  examples_per_epoch=len(data.x_train))
    kept_epoch = keep_model(start, outcome, keeper, plan, batches.steps)
    evaluation, loss = score(start.scored, data)
    seconds = time.perf_counter() - started
    if not plan.quiet:
        sys.stderr.write(f"[{plan.label}] test accuracy {evaluation.accuracy:.4f} in {seconds:.0f}s\n")
    accuracies = outcome.history.epochs.get("accuracy", [])
    return NetworkRun(
        arch=start.arch, label=plan.label, parameters=int(model.count_params()), dropout_rate=dropout_rate(model),
        precision=start.precision, outcome=outcome, evaluation=evaluation, loss=loss,
        best_epoch=kept_epoch or start.epoch,
        train_accuracy=None if kept_epoch is None else accuracies[kept_epoch - initial_epoch - 1],
        wall_seconds=seconds, saved=plan.save)


def run_callbacks(model, recipe: Recipe, plan: TrainPlan, steps: int) -> list:
    """Weight averaging over the run's `steps` when the recipe has it, and the plan's time budget."""
    import keras

    from .weight_averaging import lookahead

    callbacks = [lookahead(model, recipe.lookahead_every, steps)] if recipe.lookahead_every and steps > 0 else []
    if plan.budget_seconds is not None:
        budget = plan.budget_seconds

        class TimeBudget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.model.stop_training = time.perf_counter() - self.started > budget

        callbacks.append(TimeBudget())
    return callbacks


def keep_model(start: Start, outcome: FitOutcome, keeper, plan: TrainPlan, steps_per_epoch: int) -> int | None:
    """Put the kept weights in place and write --save; returns the kept epoch (counted from 1),
    or None when no epoch of this run beat the model it resumed (that model is then kept)."""
    if keeper is None:  # the recipe keeps the model the run ends with
        if plan.save and outcome.epochs_run:
            last = outcome.last(MONITOR)
            save_model(start.scored, plan.save, checkpoint={
                "monitor": MONITOR, "mode": "max", "best": last if last is not None and math.isfinite(last) else None,
                "epoch": outcome.epochs,
                "batch_size": plan.batch_size, "steps_per_epoch": steps_per_epoch})
        return outcome.epochs if outcome.epochs_run else None
    keeper.restore()  # after fit, so it overrides early stopping's own restore (this run's best only)
    if plan.save and keeper.epoch is None:
        keep_resumed_model(start, plan.save)
    return keeper.epoch


def prepare_optimizer(start: Start, recipe: Recipe, steps_per_epoch: int, epochs: int) -> tuple[int, float | None]:
    """(initial epoch, best monitored value so far): compile a new run, or set a resumed one's
    optimizer to the epoch stored with it (its step count and schedule follow the batch size)."""
    if not start.resumed:
        compile_classifier(start.model, recipe, steps_per_epoch, epochs)
        return 0, None
    state = start.checkpoint
    saved_steps = state.get("steps_per_epoch")
    if saved_steps and saved_steps != steps_per_epoch:
        stretch_schedule(start.model.optimizer, saved_steps, steps_per_epoch)
    start.model.optimizer.iterations.assign(start.epoch * steps_per_epoch)
    return start.epoch, state.get("best")


def best_weights_keeper(model, options: FitOptions):
    """A callback keeping the weights of the best epoch (or those of the resumed model while no
    epoch beats the value stored with it); `restore()` puts them back into `model`.

    The comparison is the checkpoint's (strictly better, finite), so the weights kept are the
    ones the checkpoint file holds.
    """
    import keras

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = options.best
            self.epoch = None  # the epoch (counted from 1) of this run whose weights are kept
            self.weights = model.get_weights() if options.best is not None else None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(options.monitor)
            if value is None or not math.isfinite(value):
                return
            if self.best is None or (value < self.best if options.mode == "min" else value > self.best):
                self.best, self.epoch, self.weights = float(value), epoch + 1, model.get_weights()

        def restore(self):
            if self.weights is not None:
                model.set_weights(self.weights)

    return BestWeights()


def keep_resumed_model(start: Start, save: Path) -> None:
    """No epoch of this run beat the model it resumed: --save keeps that model, training state
    and all (a copy of the file, unless it is that file). A new network whose every epoch
    scored NaN is saved as it is."""
    if not start.resumed:
        save_model(start.model, save)
    elif Path(start.source).resolve() != Path(save).resolve():
        with atomic_path(save) as temp:
            shutil.copyfile(start.source, temp)


def score(model, data: Dataset) -> tuple[Evaluation, float]:
    """Test-split evaluation and cross-entropy (without label smoothing) of `model`, predicted as
    `mlkit evaluate` predicts, so both report the same numbers."""
    outputs = predict_outputs(model, data.x_test, SCORE_BATCH_SIZE)
    evaluation = Evaluation(list(data.class_names), data.y_test, outputs.argmax(axis=1))
    return evaluation, cross_entropy(outputs, data.y_test, "probabilities")


def dropout_rate(model: Any) -> float:
    """The rate of the model's dropout layer, 0.0 when it has none."""
    return next((float(layer.rate) for layer in model.layers if layer.__class__.__name__ == "Dropout"), 0.0)


def per_class_rows(runs: list[NetworkRun]) -> list[list]:
    """Rows of class name then each run's test accuracy on that class (for a table)."""
    names = runs[0].evaluation.class_names if runs else []
    accuracies = [run.evaluation.per_class_accuracy() for run in runs]
    return [[name, *(accuracy[name] for accuracy in accuracies)] for name in names]


def recipe_settings(recipe: Recipe) -> dict:
    """The recipe's optimizer settings, for a record's config."""
    return {"optimizer": recipe.optimizer, "learning_rate": recipe.learning_rate, "momentum": recipe.momentum,
            "weight_decay": recipe.weight_decay, "warmup_epochs": recipe.warmup_epochs,
            "warmup_start": recipe.warmup_start, "final_rate": recipe.final_rate, "decay": recipe.decay,
            "label_smoothing": recipe.label_smoothing, "lookahead_every": recipe.lookahead_every,
            "mirror_views": recipe.mirror_views}


def selection_split(recipe: Recipe) -> str | None:
    """The split that chose the kept epoch: the test split, or None when the last model is kept."""
    return SELECTION_SPLIT if recipe.keep == "best" else None


def describe_data(data: Dataset) -> dict:
    """The record's `data` block for the images a run trained and was scored on."""
    from .record import data_block

    return data_block(data.name, data.source or None, data.fingerprint(), train_images=len(data.x_train),
                      test_images=len(data.x_test), class_names=list(data.class_names))


def require_keras_file(path: Path | None, option: str) -> None:
    """Model files are .keras: the training state `--resume` needs is stored inside them."""
    if path is not None and Path(path).suffix != ".keras":
        raise ConfigError(f"{option} {path}: model files must end in .keras.")


def check_outputs(saves, plot_dir: Path | None) -> None:
    """Refuse unwritable output paths before any data is read or any network trained."""
    from .files import check_output_folder, check_output_path

    for path in saves:
        if path is not None:
            check_output_path(path, "--save")
    if plot_dir is not None:
        check_output_folder(plot_dir, "--plot-dir")
