"""Tiny bad data files of every kind a hostile user might hand mlkit: HDF5 datasets that lie,
IDX headers that lie, crafted CIFAR archives. Each builder writes into a folder and returns the
path; tests/test_hostile_inputs.py gives them to every command."""

import gzip
import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import h5py
import numpy as np

from mlkit.data.hdf5 import checksum
from mlkit.data.idx import write_idx

from .conftest import make_images, write_cifar_tar, write_mnist_idx

DIGITS = [str(d) for d in range(10)]


def sound_arrays(**changes) -> dict[str, np.ndarray]:
    """A tiny, valid MNIST-like dataset (28x28, every class present), with some arrays replaced."""
    x_train, y_train = make_images(30, (28, 28), seed=1)
    x_test, y_test = make_images(20, (28, 28), seed=2)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test} | changes


def write_unchecked(path: Path, arrays: dict, class_names=DIGITS, **attrs) -> Path:
    """An HDF5 dataset with a valid checksum over whatever it holds: only the reader's own
    checks can refuse it."""
    with h5py.File(path, "w") as handle:
        for name, array in arrays.items():
            handle.create_dataset(name, data=array)
        handle.attrs["class_names"] = json.dumps(class_names)
        handle.attrs["kind"] = "image-classification"
        handle.attrs["sha256"] = checksum(arrays)
        for key, value in attrs.items():
            handle.attrs[key] = value
    return path


def with_pixels(dtype, value, row: int = 3) -> np.ndarray:
    images = np.zeros((30, 28, 28), dtype)
    images[row, 5, 5] = value
    return images


HDF5_DATASETS = {
    "label_too_large": lambda: sound_arrays(y_train=np.r_[np.arange(29) % 10, 12]),
    "label_negative": lambda: sound_arrays(y_test=np.r_[-1, np.arange(19) % 10]),
    "nan_pixels": lambda: sound_arrays(x_train=with_pixels(np.float32, np.nan)),
    "inf_pixels": lambda: sound_arrays(x_train=with_pixels(np.float64, np.inf)),
    "zero_dim": lambda: sound_arrays(x_train=np.array(7.0)),
    "flat_rows": lambda: sound_arrays(x_train=np.zeros((30, 784), np.uint8)),
    "shapes_differ": lambda: sound_arrays(x_test=np.zeros((20, 32, 32), np.uint8)),
    "no_train_images": lambda: sound_arrays(x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0, np.int64)),
    "float_labels": lambda: sound_arrays(y_train=(np.arange(30) % 10) + 0.5),
    "labels_missing_one": lambda: sound_arrays(y_train=np.arange(29) % 10),
    "text_pixels": lambda: sound_arrays(x_train=np.full((30, 28, 28), b"a")),
    "tiny_images": lambda: sound_arrays(x_train=np.zeros((30, 2, 2), np.uint8), x_test=np.zeros((20, 2, 2), np.uint8)),
}
CLASS_NAME_FILES = {
    "names_too_few": DIGITS[:3],
    "names_too_many": DIGITS + ["ten", "eleven"],
    "names_repeated": DIGITS[:9] + ["0"],
}


