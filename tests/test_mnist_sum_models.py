"""The Deep Sets sum model and the calculator model: invariances, shapes, saving."""

import numpy as np
import pytest

from mlkit.models.mnist_sum import (EncoderConfig, build_calc_model, build_sum_model, custom_objects,
                                   ensemble_size, member_losses, sum_distribution_model)
from mlkit.training import load_model, save_model


@pytest.fixture(scope="module")
def sum_model():
    import keras

    keras.utils.set_random_seed(0)
    return build_sum_model()


def test_sum_model_is_permutation_invariant_and_additive_over_any_length(sum_model):
    x = np.random.default_rng(0).integers(0, 256, (4, 9, 28, 28), dtype=np.uint8)
    whole = sum_model.predict(x, verbose=0)[:, 0]
    shuffled = sum_model.predict(x[:, ::-1], verbose=0)[:, 0]
    parts = sum_model.predict(x[:, :4], verbose=0)[:, 0] + sum_model.predict(x[:, 4:], verbose=0)[:, 0]
    np.testing.assert_allclose(shuffled, whole, rtol=1e-5)
    np.testing.assert_allclose(parts, whole, rtol=1e-5)


def test_sum_is_the_expected_digit_value_of_every_image(sum_model):
    x = np.random.default_rng(1).integers(0, 256, (3, 5, 28, 28), dtype=np.uint8)
    sums = sum_model.predict(x, verbose=0)
    _, digits = sum_distribution_model(sum_model, 5, with_digits=True).predict(x, verbose=0)
    assert digits.shape == (3, 5, 10)
    np.testing.assert_allclose(digits.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(sums[:, 0], (digits * np.arange(10)).sum(axis=(1, 2)), rtol=1e-5)
    assert not sum_model.get_layer("digit_values").trainable


def test_sum_distribution_is_the_convolution_of_the_digit_distributions(sum_model):
    x = np.random.default_rng(2).integers(0, 256, (3, 4, 28, 28), dtype=np.uint8)
    distribution, digits = sum_distribution_model(sum_model, 4, with_digits=True).predict(x, verbose=0)
    for row in range(3):
        expected = digits[row, 0]
        for position in range(1, 4):
            expected = np.convolve(expected, digits[row, position])
        np.testing.assert_allclose(distribution[row], expected, rtol=1e-4, atol=1e-7)
    assert distribution.shape == (3, 37)


def test_an_ensemble_averages_its_members_and_trains_each_on_its_own_loss():
    import keras

    keras.utils.set_random_seed(3)
    model = build_sum_model(EncoderConfig(filters=(4, 8), units=8), members=3)
    assert ensemble_size(model) == 3
    x = np.random.default_rng(3).integers(0, 256, (4, 5, 28, 28), dtype=np.uint8)
    stacked = sum_distribution_model(model, 5, per_member=True).predict(x, verbose=0)
    averaged = sum_distribution_model(model, 5).predict(x, verbose=0)
    assert stacked.shape == (4, 3, 46)
    members = [keras.Model(model.inputs, model.get_layer(f"digit_probabilities_{n}").output) for n in (1, 2, 3)]
    digits = np.mean([member.predict(x, verbose=0) for member in members], axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], (digits * np.arange(10)).sum(axis=(1, 2)), rtol=1e-5)
    assert not np.allclose(stacked[:, 0], stacked[:, 1])  # members start apart
    # The sums' distribution under averaged digits is not the average of the members' ones.
    assert averaged.shape == (4, 46) and not np.allclose(averaged, stacked.mean(axis=1))
    loss, accuracy = member_losses()
    sums = np.array([3, 10, 20, 45])
    each = [keras.losses.sparse_categorical_crossentropy(sums, stacked[:, n]) for n in range(3)]
    np.testing.assert_allclose(loss(sums, stacked), np.stack(each, axis=1), rtol=1e-5)
    hits = (stacked.mean(axis=1).argmax(axis=1) == sums).astype("float32")
    np.testing.assert_allclose(accuracy(sums, stacked), hits)


def test_shifted_training_images_do_not_change_predictions():
    import keras

    keras.utils.set_random_seed(5)
    model = build_sum_model(EncoderConfig(shift=0.2))
    x = np.random.default_rng(5).integers(0, 256, (2, 3, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    encoder = model.get_layer("per_image_cnn").layer
    shift = next(layer for layer in encoder.layers if isinstance(layer, keras.layers.RandomTranslation))
    images = x[0, ..., None].astype("float32")
    np.testing.assert_array_equal(shift(images, training=False), images)
    assert not np.allclose(shift(images, training=True), images)


def test_saved_models_load_in_safe_mode_with_the_same_outputs(sum_model, tmp_path):
    x = np.random.default_rng(2).integers(0, 256, (2, 7, 28, 28), dtype=np.uint8)
    calc = build_calc_model(digits=3, num_chars=13, units=16)
    for model in (sum_model, calc):
        loaded = load_model(save_model(model, tmp_path / f"{model.name}.keras"), custom_objects())
        assert loaded.name == model.name
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def test_calc_model_gives_a_distribution_per_answer_character():
    model = build_calc_model(digits=2, num_chars=13, units=8)
    x = np.random.default_rng(3).integers(0, 256, (2, 5, 28, 28), dtype=np.uint8)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (2, 3, 13)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, rtol=1e-5)
    columns = model.get_layer("carry_column").output.shape
    assert tuple(columns[1:2]) == (3,)


def test_calc_columns_pair_digits_of_the_same_place_value():
    import keras

    model = build_calc_model(digits=3, num_chars=13, units=4)
    columns = keras.Model(model.inputs, model.get_layer("columns").output)
    features = keras.Model(model.inputs, model.get_layer("per_image_cnn").output)
    x = np.random.default_rng(4).integers(0, 256, (1, 7, 28, 28), dtype=np.uint8)
    per_slot, stacked = features.predict(x, verbose=0)[0], columns.predict(x, verbose=0)[0]
    width = per_slot.shape[1]
    for column in range(3):
        np.testing.assert_allclose(stacked[column, :width], per_slot[column], rtol=1e-6)
        np.testing.assert_allclose(stacked[column, width:2 * width], per_slot[4 + column], rtol=1e-6)
        np.testing.assert_allclose(stacked[column, 2 * width:], per_slot[3], rtol=1e-6)
