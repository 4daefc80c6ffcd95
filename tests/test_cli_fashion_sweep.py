"""`mlkit fashion-sweep` end to end on a tiny learnable HDF5 dataset."""

import json

import pytest

from mlkit.data import save_dataset
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.test_fashion_sweep import make_banded

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def banded_file(tmp_path):
    return save_dataset(make_banded(), tmp_path / "banded.h5")


def quick_args(data, *extra):
    return ["fashion-sweep", "--data", data, "--batch-sizes", "16,32", "--learning-rates", "0.01",
            "--epochs", "2", *extra]


def test_json_reports_histogram_runs_best_and_files(mlkit, banded_file, tmp_path):
    plots, save = tmp_path / "plots", tmp_path / "best.keras"
    result = mlkit.json(*quick_args(banded_file, "--plot-dir", plots, "--save", save, "--out", tmp_path / "out"))
    assert set(result) == {"data", "class_counts", "runs", "best", "execution", "files"}
    assert result["class_counts"][3] == {"class": "class 3", "train": 20, "fit": 14, "val": 6, "test": 6}
    assert [run["batch_size"] for run in result["runs"]] == [16, 32]
    columns = {"learning_rate", "batch_size", "epochs_trained", "best_epoch", "train_loss", "train_accuracy",
               "val_loss", "val_accuracy", "test_accuracy", "seconds"}
    assert all(columns <= set(run) and 0 <= run["test_accuracy"] <= 1 for run in result["runs"])
    assert result["best"]["val_accuracy"] == max(run["val_accuracy"] for run in result["runs"])
    assert result["execution"] | {"wall_seconds": 0} == {
        "executor": "local", "jobs": 1, "threads_per_run": result["execution"]["threads_per_run"],
        "trained": 2, "reused": 0, "wall_seconds": 0}
    for key in ("histogram_plot", "curves_plot"):
        assert open(result["files"][key], "rb").read(8) == PNG_MAGIC
    assert save.stat().st_size > 0 and result["files"]["model"] == str(save)


def test_table_output_then_a_rerun_reuses_every_run(mlkit, banded_file, tmp_path):
    out = tmp_path / "out"
    first = mlkit(*quick_args(banded_file, "--out", out))
    assert first.exit_code == 0, first.output
    assert "val acc" in first.stdout and "class 9" in first.stdout and "Best run" in first.stdout
    again = mlkit.json(*quick_args(banded_file, "--out", out))
    assert again["execution"]["trained"] == 0 and again["execution"]["reused"] == 2
    assert all(run["reused"] for run in again["runs"])


@pytest.mark.slow  # two TensorFlow worker processes start (~25 s here); test_sweep checks the pool fast
def test_parallel_jobs_give_the_same_numbers_as_one_job(mlkit, banded_file, tmp_path):
    serial = mlkit.json(*quick_args(banded_file, "--threads", "1", "--quiet"))
    parallel = mlkit.json(*quick_args(banded_file, "--jobs", "2", "--quiet"))
    assert parallel["execution"]["jobs"] == 2 and parallel["execution"]["threads_per_run"] == 1
    for one, two in zip(serial["runs"], parallel["runs"]):
        assert two["val_loss"] == pytest.approx(one["val_loss"], abs=1e-5)
        assert two["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("args, code, message", [
    (["--val-fraction", "2"], 1, "--val-fraction"),
    (["--executor", "local", "--address", "ray://head:10001"], 1, "--address needs --executor ray"),
    (["--save", "best.h5"], 1, ".keras"),
    (["--batch-sizes", "eight"], 2, "comma-separated"),
])
def test_bad_options_are_one_line_errors(mlkit, banded_file, args, code, message):
    result = mlkit(*quick_args(banded_file, *args))
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output


def test_missing_dataset_is_an_error(mlkit, tmp_path):
    result = mlkit("fashion-sweep", "--data", tmp_path / "absent.h5")
    assert result.exit_code == 1 and result.stderr.startswith("Error:")


@pytest.mark.slow  # starts a local Ray instance (15-40 s here)
def test_ray_executor_end_to_end(mlkit, banded_file, tmp_path):
    result = mlkit.json(*quick_args(banded_file, "--executor", "ray", "--jobs", "2", "--out", tmp_path / "out"))
    assert result["execution"]["executor"] == "ray" and result["execution"]["trained"] == 2
    local = mlkit.json(*quick_args(banded_file, "--out", tmp_path / "out"))
    assert local["execution"]["reused"] == 2  # runs stored by Ray tasks are reused locally


@needs_shared_data
@pytest.mark.slow
def test_real_fashion_mnist_mlp_reaches_the_seed_accuracy(mlkit, tmp_path):
    result = mlkit.json("fashion-sweep", "--data-dir", SHARED_DATA, "--batch-sizes", "32", "--quiet")
    assert result["best"]["val_accuracy"] >= 0.885 and result["best"]["test_accuracy"] >= 0.88


@needs_shared_data
@pytest.mark.slow  # about 7 minutes on 2 cores (20 epochs gave 0.9195 test, still improving)
def test_real_fashion_mnist_cnn_reaches_092(mlkit):
    result = mlkit.json("fashion-sweep", "--data-dir", SHARED_DATA, "--model", "cnn", "--batch-sizes", "64",
                        "--epochs", "30", "--quiet")
    assert result["best"]["test_accuracy"] >= 0.92
