"""`mlkit fashion-sweep`: seed 003's Fashion-MNIST batch-size study as a resumable parallel sweep.

The training set is split per class (stratified, seeded) into fit and validation parts; each
(learning rate, batch size) run trains the seed's MLP (or a CNN) until its validation loss
stops improving, keeps the weights of its best epoch and is scored on the test set.
"""

import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import is_hdf5_path, load_data
from ..data.sources import data_dir_from_env
from ..errors import ConfigError
from ..files import atomic_path
from ..models.fashion import MODELS
from ..sweep import EXECUTORS, RunStore, available_cpus, run_key, run_tasks
from .fashion_run import prime_split, split_train_val, train_fashion_run


@dataclass
class FashionSweepConfig:
    """Every setting of a sweep; the defaults are seed 003's."""

    data: str = "fashion-mnist"
    data_dir: Path | None = None
    model: str = "mlp"
    batch_sizes: tuple[int, ...] = (8, 16, 32, 64)
    learning_rates: tuple[float, ...] = (0.001,)
    epochs: int = 20
    patience: int = 5
    # Halve the learning rate after this many epochs without a lower val loss; 0 keeps it
    # constant as the seed did. Settling at a lower rate gains ~0.5% accuracy for the MLP.
    lr_patience: int = 2
    val_fraction: float = 0.3
    seed: int = 0
    jobs: int = 1
    threads: int | None = None  # per run; None shares the cores out between the jobs
    executor: str = "local"
    address: str | None = None
    out: Path | None = None
    plot_dir: Path | None = None
    save: Path | None = None
    quiet: bool = False


@dataclass
class FashionSweepResult:
    """The histogram, the split, one row per run (with its curves) and the best run."""

    data: dict
    class_counts: list[dict]
    runs: list[dict]
    best: dict
    execution: dict
    files: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"FashionSweepResult(runs={len(self.runs)}, best_val_accuracy="
                f"{self.best.get('val_accuracy')}, best_test_accuracy={self.best.get('test_accuracy')})")


