"""`mlkit cifar --arch airbench`, `--precision` and `mlkit augment --arch airbench` on the tiny fake CIFAR-10."""

import numpy as np
import pytest

from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.training import load_model, read_checkpoint

from .test_cli_cifar import same_weights, untimed

TINY = ("--epochs", "1", "--subset", "60", "--batch-size", "32", "--quiet")


def test_airbench_trains_saves_the_last_model_and_evaluate_scores_it_alike(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "airbench.keras"
    out = mlkit.json("cifar", "--arch", "airbench", *TINY, "--precision", "bfloat16", "--data-dir", data_dir,
                     "--save", model_file)
    config, metrics = out["config"], out["metrics"]
    assert (config["recipe"], config["optimizer"], config["momentum"], config["patience"]) == ("airbench", "sgd", 0.85, 0)
    assert config["selection_split"] is None and config["precision"] == "bfloat16" and config["lookahead_every"] == 5
    assert config["augmentation"]["flip"] == "alternate" and config["augmentation"]["crop"] == 2
    assert metrics["best_epoch"] == 1 and out["runs"][0]["arch"] == "airbench"
    assert read_checkpoint(model_file)["epoch"] == 1
    data = load_data("cifar10", data_dir)
    saved = evaluate_classifier(load_model(model_file), data.x_test, data.y_test, data.class_names)
    assert saved.accuracy == metrics["test_accuracy"]
    scored = mlkit.json("evaluate", model_file, "--data", "cifar10", "--data-dir", data_dir)
    assert scored["metrics"]["test_accuracy"] == metrics["test_accuracy"]


@pytest.mark.traced
def test_airbench_repeats_under_a_seed(mlkit, data_dir, tmp_path):
    def run(seed: int, name: str) -> dict:
        return mlkit.json("cifar", "--arch", "airbench", *TINY, "--precision", "float32", "--seed", seed,
                          "--data-dir", data_dir, "--save", tmp_path / name)

    first, again, other = run(3, "first.keras"), run(3, "again.keras"), run(4, "other.keras")
    assert untimed(first["metrics"]) == untimed(again["metrics"])
    assert same_weights(tmp_path / "first.keras", tmp_path / "again.keras")
    assert not same_weights(tmp_path / "first.keras", tmp_path / "other.keras")


def test_precision_float32_and_bfloat16_of_network_d(mlkit, data_dir, tmp_path):
    runs = {precision: mlkit.json("cifar", "--arch", "d", *TINY, "--precision", precision, "--data-dir", data_dir,
                                  "--save", tmp_path / f"{precision}.keras")
            for precision in ("float32", "bfloat16")}
    assert {name: out["config"]["precision"] for name, out in runs.items()} == {"float32": "float32",
                                                                               "bfloat16": "bfloat16"}
    model = load_model(tmp_path / "bfloat16.keras")
    assert model.get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("predictions").dtype_policy.name == "float32"
    assert load_model(tmp_path / "float32.keras").get_layer("block1_conv1").dtype_policy.name == "float32"
    auto = mlkit.json("cifar", "--arch", "b", *TINY, "--data-dir", data_dir)
    assert auto["config"]["precision"] in ("float32", "bfloat16")


@pytest.mark.parametrize("args, message", [
    (["--precision", "float16"], "--precision must be one of auto, float32, bfloat16"),
    (["--arch", "airbench", "--recipe", "fast"], "--arch airbench trains with --recipe airbench only"),
    (["--arch", "d", "--recipe", "airbench"], "--arch airbench trains with --recipe airbench only"),
    (["--arch", "airbench", "--patience", "2"], "--patience does not apply"),
    (["--arch", "airbench", "--dropout", "0.1"], "airbench has no dropout"),
])
def test_airbench_and_precision_usage_errors(mlkit, data_dir, args, message):
    out = mlkit.json("cifar", *args, "--data-dir", data_dir, exit_code=2)
    assert message in out["error"]["message"]


def test_an_airbench_file_is_not_resumed_or_retrained(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "airbench.keras"
    mlkit.json("cifar", "--arch", "airbench", *TINY, "--data-dir", data_dir, "--save", model_file)
    resumed = mlkit.json("cifar", "--resume", model_file, "--data-dir", data_dir, exit_code=1)
    assert "trains from the start only" in resumed["error"]["message"]
    retrained = mlkit.json("augment", "--model", model_file, "--data-dir", data_dir, exit_code=1)
    assert "trains from the start only" in retrained["error"]["message"]


def test_augment_trains_airbench_with_its_own_augmentation(mlkit, data_dir):
    out = mlkit.json("augment", "--arch", "airbench", *TINY, "--flip", "alternate", "--crop", "2", "--translate",
                     "0", "--data-dir", data_dir)
    assert out["config"]["recipe"] == "airbench" and out["config"]["selection_split"] is None
    assert out["config"]["augmentation"] == {"flip": "alternate", "translate": 0.0, "rotate": 0.0, "zoom": 0.0,
                                             "contrast": 0.0, "cutout": 0.0, "crop": 2}
    assert out["runs"][0]["label"] == "airbench/augmented" and np.isfinite(out["metrics"]["loss"])
