"""Loaders for the official formats, on tiny files the tests write themselves."""

import gzip
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mlkit.data import Dataset, load_data, locate
from mlkit.data.budget import format_bytes, memory_budget, usable_memory
from mlkit.data.cifar import load_cifar10_batches
from mlkit.data.idx import load_npz, read_idx, write_idx
from mlkit.errors import ConfigError, DataError

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


# --- Hostile files: every one is refused with one line that says what it is and what to fix. ---

def write_raw_idx(path, magic: bytes, dims: tuple, payload: bytes) -> None:
    """An IDX file with any header, true or not; gzipped when the name ends in .gz."""
    raw = magic + np.asarray(dims, dtype=">u4").tobytes() + payload
    if str(path).endswith(".gz"):
        raw = gzip.compress(raw)
    path.write_bytes(raw)


@pytest.mark.parametrize("name", ["lies.gz", "lies"])
def test_idx_header_declaring_more_than_the_file_holds_is_truncated(tmp_path, name):
    write_raw_idx(tmp_path / name, b"\x00\x00\x08\x03", (60000, 28, 28), bytes(4 * 784))
    with pytest.raises(DataError, match="truncated or damaged: its header says shape \\(60000, 28, 28\\)"):
        read_idx(tmp_path / name)


@pytest.mark.parametrize("name", ["absurd.gz", "absurd"])
def test_idx_header_with_absurd_dims_is_held_to_the_memory_budget(tmp_path, name):
    write_raw_idx(tmp_path / name, b"\x00\x00\x0e\x03", (2**32 - 1,) * 3, bytes(64))
    with pytest.raises(DataError, match="items its header declares need .* EiB of memory, more than the"):
        read_idx(tmp_path / name)


def test_idx_budget_comes_from_mlkit_max_bytes(tmp_path, monkeypatch):
    write_idx(tmp_path / "x", np.zeros((4, 28, 28), np.uint8))
    monkeypatch.setenv("MLKIT_MAX_BYTES", "1000")
    with pytest.raises(DataError, match="need 3.1 KiB of memory, more than the 1000 bytes budget"):
        read_idx(tmp_path / "x")
    monkeypatch.setenv("MLKIT_MAX_BYTES", "4000")
    assert read_idx(tmp_path / "x").shape == (4, 28, 28)


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1.5e9"])
def test_a_malformed_budget_is_a_usage_error(monkeypatch, value):
    monkeypatch.setenv("MLKIT_MAX_BYTES", value)
    with pytest.raises(ConfigError, match="MLKIT_MAX_BYTES"):
        memory_budget()


def test_the_default_budget_is_half_the_usable_memory(monkeypatch):
    monkeypatch.delenv("MLKIT_MAX_BYTES", raising=False)
    assert memory_budget() == usable_memory() // 2 > 0
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(9 * 2**40) == "9.0 TiB" and format_bytes(5) == "5 bytes"


