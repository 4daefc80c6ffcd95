"""Shared fixtures: tiny datasets in the official formats, the CLI runner, the real data folder."""

import json
import pickle
import tarfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from mlkit.data.idx import write_idx
from mlkit.data.sources import MNIST_FILES

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


@pytest.fixture(scope="session", autouse=True)
def eager_functions():
    """Run Keras' train, test and predict functions step by step instead of tracing them.

    On tiny data tracing is most of a run (16 of the 30 s of the mnist-sum calc repeat test,
    profiled), so the suite runs eagerly: the same layers, losses and callbacks, op by op. Tests marked `traced` run
    through tf.function as a user's run does, and so do the real-data tests of `make test-slow`
    (see `traced_when_marked`).
    """
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.fixture(autouse=True)
def traced_when_marked(request, eager_functions):
    if any(request.node.get_closest_marker(mark) for mark in ("traced", "slow")):
        with traced():
            yield
    else:
        yield


@contextmanager
def traced():
    """Trace Keras' functions inside the block, as a user's run does (for module fixtures)."""
    import tensorflow as tf

    tf.config.run_functions_eagerly(False)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(True)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path_factory):
    """No test downloads: an empty Keras cache, Keras' downloader off, no data dir from outside."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.setenv("MLKIT_OFFLINE", "1")
    monkeypatch.delenv("MLKIT_DATA_DIR", raising=False)


def make_images(count: int, shape: tuple, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images with labels cycling 0..9, so every class is present."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, *shape), dtype=np.uint8), np.arange(count) % 10


def write_mnist_idx(folder: Path, train: int = 30, test: int = 20) -> Path:
    """Write the four gzipped IDX files of a tiny MNIST-like dataset into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_images(train, (28, 28), seed=1)
    x_test, y_test = make_images(test, (28, 28), seed=2)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for key, stem in MNIST_FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[key])
    return folder


def write_cifar_tar(path: Path, per_batch: int = 20, test: int = 20) -> Path:
    """Write a tiny cifar-10-python.tar.gz with the official member names and pickle layout."""
    staging = path.parent / "staging" / "cifar-10-batches-py"
    staging.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        images, labels = make_images(test if name == "test_batch" else per_batch, (3, 32, 32), seed=index)
        batch = {b"data": images.reshape(len(images), -1), b"labels": labels.tolist()}
        (staging / name).write_bytes(pickle.dumps(batch, protocol=2))
    with tarfile.open(path, "w:gz") as archive:
        archive.add(staging, arcname="cifar-10-batches-py")
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder laid out like ../shared/data, with tiny mnist, fashion-mnist and cifar10."""
    root = tmp_path / "data"
    write_mnist_idx(root / "mnist")
    write_mnist_idx(root / "fashion-mnist")
    (root / "cifar10").mkdir(parents=True)
    write_cifar_tar(root / "cifar10" / "cifar-10-python.tar.gz")
    return root


class Invoker:
    """Runs the real Typer app and keeps stdout and stderr apart."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict | None = None):
        return self.runner.invoke(app, [str(a) for a in args], env=env, prog_name="mlkit")

    def json(self, *args: str, env: dict | None = None, exit_code: int = 0):
        """Run with --json; check the exit code and that stdout is one envelope (docs/json.md)."""
        result = self(*args, "--json", env=env)
        assert result.exit_code == exit_code, result.output
        document = json.loads(result.stdout)
        validate_envelope(document)
        return document


def validate_envelope(document: dict) -> None:
    """Check a --json document against docs/result.schema.json with the jsonschema library."""
    import jsonschema

    jsonschema.validate(document, _schema())


def _schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads((ROOT / "docs" / "result.schema.json").read_text())
    return _SCHEMA


_SCHEMA = None


@pytest.fixture
def mlkit() -> Invoker:
    return Invoker()
