"""Readers for the official MNIST-family formats: IDX files (gzipped or not) and Keras' npz."""

import gzip
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import atomic_path, check_input_file
from .budget import check_declared_size

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# The third byte of an IDX header names the element type.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (`.gz` or plain) into an array of its declared shape.

    The header's shape is checked against the memory budget before the data is read, and
    never more bytes are read than it declares (plus one, to notice trailing data), so a
    header that lies gives one DataError instead of exhausting memory.

    Args:
        path: an IDX file such as `train-images-idx3-ubyte.gz`.
    Returns:
        The array, in native byte order.
    """
    path = check_input_file(path, "an IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            shape, dtype = _read_header(handle, path)
            expected = math.prod(shape) * dtype.itemsize
            check_declared_size(path, expected, f"the {shape} {dtype.name} items its header declares")
            if opener is open and path.stat().st_size - handle.tell() < expected:
                raw = b""  # a plain file's size is known: no need to read what is not there
            else:
                raw = handle.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"cannot read IDX file {path} (truncated or damaged?): {error}.") from error
    if len(raw) < expected:
        raise DataError(f"{path} is truncated or damaged: its header says shape {shape} ({expected} bytes) "
                        "but the file holds less.")
    if len(raw) > expected:
        raise DataError(f"{path} is damaged: it holds more data than its header's shape {shape} ({expected} bytes).")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_header(handle, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, big-endian dtype) from the magic number and the dimension sizes that follow it."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number).")
    ndim = magic[3]
    if ndim == 0:
        raise DataError(f"{path} declares an array of no dimensions; an IDX file holds (N, ...) items.")
    sizes = handle.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{path} is truncated: its header declares {ndim} dimensions but ends early.")
    shape = tuple(int(size) for size in np.frombuffer(sizes, dtype=">u4"))
    return shape, np.dtype(IDX_DTYPES[magic[2]])


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write `array` (uint8) as an IDX file, gzipped when the name ends in `.gz`.

    Used by tests and by anyone who wants to hand-make a tiny MNIST-like dataset.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with atomic_path(path) as temp, opener(temp, "wb") as handle:
        handle.write(header + array.tobytes())


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read Keras' `mnist.npz` (keys x_train, y_train, x_test, y_test), its declared sizes held
    to the memory budget first."""
    path = check_input_file(path, "Keras' mnist.npz")
    try:
        check_declared_size(path, _npz_declared_bytes(path), "its arrays")
        with np.load(path, allow_pickle=False) as npz:
            return tuple(npz[key] for key in NPZ_KEYS)
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {path} as Keras' mnist.npz (truncated or damaged?): {error}.") from error


def _npz_declared_bytes(path: Path) -> int:
    """Bytes the npz's arrays would take, from their .npy headers alone."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for key in NPZ_KEYS:
            with archive.open(f"{key}.npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
                total += math.prod(shape) * dtype.itemsize
    return total
