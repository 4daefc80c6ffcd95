"""`mlkit cifar` end to end on the tiny fake CIFAR-10 of conftest (100 training, 20 test images)."""

import json

import numpy as np
import pytest

from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.cifar import METRICS
from mlkit.training import load_model, read_checkpoint, save_model

from .test_cifar import SEED_PARAMETERS

TIMINGS = ("seconds", "wall_seconds", "images_per_second")


def weights(path) -> list[np.ndarray]:
    return load_model(path).get_weights()


def same_weights(first, second) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(weights(first), weights(second), strict=True))


def untimed(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if name not in TIMINGS}


def test_cifar_trains_saves_plots_and_reports_the_saved_models_accuracy(mlkit, data_dir, tmp_path):
    model_file, plots = tmp_path / "b.keras", tmp_path / "plots"
    out = mlkit.json("cifar", "--arch", "b", "--epochs", "2", "--data-dir", data_dir,
                     "--save", model_file, "--plot-dir", plots, "--quiet")
    config, metrics, run = out["config"], out["metrics"], out["runs"][0]
    assert (config["epochs"], config["batch_size"], config["recipe"], config["arch"]) == (2, 256, "fast", "b")
    assert "recipe.epochs" not in json.dumps(out)
    assert out["data"]["train_images"] == 100 and out["data"]["test_images"] == 20 and out["seed"] == 0
    assert set(metrics) == set(METRICS) and metrics["images_per_second"] > 0
    # The fast recipe keeps the model the run ends with: no epoch is chosen by the test images,
    # which grade only that model unless --test-curves asks for every epoch's score.
    history = run["history"]["epochs"]
    assert config["selection_split"] is None and config["patience"] == 0 and metrics["best_epoch"] == 2
    assert config["test_curves"] is False and "val_accuracy" not in history and len(history["accuracy"]) == 2
    assert metrics["train_accuracy"] == pytest.approx(history["accuracy"][-1])
    assert sum(map(sum, run["evaluation"]["confusion_matrix"])) == 20
    assert {"path": str(model_file), "kind": "model"} in out["files"]
    assert sorted(p.name for p in plots.iterdir()) == ["cifar_b_fast_confusion.png", "cifar_b_fast_curves.png"]
    data = load_data("cifar10", data_dir)
    saved = evaluate_classifier(load_model(model_file), data.x_test, data.y_test, data.class_names)
    assert saved.accuracy == metrics["test_accuracy"]
    assert read_checkpoint(model_file)["epoch"] == 2


def test_test_curves_score_every_epoch_and_end_on_the_kept_models_score(mlkit, data_dir):
    out = mlkit.json("cifar", "--arch", "b", "--epochs", "2", "--test-curves", "--data-dir", data_dir, "--quiet")
    history = out["runs"][0]["history"]["epochs"]
    assert out["config"]["test_curves"] is True and len(history["val_accuracy"]) == 2
    assert out["metrics"]["test_accuracy"] == pytest.approx(history["val_accuracy"][-1])
    refused = mlkit("cifar", "--arch", "b", "--recipe", "seed", "--no-test-curves", "--data-dir", data_dir)
    assert refused.exit_code == 2 and "--no-test-curves does not apply" in refused.stderr


def test_the_seed_recipe_keeps_its_best_epoch_as_the_seed_did(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "b.keras"
    out = mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "2", "--patience", "0",
                     "--data-dir", data_dir, "--save", model_file, "--quiet")
    config, metrics, history = out["config"], out["metrics"], out["runs"][0]["history"]["epochs"]
    assert config["selection_split"] == "test" and metrics["best_epoch"] in (1, 2)
    # The best epoch is the one kept: its test-split accuracy (Keras' val_accuracy) is the one reported.
    assert metrics["test_accuracy"] == pytest.approx(history["val_accuracy"][metrics["best_epoch"] - 1])
    assert metrics["train_accuracy"] == pytest.approx(history["accuracy"][metrics["best_epoch"] - 1])
    assert read_checkpoint(model_file)["epoch"] == metrics["best_epoch"]


