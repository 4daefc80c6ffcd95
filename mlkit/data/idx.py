"""Readers for the official MNIST-family formats: IDX files (gzipped or not) and Keras' npz."""

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

# The third byte of an IDX header names the element type.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (`.gz` or plain) into an array of its declared shape.

    Args:
        path: an IDX file such as `train-images-idx3-ubyte.gz`.
    Returns:
        The array, in native byte order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"cannot read IDX file {path}: {error}.") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number).")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header_size], dtype=">u4"))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise DataError(
            f"{path} is truncated or damaged: header says shape {shape} "
            f"({expected} bytes) but {len(raw) - header_size} bytes follow."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write `array` (uint8) as an IDX file, gzipped when the name ends in `.gz`.

    Used by tests and by anyone who wants to hand-make a tiny MNIST-like dataset.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read Keras' `mnist.npz` (keys x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return tuple(npz[key] for key in ("x_train", "y_train", "x_test", "y_test"))
    except (OSError, KeyError, ValueError, zlib.error) as error:
        raise DataError(f"cannot read {path} as Keras' mnist.npz: {error}.") from error
