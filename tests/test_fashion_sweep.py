"""The fashion-sweep library: stratified split, models, one run's numbers, resuming from --out."""

import json

import numpy as np
import pytest

from mlkit.data import Dataset, save_dataset
from mlkit.errors import ConfigError
from mlkit.experiments.fashion_run import split_train_val
from mlkit.experiments.fashion_sweep import FashionSweepConfig, run
from mlkit.models.fashion import build_fashion_model
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


def test_split_too_small_for_stratification_is_a_config_error():
    with pytest.raises(ConfigError, match="--val-fraction"):
        split_train_val(make_banded(train=20), 0.3, seed=0)  # 6 validation images, 10 classes


def test_models_have_the_expected_shapes():
    mlp = build_fashion_model("mlp")
    assert mlp.count_params() == 784 * 128 + 128 + 128 * 10 + 10  # the seed's network
    assert build_fashion_model("cnn").output_shape == (None, 10)
    with pytest.raises(ConfigError, match="unknown model"):
        build_fashion_model("rnn")


def test_run_reports_best_epoch_metrics_and_keeps_best_weights(banded_file, tmp_path):
    save = tmp_path / "best.keras"
    result = run(quick_config(banded_file, tmp_path, save=save, patience=1, epochs=4))
    assert [row["batch_size"] for row in result.runs] == [16, 32]
    assert [row["fit"] + row["val"] for row in result.class_counts] == [20] * 10
    for row in result.runs:
        history = row["history"]
        best = int(np.argmin(history["val_loss"]))
        assert row["best_epoch"] == best + 1 <= row["epochs_trained"] <= 4
        assert row["val_loss"] == history["val_loss"][best]
        assert row["train_accuracy"] == history["accuracy"][best]
        assert row["test_accuracy"] > 0.5  # the bands are easy to learn
    assert result.best["val_accuracy"] == max(row["val_accuracy"] for row in result.runs)
    # The saved model is the best run at its best epoch: it scores what the table says.
    model = load_model(save)
    dataset = make_banded()
    _, _, x_val, y_val = split_train_val(dataset, 0.3, seed=0)
    val_loss, _ = model.evaluate(x_val, y_val, verbose=0)
    _, test_accuracy = model.evaluate(dataset.x_test, dataset.y_test, verbose=0)
    assert val_loss == pytest.approx(result.best["val_loss"], abs=1e-4)
    assert test_accuracy == pytest.approx(result.best["test_accuracy"], abs=1e-6)


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
        assert new["val_loss"] == pytest.approx(old["val_loss"], abs=1e-6)
    changed = run(quick_config(banded_file, tmp_path, epochs=2, batch_sizes=(32,)))
    assert changed.execution["reused"] == 0  # other settings are other runs
    assert json.loads(records[1].read_text())["settings"]["epochs"] == 3


@pytest.mark.parametrize("changes, message", [
    ({"val_fraction": 1.5}, "--val-fraction"),
    ({"model": "rnn"}, "--model"),
    ({"batch_sizes": (0,)}, "--batch-sizes"),
    ({"address": "ray://x:1"}, "--address"),
    ({"executor": "slurm"}, "--executor"),
])
def test_bad_settings_are_config_errors(banded_file, tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        run(quick_config(banded_file, tmp_path, **changes))
