"""`mlkit mnist-sum sum|calc|predict` through the real Typer app, on a tiny MNIST-like folder."""

import json

import numpy as np
import pytest

from mlkit.experiments.mnist_sum import CALC_METRICS, SUM_METRICS
from mlkit.mnist_sum import load_sequences
from mlkit.mnist_sum.predict import PREDICT_METRICS

from .conftest import Invoker, validate_envelope, write_mnist_idx

TINY = ["--train-sequences", "48", "--validation-sequences", "8", "--test-sequences", "12", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """MNIST-format files with enough images (24 per digit) for stratified validation."""
    root = tmp_path_factory.mktemp("digits")
    write_mnist_idx(root / "mnist", train=240, test=60)
    return root


@pytest.fixture(scope="module")
def sum_run(digits_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sum_run")
    result = Invoker()("mnist-sum", "sum", "--data-dir", digits_dir, "--length", "4", "--eval-lengths", "2,6",
                       "--shift", "0.1", *TINY, "--members", "2", "--precision", "bfloat16", "--save", out / "sum.keras",
                       "--export-data", out / "sum.h5", "--plot-dir", out / "plots", "--expect", "mae>=0", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validate_envelope(document)
    return document, out


def test_sum_record_has_the_shared_blocks_and_every_length(sum_run):
    result, out = sum_run
    assert result["command"] == "mnist-sum sum" and result["seed"] == 0
    assert result["data"]["name"] == "mnist" and result["data"]["train"] == 48 and result["data"]["length"] == 4
    assert [e["length"] for e in result["evaluations"]] == [2, 4, 6]
    for evaluation in result["evaluations"]:
        assert evaluation["sequences"] == 12 and 0 <= evaluation["exact_match"] <= 1
        assert 0 <= evaluation["mae"] <= evaluation["rmse"]
    at_training_length = result["evaluations"][1]
    metrics = result["metrics"]
    assert set(metrics) == set(SUM_METRICS)
    assert metrics["exact_match"] == at_training_length["exact_match"] and metrics["mae"] == at_training_length["mae"]
    assert metrics["val_accuracy"] == result["training"]["history"]["epochs"]["val_accuracy"][-1]
    # Training images per training second: 48 sequences of 4 images in one epoch.
    assert metrics["images_per_second"] == pytest.approx(48 * 4 / metrics["seconds"])
    assert 0 < metrics["seconds"] < metrics["wall_seconds"]
    assert result["expectations"] == [{"metric": "mae", "op": ">=", "value": 0, "actual": metrics["mae"], "passed": True}]
    assert sorted((f["path"], f["kind"]) for f in result["files"]) == sorted(
        [(str(out / "sum.keras"), "model"), (str(out / "sum.h5"), "dataset"),
         (str(out / "plots" / "mnist_sum_curves.png"), "plot")])


def test_sum_config_holds_every_effective_setting(sum_run):
    config = sum_run[0]["config"]
    assert config["members"] == 2 and config["precision"] == "bfloat16"
    assert config["encoder"]["dtype_policy"] == "mixed_bfloat16" and config["encoder"]["shift"] == 0.1
    assert config["encoder"]["filters"] == [32, 64] and config["encoder"]["convs_per_block"] == 2
    assert (config["length"], config["eval_lengths"], config["epochs"], config["batch_size"]) == (4, [2, 4, 6], 1, 16)
    assert config["recipe"] == "default" and config["learning_rate"] == 1e-3 and "seed" not in config and "quiet" not in config


def test_sum_table_shows_the_training_the_model_and_the_scores(mlkit, digits_dir):
    result = mlkit("mnist-sum", "sum", "--data-dir", digits_dir, "--length", "3", "--eval-lengths", "3", *TINY,
                   "--members", "1", "--precision", "float32")
    assert result.exit_code == 0, result.output
    for title in ("Training", "Model", "Test (sum)", "dtype_policy", "float32", "32,64", "exact", "digit", "mae"):
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
    assert predicted["command"] == "mnist-sum predict" and predicted["config"]["task"] == "sum"
    assert len(predicted["predictions"]) == 12 and set(predicted["metrics"]) == set(PREDICT_METRICS)
    assert predicted["metrics"]["mae"] == pytest.approx(at_length_4["mae"], rel=1e-5)
    assert predicted["metrics"]["exact_match"] == pytest.approx(at_length_4["exact_match"])
    assert predicted["metrics"]["char_accuracy"] is None
    assert predicted["data"]["name"] == "sum.h5" and predicted["data"]["sequences"] == 12
    row = predicted["predictions"][0]
    assert isinstance(row["predicted"], int) and 0 <= row["expected"] <= 36 and len(row["digits"].split()) == 4


def test_predict_holds_its_scores_to_expect(mlkit, sum_run):
    _, out = sum_run
    missed = mlkit("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5",
                   "--expect", "exact_match>=1.5", "--json")
    assert missed.exit_code == 3 and missed.stderr.count("Error:") == 1
    document = json.loads(missed.stdout)
    assert document["expectations"][0]["passed"] is False and document["metrics"]["exact_match"] is not None


def test_training_again_from_the_exported_file_uses_its_sequences(mlkit, sum_run):
    _, out = sum_run
    again = mlkit.json("mnist-sum", "sum", "--data", out / "sum.h5", "--eval-lengths", "4,5", *TINY, "--members", "1")
    assert again["data"]["train"] == 48 and again["config"]["length"] == 4 and again["data"]["name"] == "sum.h5"
    assert [(e["length"], e["sequences"]) for e in again["evaluations"]] == [(4, 12), (5, 12)]


def test_calc_trains_and_predicts_from_image_files(mlkit, digits_dir, tmp_path):
    from PIL import Image

    result = mlkit.json("mnist-sum", "calc", "--data-dir", digits_dir, "--op", "sub", "--digits", "2",
                        "--benchmark-digits", "1,3", *TINY, "--save", tmp_path / "calc.keras")
    assert result["command"] == "mnist-sum calc" and set(result["metrics"]) == set(CALC_METRICS)
    scores = result["evaluations"][0]
    assert scores["questions"] == 12 and 0 <= scores["exact_match"] <= scores["char_accuracy"] <= 1
    assert result["metrics"]["exact_match"] == scores["exact_match"]
    assert result["metrics"]["images_per_second"] == pytest.approx(48 * 5 / result["metrics"]["seconds"])
    assert (result["config"]["op"], result["config"]["digits"], result["config"]["length"]) == ("sub", 2, 5)
    assert result["config"]["members"] == 1 and 0 <= result["metrics"]["digit_accuracy"] <= 1
    benchmark = [(e["digits"], e["operands"], e["questions"]) for e in result["evaluations"][1:]]
    assert benchmark == [(1, "N digits", 12), (3, "N digits", 12)]
    assert all(set(e["question"]) <= set("0123456789-") for e in result["examples"])
    for index in range(3):
        Image.fromarray(np.full((28, 28), 40 * index, dtype=np.uint8)).save(tmp_path / f"{index}.png")
    # Wider operands than the model trained on: the same reader, more columns.
    files = [tmp_path / "0.png", "-", tmp_path / "1.png", tmp_path / "2.png", tmp_path / "1.png"]
    predicted = mlkit.json("mnist-sum", "predict", "--model", tmp_path / "calc.keras", *files)
    assert predicted["config"]["task"] == "calc" and len(predicted["predictions"]) == 1
    assert set(predicted["predictions"][0]["predicted"]) <= set("0123456789-")
    plus = mlkit("mnist-sum", "predict", "--model", tmp_path / "calc.keras", files[0], "+", files[2])
    assert plus.exit_code == 2 and "answers sub questions" in plus.stderr
    assert predicted["metrics"]["exact_match"] is None and predicted["data"]["name"] == "image files"
    bad = mlkit("mnist-sum", "predict", "--model", tmp_path / "calc.keras", files[0], files[2])
    assert bad.exit_code == 2 and "one + or -" in bad.stderr


def test_table_output_names_the_scores(mlkit, sum_run):
    _, out = sum_run
    result = mlkit("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5", "--show", "2")
    assert result.exit_code == 0 and "exact_match" in result.stdout and "12 in all" in result.stdout


def test_predict_refuses_a_model_for_the_other_task_file(mlkit, sum_run, tmp_path):
    _, out = sum_run
    both = mlkit("mnist-sum", "predict", "--model", out / "sum.keras", "--data", out / "sum.h5", "x.png")
    assert both.exit_code == 2 and "not both" in both.stderr
    (tmp_path / "fake.keras").write_text("no model")
    fake = mlkit("mnist-sum", "predict", "--model", tmp_path / "fake.keras", "--data", out / "sum.h5")
    assert fake.exit_code == 1 and fake.stderr.startswith("Error: cannot load model")
