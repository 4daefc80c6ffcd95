"""Data points for `mlkit backprop --data FILE.h5`: inputs `x` (N, inputs) and targets `y` (N, outputs)."""

from pathlib import Path

import numpy as np

from ..data import load_arrays, save_arrays
from ..errors import DataError

KIND = "backprop-points"


def save_points(path: str | Path, x, y) -> Path:
    """Write points to an mlkit HDF5 file (checksummed, atomic); 1-D arrays mean one value per point."""
    x, y = _as_matrix(np.asarray(x, dtype=np.float64)), _as_matrix(np.asarray(y, dtype=np.float64))
    if len(x) != len(y):
        raise DataError(f"{len(x)} inputs but {len(y)} targets; give one target row per input row.")
    return save_arrays(path, {"x": x, "y": y}, {"kind": KIND})


def load_points(path: str | Path, inputs: int, outputs: int) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """Read (x, y) points from `path`, checking they fit a network with these input and output sizes."""
    arrays, attrs = load_arrays(path)
    if attrs.get("kind") != KIND or "x" not in arrays or "y" not in arrays:
        raise DataError(f"{path} is not a backprop points file (kind {attrs.get('kind')!r}); write one "
                        "with mlkit.graph.save_points(path, x, y), see docs/formats.md.")
    x, y = _as_matrix(arrays["x"]), _as_matrix(arrays["y"])
    if x.shape[1] != inputs or y.shape[1] != outputs or len(x) != len(y) or len(x) == 0:
        raise DataError(f"{path} holds x {x.shape} and y {y.shape}, but the network needs N x {inputs} "
                        f"inputs and N x {outputs} targets with N >= 1; change --layers or the file.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"{path} holds NaN or infinite values; every point must be finite.")
    return [(tuple(map(float, row_x)), tuple(map(float, row_y))) for row_x, row_y in zip(x, y)]


def _as_matrix(array: np.ndarray) -> np.ndarray:
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataError(f"points must be a vector or an N x features matrix, got shape {array.shape}.")
    return array
