"""The fashion-sweep library: stratified split, models, one run's numbers, early stopping on and
off, resuming from --out (records checked against their files), the folder lock, limits."""

import json
import math
import shutil

import numpy as np
import pytest

from mlkit.data import Dataset, save_dataset
from mlkit.errors import ConfigError, DataError, MlkitError
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.fashion_sweep import METRICS, FashionSweepConfig, run
from mlkit.models.fashion import build_fashion_model
from mlkit.sweep import RunStore
from mlkit.sweep.fashion_run import split_train_val
from mlkit.training import load_model

CLASS_NAMES = [f"class {index}" for index in range(10)]


def make_banded(train: int = 200, test: int = 60, seed: int = 0) -> Dataset:
    """Learnable 28x28 images: class k lights up rows 2k..2k+2 above noise."""
    rng = np.random.default_rng(seed)

    def images(count):
        labels = np.arange(count) % 10
        x = rng.integers(0, 60, (count, 28, 28), dtype=np.uint8)
        for index, label in enumerate(labels):
            x[index, 2 * label: 2 * label + 3] = 230
        return x, labels

    x_train, y_train = images(train)
    x_test, y_test = images(test)
    return Dataset("banded", x_train, y_train, x_test, y_test, CLASS_NAMES, source="test")


@pytest.fixture
def banded_file(tmp_path):
    return save_dataset(make_banded(), tmp_path / "banded.h5")


def quick_config(data, tmp_path, **changes) -> FashionSweepConfig:
    settings = dict(data=str(data), batch_sizes=(16, 32), learning_rates=(0.01,), epochs=3,
                    patience=2, out=tmp_path / "runs", quiet=True)
    return FashionSweepConfig(**(settings | changes))


def test_split_keeps_class_shares_and_repeats_with_the_seed():
    dataset = make_banded(train=200)
    x_fit, y_fit, x_val, y_val = split_train_val(dataset, 0.3, seed=1)
    assert np.bincount(y_val).tolist() == [6] * 10 and np.bincount(y_fit).tolist() == [14] * 10
    assert len(x_fit) == len(y_fit) == 140 and x_val.shape == (60, 28, 28)
    again = split_train_val(dataset, 0.3, seed=1)
    other = split_train_val(dataset, 0.3, seed=2)
    assert np.array_equal(again[2], x_val) and not np.array_equal(other[2], x_val)


def test_data_too_small_for_a_stratified_split_is_a_data_error():
    with pytest.raises(DataError, match="--val-fraction"):
        split_train_val(make_banded(train=20), 0.3, seed=0)  # 6 validation images, 10 classes


def test_models_have_the_expected_shapes():
    mlp = build_fashion_model("mlp")
    assert mlp.count_params() == 784 * 128 + 128 + 128 * 10 + 10  # the seed's network
    assert build_fashion_model("cnn").output_shape == (None, 10)
    with pytest.raises(ConfigError, match="unknown architecture"):
        build_fashion_model("rnn")
    with pytest.raises(DataError, match="grey images"):
        build_fashion_model("mlp", (32, 32, 3))


def test_run_reports_the_best_epoch_and_keeps_its_weights(banded_file, tmp_path):
    save = tmp_path / "best.keras"
    result = run(quick_config(banded_file, tmp_path, save=save, patience=1, epochs=4))
    assert [row["batch_size"] for row in result.runs] == [16, 32]
    assert [row["fit"] + row["val"] for row in result.class_counts] == [20] * 10
    for row in result.runs:
        history = row["history"]
        best = int(np.argmin(history["val_loss"]))
        assert row["epoch"] == row["best_epoch"] == best + 1 <= row["epochs_trained"] <= 4
        assert row["val_loss"] == history["val_loss"][best]
        assert row["train_accuracy"] == history["accuracy"][best]
        assert row["test_accuracy"] > 0.5  # the bands are easy to learn
        assert 0 < row["seconds"] < row["wall_seconds"] and row["images_per_second"] > 0
    record = result.record()
    assert set(record.metrics) == set(METRICS) and record.seed == 0
    assert record.metrics["val_accuracy"] == max(row["val_accuracy"] for row in result.runs)
    assert record.config["selection_split"] == "val" and record.config["early_stopping"] is True
    # The saved model is the best run at its best epoch: it scores what the record says.
    model = load_model(save)
    dataset = make_banded()
    _, _, x_val, y_val = split_train_val(dataset, 0.3, seed=0)
    val_loss, _ = model.evaluate(x_val, y_val, verbose=0)
    assert val_loss == pytest.approx(record.metrics["loss"], abs=1e-4)
    test = evaluate_classifier(model, dataset.x_test, dataset.y_test, CLASS_NAMES)
    assert test.accuracy == record.metrics["test_accuracy"]


