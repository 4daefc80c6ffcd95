"""Keras 2's batch normalisation statistics (mlkit/models/keras2_batch_norm.py), used by seed 002's preset."""

import numpy as np
import pytest

from mlkit.models.keras2_batch_norm import keras2_batch_normalization
from mlkit.training import load_model, save_model


@pytest.mark.traced
def test_moving_statistics_are_debiased_averages_of_the_batches_and_survive_a_save(tmp_path):
    import keras

    layer = keras2_batch_normalization()(momentum=0.9)
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (16, 5, 4)).astype("float32") for _ in range(3)]
    means, variances = np.zeros(4), np.zeros(4)
    for batch in batches:
        outputs = np.asarray(layer(batch, training=True))
        np.testing.assert_allclose(outputs.mean(axis=(0, 1)), 0, atol=1e-5)  # the batch's own statistics
        count = 16 * 5  # Keras 2.1 averaged the sample variance, n / (n - 1 - epsilon) times the batch's
        means = 0.9 * means + 0.1 * batch.mean(axis=(0, 1))
        variances = 0.9 * variances + 0.1 * batch.var(axis=(0, 1)) * count / (count - 1 - layer.epsilon)
    # Divided by 1 - 0.9^3: no trace of Keras 3's starting values 0 and 1.
    np.testing.assert_allclose(np.asarray(layer.moving_mean), means / (1 - 0.9**3), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.moving_variance), variances / (1 - 0.9**3), rtol=1e-5)
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, layer(inputs))
    inference = np.asarray(model(batches[0], training=False))
    expected = (batches[0] - means / (1 - 0.9**3)) / np.sqrt(variances / (1 - 0.9**3) + layer.epsilon)
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-5)
    loaded = load_model(save_model(model, tmp_path / "bn.keras"))
    np.testing.assert_allclose(loaded.predict(batches[1], verbose=0), model.predict(batches[1], verbose=0), rtol=1e-6)


def test_the_fused_kernel_leaves_keras2_layers_their_own_statistics():
    import keras

    from mlkit.fused_batch_norm import use_fused_batch_norm

    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras2_batch_normalization()()(keras.layers.BatchNormalization()(inputs)))
    assert use_fused_batch_norm(model) == 1  # Keras' own layer only
