"""Datasets: named ones resolved from disk, the Keras cache or Keras' downloader, or HDF5 files.

`load_data("mnist")` and `load_data("run/mnist.h5")` both return a `Dataset`.
"""

import os

from ..files import check_input_file
from .dataset import Dataset
from .hdf5 import load_arrays, load_dataset_file, save_arrays, save_dataset
from .sources import DATASETS, describe_sources, get_spec, load_named, locate

HDF5_SUFFIXES = (".h5", ".hdf5")


def is_hdf5_path(spec: str) -> bool:
    """True when a --data value names a file rather than a dataset.

    A dataset's name wins over a file or folder of that name in the working folder; anything
    else that exists, ends in .h5/.hdf5 or holds a path separator is a file.

    Raises:
        DataError: `spec` exists but is not a regular file (a folder, /dev/zero, a named pipe),
            so no caller goes on to open it.
    """
    spec = str(spec)
    if spec in DATASETS:
        return False
    if os.path.lexists(spec):
        check_input_file(spec, "an mlkit HDF5 file or a dataset name (data folders go to --data-dir)")
        return True
    return spec.lower().endswith(HDF5_SUFFIXES) or os.sep in spec or "/" in spec


def load_data(spec: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a dataset given as a name (`mnist`, `fashion-mnist`, `cifar10`) or an HDF5 path.

    Args:
        spec: the value of a command's --data option.
        data_dir: folder to search first (else $MLKIT_DATA_DIR).
    """
    if is_hdf5_path(spec):
        return load_dataset_file(spec)
    return load_named(spec, data_dir)


__all__ = [
    "DATASETS", "Dataset", "describe_sources", "get_spec", "is_hdf5_path", "load_arrays", "load_data",
    "load_dataset_file", "load_named", "locate", "save_arrays", "save_dataset",
]
