"""Loaders for the official formats, on tiny files the tests write themselves."""

import gzip

import numpy as np
import pytest

from mlkit.data import load_data, locate
from mlkit.data.cifar import load_cifar10_batches
from mlkit.data.idx import read_idx, write_idx
from mlkit.errors import DataError

from .conftest import write_cifar_tar, write_mnist_idx


def test_idx_round_trip_gz_and_plain(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte.gz", "a-idx3-ubyte"):
        write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(tmp_path / name), images)


def test_idx_rejects_truncated_and_bad_magic(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28), np.uint8))
    raw = gzip.open(tmp_path / "x.gz").read()
    with gzip.open(tmp_path / "short.gz", "wb") as handle:
        handle.write(raw[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "bad")


def test_mnist_from_idx_folder(tmp_path):
    write_mnist_idx(tmp_path / "mnist", train=30, test=20)
    dataset = load_data("mnist", tmp_path)
    assert dataset.x_train.shape == (30, 28, 28) and dataset.x_train.dtype == np.uint8
    assert dataset.y_test.shape == (20,) and dataset.class_counts("train") == [3] * 10


def test_mnist_from_keras_npz_in_keras_cache(tmp_path, monkeypatch):
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    x = np.ones((10, 28, 28), np.uint8)
    np.savez(cache / "mnist.npz", x_train=x, y_train=np.arange(10), x_test=x[:5], y_test=np.arange(5))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    path, how = locate("mnist")
    assert how == "keras cache" and path.name == "mnist.npz"
    assert load_data("mnist").x_test.shape == (5, 28, 28)


def test_data_dir_wins_over_keras_cache(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "keras" / "datasets" / "fashion-mnist", train=10)
    write_mnist_idx(tmp_path / "mine" / "fashion-mnist", train=20)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert len(load_data("fashion-mnist", tmp_path / "mine").x_train) == 20
    monkeypatch.setenv("MLKIT_DATA_DIR", str(tmp_path / "mine"))
    assert len(load_data("fashion-mnist").x_train) == 20


def test_cifar_from_tar_and_extracted_folder(tmp_path):
    archive = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", per_batch=20, test=10)
    x_train, y_train, x_test, y_test = load_cifar10_batches(archive)
    assert x_train.shape == (100, 32, 32, 3) and x_test.shape == (10, 32, 32, 3)
    # Channel planes become channels-last: pixel (0, 0) of image 0 is bytes 0, 1024 and 2048.
    folder = tmp_path / "staging" / "cifar-10-batches-py"
    import pickle

    raw = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")[b"data"][0]
    assert list(x_train[0, 0, 0]) == [raw[0], raw[1024], raw[2048]]
    x_again, *_ = load_cifar10_batches(folder)
    np.testing.assert_array_equal(x_again, x_train)


def test_cifar_refuses_code_in_pickles(tmp_path):
    import pickle
    import tarfile

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(print))  # a global that is not an array
    with pytest.raises(DataError, match="refusing"):
        load_cifar10_batches(folder)


def test_unknown_name_and_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        load_data("svhn")
    with pytest.raises(DataError, match="does not exist"):
        load_data("mnist", tmp_path / "nowhere")


def test_not_found_anywhere_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as info:
        load_data("cifar10", tmp_path)
    message = str(info.value)
    assert "cifar-10-python.tar.gz" in message and "MLKIT_DATA_DIR" in message and "\n" not in message
