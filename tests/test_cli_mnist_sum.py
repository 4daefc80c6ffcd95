"""`mlkit mnist-sum sum|calc|predict` through the real Typer app, on a tiny MNIST-like folder."""

import json

import numpy as np
import pytest

from mlkit.mnist_sum import load_sequences

from .conftest import write_mnist_idx

TINY = ["--train-sequences", "48", "--validation-sequences", "8", "--test-sequences", "12", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """MNIST-format files with enough images (24 per digit) for stratified validation."""
    root = tmp_path_factory.mktemp("digits")
    write_mnist_idx(root / "mnist", train=240, test=60)
    return root


@pytest.fixture(scope="module")
def sum_run(digits_dir, tmp_path_factory):
    from typer.testing import CliRunner

    from cli.main import app

    out = tmp_path_factory.mktemp("sum_run")
    args = ["mnist-sum", "sum", "--data-dir", digits_dir, "--length", "4", "--eval-lengths", "2,6", "--shift", "0.1", *TINY,
            "--members", "2", "--precision", "bfloat16", "--save", out / "sum.keras", "--export-data", out / "sum.h5", "--plot-dir", out / "plots", "--json"]
    result = CliRunner().invoke(app, [str(a) for a in args], prog_name="mlkit")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_sum_scores_every_length_with_consistent_metrics(sum_run):
    result, out = sum_run
    assert result["task"] == "sum" and result["data"]["train"] == 48 and result["data"]["length"] == 4
    assert [e["length"] for e in result["evaluations"]] == [2, 4, 6]
    for evaluation in result["evaluations"]:
        assert evaluation["sequences"] == 12 and 0 <= evaluation["exact_accuracy"] <= 1
        assert 0 <= evaluation["mae"] <= evaluation["rmse"]
    assert result["history"]["epochs"]["val_accuracy"] and result["train_images_per_second"] > 0
    assert sorted(result["files"]) == sorted(str(out / n) for n in ("sum.keras", "sum.h5", "plots/mnist_sum_curves.png"))
    assert result["model"]["members"] == 2 and result["model"]["dtype_policy"] == "mixed_bfloat16"
    assert result["model"]["shift"] == 0.1


def test_sum_table_shows_the_training_the_model_and_the_scores(mlkit, digits_dir):
    result = mlkit("mnist-sum", "sum", "--data-dir", digits_dir, "--length", "3", "--eval-lengths", "3", *TINY,
                   "--precision", "float32")
    assert result.exit_code == 0, result.output
    for title in ("Training", "Model", "Test (sum)", "dtype_policy", "float32", "32,64", "mae"):
        assert title in result.stdout


def test_exported_sum_sequences_come_from_the_right_splits(sum_run):
    _, out = sum_run
    data = load_sequences(out / "sum.h5", "sum")
    assert (len(data.train), len(data.validation), len(data.test)) == (48, 8, 12)
    assert data.test.x.shape == (12, 4, 28, 28)
    assert (data.train.target == data.train.slots.sum(axis=1)).all()


def test_predict_on_the_exported_file_repeats_the_run_scores(mlkit, sum_run):
    result, out = sum_run
    predicted = mlkit.json("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5")
    at_length_4 = next(e for e in result["evaluations"] if e["length"] == 4)
    assert predicted["task"] == "sum" and len(predicted["predictions"]) == 12
    assert predicted["metrics"]["mae"] == pytest.approx(at_length_4["mae"], rel=1e-5)
    row = predicted["predictions"][0]
    assert isinstance(row["predicted"], int) and 0 <= row["expected"] <= 36 and len(row["digits"].split()) == 4


def test_training_again_from_the_exported_file_uses_its_sequences(mlkit, sum_run):
    _, out = sum_run
    again = mlkit.json("mnist-sum", "sum", "--data", out / "sum.h5", "--eval-lengths", "4,5", *TINY)
    assert again["data"]["train"] == 48 and again["data"]["length"] == 4
    assert [(e["length"], e["sequences"]) for e in again["evaluations"]] == [(4, 12), (5, 12)]


def test_calc_trains_and_predicts_from_image_files(mlkit, digits_dir, tmp_path):
    from PIL import Image

    result = mlkit.json("mnist-sum", "calc", "--data-dir", digits_dir, "--op", "sub", "--digits", "2",
                        *TINY, "--save", tmp_path / "calc.keras")
    metrics = result["evaluations"][0]
    assert metrics["questions"] == 12 and 0 <= metrics["exact_accuracy"] <= metrics["char_accuracy"] <= 1
    assert all(set(e["question"]) <= set("0123456789-") for e in result["examples"])
    for index in range(3):
        Image.fromarray(np.full((28, 28), 40 * index, dtype=np.uint8)).save(tmp_path / f"{index}.png")
    files = [tmp_path / "0.png", "-", tmp_path / "1.png", tmp_path / "2.png"]
    predicted = mlkit.json("mnist-sum", "predict", "--model", tmp_path / "calc.keras", *files)
    assert predicted["task"] == "calc" and len(predicted["predictions"]) == 1
    assert set(predicted["predictions"][0]["predicted"]) <= set("0123456789-")
    bad = mlkit("mnist-sum", "predict", "--model", tmp_path / "calc.keras", files[0], files[2])
    assert bad.exit_code == 1 and "one + or -" in bad.stderr


def test_table_output_names_the_scores(mlkit, sum_run):
    _, out = sum_run
    result = mlkit("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5", "--show", "2")
    assert result.exit_code == 0 and "exact_accuracy" in result.stdout and "12 in all" in result.stdout


@pytest.mark.parametrize("args, code, message", [
    (["calc", "--op", "mul"], 1, "--op must be one of add, sub"),
    (["sum", "--eval-lengths", "5,x"], 2, "comma-separated"),
    (["sum", "--shift", "0.7"], 1, "--shift must be"),
    (["sum", "--precision", "half"], 1, "--precision must be one of auto, float32, bfloat16"),
    (["sum", "--members", "0"], 2, "--members"),
    (["sum", "--data", "missing.h5"], 1, "does not exist"),
    (["predict", "--model", "missing.keras", "a.png"], 1, "does not exist"),
])
def test_bad_input_is_one_error_line(mlkit, digits_dir, args, code, message):
    result = mlkit("mnist-sum", *args, "--data-dir" if args[0] != "predict" else "--json",
                   *([digits_dir] if args[0] != "predict" else []))
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output


def test_predict_refuses_a_model_for_the_other_task_file(mlkit, sum_run, tmp_path):
    _, out = sum_run
    both = mlkit("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5", "x.png")
    assert both.exit_code == 1 and "not both" in both.stderr
    (tmp_path / "fake.keras").write_text("no model")
    fake = mlkit("mnist-sum", "predict", "--model", tmp_path / "fake.keras", "--data", out / "sum.h5")
    assert fake.exit_code == 1 and fake.stderr.startswith("Error: cannot load model")