def write_bad_hdf5(folder: Path) -> None:
    """Every bad HDF5 dataset, as FOLDER/<name>.h5."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in HDF5_DATASETS.items():
        write_unchecked(folder / f"{name}.h5", make())
    for name, class_names in CLASS_NAME_FILES.items():
        write_unchecked(folder / f"{name}.h5", sound_arrays(), class_names)
    write_unchecked(folder / "sequences.h5", sound_arrays(), kind="digit-sequences")
    good = write_unchecked(folder / "good.h5", sound_arrays())
    raw = good.read_bytes()
    (folder / "truncated.h5").write_bytes(raw[: len(raw) // 2])
    (folder / "text.h5").write_text("these are not the arrays you are looking for\n")
    (folder / "empty.h5").write_bytes(b"")
    with h5py.File(folder / "huge.h5", "w") as handle:  # 9 TiB declared, a few KiB on disk
        handle.create_dataset("x_train", shape=(9 * 2**40,), dtype=np.uint8, chunks=(4096,))
        handle.attrs["sha256"] = "0" * 64
    write_unchecked(folder / "altered.h5", sound_arrays())
    with h5py.File(folder / "altered.h5", "r+") as handle:
        handle["y_train"][0] = 5
    with h5py.File(folder / "unsigned.h5", "w") as handle:
        for name, array in sound_arrays().items():
            handle.create_dataset(name, data=array)
        handle.attrs["class_names"] = json.dumps(DIGITS)


def write_raw_idx(path: Path, magic: bytes, dims: tuple, payload: bytes) -> None:
    raw = magic + np.asarray(dims, dtype=">u4").tobytes() + payload
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def _idx_damage() -> dict:
    """name -> what to do to a sound mnist/ folder."""
    images, labels = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
    return {
        "idx_header_lies": lambda f: write_raw_idx(f / images, b"\0\0\x08\x03", (60000, 28, 28), bytes(30 * 784)),
        "idx_absurd_dims": lambda f: write_raw_idx(f / images, b"\0\0\x0e\x03", (2**32 - 1,) * 3, bytes(64)),
        "idx_bad_magic": lambda f: write_raw_idx(f / images, b"\x12\x34\x08\x03", (30, 28, 28), bytes(30 * 784)),
        "idx_no_dims": lambda f: write_raw_idx(f / labels, b"\0\0\x08\x00", (), b"\x01"),
        "idx_trailing": lambda f: write_raw_idx(f / labels, b"\0\0\x08\x01", (30,), bytes(40)),
        "idx_label_200": lambda f: write_idx(f / labels, np.r_[np.arange(29) % 10, 200]),
        "idx_labels_short": lambda f: write_idx(f / labels, np.arange(29) % 10),
        "idx_test_shape": lambda f: write_idx(f / "t10k-images-idx3-ubyte.gz", np.zeros((20, 32, 32), np.uint8)),
        "idx_not_gzip": lambda f: (f / images).write_bytes(b"plain bytes, not gzip"),
        "idx_cut_gzip": lambda f: (f / images).write_bytes((f / images).read_bytes()[:300]),
        "idx_folder": lambda f: ((f / labels).unlink(), (f / labels).mkdir()),
        "idx_dev_zero": lambda f: ((f / images).unlink(), (f / images).symlink_to("/dev/zero")),
        "idx_fifo": lambda f: ((f / labels).unlink(), os.mkfifo(f / labels)),
    }


def write_bad_idx(root: Path) -> None:
    """One data folder per IDX defect, ROOT/<name>/{mnist,fashion-mnist}/ with one file spoilt."""
    for name, damage in _idx_damage().items():
        for dataset in ("mnist", "fashion-mnist"):
            folder = write_mnist_idx(root / name / dataset)
            damage(folder)


class RunsShell:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return os.system, ("touch /tmp/mlkit-hostile-pickle-ran",)


def _retar(source: Path, target: Path, change) -> None:
    """Copy a tar.gz member by member, letting `change(member, data) -> (member, data)` alter each."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isfile() else None
            member, data = change(member, data)
            member.size = len(data) if data is not None else 0
            new.addfile(member, io.BytesIO(data) if data is not None else None)


def _replace_batch(name: str, raw: bytes):
    def change(member, data):
        return member, (raw if member.name.endswith(name) else data)
    return change


def _batch(data, labels) -> bytes:
    return pickle.dumps({b"data": data, b"labels": labels}, protocol=2)


def write_bad_cifar(root: Path) -> None:
    """One data folder per CIFAR defect, ROOT/<name>/cifar10/cifar-10-python.tar.gz."""
    good = write_cifar_tar(root / "good_cifar" / "cifar10" / "cifar-10-python.tar.gz")
    images = np.zeros((20, 3072), np.uint8)
    changes = {
        "cifar_pickle_runs_code": _replace_batch("data_batch_2", pickle.dumps(RunsShell())),
        "cifar_outside_member": lambda m, d: (_rename(m, "cifar-10-batches-py/../../test_batch")
                                              if m.name.endswith("test_batch") else m, d),
        "cifar_label_10": _replace_batch("test_batch", _batch(images, [10] + [0] * 19)),
        "cifar_wrong_shape": _replace_batch("data_batch_1", _batch(np.zeros((20, 100), np.uint8), [0] * 20)),
        "cifar_float_pixels": _replace_batch("data_batch_3", _batch(images.astype(np.float32), [0] * 20)),
    }
    for name, change in changes.items():
        folder = root / name / "cifar10"
        folder.mkdir(parents=True)
        _retar(good, folder / "cifar-10-python.tar.gz", change)
    raw = good.read_bytes()
    for name, content in {"cifar_truncated": raw[: len(raw) // 2], "cifar_not_tar": b"not an archive"}.items():
        (root / name / "cifar10").mkdir(parents=True)
        (root / name / "cifar10" / "cifar-10-python.tar.gz").write_bytes(content)
    (root / "cifar_dev_zero" / "cifar10").mkdir(parents=True)
    (root / "cifar_dev_zero" / "cifar10" / "cifar-10-python.tar.gz").symlink_to("/dev/zero")


def _rename(member: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    member.name = name
    return member