def test_patience_belongs_to_the_seed_recipe(mlkit, data_dir):
    refused = mlkit("cifar", "--arch", "b", "--patience", "2", "--data-dir", data_dir)
    assert refused.exit_code == 2 and "--patience does not apply" in refused.stderr


@pytest.mark.traced
def test_the_same_seed_repeats_a_run_exactly_and_another_seed_does_not(mlkit, data_dir, tmp_path):
    def run(seed: int, name: str) -> dict:
        return mlkit.json("cifar", "--arch", "b", "--epochs", "2", "--seed", seed,
                          "--data-dir", data_dir, "--save", tmp_path / name, "--quiet")

    first, again, other = run(1, "first.keras"), run(1, "again.keras"), run(2, "other.keras")
    assert untimed(first["metrics"]) == untimed(again["metrics"])
    assert first["runs"][0]["history"]["epochs"] == again["runs"][0]["history"]["epochs"]
    assert same_weights(tmp_path / "first.keras", tmp_path / "again.keras")
    assert first["runs"][0]["history"]["epochs"] != other["runs"][0]["history"]["epochs"]
    assert not same_weights(tmp_path / "first.keras", tmp_path / "other.keras")


def test_resume_never_replaces_a_better_model(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "b.keras"
    mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "1", "--data-dir", data_dir,
               "--save", model_file, "--quiet")
    # Say the saved epoch scored 1.0: no later epoch can beat it, so the file must stay as it is.
    save_model(load_model(model_file), model_file, checkpoint=read_checkpoint(model_file) | {"best": 1.0})
    before = model_file.read_bytes()
    out = mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "3", "--data-dir", data_dir,
                     "--resume", model_file,
                     "--save", model_file, "--quiet")
    run = out["runs"][0]
    assert (run["initial_epoch"], run["epochs_run"]) == (1, 2)
    assert model_file.read_bytes() == before
    assert out["metrics"]["best_epoch"] == 1 and out["metrics"]["train_accuracy"] is None
    data = load_data("cifar10", data_dir)
    kept = evaluate_classifier(load_model(model_file), data.x_test, data.y_test, data.class_names)
    assert out["metrics"]["test_accuracy"] == kept.accuracy


def test_resume_with_another_batch_size_continues_at_the_stored_epoch(mlkit, data_dir, tmp_path):
    model_file, resumed_file = tmp_path / "b.keras", tmp_path / "resumed.keras"
    mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "2", "--patience", "0", "--batch-size", "50",
               "--data-dir", data_dir, "--save", model_file, "--quiet")
    stored = read_checkpoint(model_file)
    assert (stored["batch_size"], stored["steps_per_epoch"]) == (50, 2)
    # Four steps an epoch now: the optimizer's step count (2 per epoch so far) would say epoch 0 or 1.
    out = mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "4", "--batch-size", "25", "--patience", "0",
                     "--data-dir", data_dir, "--resume", model_file, "--save", resumed_file, "--quiet")
    run = out["runs"][0]
    assert run["initial_epoch"] == stored["epoch"] and run["epochs_run"] == 4 - stored["epoch"]
    improved = out["metrics"]["best_epoch"] > stored["epoch"]  # else --save keeps a copy of the resumed file
    assert out["config"]["batch_size"] == 25 and read_checkpoint(resumed_file)["batch_size"] == (25 if improved else 50)
    # Without --batch-size a resumed run keeps the batch size stored with the model.
    again = mlkit.json("cifar", "--arch", "b", "--recipe", "seed", "--epochs", "1", "--data-dir", data_dir,
                       "--resume", model_file, "--quiet")
    assert again["config"]["batch_size"] == 50 and again["runs"][0]["epochs_run"] == 0


