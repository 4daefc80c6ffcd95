"""mlkit.fused_batch_norm: Keras' BatchNormalization computed by TensorFlow's fused kernel."""

import numpy as np
import pytest

from mlkit.fused_batch_norm import use_fused_batch_norm


def two_models(policy: str = "float32", **options):
    """The same batch-norm network twice (same weights), the second one fused."""
    import keras

    def build():
        inputs = keras.Input((6, 5, 4))
        x = keras.layers.BatchNormalization(momentum=0.6, dtype=policy, **options)(inputs)
        return keras.Model(inputs, keras.layers.Flatten()(x))

    plain, fused = build(), build()
    fused.set_weights(plain.get_weights())
    assert use_fused_batch_norm(fused) == 1
    return plain, fused


@pytest.mark.parametrize("options", [{}, {"scale": False}, {"center": False}])
def test_fused_batch_norm_computes_what_keras_does(options):
    images = np.random.default_rng(0).normal(2.0, 3.0, (8, 6, 5, 4)).astype("float32")
    plain, fused = two_models(**options)
    np.testing.assert_allclose(np.asarray(fused(images, training=True)), np.asarray(plain(images, training=True)),
                               rtol=1e-4, atol=1e-4)
    for ours, theirs in zip(fused.get_weights(), plain.get_weights()):  # moving statistics updated alike
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fused(images, training=False)), np.asarray(plain(images, training=False)),
                               rtol=1e-4, atol=1e-4)


def test_fused_batch_norm_in_mixed_bfloat16_and_a_saved_model_stays_keras_own(tmp_path):
    import keras

    images = np.random.default_rng(1).normal(size=(8, 6, 5, 4)).astype("float32")
    plain, fused = two_models("mixed_bfloat16")
    output = fused.layers[1](images, training=True)
    assert output.dtype.name == "bfloat16"  # the batch norm's own output, before Flatten's float32
    expected = plain.layers[1](images, training=True)
    np.testing.assert_allclose(np.asarray(output, "float32"), np.asarray(expected, "float32"), atol=0.05)
    fused.save(tmp_path / "fused.keras")
    loaded = keras.saving.load_model(tmp_path / "fused.keras", safe_mode=True)
    assert type(loaded.layers[1]) is keras.layers.BatchNormalization
    np.testing.assert_allclose(np.asarray(loaded(images), "float32"), np.asarray(fused(images), "float32"), atol=0.05)