def test_patience_0_trains_every_epoch_and_reports_the_last(banded_file, tmp_path):
    result = run(quick_config(banded_file, tmp_path, batch_sizes=(64,), learning_rates=(0.3,), epochs=4,
                              patience=0, lr_patience=0, save=tmp_path / "last.keras"))
    row = result.runs[0]
    assert row["epochs_trained"] == row["epoch"] == 4
    assert row["val_loss"] == row["history"]["val_loss"][-1] and row["val_accuracy"] == row["history"]["val_accuracy"][-1]
    assert result.settings["early_stopping"] is False and "last epoch" in result.settings["epoch_figures"]
    assert result.settings["lr_factor"] is None  # --lr-patience 0: the rate stays constant
    dataset = make_banded()
    test = evaluate_classifier(load_model(tmp_path / "last.keras"), dataset.x_test, dataset.y_test, CLASS_NAMES)
    assert test.accuracy == row["test_accuracy"]


def test_a_second_run_reuses_finished_runs_and_redoes_only_missing_ones(banded_file, tmp_path):
    first = run(quick_config(banded_file, tmp_path))
    assert first.execution["trained"] == 2 and first.execution["reused"] == 0
    records = sorted((tmp_path / "runs" / "runs").glob("*.json"))
    assert len(records) == 2 and len(list((tmp_path / "runs" / "runs").glob("*.keras"))) == 2
    records[0].unlink()  # as if the sweep had been interrupted before this run finished
    second = run(quick_config(banded_file, tmp_path))
    assert second.execution["trained"] == 1 and second.execution["reused"] == 1
    assert [row["reused"] for row in second.runs].count(True) == 1
    for old, new in zip(first.runs, second.runs):  # same seed, same numbers
        assert new["val_loss"] == old["val_loss"] and new["test_accuracy"] == old["test_accuracy"]
    changed = run(quick_config(banded_file, tmp_path, epochs=2, batch_sizes=(32,)))
    assert changed.execution["reused"] == 0  # other settings are other runs
    assert json.loads(records[1].read_text())["settings"]["epochs"] == 3


def damage_model_file(record_path):
    record_path.with_suffix(".keras").unlink()


def damage_model_bytes(record_path):
    model = record_path.with_suffix(".keras")
    model.write_bytes(model.read_bytes()[:-10])


def empty_result(record_path):
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps(record | {"result": {}}))


def nan_accuracy(record_path):
    record = json.loads(record_path.read_text())
    record["result"]["val_accuracy"] = None
    record_path.write_text(json.dumps(record))