def run(config: FashionSweepConfig) -> FashionSweepResult:
    """Run (or resume) the sweep described by `config` and collect its results."""
    _check(config)
    started = time.perf_counter()
    data_dir = data_dir_from_env(config.data_dir)
    data_spec = str(Path(config.data).resolve()) if is_hdf5_path(config.data) else config.data
    dataset = load_data(data_spec, data_dir)
    split = split_train_val(dataset, config.val_fraction, config.seed)
    fingerprint = _fingerprint(dataset)
    threads = config.threads or max(1, available_cpus() // config.jobs)
    runs = list(dict(_settings(config, fingerprint, learning_rate, batch_size)  # repeats run once
                     for learning_rate in config.learning_rates for batch_size in config.batch_sizes).items())
    with tempfile.TemporaryDirectory(prefix="fashion-sweep-") as scratch:
        store = RunStore(config.out or scratch)
        source = {"data": data_spec, "data_dir": str(data_dir) if data_dir else None}
        records, missing = _execute(config, store, runs, threads, source, (dataset, split))
        rows = [_row(records[name], reused=name not in missing) for name, _ in runs]
        best = max(rows, key=lambda row: row["val_accuracy"])
        files = _write_files(config, dataset, split, rows, best, store)
    counts = _class_counts(dataset, split)
    execution = {"executor": config.executor, "jobs": config.jobs, "threads_per_run": threads,
                 "trained": len(missing), "reused": len(runs) - len(missing),
                 "wall_seconds": time.perf_counter() - started}
    data = {"name": dataset.name, "source": dataset.source, "fingerprint": fingerprint,
            "fit_images": len(split[1]), "val_images": len(split[3]), "test_images": len(dataset.y_test)}
    summary = {key: best[key] for key in ("name", "learning_rate", "batch_size", "best_epoch",
                                          "val_loss", "val_accuracy", "test_accuracy")}
    return FashionSweepResult(data, counts, rows, summary, execution, files)


def _execute(config, store, runs, threads, source, loaded) -> tuple[dict, set]:
    """Train the runs `store` lacks, saving each the moment it finishes.

    Returns:
        (name -> stored record for every run, names of the runs trained now).
    """
    records = {name: store.load(name, settings) for name, settings in runs}
    missing = [(name, settings) for name, settings in runs if records[name] is None]
    _progress(config, f"fashion-sweep: {len(runs)} runs, {len(runs) - len(missing)} reused from "
              f"{store.runs}, {len(missing)} to train ({config.executor}, jobs {config.jobs}, "
              f"{threads} threads each)")
    tasks = [dict(settings, **source, quiet=config.quiet, label=_label(settings)) for _, settings in missing]
    prime_split(tasks[0] if tasks else None, *loaded)

    def save_finished(index: int, output: dict) -> None:
        name, settings = missing[index]
        records[name] = store.save(name, settings, output["result"], output["model_bytes"])
        result = output["result"]
        _progress(config, f"finished {_label(settings)}: val_accuracy {result['val_accuracy']:.4f}  "
                  f"test_accuracy {result['test_accuracy']:.4f}  {result['seconds']:.1f}s")

    run_tasks(train_fashion_run, tasks, executor=config.executor, jobs=config.jobs,
              threads=threads, address=config.address, on_result=save_finished)
    return records, {name for name, _ in missing}


def _check(config: FashionSweepConfig) -> None:
    problems = [
        (config.model not in MODELS, f"--model must be one of {', '.join(MODELS)}, got {config.model!r}"),
        (config.executor not in EXECUTORS, f"--executor must be one of {', '.join(EXECUTORS)}, got {config.executor!r}"),
        (not config.batch_sizes or min(config.batch_sizes) < 1, "--batch-sizes needs positive integers, e.g. 8,16,32,64"),
        (not config.learning_rates or min(config.learning_rates) <= 0, "--learning-rates needs positive numbers, e.g. 0.001,0.0003"),
        (config.epochs < 1 or config.patience < 1, "--epochs and --patience must be at least 1"),
        (config.lr_patience < 0, "--lr-patience must be 0 (constant learning rate) or more"),
        (not 0 < config.val_fraction < 1, f"--val-fraction must be between 0 and 1, got {config.val_fraction}"),
        (config.jobs < 1 or (config.threads is not None and config.threads < 1), "--jobs and --threads must be at least 1"),
        (config.address is not None and config.executor != "ray", "--address needs --executor ray"),
        (config.save is not None and config.save.suffix != ".keras", "--save must name a .keras file"),
    ]
    for failed, message in problems:
        if failed:
            raise ConfigError(message + ".")


def _settings(config: FashionSweepConfig, fingerprint: str, learning_rate: float, batch_size: int) -> tuple[str, dict]:
    """Everything that decides a run's outcome; equal settings mean a stored run can be reused."""
    settings = {"data": fingerprint, "model": config.model, "batch_size": int(batch_size),
                "learning_rate": float(learning_rate), "epochs": config.epochs, "patience": config.patience,
                "lr_patience": config.lr_patience,
                "val_fraction": config.val_fraction, "seed": config.seed}
    name = f"{config.model}-bs{batch_size}-lr{learning_rate:g}-{run_key(settings)}"
    return name, settings


def _fingerprint(dataset) -> str:
    """Identifies the data cheaply: labels in full and a sample of pixels."""
    digest = hashlib.sha256()
    for array in (dataset.y_train, dataset.y_test, dataset.x_train[::101], dataset.x_test[::101]):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _label(settings: dict) -> str:
    return f"{settings['model']} bs {settings['batch_size']} lr {settings['learning_rate']:g}"


def _row(record: dict, reused: bool) -> dict:
    settings, result = record["settings"], record["result"]
    return {"name": record["name"], "model": settings["model"], "learning_rate": settings["learning_rate"],
            "batch_size": settings["batch_size"], **result, "reused": reused}


def _class_counts(dataset, split) -> list[dict]:
    parts = {"train": dataset.y_train, "fit": split[1], "val": split[3], "test": dataset.y_test}
    counts = {part: np.bincount(labels, minlength=dataset.num_classes) for part, labels in parts.items()}
    return [{"class": name, **{part: int(counts[part][index]) for part in parts}}
            for index, name in enumerate(dataset.class_names)]


def _write_files(config, dataset, split, rows, best, store) -> dict[str, str]:
    from ..plots import plot_bars, plot_curves

    files = {}
    if config.out:
        files["out"] = str(store.folder)
    if config.plot_dir:
        files["histogram_plot"] = str(plot_bars(
            list(dataset.class_names), dataset.class_counts("train"),
            config.plot_dir / "fashion_class_histogram.png",
            title=f"{dataset.name}: training images per class", ylabel="images"))
        curves = {f"bs {row['batch_size']} lr {row['learning_rate']:g}": row["history"] for row in rows}
        files["curves_plot"] = str(plot_curves(
            curves, ["accuracy", "loss"], config.plot_dir / "fashion_sweep_curves.png",
            title=f"{config.model}: train (solid) and validation (dashed) per run"))
    if config.save:
        with atomic_path(config.save) as temp:
            temp.write_bytes(store.model_path(best["name"]).read_bytes())
        files["model"] = str(config.save)
    return files


def _progress(config: FashionSweepConfig, line: str) -> None:
    if not config.quiet:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
