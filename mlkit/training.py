"""The one training path: `fit` trains and times every model mlkit trains, and the pieces it
shares (seeding, callbacks, history, checkpoints, saving and loading models).

No other module calls Keras' `model.fit` (docs/architecture.md). Keras is imported inside
functions so that importing this module stays cheap.
"""

import json
import math
import os
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelError, first_line
from .files import atomic_path
from .pipelines import array_batches, is_arrays

MODEL_SUFFIXES = (".keras", ".h5")
KERAS_BATCH_SIZE = 32  # what model.fit takes when no batch size is given


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend so a run repeats with the same --seed."""
    import keras

    keras.utils.set_random_seed(seed)


@dataclass
class History:
    """Per-epoch metrics (and optional per-batch ones) of one training run, JSON-ready."""

    epochs: dict[str, list[float]] = field(default_factory=dict)
    batches: dict[str, list[float]] = field(default_factory=dict)
    batch_steps: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def num_epochs(self) -> int:
        return len(next(iter(self.epochs.values()), []))

    def best(self, metric: str, mode: str = "max") -> float | None:
        values = self.epochs.get(metric)
        if not values:
            return None
        return max(values) if mode == "max" else min(values)

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "batches": self.batches,
                "batch_steps": self.batch_steps, "seconds": self.seconds}

    def __repr__(self) -> str:
        return f"History(epochs={self.num_epochs}, metrics={sorted(self.epochs)}, seconds={self.seconds:.1f})"


def history_recorder(history: History, every_batches: int = 0):
    """A Keras callback filling `history` each epoch, and every `every_batches` batches if > 0.

    Batch steps are counted across epochs, so per-batch curves can be plotted against them
    (seed 004 logs loss and accuracy every 100 batches).
    """
    import keras

    class HistoryRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step = 0
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if every_batches and self.step % every_batches == 0:
                history.batch_steps.append(self.step)
                for key, value in (logs or {}).items():
                    history.batches.setdefault(key, []).append(float(value))

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                if key != "learning_rate" or value is not None:
                    history.epochs.setdefault(key, []).append(float(value))
            history.seconds = time.perf_counter() - self.started

    return HistoryRecorder()


def epoch_logger(label: str = "", stream=None):
    """A Keras callback writing one line per epoch to stderr (Keras' own bar goes to stdout)."""
    import keras

    stream = stream or sys.stderr

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            total = self.params.get("epochs", "?")
            metrics = "  ".join(f"{key} {value:.4f}" for key, value in (logs or {}).items()
                                if isinstance(value, (int, float)))
            seconds = time.perf_counter() - self.started
            prefix = f"{label} " if label else ""
            stream.write(f"{prefix}epoch {epoch + 1}/{total}  {metrics}  {seconds:.1f}s\n")
            stream.flush()

    return EpochLogger()


@dataclass
class FitOptions:
    """How one `fit` call trains: what the command line chose, after defaults.

    Args:
        epochs: the last epoch to reach (counted from 0, like Keras, so a resumed run that already
            reached it trains no more).
        batch_size: examples per step (None when `x` yields batches itself).
        monitor: the validation metric that picks the best epoch ("...loss" is minimised).
        patience: epochs without improvement before stopping (best weights restored); 0 = off.
        checkpoint: save the best model here (atomically, with its history: see save_model).
        initial_epoch: epochs already trained (a resumed run).
        best: the monitored value the checkpoint already holds; a worse epoch never replaces it.
        every_batches: also record metrics every this many batches.
        shuffle: reshuffle arrays every epoch (tf.data pipelines shuffle themselves).
        quiet: no per-epoch lines on stderr.
        label: prefix for the per-epoch lines.
    """

    epochs: int
    batch_size: int | None = None
    monitor: str = "val_accuracy"
    patience: int = 0
    checkpoint: str | os.PathLike | None = None
    initial_epoch: int = 0
    best: float | None = None
    every_batches: int = 0
    shuffle: bool = True
    quiet: bool = False
    label: str = ""

    @property
    def mode(self) -> str:
        return "min" if "loss" in self.monitor else "max"


@dataclass
class FitOutcome:
    """What one training run did, the same for every command.

    `train_seconds` counts training steps only (validation and per-epoch probes left out), so
    `images_per_second` is training examples per second of training in every command.
    """

    history: History
    monitor: str
    mode: str
    initial_epoch: int
    examples_per_epoch: int
    train_seconds: float
    epoch_seconds: list[float]  # wall seconds of each epoch, validation and callbacks included

    def __repr__(self) -> str:
        return (f"FitOutcome(epochs_run={self.epochs_run}, best_epoch={self.best_epoch}, "
                f"train_seconds={self.train_seconds:.1f})")

    @property
    def epochs_run(self) -> int:
        return self.history.num_epochs

    @property
    def epochs(self) -> int:
        """The last epoch reached, counting a resumed run's earlier ones."""
        return self.initial_epoch + self.epochs_run

    @property
    def best_index(self) -> int | None:
        """Index into this run's history of the best monitored epoch (None without one)."""
        values = self.history.epochs.get(self.monitor)
        if not values:
            return None
        finite = [v if math.isfinite(v) else (math.inf if self.mode == "min" else -math.inf) for v in values]
        pick = min if self.mode == "min" else max
        return finite.index(pick(finite))

    @property
    def best_epoch(self) -> int | None:
        index = self.best_index
        return None if index is None else self.initial_epoch + index + 1

    def at_best(self, metric: str) -> float | None:
        """`metric` at the best epoch (the last epoch when nothing is monitored)."""
        values = self.history.epochs.get(metric)
        if not values:
            return None
        index = self.best_index
        return values[-1 if index is None else index]

    def last(self, metric: str) -> float | None:
        values = self.history.epochs.get(metric)
        return values[-1] if values else None

    @property
    def images_per_second(self) -> float:
        return self.epochs_run * self.examples_per_epoch / self.train_seconds if self.train_seconds else 0.0

    @property
    def wall_seconds(self) -> float:
        return sum(self.epoch_seconds)

    def to_dict(self) -> dict:
        return {"epochs_run": self.epochs_run, "epochs": self.epochs, "initial_epoch": self.initial_epoch,
                "best_epoch": self.best_epoch, "monitor": self.monitor, "train_seconds": self.train_seconds,
                "images_per_second": self.images_per_second, "epoch_seconds": self.epoch_seconds,
                "history": self.history.to_dict()}


def fit(model, x, y=None, *, options: FitOptions, validation=None, callbacks: list = (),
        examples_per_epoch: int | None = None) -> FitOutcome:
    """Train a compiled `model`: the only call of Keras' `model.fit` in mlkit.

    Args:
        x, y: arrays, or a tf.data.Dataset / keras PyDataset of batches as `x` (then y is None).
        options: epochs, batch size, monitor, early stopping, checkpoint (see FitOptions).
        validation: what `model.fit` takes as validation_data, or None (then `callbacks` are
            expected to add the monitored metric to each epoch's logs).
        callbacks: the command's own callbacks; they run after the timer has stopped for the
            epoch, so their work (scoring, probes) is not counted as training time.
        examples_per_epoch: training examples an epoch sees; default len(x).
    """
    history, timer = History(), TrainTimer()
    examples = len(x) if examples_per_epoch is None else examples_per_epoch
    first, last = timer.callbacks()
    all_callbacks = [first, *callbacks, *training_callbacks(history, options), last]
    if options.initial_epoch < options.epochs:
        build_training_state(model, *first_rows(x, y))
        if is_arrays(x):  # Keras' own pipeline for arrays autotunes (why that stalls: mlkit.pipelines)
            x, y = array_batches(x, y, options.batch_size or KERAS_BATCH_SIZE, options.shuffle), None
        if isinstance(validation, tuple) and len(validation) == 2 and is_arrays(validation):
            validation = array_batches(*validation, options.batch_size or KERAS_BATCH_SIZE, shuffle=False)
        model.fit(x, y, epochs=options.epochs, initial_epoch=options.initial_epoch, validation_data=validation,
                  shuffle=False, verbose=0, callbacks=all_callbacks)  # batches come shuffled
    return FitOutcome(history, options.monitor, options.mode, options.initial_epoch, examples, timer.seconds,
                      timer.epoch_seconds)


def build_training_state(model, x, y) -> None:
    """Create the optimizer's slots and the metrics' totals before training, from rows `x`, `y`.

    Without a distribution strategy Keras creates them while tracing the first training step,
    and TensorFlow then traces the step again (and XLA compiles it again) because variables
    appeared: the seq2seq transformer's first 21 steps took 15.9-17.3 s on 2 cores, 10.1-11.2 s
    traced once (the graph has 5,801 operations instead of 11,941). An inference call on two
    rows builds the metrics without changing weights, random state or statistics.
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.compute_metrics(x, y, model(x, training=False), sample_weight=None)
    model.reset_metrics()


def first_rows(x, y=None, count: int = 2) -> tuple:
    """The first `count` rows of the training data as (x, y), whatever form `fit` takes it in."""
    import tensorflow as tf

    if is_arrays(x):
        batch = (x, y)
    elif isinstance(x, tf.data.Dataset):
        batch = next(iter(x.take(1)))
    else:  # a keras PyDataset
        batch = x[0]
    return tuple(tf.nest.map_structure(lambda rows: tf.convert_to_tensor(rows[:count]), tuple(batch[:2])))


def training_callbacks(history: History, options: FitOptions) -> list:
    """History, then optional early stopping, best-model checkpoint and per-epoch log lines."""
    import keras

    callbacks = [history_recorder(history, options.every_batches)]
    if options.patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=options.monitor, mode=options.mode, patience=options.patience, restore_best_weights=True))
    if options.checkpoint:
        callbacks.append(best_model_saver(options))
    if not options.quiet:
        callbacks.append(epoch_logger(options.label))
    return callbacks


def best_model_saver(options: FitOptions):
    """Like keras.callbacks.ModelCheckpoint(save_best_only=True), but the write is atomic, the
    file records its history (see save_model), and a resumed run starts from the best value the
    checkpoint already holds, so a worse epoch never replaces a better model."""
    import keras

    class BestModelSaver(keras.callbacks.Callback):
        best = options.best

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(options.monitor)
            if value is None or not math.isfinite(value):
                return
            if self.best is None or (value < self.best if options.mode == "min" else value > self.best):
                self.best = float(value)
                steps = self.params.get("steps")
                save_model(self.model, options.checkpoint, checkpoint={
                    "monitor": options.monitor, "mode": options.mode, "best": self.best, "epoch": epoch + 1,
                    "batch_size": options.batch_size, "steps_per_epoch": steps})

    return BestModelSaver()


CHECKPOINT_MEMBER = "mlkit_checkpoint.json"


def save_model(model, path: str | os.PathLike, checkpoint: dict | None = None) -> Path:
    """Save a Keras model atomically in the `.keras` format.

    Args:
        checkpoint: the training state it was saved at (monitored best value, epoch, batch size,
            steps per epoch), kept inside the file so `--resume` continues from it.
    """
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} must end in .keras (or .h5).")
    with atomic_path(path) as temp:
        model.save(temp)
        if checkpoint is not None and path.suffix == ".keras":
            with zipfile.ZipFile(temp, "a") as archive:  # Keras ignores members it does not know
                archive.writestr(CHECKPOINT_MEMBER, json.dumps(checkpoint))
    return path


def read_checkpoint(path: str | os.PathLike) -> dict | None:
    """The training state `save_model` stored with a model, or None (another tool's model)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if CHECKPOINT_MEMBER not in archive.namelist():
                return None
            state = json.loads(archive.read(CHECKPOINT_MEMBER))
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise ModelError(f"cannot read the training state stored in {path}: {error}.") from error
    return state if isinstance(state, dict) else None


def load_model(path: str | os.PathLike):
    """Load a model saved by `save_model`, in Keras safe mode (no arbitrary code from files)."""
    import keras

    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file {path} does not exist.")
    if not path.is_file():
        raise ModelError(f"{path} is not a regular file; give a .keras model file.")
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} must end in .keras or .h5.")
    try:
        return keras.saving.load_model(path, custom_objects=mlkit_objects(), safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        reason = first_line(error)
        if isinstance(error, FileNotFoundError) or "not found" in reason.lower():
            reason = "not a complete .keras file (truncated or damaged?)"
        raise ModelError(f"cannot load model {path}: {reason}") from error


def mlkit_objects() -> dict:
    """The classes mlkit registers with Keras that any command's model file may hold: the
    learning-rate schedule and the bias-scaled SGD of a saved optimizer, the mirror layers of a
    CIFAR network, airbench's compiled GELU, the Keras 2 gates and batch normalisation of the
    seed recipes, the layers of the mnist-sum sum model and calculator."""
    from . import bias_scaled_sgd, schedules
    from .models import compiled_gelu, keras2_batch_norm, keras2_gates, mirror_views, mnist_calc, mnist_sum

    modules = (schedules, bias_scaled_sgd, mirror_views, compiled_gelu, keras2_gates, keras2_batch_norm, mnist_sum,
               mnist_calc)
    return {name: obj for module in modules for name, obj in module.custom_objects().items()}


class TrainTimer:
    """Seconds spent in training steps, leaving out validation and other callbacks' work."""

    def __init__(self):
        self.seconds = 0.0
        self.epoch_seconds: list[float] = []

    def __repr__(self) -> str:
        return f"TrainTimer(seconds={self.seconds:.1f})"

    def callbacks(self) -> tuple:
        """(first, last): the first callback of the list times the training steps and stops at
        validation or at the epoch's end, before other callbacks score or probe; the last one
        measures the whole epoch's wall time."""
        import keras

        timer = self

        class StepTimer(keras.callbacks.Callback):
            started = None

            def on_epoch_begin(self, epoch, logs=None):
                self.started = timer.epoch_started = time.perf_counter()

            def on_test_begin(self, logs=None):
                self._stop()

            def on_epoch_end(self, epoch, logs=None):
                self._stop()

            def _stop(self):
                if self.started is not None:
                    timer.seconds += time.perf_counter() - self.started
                    self.started = None

        class EpochClock(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                timer.epoch_seconds.append(time.perf_counter() - timer.epoch_started)

        return StepTimer(), EpochClock()
