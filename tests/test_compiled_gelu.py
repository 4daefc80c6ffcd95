"""airbench's compiled GELU: Keras' exact GELU, its gradient too, in one XLA kernel."""

import numpy as np
import pytest

from mlkit.models.compiled_gelu import compiled_gelu
from mlkit.training import load_model, save_model


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-6), ("bfloat16", 1e-2)])
def test_compiled_gelu_is_the_exact_gelu_forward_and_backward(dtype, tolerance):
    import keras
    import tensorflow as tf

    x = tf.cast(tf.linspace(-6.0, 6.0, 241), dtype)

    def value_and_gradient(function):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return y, tape.gradient(y, x)

    fused, fused_gradient = value_and_gradient(compiled_gelu())
    plain, plain_gradient = value_and_gradient(lambda v: keras.activations.gelu(v, approximate=False))
    assert fused.dtype == x.dtype and fused_gradient.dtype == x.dtype
    as_float = lambda tensor: np.asarray(tf.cast(tensor, tf.float32))  # noqa: E731
    np.testing.assert_allclose(as_float(fused), as_float(plain), atol=tolerance, rtol=tolerance)
    np.testing.assert_allclose(as_float(fused_gradient), as_float(plain_gradient), atol=tolerance, rtol=tolerance)
    assert as_float(fused)[0] == pytest.approx(0, abs=1e-6) and as_float(fused)[-1] == pytest.approx(6, rel=1e-2)


def test_a_model_with_the_compiled_gelu_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Activation(compiled_gelu(), name="gelu")(keras.layers.Dense(3)(inputs)))
    save_model(model, tmp_path / "gelu.keras")
    loaded = load_model(tmp_path / "gelu.keras")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert loaded.get_layer("gelu").activation is compiled_gelu()
