"""mlkit's HDF5 dataset format (see docs/formats.md): four arrays, attributes and a checksum."""

import io
import json
import math
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError, first_line
from ..files import atomic_path, check_input_file
from .budget import check_declared_size
from .checks import check_names_match_labels
from .dataset import ARRAYS, Dataset
from .fingerprint import checksum

FORMAT_VERSION = 1
# numpy dtype kinds an mlkit file may hold: bool, integers, floats, fixed-length bytes.
STORED_KINDS = "biufS"
DATASET_KIND = "image-classification"


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], attrs: dict) -> Path:
    """Write named arrays and attributes to an HDF5 file atomically, with a `sha256` attribute.

    Other commands' HDF5 files (sequence datasets, face indexes) use this too, so every
    mlkit file can be checked the same way by `load_arrays`.
    """
    image = _hdf5_image(arrays, attrs)
    with atomic_path(path) as temp:
        temp.write_bytes(image)
    return Path(path)


def _hdf5_image(arrays: dict[str, np.ndarray], attrs: dict) -> memoryview:
    """The whole HDF5 file, built in memory: HDF5 then never meets a disk error (a full disk
    mid-write has crashed its library), and the one plain write that follows fails cleanly."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for name, array in arrays.items():
            handle.create_dataset(name, data=array, compression="gzip", compression_opts=1)
        for key, value in attrs.items():
            handle.attrs[key] = json.dumps(value) if isinstance(value, (list, dict)) else value
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["sha256"] = checksum(arrays)
    return buffer.getbuffer()


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read every array and attribute of an mlkit HDF5 file, verifying its checksum.

    The arrays' declared sizes are held to the memory budget (mlkit/data/budget.py) before
    any of them is read.

    Returns:
        (arrays, attrs); JSON-encoded list/dict attributes are decoded.
    Raises:
        DataError: missing, not a file, not HDF5, truncated, too large, or the checksum does not match.
    """
    path = check_input_file(path, "an mlkit HDF5 file")
    try:
        with h5py.File(path, "r") as handle:
            datasets = {name: handle[name] for name in handle if isinstance(handle[name], h5py.Dataset)}
            _check_declared_arrays(path, datasets)
            arrays = {name: np.asarray(dataset[()]) for name, dataset in datasets.items()}
            attrs = {key: _decode(value) for key, value in handle.attrs.items()}
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
        raise DataError(f"{path} is not a readable HDF5 file (truncated or damaged?): "
                        f"{first_line(error)}.") from error
    if "sha256" not in attrs:
        raise DataError(f"{path} has no sha256 attribute; it was not written by mlkit.")
    if checksum(arrays) != attrs["sha256"]:
        raise DataError(f"{path} is damaged: its checksum does not match its contents.")
    return arrays, attrs


def _check_declared_arrays(path: Path, datasets: dict[str, h5py.Dataset]) -> None:
    """Plain numeric or byte-string arrays only, together within the memory budget."""
    sizes = {}
    for name, dataset in datasets.items():
        if dataset.shape is None:
            raise DataError(f"{path}: array {name} is empty (no dataspace); it was not written by mlkit.")
        if dataset.dtype.kind not in STORED_KINDS:
            raise DataError(f"{path}: array {name} has dtype {dataset.dtype}; mlkit files hold numbers "
                            "and fixed-length strings only.")
        sizes[name] = math.prod(dataset.shape) * dataset.dtype.itemsize
    if sizes:
        largest = datasets[max(sizes, key=sizes.get)]
        check_declared_size(path, sum(sizes.values()), f"its arrays (the largest, {largest.name.lstrip('/')}, "
                                                       f"of shape {largest.shape} and dtype {largest.dtype})")


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
    check_names_match_labels(dataset.class_names, [dataset.y_train, dataset.y_test], str(path))
    arrays = {name: getattr(dataset, name) for name in ARRAYS}
    attrs = {"name": dataset.name, "class_names": list(dataset.class_names),
             "source": dataset.source, "kind": DATASET_KIND}
    return save_arrays(path, arrays, attrs)


def load_dataset_file(path: str | Path) -> Dataset:
    """Read a Dataset written by `save_dataset`, checking that it is complete, undamaged and
    sound (mlkit/data/checks.py): a file declares its own class names, so their number must
    match the labels' range too."""
    arrays, attrs = load_arrays(path)
    kind = attrs.get("kind", DATASET_KIND)
    if kind != DATASET_KIND:
        raise DataError(f"{path} holds {kind!r} data, not an image dataset; "
                        "write one with `mlkit data export` or mlkit.data.save_dataset.")
    missing = [name for name in ARRAYS if name not in arrays]
    if missing or "class_names" not in attrs:
        raise DataError(f"{path} is not an mlkit image dataset: it lacks {', '.join(missing) or 'class_names'}.")
    dataset = Dataset(str(attrs.get("name", Path(path).stem)), *(arrays[n] for n in ARRAYS),
                      class_names=attrs["class_names"], source=str(path))
    check_names_match_labels(dataset.class_names, [dataset.y_train, dataset.y_test], str(path))
    return dataset
