import numpy as np
import pytest

from mlkit.schedules import warmup_cosine_decay
from mlkit.training import load_model, save_model

SETTINGS = {"initial_learning_rate": 1e-4, "decay_steps": 90, "alpha": 0.01, "warmup_target": 2e-3,
            "warmup_steps": 10}


@pytest.mark.parametrize("settings", [SETTINGS, SETTINGS | {"warmup_steps": 0}, {"initial_learning_rate": 0.1,
                                                                                   "decay_steps": 50}])
def test_warmup_cosine_decay_gives_keras_rate_at_every_step(settings):
    import keras

    ours, keras_own = warmup_cosine_decay()(**settings), keras.optimizers.schedules.CosineDecay(**settings)
    steps = range(0, settings["decay_steps"] + settings.get("warmup_steps", 0) + 5)
    assert [float(ours(step)) for step in steps] == [float(keras_own(step)) for step in steps]


def test_warmup_cosine_decay_traces_without_a_cond():
    import tensorflow as tf

    graph = tf.function(warmup_cosine_decay()(**SETTINGS)).get_concrete_function(tf.TensorSpec([], tf.int64)).graph
    assert not [op.type for op in graph.get_operations() if "If" in op.type]


def test_a_model_trained_on_the_cosine_schedule_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(warmup_cosine_decay()(**SETTINGS)), loss="mse")
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    loaded = load_model(save_model(model, tmp_path / "cosine.keras"))
    assert type(loaded.optimizer._learning_rate).__name__ == "WarmupCosineDecay"
    assert float(loaded.optimizer._learning_rate(30)) == float(model.optimizer._learning_rate(30))
