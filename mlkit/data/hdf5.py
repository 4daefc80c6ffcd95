"""mlkit's HDF5 dataset format (see docs/formats.md): four arrays, attributes and a checksum."""

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..files import atomic_path
from .dataset import Dataset

FORMAT_VERSION = 1
ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over each array's name, dtype, shape and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], attrs: dict) -> Path:
    """Write named arrays and attributes to an HDF5 file atomically, with a `sha256` attribute.

    Other commands' HDF5 files (sequence datasets, face indexes) use this too, so every
    mlkit file can be checked the same way by `open_checked`.
    """
    with atomic_path(path) as temp:
        with h5py.File(temp, "w") as handle:
            for name, array in arrays.items():
                handle.create_dataset(name, data=array, compression="gzip", compression_opts=1)
            for key, value in attrs.items():
                handle.attrs[key] = json.dumps(value) if isinstance(value, (list, dict)) else value
            handle.attrs["format_version"] = FORMAT_VERSION
            handle.attrs["sha256"] = checksum(arrays)
    return Path(path)


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read every array and attribute of an mlkit HDF5 file, verifying its checksum.

    Returns:
        (arrays, attrs); JSON-encoded list/dict attributes are decoded.
    Raises:
        DataError: missing, not HDF5, truncated, or the checksum does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    try:
        with h5py.File(path, "r") as handle:
            arrays = {name: handle[name][()] for name in handle if isinstance(handle[name], h5py.Dataset)}
            attrs = {key: _decode(value) for key, value in handle.attrs.items()}
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{path} is not a readable HDF5 file (truncated or damaged?): "
                        f"{str(error).splitlines()[0]}.") from error
    if "sha256" not in attrs:
        raise DataError(f"{path} has no sha256 attribute; it was not written by mlkit.")
    if checksum(arrays) != attrs["sha256"]:
        raise DataError(f"{path} is damaged: its checksum does not match its contents.")
    return arrays, attrs


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] and value[:1] in "[{":
        return json.loads(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_dataset(dataset: Dataset, path: str | Path) -> Path:
    """Write a Dataset in mlkit's HDF5 format (atomically)."""
    arrays = {name: getattr(dataset, name) for name in ARRAYS}
    attrs = {"name": dataset.name, "class_names": list(dataset.class_names),
             "source": dataset.source, "kind": "image-classification"}
    return save_arrays(path, arrays, attrs)


def load_dataset_file(path: str | Path) -> Dataset:
    """Read a Dataset written by `save_dataset`, checking that it is complete and undamaged."""
    arrays, attrs = load_arrays(path)
    missing = [name for name in ARRAYS if name not in arrays]
    if missing or "class_names" not in attrs:
        raise DataError(f"{path} is not an mlkit image dataset: it lacks {', '.join(missing) or 'class_names'}.")
    return Dataset(attrs.get("name", Path(path).stem), *(arrays[n] for n in ARRAYS),
                   class_names=list(attrs["class_names"]), source=str(path))
