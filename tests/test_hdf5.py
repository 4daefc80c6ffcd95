"""mlkit's HDF5 dataset format: round trip, damaged files, atomic writes."""

import errno
import json
import os
import stat

import h5py
import numpy as np
import pytest

from mlkit.data import load_arrays, load_data, load_dataset_file, save_dataset
from mlkit.data.dataset import Dataset
from mlkit.data.hdf5 import ARRAYS, checksum
from mlkit.errors import DataError, MlkitError

from ._filesystems import fill, read_only_folder, tiny_filesystem  # noqa: F401 (fixtures)
from .conftest import write_mnist_idx


@pytest.fixture
def dataset():
    rng = np.random.default_rng(0)
    return Dataset("tiny", rng.integers(0, 255, (20, 4, 4, 3), dtype=np.uint8), np.arange(20) % 2,
                   rng.integers(0, 255, (6, 4, 4, 3), dtype=np.uint8), np.arange(6) % 2,
                   class_names=["cat", "dog"], source="test")


def test_round_trip_keeps_dtype_shape_and_names(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.h5")
    loaded = load_data(str(path))
    np.testing.assert_array_equal(loaded.x_train, dataset.x_train)
    assert loaded.x_train.dtype == np.uint8 and loaded.y_test.tolist() == dataset.y_test.tolist()
    assert loaded.class_names == ["cat", "dog"] and loaded.name == "tiny"
    with h5py.File(path) as handle:
        assert handle.attrs["format_version"] == 1 and len(handle.attrs["sha256"]) == 64


def test_truncated_file_is_reported(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.h5")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        load_dataset_file(path)


def test_changed_contents_fail_the_checksum(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.h5")
    with h5py.File(path, "r+") as handle:
        handle["y_train"][0] = 1 - handle["y_train"][0]
    with pytest.raises(DataError, match="checksum"):
        load_dataset_file(path)


def test_failed_write_keeps_the_old_file(tmp_path, dataset, monkeypatch):
    path = save_dataset(dataset, tmp_path / "d.h5")
    before = path.read_bytes()
    monkeypatch.setattr("mlkit.data.hdf5.checksum", lambda arrays: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        save_dataset(dataset, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]  # no temp file left behind


def test_subset_draws_training_rows_only(dataset):
    small = dataset.subset(5, seed=1)
    assert len(small.x_train) == 5 and len(small.x_test) == 6
    assert dataset.subset(None) is dataset


# --- Every dataset passes one check on its way in (mlkit/data/checks.py). ---

def arrays(**changes):
    """Sound MNIST-like arrays (10 classes, all present), with some replaced."""
    rng = np.random.default_rng(0)
    base = {"x_train": rng.integers(0, 255, (20, 6, 6), dtype=np.uint8), "y_train": np.arange(20) % 10,
            "x_test": rng.integers(0, 255, (10, 6, 6), dtype=np.uint8), "y_test": np.arange(10)}
    return base | changes


DIGITS = [str(d) for d in range(10)]
NAN_IMAGES = np.zeros((20, 6, 6), np.float32)
NAN_IMAGES[7, 2, 2] = np.nan
INF_IMAGES = np.zeros((10, 6, 6), np.float64)
INF_IMAGES[[1, 4]] = np.inf

BAD_DATASETS = [
    (arrays(y_train=np.r_[np.arange(19) % 10, 12]), DIGITS, "y_train holds label 12 \\(image 19\\) but there are 10 class names, so labels must be 0..9"),
    (arrays(y_test=np.r_[-1, np.arange(9)]), DIGITS, "y_test holds label -1 \\(image 0\\)"),
    (arrays(x_train=NAN_IMAGES), DIGITS, "x_train holds NaN or infinite pixels in 1 images \\(the first is image 7\\)"),
    (arrays(x_test=INF_IMAGES), DIGITS, "x_test holds NaN or infinite pixels in 2 images \\(the first is image 1\\)"),
    (arrays(x_train=np.array(7)), DIGITS, "x_train is a single value \\(a zero-dimensional array\\)"),
    (arrays(y_test=np.array(3)), DIGITS, "y_test is a single value"),
    (arrays(x_train=np.zeros((20, 36), np.uint8)), DIGITS, "x_train has shape \\(20, 36\\); expected images of shape"),
    (arrays(x_train=np.zeros((20, 6, 6, 1, 1), np.uint8)), DIGITS, "x_train has shape \\(20, 6, 6, 1, 1\\)"),
    (arrays(x_train=np.zeros((0, 6, 6), np.uint8), y_train=np.zeros(0, np.int64)), DIGITS, "x_train holds no images"),
    (arrays(x_test=np.zeros((10, 0, 6), np.uint8)), DIGITS, "every side must be at least 1"),
    (arrays(x_test=np.zeros((10, 7, 6), np.uint8)), DIGITS, "train images have shape \\(6, 6\\) but test images \\(7, 6\\)"),
    (arrays(x_train=np.full((20, 6, 6), "a")), DIGITS, "x_train has dtype <U1; images must be numbers"),
    (arrays(x_train=np.zeros((20, 6, 6), complex)), DIGITS, "dtype complex128; images must be numbers"),
    (arrays(y_train=np.arange(20) % 10 + 0.5), DIGITS, "y_train has dtype float64; labels must be integers"),
    (arrays(y_train=np.zeros((20, 2), np.int64)), DIGITS, "y_train has shape \\(20, 2\\); expected one class number per image"),
    (arrays(y_train=np.arange(19) % 10), DIGITS, "20 train images but 19 labels"),
    (arrays(), DIGITS[:3], "y_train holds label 3 \\(image 3\\) but there are 3 class names"),
    (arrays(), [], "class_names is \\[\\]; expected a non-empty list"),
    (arrays(), "0123456789", "class_names is '0123456789'; expected a list of names"),
    (arrays(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "expected a non-empty list of names \\(strings\\)"),
    (arrays(), DIGITS[:9] + ["0"], "class_names repeats '0'"),
]


@pytest.mark.parametrize("parts, class_names, message", BAD_DATASETS)
def test_datasets_are_checked_on_the_way_in(parts, class_names, message):
    with pytest.raises(DataError, match=message) as info:
        Dataset("tiny", *(parts[name] for name in ARRAYS), class_names=class_names, source="tiny.h5")
    assert str(info.value).startswith("tiny.h5: ") and "\n" not in str(info.value)


def test_a_sound_dataset_keeps_its_arrays_and_flattens_label_columns():
    parts = arrays(y_train=(np.arange(20) % 10).astype(np.uint8).reshape(-1, 1))
    dataset = Dataset("tiny", *(parts[name] for name in ARRAYS), class_names=DIGITS)
    assert dataset.y_train.dtype == np.int64 and dataset.y_train.shape == (20,)
    assert dataset.x_train is parts["x_train"] and dataset.subset(3).y_train.shape == (3,)


def write_unchecked(path, parts: dict, class_names=DIGITS, **attrs):
    """An HDF5 file with a valid checksum over whatever arrays it is given, bypassing save_dataset's checks."""
    with h5py.File(path, "w") as handle:
        for name, array in parts.items():
            handle.create_dataset(name, data=array)
        handle.attrs["class_names"] = json.dumps(class_names)
        handle.attrs["sha256"] = checksum(parts)
        for key, value in attrs.items():
            handle.attrs[key] = value
    return path


@pytest.mark.parametrize("parts, class_names, message", BAD_DATASETS[:11])
def test_files_holding_bad_datasets_are_refused_naming_the_file(tmp_path, parts, class_names, message):
    path = write_unchecked(tmp_path / "bad.h5", parts, class_names)
    with pytest.raises(DataError, match=message) as info:
        load_dataset_file(path)
    assert str(info.value).startswith(f"{path}: ")


def test_class_names_must_match_the_labels_range_in_files(tmp_path):
    path = write_unchecked(tmp_path / "long.h5", arrays(), DIGITS + ["ten", "eleven"])
    with pytest.raises(DataError, match="class_names has 12 names but the labels run 0..9; give exactly one name per class \\(10\\)"):
        load_dataset_file(path)
    parts = arrays()
    dataset = Dataset("d", *(parts[n] for n in ARRAYS), class_names=DIGITS + ["ten"])
    with pytest.raises(DataError, match="class_names has 11 names"):
        save_dataset(dataset, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_a_file_declaring_a_9_tib_array_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("x_train", shape=(9 * 2**40,), dtype=np.uint8, chunks=(4096,))
        handle.attrs["sha256"] = "0" * 64
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match="the largest, x_train, of shape \\(9895604649984,\\) and dtype uint8\\) "
                                        "need 9.0 TiB of memory, more than the .* budget"):
        load_dataset_file(path)


def test_files_of_another_kind_or_with_unstorable_arrays(tmp_path):
    path = write_unchecked(tmp_path / "seq.h5", arrays(), kind="digit-sequences")
    with pytest.raises(DataError, match="holds 'digit-sequences' data, not an image dataset"):
        load_dataset_file(path)
    with h5py.File(tmp_path / "vlen.h5", "w") as handle:
        handle.create_dataset("names", data=["a", "bb"], dtype=h5py.string_dtype())
        handle.create_dataset("nothing", data=h5py.Empty("f"))
    with pytest.raises(DataError, match="array names has dtype object|array nothing is empty"):
        load_dataset_file(tmp_path / "vlen.h5")


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable HDF5 file \\(truncated or damaged\\?\\)"),
    (b"hello, not HDF5", "not a readable HDF5 file"),
])
def test_empty_and_foreign_files(tmp_path, content, message):
    (tmp_path / "x.h5").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_data(str(tmp_path / "x.h5"))


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir(), "is a folder, not an mlkit HDF5 file or a dataset name \\(data folders go to --data-dir\\)"),
    (lambda path: os.mkfifo(path), "is a named pipe \\(FIFO\\), not an mlkit HDF5 file"),
    (lambda path: path.symlink_to("/dev/zero"), "is a character device, not an mlkit HDF5 file"),
])
def test_data_that_is_not_a_file_says_what_it_is(tmp_path, make, message):
    make(tmp_path / "data.h5")
    with pytest.raises(DataError, match=message):
        load_data(str(tmp_path / "data.h5"))
    with pytest.raises(DataError, match=message.split(",")[0]):
        load_arrays(tmp_path / "data.h5")