def test_cifar_all_with_the_seed_recipe_and_a_dropout_override(mlkit, data_dir):
    result = mlkit("cifar", "--arch", "all", "--recipe", "seed", "--dropout", "0.3", "--epochs", "1",
                   "--subset", "30", "--data-dir", data_dir, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    runs = {run["arch"]: run for run in out["runs"]}
    assert list(runs) == ["a", "b", "c", "d"] and out["config"]["optimizer"] == "adadelta"
    assert {arch: run["parameters"] for arch, run in runs.items()} == SEED_PARAMETERS
    assert {arch: run["dropout_rate"] for arch, run in runs.items()} == {"a": 0.3, "b": 0.0, "c": 0.3, "d": 0.3}
    best = max(out["runs"], key=lambda run: run["test_accuracy"])
    assert out["best_arch"] == best["arch"] and out["metrics"]["test_accuracy"] == best["test_accuracy"]
    assert out["data"]["train_images"] == 30 and "[a/seed] epoch 1/1" in result.stderr


def test_cifar_table_output(mlkit, data_dir):
    result = mlkit("cifar", "--arch", "a", "--epochs", "1", "--subset", "20", "--data-dir", data_dir, "--quiet")
    assert result.exit_code == 0, result.output
    assert "CIFAR-10, fast recipe, 20 training images" in result.stdout
    assert "Per-class" in result.stdout and "images/s" in result.stdout and "truck" in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_expect_fails_the_run_after_printing_it(mlkit, data_dir):
    out = mlkit.json("cifar", "--arch", "b", "--epochs", "1", "--subset", "20", "--data-dir", data_dir, "--quiet",
                     "--expect", "test_accuracy>=1.01", "--expect", "best_epoch<=1", exit_code=3)
    assert [(check["metric"], check["passed"]) for check in out["expectations"]] == [
        ("test_accuracy", False), ("best_epoch", True)]
    unknown = mlkit("cifar", "--expect", "val_accuracy>=0.5", "--data-dir", data_dir)
    assert unknown.exit_code == 2 and "test_accuracy" in unknown.stderr and "epoch 1/" not in unknown.stderr


def test_cifar_failures_print_a_json_error_document(mlkit, data_dir, tmp_path):
    usage = mlkit.json("cifar", "--epochs", "0", "--data-dir", data_dir, exit_code=2)
    assert usage["error"]["exit_code"] == 2 and "--epochs" in usage["error"]["message"]
    missing = mlkit.json("cifar", "--resume", tmp_path / "none.keras", "--data-dir", data_dir, exit_code=1)
    assert "does not exist" in missing["error"]["message"]


def test_outputs_are_checked_before_training(mlkit, data_dir, tmp_path):
    for args, message in [(["--save", tmp_path / "no" / "m.keras"], "does not exist"),
                          (["--plot-dir", "/proc/mlkit-plots"], "cannot create files")]:
        result = mlkit("cifar", "--arch", "b", "--epochs", "1", *args, "--data-dir", data_dir)
        assert result.exit_code == 1 and message in result.stderr, result.output
        assert "epoch 1/1" not in result.stderr and not (tmp_path / "no").exists()


def test_cifar_bad_input_is_one_error_line(mlkit, data_dir, tmp_path):
    import keras

    (tmp_path / "notes.keras").write_text("not a model")
    uncompiled = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    uncompiled.save(tmp_path / "uncompiled.keras")
    cases = [
        (["--arch", "e"], 2, "--arch must be one of"),
        (["--epochs", "0"], 2, "--epochs"),
        (["--dropout", "1"], 2, "--dropout"),
        (["--dropout", "nan"], 2, "--dropout"),
        (["--save", tmp_path / "model.txt"], 2, "must end in .keras"),
        (["--recipe", "slow"], 2, "unknown recipe"),
        (["--arch", "all", "--resume", tmp_path / "notes.keras"], 2, "not all"),
        (["--resume", tmp_path / "missing.keras"], 1, "does not exist"),
        (["--resume", tmp_path / "notes.keras"], 1, "cannot load model"),
        (["--resume", tmp_path / "uncompiled.keras"], 1, "no optimizer state"),
        (["--data", tmp_path / "none.h5"], 1, "does not exist"),
    ]
    for args, code, message in cases:
        result = mlkit("cifar", *args, "--data-dir", data_dir)
        assert result.exit_code == code, (args, result.output)
        assert result.stderr.startswith("Error:") and message in result.stderr, (args, result.stderr)
        assert result.stderr.count("Error:") == 1 and "Traceback" not in result.output
