"""Reader for CIFAR-10's official python version (tar.gz or its extracted folder)."""

import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import check_input_file
from .budget import check_declared_size

BATCH_FOLDER = "cifar-10-batches-py"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickle CIFAR's dicts of arrays and lists, refusing anything that could run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles spell bytes
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _parse_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, IndexError,
            AttributeError, OverflowError) as error:
        raise DataError(f"CIFAR-10 batch {name} is damaged: {error}.") from error
    if data.dtype != np.uint8:
        raise DataError(f"CIFAR-10 batch {name} has data of dtype {data.dtype}; expected uint8 pixels.")
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DataError(f"CIFAR-10 batch {name} has data of shape {data.shape} and labels of shape "
                        f"{labels.shape}; expected (N, 3072) and (N,).")
    # Rows are three 32x32 colour planes; models want channels last. The labels' dtype and
    # range are checked with the rest of the dataset (mlkit/data/checks.py).
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _read_members(path: Path) -> dict[str, bytes]:
    wanted = set(TRAIN_BATCHES + [TEST_BATCH])
    if path.is_dir():
        files = {name: path / name for name in wanted if (path / name).exists()}
        for file in files.values():
            check_input_file(file, "a CIFAR-10 batch file")
        check_declared_size(path, sum(file.stat().st_size for file in files.values()), "its batch files")
        return {name: file.read_bytes() for name, file in files.items()}
    check_input_file(path, f"{ARCHIVE_NAME} or its extracted {BATCH_FOLDER}/")
    try:
        with tarfile.open(path, "r:*") as archive:
            members = [member for member in archive.getmembers() if _is_wanted(member, path, wanted)]
            check_declared_size(path, sum(member.size for member in members), "its batch members")
            return {Path(member.name).name: archive.extractfile(member).read() for member in members}
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise DataError(f"cannot read {path} as {ARCHIVE_NAME} (truncated or damaged?): {error}.") from error


def _is_wanted(member: tarfile.TarInfo, path: Path, wanted: set[str]) -> bool:
    """A batch file to read; a member naming a place outside the archive refuses the archive."""
    if member.name.startswith("/") or ".." in Path(member.name).parts:
        raise DataError(f"refusing {path}: its member {member.name!r} points outside the archive.")
    return member.isfile() and Path(member.name).name in wanted


def load_cifar10_batches(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR-10 from `cifar-10-python.tar.gz` or an extracted `cifar-10-batches-py/`.

    Returns:
        x_train (50000, 32, 32, 3) uint8, y_train, x_test (10000, 32, 32, 3), y_test.
    """
    path = Path(path)
    members = _read_members(path)
    missing = [name for name in TRAIN_BATCHES + [TEST_BATCH] if name not in members]
    if missing:
        raise DataError(f"{path} lacks the CIFAR-10 batches {', '.join(missing)}.")
    train = [_parse_batch(members[name], name) for name in TRAIN_BATCHES]
    x_test, y_test = _parse_batch(members[TEST_BATCH], TEST_BATCH)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test