def test_a_dataset_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "mnist")
    monkeypatch.chdir(tmp_path)
    assert load_data("mnist", tmp_path).name == "mnist"
    with pytest.raises(DataError, match="nowhere/x does not exist"):
        load_data("nowhere/x")


# --- Writes: nothing lost, permissions kept, errors as one line. ---

def test_rewriting_keeps_a_private_files_permissions(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.h5")
    path.chmod(0o600)
    save_dataset(dataset, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_space_at_the_rename_keeps_the_old_file(tmp_path, dataset, monkeypatch):
    path = save_dataset(dataset, tmp_path / "d.h5")
    before = path.read_bytes()

    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("mlkit.files.os.replace", no_space)
    with pytest.raises(MlkitError, match="cannot write .*d.h5: No space left on device; the existing file is unchanged"):
        save_dataset(dataset, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["d.h5"]


def test_a_full_disk_keeps_the_old_file_and_h5py_never_crashes(tiny_filesystem, dataset):
    small = save_dataset(dataset, tiny_filesystem / "d.h5")
    before = small.read_bytes()
    fill(tiny_filesystem)
    with pytest.raises(MlkitError, match="No space left on device; the existing file is unchanged"):
        save_dataset(dataset, small)
    with pytest.raises(MlkitError, match="No space left on device; nothing was written"):
        save_dataset(dataset, tiny_filesystem / "new.h5")
    assert small.read_bytes() == before
    assert sorted(p.name for p in tiny_filesystem.iterdir()) == ["d.h5", "filler"]


def test_a_read_only_filesystem_is_one_error(read_only_folder, dataset):
    with pytest.raises(MlkitError, match="cannot create a file in .*Read-only file system"):
        save_dataset(dataset, read_only_folder / "d.h5")
