"""One run of `mlkit fashion-sweep`, executed in whatever process the sweep's executor picks.

A task is a plain dict (picklable, sent to other processes or Ray workers); the worker
loads the data itself, so only settings travel, and it caches the split for its next run.
"""

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from ..data import load_data
from ..errors import DataError

# ReduceLROnPlateau: halve the rate after --lr-patience epochs without a lower val loss,
# never below MIN_LEARNING_RATE.
LR_FACTOR = 0.5
MIN_LEARNING_RATE = 1e-5
MONITOR = "val_loss"
TEST_BATCH_SIZE = 1024
# What a stored run's result must hold, as finite numbers, to be reused (see is_complete).
RESULT_NUMBERS = ("epochs_trained", "epoch", "train_accuracy", "val_accuracy", "test_accuracy",
                  "seconds", "images_per_second")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

_SPLITS: dict[tuple, tuple] = {}


def split_train_val(dataset, val_fraction: float, seed: int, how: str = "stratified") -> tuple[np.ndarray, ...]:
    """Split the training set into fit and validation parts.

    "stratified" holds out `val_fraction` of each class, drawn with `seed` (sklearn); "last" holds
    out the last `val_fraction` of the training file in its order, as Keras' `validation_split`
    did for seed 003 (docs/seeds.md).

    Returns:
        (x_fit, y_fit, x_val, y_val).
    Raises:
        DataError: too few images per class for the fraction asked.
    """
    if how == "last":
        split_at = math.ceil(len(dataset.y_train) * (1 - val_fraction))  # Keras' rounding
        x, y = dataset.x_train, dataset.y_train
        return x[:split_at], y[:split_at], x[split_at:], y[split_at:]
    from sklearn.model_selection import train_test_split

    try:
        x_fit, x_val, y_fit, y_val = train_test_split(
            dataset.x_train, dataset.y_train, test_size=val_fraction, random_state=seed,
            stratify=dataset.y_train)
    except ValueError as error:
        raise DataError(f"cannot split {len(dataset.y_train)} training images per class with "
                        f"--val-fraction {val_fraction}: {error}; use more data or another fraction.") from error
    return x_fit, y_fit, x_val, y_val


def _split_key(task: dict) -> tuple:
    return task["data"], task["data_dir"], task["val_fraction"], task["val_split"], task["seed"]


def prime_split(task: dict | None, dataset, split: tuple) -> None:
    """Hand this process's already loaded data to runs executed in the same process."""
    _SPLITS.clear()
    if task is not None:
        _SPLITS[_split_key(task)] = (*split, dataset.x_test, dataset.y_test, list(dataset.class_names))


def _load_split(task: dict) -> tuple:
    key = _split_key(task)
    if key not in _SPLITS:
        dataset = load_data(task["data"], task["data_dir"])
        split = split_train_val(dataset, task["val_fraction"], task["seed"], task["val_split"])
        _SPLITS.clear()  # one dataset in memory per worker is enough
        _SPLITS[key] = (*split, dataset.x_test, dataset.y_test, list(dataset.class_names))
    return _SPLITS[key]


def train_fashion_run(task: dict) -> dict:
    """Train one (architecture, learning rate, batch size) run through `mlkit.training.fit`.

    With `patience` > 0 the run stops once its validation loss has not fallen for that many
    epochs and keeps its best epoch's weights; with 0 it trains every epoch and keeps the last.
    The figures are those of the epoch whose weights are kept.

    Args:
        task: the run's settings plus `data`, `data_dir`, `quiet` and `label`.
    Returns:
        {"result": the kept epoch's metrics, test scores, seconds and curves,
         "model_bytes": the kept model as a .keras file}.
    """
    from ..evaluation import evaluate_classifier
    from ..models.fashion import build_fashion_model
    from ..training import FitOptions, fit, set_seed

    started = time.perf_counter()
    x_fit, y_fit, x_val, y_val, x_test, y_test, class_names = _load_split(task)
    set_seed(task["seed"])
    model = build_fashion_model(task["arch"], x_fit.shape[1:], len(class_names), task["learning_rate"])
    options = FitOptions(epochs=task["epochs"], batch_size=task["batch_size"], monitor=MONITOR,
                         patience=task["patience"], quiet=task["quiet"], label=task["label"])
    outcome = fit(model, x_fit, y_fit, options=options, validation=(x_val, y_val),
                  callbacks=_rate_schedule(task["lr_patience"]))
    curves = outcome.history.epochs
    kept = outcome.best_index if task["patience"] else outcome.epochs_run - 1
    test_loss, _ = model.evaluate(x_test, y_test, batch_size=TEST_BATCH_SIZE, verbose=0)
    # Counted from the predictions as `mlkit evaluate` counts them, so the saved model scores
    # exactly this on the test split.
    test_accuracy = evaluate_classifier(model, x_test, y_test, class_names).accuracy
    result = {
        "epochs_trained": outcome.epochs_run, "epoch": kept + 1, "best_epoch": outcome.best_epoch,
        "train_loss": curves["loss"][kept], "train_accuracy": curves["accuracy"][kept],
        "val_loss": curves["val_loss"][kept], "val_accuracy": curves["val_accuracy"][kept],
        "test_loss": float(test_loss), "test_accuracy": test_accuracy,
        "seconds": outcome.train_seconds, "images_per_second": outcome.images_per_second,
        "wall_seconds": time.perf_counter() - started,
        "history": {key: curves[key] for key in (*HISTORY_KEYS, "learning_rate") if key in curves},
    }
    return {"result": result, "model_bytes": _model_bytes(model)}


def _rate_schedule(lr_patience: int) -> list:
    """ReduceLROnPlateau on the validation loss, or nothing (a constant rate, as the seed)."""
    if not lr_patience:
        return []
    import keras

    return [keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, factor=LR_FACTOR, patience=lr_patience,
                                              min_lr=MIN_LEARNING_RATE)]


def is_complete(result) -> bool:
    """Whether a stored run's result has everything a sweep reads from it (else it is retrained)."""
    if not isinstance(result, dict) or not isinstance(result.get("history"), dict):
        return False
    numbers_ok = all(_finite(result.get(key)) for key in RESULT_NUMBERS)
    curves_ok = all(isinstance(result["history"].get(key), list) for key in HISTORY_KEYS)
    return numbers_ok and curves_ok


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _model_bytes(model) -> bytes:
    """The model as .keras bytes, so it can travel back from another process or machine."""
    from ..training import save_model

    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "model.keras")
        return path.read_bytes()
