"""Where each named dataset comes from: a data folder, the Keras cache, or Keras' downloader.

Resolution order (first hit wins):
1. the folder given as `data_dir`, else the `MLKIT_DATA_DIR` environment variable;
2. the Keras cache, `$KERAS_HOME/datasets` (default `~/.keras/datasets`);
3. Keras' own downloader (needs internet; skipped when `MLKIT_OFFLINE=1`).
"""

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..files import describe_mode
from .cifar import ARCHIVE_NAME as CIFAR_ARCHIVE, BATCH_FOLDER, load_cifar10_batches
from .dataset import Dataset
from .idx import load_npz, read_idx

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its classes, the folder names it may live under, what files it needs."""

    name: str
    class_names: tuple[str, ...]
    folders: tuple[str, ...]
    keras_module: str
    expected_files: str
    unique_names: tuple[str, ...] = ()

    def find_in(self, base: Path) -> Path | None:
        """Return the file or folder holding this dataset under `base`, or None."""
        candidates = [base / folder for folder in self.folders]
        if base.name in self.folders:
            candidates.append(base)
        for folder in candidates:
            if folder.is_dir():
                found = self._find_files(folder)
                if found is not None:
                    return found
        # Names no other dataset uses may sit at the top (Keras caches mnist.npz there).
        return next((base / name for name in self.unique_names if (base / name).exists()), None)

    def _find_files(self, folder: Path) -> Path | None:
        if self.name != "cifar10" and all(_idx_file(folder, s) for s in MNIST_FILES.values()):
            return folder
        return next((folder / name for name in self.unique_names if (folder / name).exists()), None)

    def load_from(self, path: Path) -> tuple:
        if self.name == "cifar10":
            return load_cifar10_batches(path)
        if path.suffix == ".npz":
            return load_npz(path)
        return tuple(read_idx(_idx_file(path, stem)) for stem in MNIST_FILES.values())


def _idx_file(folder: Path, stem: str) -> Path | None:
    # Anything by that name counts (a folder, a link to /dev/zero): the reader then says what
    # it is, instead of the dataset being reported as not found.
    for name in (stem + ".gz", stem):
        if os.path.lexists(folder / name):
            return folder / name
    return None


DATASETS = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist", tuple(str(d) for d in range(10)), ("mnist", "MNIST"), "mnist",
                    "the four IDX files (train-images-idx3-ubyte.gz, ...) or mnist.npz",
                    ("mnist.npz",)),
        DatasetSpec("fashion-mnist",
                    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
                    ("fashion-mnist", "fashion_mnist", "fashion"), "fashion_mnist",
                    "the four IDX files (train-images-idx3-ubyte.gz, ...)"),
        DatasetSpec("cifar10",
                    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"),
                    ("cifar10", "cifar-10", "CIFAR-10"), "cifar10",
                    f"{CIFAR_ARCHIVE} or its extracted {BATCH_FOLDER}/",
                    (CIFAR_ARCHIVE, BATCH_FOLDER, f"{BATCH_FOLDER}-target/{BATCH_FOLDER}")),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of a named dataset or raise a DataError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise DataError(f"unknown dataset {name!r}; known datasets: {known}, or an .h5 file.") from None


def data_dir_from_env(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder to look in first: `data_dir` if given, else `$MLKIT_DATA_DIR`, else None."""
    chosen = data_dir or os.environ.get("MLKIT_DATA_DIR")
    return Path(chosen).expanduser() if chosen else None


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def locate(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Find a named dataset on disk without reading it.

    Returns:
        (path, how) where how says which rule found it, or (None, what was searched).
    """
    spec = get_spec(name)
    folder = data_dir_from_env(data_dir)
    searched = []
    if folder is not None:
        if not folder.is_dir():
            what = f"is {describe_mode(folder.stat().st_mode)}" if folder.exists() else "does not exist"
            raise DataError(f"data folder {folder} {what}; fix --data-dir or MLKIT_DATA_DIR.")
        found = spec.find_in(folder)
        if found:
            return found, "data dir"
        searched.append(str(folder))
    found = spec.find_in(keras_cache_dir())
    if found:
        return found, "keras cache"
    searched.append(str(keras_cache_dir()))
    return None, "searched " + " and ".join(searched)


def fetch_with_keras(name: str) -> tuple:
    """Download with Keras' own loader (needs internet); its messages go to stderr."""
    spec = get_spec(name)
    if os.environ.get("MLKIT_OFFLINE") == "1":
        raise OSError("MLKIT_OFFLINE=1")
    import keras  # lazy: Keras is slow to import

    loader = getattr(keras.datasets, spec.keras_module)
    # Keras prints "Downloading data from ..." on stdout, which belongs to --json. Hold it
    # back and pass it to stderr only on success, so a failure stays one `Error:` line.
    messages = io.StringIO()
    with contextlib.redirect_stdout(messages):
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    sys.stderr.write(messages.getvalue())
    return x_train, y_train, x_test, y_test


def load_named(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a named dataset following the resolution order in this module's docstring."""
    spec = get_spec(name)
    path, how = locate(name, data_dir)
    if path is not None:
        arrays, source = spec.load_from(path), str(path)
    else:
        try:
            arrays, source = fetch_with_keras(name), "keras download"
        except Exception as error:  # Keras raises bare Exception for network failures
            reason = str(error).split(" -- ")[-1]
            place = data_dir_from_env(data_dir) or Path("DIR")
            raise DataError(
                f"{name} not found ({how}) and the Keras download failed ({reason}); "
                f"put {spec.expected_files} in {place / spec.folders[0]} and pass "
                f"--data-dir {place} or set MLKIT_DATA_DIR."
            ) from error
    return Dataset(name, *arrays, class_names=list(spec.class_names), source=source)


def describe_sources(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """Where each named dataset resolves now, without reading or downloading it."""
    rows = []
    for name, spec in DATASETS.items():
        path, how = locate(name, data_dir)
        if path is not None:
            rows.append({"name": name, "found": True, "where": how, "path": str(path)})
        else:
            rows.append({"name": name, "found": False, "where": "keras download",
                         "path": None, "note": f"not on disk ({how}); needs {spec.expected_files} "
                                               "or internet for Keras' downloader"})
    return rows
