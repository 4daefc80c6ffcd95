"""One run of `mlkit fashion-sweep`, executed in whatever process the sweep's executor picks.

A task is a plain dict (picklable, sent to other processes or Ray workers); the worker
loads the data itself, so only settings travel, and it caches the split for its next run.
"""

import tempfile
import time
from pathlib import Path

import numpy as np

from ..data import load_data
from ..errors import ConfigError

_SPLITS: dict[tuple, tuple] = {}


def split_train_val(dataset, val_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Split the training set per class into fit and validation parts (sklearn, stratified).

    Returns:
        (x_fit, y_fit, x_val, y_val).
    """
    from sklearn.model_selection import train_test_split

    try:
        x_fit, x_val, y_fit, y_val = train_test_split(
            dataset.x_train, dataset.y_train, test_size=val_fraction, random_state=seed,
            stratify=dataset.y_train)
    except ValueError as error:
        raise ConfigError(f"cannot split {len(dataset.y_train)} training images per class with "
                          f"--val-fraction {val_fraction}: {error}; use more data or another fraction.") from error
    return x_fit, y_fit, x_val, y_val


def _split_key(task: dict) -> tuple:
    return task["data"], task["data_dir"], task["val_fraction"], task["seed"]


def prime_split(task: dict | None, dataset, split: tuple) -> None:
    """Hand this process's already loaded data to runs executed in the same process."""
    _SPLITS.clear()
    if task is not None:
        _SPLITS[_split_key(task)] = (*split, dataset.x_test, dataset.y_test, dataset.num_classes)


def _load_split(task: dict) -> tuple:
    key = _split_key(task)
    if key not in _SPLITS:
        dataset = load_data(task["data"], task["data_dir"])
        split = split_train_val(dataset, task["val_fraction"], task["seed"])
        _SPLITS.clear()  # one dataset in memory per worker is enough
        _SPLITS[key] = (*split, dataset.x_test, dataset.y_test, dataset.num_classes)
    return _SPLITS[key]


def train_fashion_run(task: dict) -> dict:
    """Train one (model, learning rate, batch size) run until its validation loss stops improving.

    Args:
        task: the run's settings plus `data`, `data_dir`, `quiet` and `label`.
    Returns:
        {"result": metrics at the best epoch, test scores, seconds and curves,
         "model_bytes": the best model as a .keras file}.
    """
    import keras

    from ..models.fashion import build_fashion_model
    from ..training import History, set_seed, training_callbacks

    x_fit, y_fit, x_val, y_val, x_test, y_test, num_classes = _load_split(task)
    set_seed(task["seed"])
    started = time.perf_counter()
    model = build_fashion_model(task["model"], x_fit.shape[1:], num_classes, task["learning_rate"])
    history = History()
    callbacks = training_callbacks(history, monitor="val_loss", patience=task["patience"],
                                   quiet=task["quiet"], label=task["label"])
    if task["lr_patience"]:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=task["lr_patience"], min_lr=1e-5))
    model.fit(x_fit, y_fit, batch_size=task["batch_size"], epochs=task["epochs"],
              validation_data=(x_val, y_val), verbose=0, callbacks=callbacks)
    # EarlyStopping(restore_best_weights=True) has put back the weights of the best epoch.
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
    seconds = time.perf_counter() - started
    curves = history.epochs
    best = int(np.argmin(curves["val_loss"]))
    result = {
        "epochs_trained": len(curves["val_loss"]), "best_epoch": best + 1,
        "train_loss": curves["loss"][best], "train_accuracy": curves["accuracy"][best],
        "val_loss": curves["val_loss"][best], "val_accuracy": curves["val_accuracy"][best],
        "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
        "seconds": seconds, "history": {key: curves[key] for key in ("loss", "accuracy", "val_loss", "val_accuracy")},
    }
    return {"result": result, "model_bytes": _model_bytes(model)}


def _model_bytes(model) -> bytes:
    """The model as .keras bytes, so it can travel back from another process or machine."""
    from ..training import save_model

    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "model.keras")
        return path.read_bytes()
