"""The Deep Sets sum model and the column calculator: invariances, exact arithmetic, saving."""

import itertools

import numpy as np
import pytest

from mlkit.mnist_sum import ImagePool, make_calc_questions
from mlkit.mnist_sum.columns import answer_columns, column_answers
from mlkit.mnist_sum.evaluation import digit_probabilities, distinct_images, sum_distribution
from mlkit.models.mnist_calc import (answer_log_likelihood, answer_marginals, build_calc_model, build_digit_reader,
                                    calc_model_for, column_trainer, column_values, reading_view)
from mlkit.models.mnist_sum import (EncoderConfig, build_sum_model, ensemble_size,
                                   member_losses, sum_distribution_model)
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


def test_scoring_reads_each_distinct_image_once_with_the_same_numbers(sum_model):
    x = np.random.default_rng(8).integers(0, 256, (6, 4, 28, 28), dtype=np.uint8)
    x[3:] = x[:3, ::-1]  # every image twice
    images, where = distinct_images(x)
    assert len(images) == 12 and (images[where] == x).all()
    distribution, digits = sum_distribution_model(sum_model, 4, with_digits=True).predict(x, verbose=0)
    np.testing.assert_allclose(digit_probabilities(sum_model, x), digits, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sum_distribution(digits), distribution, rtol=1e-4, atol=1e-7)


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


@pytest.fixture(scope="module")
def calc_model():
    import keras

    keras.utils.set_random_seed(0)
    return build_calc_model(3, "add", build_digit_reader(EncoderConfig(filters=(4, 4), units=8), members=2))


def test_saved_models_load_in_safe_mode_with_the_same_outputs(sum_model, calc_model, tmp_path):
    x = np.random.default_rng(2).integers(0, 256, (2, 7, 28, 28), dtype=np.uint8)
    for model in (sum_model, calc_model):
        loaded = load_model(save_model(model, tmp_path / f"{model.name}.keras"))
        assert loaded.name == model.name
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def one_hot_readings(slots: np.ndarray) -> np.ndarray:
    """(questions, 1 member, slots, 10) readings that are sure of every digit; other slots read 0."""
    return np.eye(10, dtype="float32")[np.where(slots < 10, slots, 0)][:, None]


@pytest.mark.parametrize("op, full_width", [("add", False), ("sub", False), ("add", True), ("sub", True)])
def test_carries_over_sure_readings_give_the_exact_answer(op, full_width):
    pool = ImagePool(np.ones((20, 28, 28), dtype=np.uint8), np.arange(20) % 10)
    questions = make_calc_questions(pool, 300, op, 4, np.random.default_rng(5), full_width=full_width)
    values = column_values(one_hot_readings(questions.slots), op)
    marginals = np.asarray(answer_marginals(values, op))[:, 0]
    np.testing.assert_array_equal(column_answers(marginals, op), questions.target)
    columns = answer_columns(questions.target, op, 4)
    np.testing.assert_array_equal(marginals.argmax(axis=-1), columns)
    log_likelihood = np.asarray(answer_log_likelihood(values, columns[:, None], op))
    np.testing.assert_allclose(log_likelihood, 0, atol=1e-5)


@pytest.mark.parametrize("op", ["add", "sub"])
def test_every_answer_s_probability_sums_to_one_and_matches_the_marginals(op):
    readings = np.random.default_rng(6).dirichlet(np.ones(10), size=(1, 1, 5)).astype("float32")
    values = column_values(readings, op)
    answers = np.array(list(itertools.product(range(10), range(10), range(2))))
    probability = np.exp(np.asarray(answer_log_likelihood(values, answers[:, None], op)))[:, 0]
    assert probability.sum() == pytest.approx(1, abs=1e-4)
    marginals = np.asarray(answer_marginals(values, op))[0, 0]
    for column in range(3):
        by_digit = np.bincount(answers[:, column], weights=probability, minlength=10)
        np.testing.assert_allclose(marginals[column], by_digit, atol=1e-5)


def test_blank_slots_read_zero_and_one_reader_serves_every_width(calc_model):
    x = np.random.default_rng(7).integers(1, 256, (2, 7, 28, 28), dtype=np.uint8)
    x[:, 0] = 0
    columns, readings = reading_view(calc_model).predict(x, verbose=0)
    assert readings.shape == (2, 2, 7, 10) and columns.shape == (2, 4, 10)
    np.testing.assert_array_equal(readings[:, :, 0], np.eye(10)[np.zeros((2, 2), dtype=int)])
    np.testing.assert_allclose(columns.sum(axis=-1), 1, rtol=1e-5)
    wide = calc_model_for(calc_model, 15)
    assert wide.input_shape[1] == 31 and wide.output_shape[1:] == (16, 10)
    assert wide.get_layer("digit_reader") is calc_model.get_layer("digit_reader")
    assert column_trainer(calc_model).output_shape[1:] == (2, 3, 19)
