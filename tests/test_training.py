"""Shared training pieces: history capture, early stopping, atomic best-model saving, loading."""

import json

import numpy as np
import pytest

from mlkit.errors import ModelError
from mlkit.plots import plot_curves
from mlkit.results import to_jsonable
from mlkit.training import History, load_model, save_model, set_seed, training_callbacks


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


def test_history_per_epoch_and_every_n_batches(tmp_path, capsys):
    set_seed(1)
    model, (x, y), history = tiny_model(), tiny_data(), History()
    callbacks = training_callbacks(history, checkpoint=tmp_path / "best.keras", every_batches=2)
    model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=16, verbose=0, callbacks=callbacks)
    assert history.num_epochs == 3 and set(history.epochs) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.batch_steps == [2, 4, 6, 8, 10, 12]  # 4 batches an epoch, counted across epochs
    assert (tmp_path / "best.keras").is_file()
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 3/3" in captured.err
    json.dumps(to_jsonable(history))


def test_early_stopping_restores_best(tmp_path):
    model, (x, y), history = tiny_model(), tiny_data(), History()
    callbacks = training_callbacks(history, monitor="val_loss", patience=1, quiet=True)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    # Validation labels are the opposite of training ones, so val_loss rises at once.
    model.fit(x, y, validation_data=(x, 1 - y), epochs=20, verbose=0, callbacks=callbacks)
    assert history.num_epochs < 20


def test_save_and_load_round_trip(tmp_path):
    model, (x, _) = tiny_model(), tiny_data()
    path = save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_load_errors_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_text("not a zip")
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(tmp_path / "bad.keras")
    with pytest.raises(ModelError, match="must end in .keras"):
        save_model(tiny_model(), tmp_path / "m.txt")


def test_plot_curves_writes_a_png(tmp_path):
    runs = {"a": {"accuracy": [0.1, 0.5], "val_accuracy": [0.2, 0.4]}, "b": {"accuracy": [0.3, 0.6]}}
    path = plot_curves(runs, ["accuracy"], tmp_path / "curves.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
