"""Pieces every training command shares: seeding, callbacks, history, saving and loading models.

Keras is imported inside functions so that importing this module stays cheap.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelError
from .files import atomic_path

MODEL_SUFFIXES = (".keras", ".h5")


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


def training_callbacks(history: History, *, monitor: str = "val_accuracy", patience: int = 0,
                       checkpoint: str | os.PathLike | None = None, every_batches: int = 0,
                       quiet: bool = False, label: str = "") -> list:
    """The usual callback list: history, optional early stopping and best-model checkpoint.

    Args:
        history: filled in place as training runs.
        monitor: metric for early stopping and checkpointing ("val_loss" is minimised).
        patience: epochs without improvement before stopping; 0 turns early stopping off.
        checkpoint: save the best model here (atomically) whenever `monitor` improves.
        every_batches: also record metrics every this many batches.
        quiet: no per-epoch lines on stderr.
        label: prefix for the per-epoch lines (which run of a sweep they belong to).
    """
    import keras

    mode = "min" if "loss" in monitor else "max"
    callbacks = [history_recorder(history, every_batches)]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=patience, restore_best_weights=True))
    if checkpoint:
        callbacks.append(best_model_saver(checkpoint, monitor, mode))
    if not quiet:
        callbacks.append(epoch_logger(label))
    return callbacks


def best_model_saver(path: str | os.PathLike, monitor: str, mode: str):
    """Like keras.callbacks.ModelCheckpoint(save_best_only=True), but the write is atomic,
    so an interrupted run never leaves a half-written model where the last good one was."""
    import keras

    class BestModelSaver(keras.callbacks.Callback):
        best = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None:
                return
            if self.best is None or (value < self.best if mode == "min" else value > self.best):
                self.best = value
                save_model(self.model, path)

    return BestModelSaver()


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras model atomically; `.keras` (recommended) or legacy `.h5`."""
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} must end in .keras (or .h5).")
    with atomic_path(path) as temp:
        model.save(temp)
    return path


def load_model(path: str | os.PathLike, custom_objects: dict | None = None):
    """Load a model saved by `save_model`, in Keras safe mode (no arbitrary code from files)."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist.")
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} must end in .keras or .h5.")
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"cannot load model {path}: {first_line}") from error