def test_idx_with_no_dimensions_or_trailing_data_or_a_cut_header(tmp_path):
    write_raw_idx(tmp_path / "scalar", b"\x00\x00\x08\x00", (), b"\x07")
    with pytest.raises(DataError, match="no dimensions"):
        read_idx(tmp_path / "scalar")
    write_raw_idx(tmp_path / "long", b"\x00\x00\x08\x01", (3,), b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="more data than its header's shape \\(3,\\)"):
        read_idx(tmp_path / "long")
    (tmp_path / "cut").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="header declares 3 dimensions but ends early"):
        read_idx(tmp_path / "cut")
    (tmp_path / "fake.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="truncated or damaged"):
        read_idx(tmp_path / "fake.gz")


def test_npz_declaring_more_than_the_budget_is_refused_before_reading(tmp_path, monkeypatch):
    x = np.zeros((10, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.arange(10), x_test=x, y_test=np.arange(10))
    monkeypatch.setenv("MLKIT_MAX_BYTES", "10000")
    with pytest.raises(DataError, match="its arrays need 15.5 KiB of memory"):
        load_npz(tmp_path / "mnist.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "mnist.npz").read_bytes()[:300])
    with pytest.raises(DataError, match="truncated or damaged"):
        load_npz(tmp_path / "cut.npz")


def test_what_is_not_a_file_is_named_for_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    expected = {"pipe": "is a named pipe \\(FIFO\\)", "folder": "is a folder", "zero": "is a character device",
                "dangling": "is a broken link", "missing": "does not exist"}
    for name, message in expected.items():
        with pytest.raises(DataError, match=message):
            read_idx(tmp_path / name)


@pytest.mark.parametrize("replace_with, message", [
    (lambda path: path.mkdir(), "is a folder, not an IDX file"),
    (lambda path: path.symlink_to("/dev/zero"), "is a character device, not an IDX file"),
    (lambda path: os.mkfifo(path), "is a named pipe"),
])
def test_a_data_folder_entry_that_is_not_a_file_is_not_reported_as_missing(tmp_path, replace_with, message):
    write_mnist_idx(tmp_path / "mnist")
    target = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    target.unlink()
    replace_with(target)
    with pytest.raises(DataError, match=message):
        load_data("mnist", tmp_path)


def test_a_data_dir_that_is_a_file_says_so(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="data folder .*file is a file; fix --data-dir"):
        load_data("mnist", tmp_path / "file")


def test_idx_labels_outside_the_classes_are_refused(tmp_path):
    write_mnist_idx(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.array([3] * 19 + [200], np.uint8))
    with pytest.raises(DataError, match="y_test holds label 200 \\(image 19\\) but there are 10 class names"):
        load_data("mnist", tmp_path)


def test_idx_test_images_of_another_shape_are_refused(tmp_path):
    write_mnist_idx(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(DataError, match="train images have shape \\(28, 28\\) but test images \\(32, 32\\)"):
        load_data("mnist", tmp_path)


def cifar_folder(tmp_path, batch: dict | bytes) -> Path:
    """An extracted cifar-10-batches-py/ whose every batch is `batch` (a dict to pickle, or raw bytes)."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    raw = batch if isinstance(batch, bytes) else pickle.dumps(batch, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(raw)
    return folder


class RunsShell:
    """A pickle that would run a shell command when loaded."""

    def __reduce__(self):
        return os.system, ("echo owned > /tmp/mlkit-owned",)


def test_cifar_refuses_a_pickle_that_runs_a_command(tmp_path):
    with pytest.raises(DataError, match="refusing to load posix.system"):
        load_cifar10_batches(cifar_folder(tmp_path, pickle.dumps(RunsShell())))
    assert not Path("/tmp/mlkit-owned").exists()


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, "data of shape \\(4, 100\\)"),
    ({b"data": np.zeros((4, 3072), np.float32), b"labels": [0] * 4}, "dtype float32; expected uint8"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3}, "labels of shape \\(3,\\)"),
    ({b"data": np.zeros((4, 3072), np.uint8)}, "damaged"),
    ([1, 2, 3], "damaged"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]}, "holds label 10 \\(image 3\\)"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 2**70]}, "dtype object; labels must be integers"),
])
def test_cifar_batches_of_the_wrong_shape_type_or_labels(tmp_path, batch, message):
    folder = cifar_folder(tmp_path, batch)
    with pytest.raises(DataError, match=message):
        Dataset("cifar10", *load_cifar10_batches(folder), class_names=[str(i) for i in range(10)],
                source=str(folder))


def test_cifar_refuses_members_outside_the_archive(tmp_path):
    archive = write_cifar_tar(tmp_path / "good.tar.gz")
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(evil, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if member.name.endswith("test_batch"):
                member.name = "../test_batch"
            target.addfile(member, data)
    with pytest.raises(DataError, match="member '../test_batch' points outside the archive"):
        load_cifar10_batches(evil)


def test_cifar_member_declaring_terabytes_is_one_error_not_memory_error(tmp_path):
    header = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    header.size = 9 * 2**40
    path = tmp_path / "cifar-10-python.tar.gz"  # plain tar under the official name; r:* detects it
    path.write_bytes(header.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096))
    with pytest.raises(DataError, match="truncated or damaged"):
        load_cifar10_batches(path)


def test_cifar_members_are_held_to_the_memory_budget_before_reading(tmp_path, monkeypatch):
    archive = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", per_batch=20, test=20)
    monkeypatch.setenv("MLKIT_MAX_BYTES", "100000")
    with pytest.raises(DataError, match="its batch members need [0-9.]+ KiB of memory, more than the"):
        load_cifar10_batches(archive)
    with pytest.raises(DataError, match="its batch files need"):
        load_cifar10_batches(tmp_path / "staging" / "cifar-10-batches-py")


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[: len(raw) // 2], "truncated or damaged"),
    (lambda raw: b"just some text", "truncated or damaged"),
])
def test_cifar_archive_truncated_or_not_an_archive(tmp_path, damage, message):
    archive = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    archive.write_bytes(damage(archive.read_bytes()))
    with pytest.raises(DataError, match=message):
        load_cifar10_batches(archive)
