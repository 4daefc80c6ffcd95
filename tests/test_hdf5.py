"""mlkit's HDF5 dataset format: round trip, damaged files, atomic writes."""

import h5py
import numpy as np
import pytest

from mlkit.data import load_data, load_dataset_file, save_dataset
from mlkit.data.dataset import Dataset
from mlkit.errors import DataError


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
