"""`mlkit depth-study` through the real Typer app: the JSON envelope, tables, files, --save,
--expect, repeatability and errors."""

import json

import numpy as np
import pytest

from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.training import load_model


def quick(data_dir, *extra):
    return ["depth-study", "--data-dir", data_dir, "--activations", "relu", "--depths", "1", "--epochs", "1",
            "--gradient-samples", "8", *extra]


def test_json_is_one_envelope_with_metrics_config_runs_and_norms(mlkit, data_dir):
    result = mlkit("depth-study", "--data-dir", data_dir, "--activations", "sigmoid,relu", "--depths", "1",
                   "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    assert document["command"] == "depth-study" and document["seed"] == 0
    assert document["config"]["variants"] == ["seed"] and document["config"]["selection_split"] == "test"
    assert document["data"]["train_images"] == 30 and len(document["data"]["fingerprint"]) == 64
    assert [run["label"] for run in document["runs"]] == ["sigmoid d1", "relu d1"]
    run = document["runs"][0]
    assert (run["activation"], run["depth"], run["variant"], run["parameters"]) == ("sigmoid", 1, "seed", 407050)
    assert len(run["gradient_norms"]) == 2 and all(len(row) == 2 for row in run["gradient_norms"])
    assert run["history"]["epochs"]["test_accuracy"] == [pytest.approx(run["test_accuracy"])]
    best = max(document["runs"], key=lambda run: run["test_accuracy"])
    assert document["metrics"]["test_accuracy"] == best["test_accuracy"]
    assert document["metrics"]["loss"] == best["test_loss"] and document["best"] == best["label"]
    assert "sigmoid d1 epoch 1/1" in result.stderr


def test_tables_and_plots(mlkit, data_dir, tmp_path):
    result = mlkit("depth-study", "--data-dir", data_dir, "--activations", "sigmoid", "--depths", "3",
                   "--variant", "seed,sigmoid-first", "--epochs", "1", "--plot-dir", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    assert "sigmoid-first" in result.stdout and "Mean |dL/dW|" in result.stdout and "Best run" in result.stdout
    assert "L3" in result.stdout and "L1/out" in result.stdout and "after epoch 1" in result.stdout
    for name in ("depth_study_depth_curves.png", "depth_study_depth_gradients.png"):
        assert (tmp_path / "plots" / name).is_file() and name in result.stderr.replace("\n", "")


def test_models_comparison_json(mlkit, data_dir):
    document = mlkit.json("depth-study", "--data-dir", data_dir, "--models", "linear,mlp-dropout",
                          "--epochs", "1", "--every-batches", "1", "--quiet")
    assert document["config"]["mode"] == "models" and document["config"]["batch_size"] == 100
    assert [run["model"] for run in document["runs"]] == ["linear", "mlp-dropout"]
    assert document["runs"][0]["history"]["batch_steps"] == [1]  # 30 images fit one batch of 100


def test_saved_model_scores_the_reported_test_accuracy_on_the_stored_images(mlkit, data_dir, tmp_path):
    save = tmp_path / "best.keras"
    document = mlkit.json(*quick(data_dir, "--activations", "sigmoid,relu", "--save", save, "--quiet"))
    assert {"path": str(save), "kind": "model"} in document["files"]
    dataset = load_data("mnist", data_dir)
    evaluation = evaluate_classifier(load_model(save), dataset.x_test, dataset.y_test, dataset.class_names)
    assert evaluation.accuracy == document["metrics"]["test_accuracy"]
    graded = mlkit.json("evaluate", save, "--data", "mnist", "--data-dir", data_dir, "--quiet")
    assert graded["config"]["scale"] == 255  # the model scales the stored pixels itself
    assert graded["metrics"]["test_accuracy"] == document["metrics"]["test_accuracy"]


def weights(path) -> list[np.ndarray]:
    return load_model(path).get_weights()


def test_same_seed_same_numbers_and_weights_another_seed_differs(mlkit, data_dir, tmp_path):
    runs = [mlkit.json(*quick(data_dir, "--seed", seed, "--save", tmp_path / f"{name}.keras", "--quiet"))
            for name, seed in (("first", "3"), ("again", "3"), ("other", "4"))]
    scores = [{key: document["metrics"][key] for key in ("test_accuracy", "loss", "train_accuracy")}
              for document in runs]
    norms = [document["runs"][0]["gradient_norms"] for document in runs]
    assert scores[0] == scores[1] and norms[0] == norms[1]
    first, again, other = (weights(tmp_path / f"{name}.keras") for name in ("first", "again", "other"))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert runs[2]["seed"] == 4 and norms[2] != norms[0]


def test_a_missed_expectation_exits_3_after_printing_the_record(mlkit, data_dir):
    result = mlkit(*quick(data_dir, "--expect", "test_accuracy>=1.01", "--expect", "loss<=100", "--json"))
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert [check["passed"] for check in document["expectations"]] == [False, True]
    assert result.stderr.strip().splitlines()[-1].startswith("Error: expectation failed: test_accuracy")


def test_an_unknown_expected_metric_is_a_usage_error_listing_the_metrics(mlkit, data_dir):
    result = mlkit(*quick(data_dir, "--expect", "val_accuracy>=0.5"))
    assert result.exit_code == 2 and "test_accuracy, loss, train_accuracy" in result.stderr
    assert "epoch" not in result.stderr  # refused before training


@pytest.mark.parametrize("option, value", [
    ("--depths", "0"), ("--depths", "x"), ("--depths", "1,x"), ("--depths", "31"), ("--models", "vgg"),
    ("--variant", "deep"), ("--activations", "swish"), ("--epochs", "0"), ("--epochs", "1001"),
    ("--batch-size", "0"), ("--batch-size", "99999999999"), ("--gradient-samples", "0"),
    ("--gradient-samples", "10001"), ("--every-batches", "-1"), ("--save", "best.h5"),
])
def test_bad_values_are_usage_errors_with_one_line(mlkit, data_dir, option, value):
    result = mlkit("depth-study", "--data-dir", data_dir, option, value)
    assert result.exit_code == 2, (option, result.output)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert result.stdout == "" and "Traceback" not in result.output


def test_with_json_a_usage_error_prints_an_error_document(mlkit, data_dir):
    document = mlkit.json("depth-study", "--data-dir", data_dir, "--depths", "x", exit_code=2)
    assert document["command"] == "depth-study" and document["error"]["exit_code"] == 2
    assert "--depths" in document["error"]["message"]


def test_missing_data_exits_1_with_an_error_document(mlkit, tmp_path):
    document = mlkit.json("depth-study", "--data-dir", tmp_path, "--epochs", "1", exit_code=1)
    assert document["error"]["exit_code"] == 1 and "mnist" in document["error"]["message"]


def test_an_unwritable_save_path_is_refused_before_training(mlkit, data_dir, tmp_path):
    result = mlkit(*quick(data_dir, "--save", tmp_path / "absent" / "best.keras"))
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert "epoch" not in result.stderr and result.stderr.count("\n") == 1


def test_hdf5_data_file_and_models_table(mlkit, data_dir, tmp_path):
    exported = mlkit("data", "export", "mnist", "--out", tmp_path / "mnist.h5", "--data-dir", data_dir)
    assert exported.exit_code == 0, exported.output
    result = mlkit("depth-study", "--data", tmp_path / "mnist.h5", "--models", "linear", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "linear" in result.stdout and "30 training images" in result.stdout