def not_a_record(record_path):
    record_path.write_text("[1, 2]")


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A sweep folder holding one finished run (trained once for all the damage tests)."""
    folder = tmp_path_factory.mktemp("finished")
    data = save_dataset(make_banded(), folder / "banded.h5")
    return data, run(quick_config(data, folder, batch_sizes=(32,), epochs=1)), folder / "runs"


@pytest.mark.parametrize("damage", [damage_model_file, damage_model_bytes, empty_result, nan_accuracy, not_a_record])
def test_a_stored_run_that_does_not_match_its_files_is_retrained(finished_sweep, tmp_path, damage):
    data, first, finished = finished_sweep
    shutil.copytree(finished, tmp_path / "runs")
    damage(next((tmp_path / "runs" / "runs").glob("*.json")))
    save = tmp_path / "best.keras"
    second = run(quick_config(data, tmp_path, batch_sizes=(32,), epochs=1, save=save))
    assert second.execution["trained"] == 1 and second.execution["reused"] == 0
    assert second.runs[0]["val_loss"] == first.runs[0]["val_loss"]
    assert load_model(save).count_params() > 0  # --save copies a complete model


def test_an_intact_stored_run_is_reused(finished_sweep, tmp_path):
    data, first, finished = finished_sweep
    shutil.copytree(finished, tmp_path / "runs")
    again = run(quick_config(data, tmp_path, batch_sizes=(32,), epochs=1))
    assert again.execution["reused"] == 1 and again.runs[0]["test_accuracy"] == first.runs[0]["test_accuracy"]


def test_a_busy_out_folder_is_refused(banded_file, tmp_path):
    with RunStore(tmp_path / "runs").lock():  # another sweep at work in the folder
        with pytest.raises(MlkitError, match="busy"):
            run(quick_config(banded_file, tmp_path))
    assert run(quick_config(banded_file, tmp_path, batch_sizes=(32,), epochs=1)).execution["trained"] == 1


@pytest.mark.parametrize("changes, message", [
    ({"val_fraction": 1.5}, "--val-fraction"),
    ({"arch": "rnn"}, "--arch"),
    ({"batch_sizes": (0,)}, "--batch-sizes"),
    ({"batch_sizes": (10 ** 9,)}, "--batch-sizes"),
    ({"learning_rates": (math.nan,)}, "--learning-rates"),
    ({"learning_rates": (math.inf,)}, "--learning-rates"),
    ({"learning_rates": (0.0,)}, "--learning-rates"),
    ({"batch_sizes": tuple(range(1, 12)), "learning_rates": tuple(0.001 * k for k in range(1, 11))}, "at most 100"),
    ({"epochs": 1001}, "--epochs"),
    ({"patience": -1}, "--patience"),
    ({"jobs": 65}, "--jobs"),
    ({"threads": 0}, "--threads"),
    ({"address": "ray://x:1"}, "--address"),
    ({"executor": "slurm"}, "--executor"),
    ({"save": "best.h5"}, "--save"),
])
def test_bad_settings_are_config_errors_and_store_nothing(banded_file, tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        run(quick_config(banded_file, tmp_path, **changes))
    assert not (tmp_path / "runs").exists()


def test_images_the_networks_cannot_take_are_data_errors(tmp_path):
    colour = Dataset("colour", np.zeros((40, 8, 8, 3), np.uint8), np.arange(40) % 10,
                     np.zeros((10, 8, 8, 3), np.uint8), np.arange(10), CLASS_NAMES)
    with pytest.raises(DataError, match="grey images"):
        run(quick_config(save_dataset(colour, tmp_path / "colour.h5"), tmp_path))


def test_the_last_split_holds_out_the_tail_of_the_training_file_as_keras_validation_split():
    dataset = make_banded(train=200)
    x_fit, y_fit, x_val, y_val = split_train_val(dataset, 0.3, seed=1, how="last")
    assert np.array_equal(x_fit, dataset.x_train[:140]) and np.array_equal(y_val, dataset.y_train[140:])
    assert split_train_val(dataset, 0.3, seed=2, how="last")[3].tolist() == y_val.tolist()  # no draw


def test_the_seed_recipe_sets_the_seeds_schedule_and_split_unless_an_option_overrides_it():
    seed = FashionSweepConfig.from_recipe("seed", epochs=15, patience=None)
    assert (seed.patience, seed.lr_patience, seed.val_split, seed.epochs) == (0, 0, "last", 15)
    assert FashionSweepConfig.from_recipe("seed", patience=3).patience == 3
    default = FashionSweepConfig.from_recipe()
    assert (default.patience, default.lr_patience, default.val_split) == (5, 2, "stratified")
    with pytest.raises(ConfigError, match="--recipe"):
        FashionSweepConfig.from_recipe("keras2")
    with pytest.raises(ConfigError, match="--val-split"):
        FashionSweepConfig(val_split="random").check()
