"""The one training path (mlkit.training.fit): history, timing, early stopping, checkpoints, loading."""

import json

import numpy as np
import pytest

from mlkit.errors import ModelError
from mlkit.pipelines import array_batches, is_arrays
from mlkit.plots import plot_curves
from mlkit.results import to_jsonable
from mlkit.training import FitOptions, fit, load_model, read_checkpoint, save_model, set_seed


def tiny_model():
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, activation="softmax")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def tiny_data(count=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def test_array_batches_gather_every_row_once_per_pass_in_a_new_order():
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    dataset = array_batches({"a": x}, np.arange(10), 4, shuffle=True)
    assert dataset.options().autotune.enabled is False  # why: mlkit.pipelines
    passes = [[(np.asarray(xs["a"]), np.asarray(ys)) for xs, ys in dataset] for _ in range(2)]
    for batches in passes:
        assert [len(ys) for _, ys in batches] == [4, 4, 2]
        rows = np.concatenate([ys for _, ys in batches])
        assert sorted(rows) == list(range(10))
        assert all(xs.dtype == np.float32 and np.array_equal(xs, x[ys]) for xs, ys in batches)
    assert not np.array_equal(*(np.concatenate([ys for _, ys in batches]) for batches in passes))
    in_order = array_batches(x, np.arange(10), 4, shuffle=False)
    assert np.concatenate([np.asarray(ys) for _, ys in in_order]).tolist() == list(range(10))


def test_seeded_passes_come_in_new_orders_that_repeat_with_the_seed():
    # Keras' own array pipeline, seeded so, deals every epoch in the same order (mlkit.pipelines).
    def first_rows_of_three_passes():
        set_seed(0)
        dataset = array_batches(np.zeros((20, 1)), np.arange(20), 5, shuffle=True)
        return [np.asarray(next(iter(dataset))[1]).tolist() for _ in range(3)]

    passes = first_rows_of_three_passes()
    assert passes[0] != passes[1] != passes[2]
    assert first_rows_of_three_passes() == passes


def test_is_arrays_takes_what_keras_takes_as_arrays():
    x = np.zeros((3, 2))
    assert is_arrays(x) and is_arrays((x, x)) and is_arrays({"a": x})
    assert not is_arrays([]) and not is_arrays([x, [1, 2]]) and not is_arrays(object())


@pytest.mark.traced
def test_fit_records_history_times_training_and_checkpoints_the_best_epoch(tmp_path, capsys):
    set_seed(1)
    model, (x, y) = tiny_model(), tiny_data()
    options = FitOptions(epochs=3, batch_size=16, checkpoint=tmp_path / "best.keras", every_batches=2)
    outcome = fit(model, x, y, options=options, validation=(x, y))
    history = outcome.history
    assert history.num_epochs == outcome.epochs_run == outcome.epochs == 3
    assert set(history.epochs) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.batch_steps == [2, 4, 6, 8, 10, 12]  # 4 batches an epoch, counted across epochs
    assert outcome.at_best("val_accuracy") == max(history.epochs["val_accuracy"])
    assert outcome.images_per_second == pytest.approx(3 * 64 / outcome.train_seconds)
    assert 0 < outcome.train_seconds <= outcome.wall_seconds and len(outcome.epoch_seconds) == 3
    state = read_checkpoint(tmp_path / "best.keras")
    assert state["epoch"] == outcome.best_epoch and state["best"] == pytest.approx(outcome.at_best("val_accuracy"))
    assert (state["batch_size"], state["steps_per_epoch"], state["monitor"]) == (16, 4, "val_accuracy")
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 3/3" in captured.err
    json.dumps(to_jsonable(outcome.to_dict()))


def as_dataset(x, y):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def as_pydataset(x, y):
    import keras

    class Rows(keras.utils.PyDataset):
        def __len__(self):
            return len(x) // 16

        def __getitem__(self, index):
            return x[16 * index:16 * (index + 1)], y[16 * index:16 * (index + 1)]

    return Rows()


@pytest.mark.traced
@pytest.mark.parametrize("form", ["arrays", "dataset", "pydataset"])
def test_fit_traces_the_training_step_once(form):
    import keras

    traces = []

    class CountingModel(keras.Model):
        def train_step(self, data):
            traces.append(data)
            return super().train_step(data)

    built = tiny_model()
    model = CountingModel(built.inputs, built.outputs)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tiny_data()
    data = {"arrays": (x, y), "dataset": (as_dataset(x, y), None), "pydataset": (as_pydataset(x, y), None)}
    outcome = fit(model, *data[form], options=FitOptions(epochs=2, batch_size=16 if form == "arrays" else None,
                                                         monitor="accuracy", quiet=True))
    assert len(traces) == 1 and outcome.epochs_run == 2
    assert 0 <= outcome.last("accuracy") <= 1  # the metric built before training still counts every batch


def test_a_checkpoint_is_never_replaced_by_a_worse_epoch(tmp_path):
    model, (x, y) = tiny_model(), tiny_data()
    options = FitOptions(epochs=2, batch_size=16, checkpoint=tmp_path / "best.keras", best=1.5, quiet=True)
    fit(model, x, y, options=options, validation=(x, y))  # accuracy never exceeds 1.5
    assert not (tmp_path / "best.keras").exists()


def test_early_stopping_stops_and_a_resumed_run_counts_earlier_epochs():
    model, (x, y) = tiny_model(), tiny_data()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    # Validation labels are the opposite of training ones, so val_loss rises at once.
    outcome = fit(model, x, y, options=FitOptions(epochs=20, monitor="val_loss", patience=1, quiet=True),
                  validation=(x, 1 - y))
    assert outcome.epochs_run < 20 and outcome.best_epoch == 1
    resumed = fit(model, x, y, options=FitOptions(epochs=4, initial_epoch=3, monitor="val_loss", quiet=True),
                  validation=(x, y))
    assert (resumed.epochs_run, resumed.epochs, resumed.best_epoch) == (1, 4, 4)


def test_save_and_load_round_trip(tmp_path):
    model, (x, _) = tiny_model(), tiny_data()
    path = save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"] and read_checkpoint(path) is None


def test_load_errors_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_text("not a zip")
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(tmp_path / "bad.keras")
    with pytest.raises(ModelError, match="cannot read the training state"):
        read_checkpoint(tmp_path / "bad.keras")
    with pytest.raises(ModelError, match="must end in .keras"):
        save_model(tiny_model(), tmp_path / "m.txt")


def test_plot_curves_writes_a_png(tmp_path):
    runs = {"a": {"accuracy": [0.1, 0.5], "val_accuracy": [0.2, 0.4]}, "b": {"accuracy": [0.3, 0.6]}}
    path = plot_curves(runs, ["accuracy"], tmp_path / "curves.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
