"""mlkit.mnist_sum and mlkit.models.mnist_sum: sampling, symbols, HDF5 files, models, metrics."""

import numpy as np
import pytest

from mlkit.data import Dataset, save_dataset
from mlkit.errors import ConfigError, DataError
from mlkit.experiments.mnist_sum import CalcConfig, SumConfig
from mlkit.mnist_sum import (CHARS, ImagePool, SequenceData, decode_answers, encode_answer, layout_question,
                             load_sequences, make_calc_questions, make_sum_sequences, save_sequences,
                             split_pool, symbol_image)
from mlkit.mnist_sum.evaluation import calc_metrics, question_text, read_sums, sum_metrics
from mlkit.mnist_sum.images import load_digit_image
from mlkit.mnist_sum.limits import MAX_DIGITS, MAX_MEMBERS, MAX_SEQUENCES, MAX_SET_IMAGES, MAX_STEP_IMAGES
from mlkit.mnist_sum.symbols import BLANK, MINUS, PLUS
from mlkit.models.mnist_sum import EncoderConfig


def labelled_pool(count: int = 200) -> ImagePool:
    """Images whose first pixel is their label and second their index, so draws can be checked."""
    labels = np.arange(count) % 10
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = labels, np.arange(count) % 256
    return ImagePool(images, labels)


def test_layout_right_aligns_operands_around_the_operator():
    assert layout_question(48, 194, "add", 3) == [BLANK, 4, 8, PLUS, 1, 9, 4]
    assert layout_question(7, 0, "sub", 2) == [BLANK, 7, MINUS, BLANK, 0]
    with pytest.raises(ConfigError, match="--digits"):
        layout_question(1234, 1, "add", 3)


def test_answers_encode_and_decode_with_sign_and_padding():
    assert "".join(CHARS[c] for c in encode_answer(-83, 3)) == " -83"
    assert decode_answers(np.array([encode_answer(1998, 3), encode_answer(0, 3)])) == ["1998", "0"]
    one_hot = np.eye(len(CHARS))[np.array([encode_answer(42, 3)])]
    assert decode_answers(one_hot) == ["42"]


def test_symbol_images_are_a_plus_a_minus_and_black():
    plus, minus, blank = (symbol_image(code) for code in (PLUS, MINUS, BLANK))
    assert blank.max() == 0 and blank.shape == (28, 28)
    assert minus[14, 6:22].min() == 255 and minus[6:12, 14].max() == 0
    assert plus[6:22, 14].min() == 255 and (plus >= minus).all() and plus.sum() > minus.sum()


def test_sum_sequences_hold_images_of_their_digits_and_their_sum():
    pool = labelled_pool()
    sequences = make_sum_sequences(pool, 50, 7, np.random.default_rng(0))
    assert sequences.x.shape == (50, 7, 28, 28) and sequences.x.dtype == np.uint8
    assert (sequences.x[:, :, 0, 0] == sequences.slots).all()
    assert (sequences.target == sequences.slots.sum(axis=1)).all()
    with pytest.raises(ConfigError, match="--length"):
        make_sum_sequences(pool, 5, 0, np.random.default_rng(0))


@pytest.mark.parametrize("op", ["add", "sub"])
def test_calc_questions_are_laid_out_and_answered_right(op):
    questions = make_calc_questions(labelled_pool(), 200, op, 3, np.random.default_rng(1))
    assert questions.x.shape == (200, 7, 28, 28) and questions.target.shape == (200, 4)
    for text, answer in zip((question_text(row) for row in questions.slots), decode_answers(questions.target)):
        a, b = text.split("+" if op == "add" else "-")
        assert int(answer) == (int(a) + int(b) if op == "add" else int(a) - int(b))
    digit = questions.slots < 10
    assert (questions.x[digit][:, 0, 0] == questions.slots[digit]).all()
    assert (questions.x[:, 3] == symbol_image(PLUS if op == "add" else MINUS)).all()
    assert (questions.x[questions.slots == BLANK] == 0).all()
    widths = [len(question_text(row).split("+" if op == "add" else "-")[0]) for row in questions.slots]
    assert set(widths) == {1, 2, 3}
    if op == "sub":
        assert any(answer.startswith("-") for answer in decode_answers(questions.target))


@pytest.mark.parametrize("op", ["add", "sub"])
def test_full_width_questions_write_every_digit_leading_zeros_included(op):
    questions = make_calc_questions(labelled_pool(), 300, op, MAX_DIGITS, np.random.default_rng(2), full_width=True)
    assert questions.x.shape == (300, 2 * MAX_DIGITS + 1, 28, 28) and (questions.slots != BLANK).all()
    assert (questions.slots[:, 0] == 0).any()
    places = 10 ** np.arange(MAX_DIGITS - 1, -1, -1, dtype=np.int64)
    first, second = questions.slots[:, :MAX_DIGITS] @ places, questions.slots[:, MAX_DIGITS + 1:] @ places
    answers = [int(text) for text in decode_answers(questions.target)]
    assert answers == (first + second if op == "add" else first - second).tolist()
    digit = questions.slots < 10
    assert (questions.x[digit][:, 0, 0] == questions.slots[digit]).all()


def test_split_pool_is_disjoint_stratified_and_seeded():
    pool = labelled_pool(240)
    train, validation = split_pool(pool, 1 / 12, seed=3)
    assert len(train) + len(validation) == 240 and len(validation) == 20
    assert set(train.images[:, 0, 1]).isdisjoint(validation.images[:, 0, 1])
    assert np.bincount(validation.labels, minlength=10).tolist() == [2] * 10
    again = split_pool(pool, 1 / 12, seed=3)[1]
    assert (again.images == validation.images).all()


def test_pool_rejects_images_that_are_not_digits():
    with pytest.raises(DataError, match="28x28"):
        ImagePool(np.zeros((4, 32, 32, 3), dtype=np.uint8), np.zeros(4))
    with pytest.raises(DataError, match="0-9"):
        ImagePool(np.zeros((4, 28, 28), dtype=np.uint8), np.array([0, 1, 2, 11]))
    with pytest.raises(DataError, match="uint8"):
        ImagePool(np.full((4, 28, 28), np.nan, dtype=np.float32), np.arange(4))


def sequence_data(task: str = "calc") -> SequenceData:
    pool, rng = labelled_pool(), np.random.default_rng(2)
    make = (lambda n: make_calc_questions(pool, n, "sub", 2, rng)) if task == "calc" else \
        (lambda n: make_sum_sequences(pool, n, 4, rng))
    return SequenceData(make(12), make(5), make(6), source="test")


def test_sequence_file_round_trip_keeps_arrays_and_settings(tmp_path):
    data = sequence_data()
    loaded = load_sequences(save_sequences(data, tmp_path / "calc.h5"), "calc")
    for split in ("train", "validation", "test"):
        before, after = getattr(data, split), getattr(loaded, split)
        assert (before.x == after.x).all() and (before.slots == after.slots).all()
        assert (before.target == after.target).all()
    assert loaded.train.attrs == {"op": "sub", "digits": 2} and loaded.source == "test"
    assert ImagePool.from_sequences(loaded.test).labels.tolist() == loaded.test.slots[loaded.test.slots < 10].tolist()


def test_sequence_files_of_the_wrong_kind_task_or_state_are_refused(tmp_path):
    path = save_sequences(sequence_data("sum"), tmp_path / "sum.h5")
    with pytest.raises(DataError, match="needs 'calc'"):
        load_sequences(path, "calc")
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    other = save_dataset(Dataset("d", images, np.arange(10), images, np.arange(10), list("0123456789"), source="x"),
                         tmp_path / "images.h5")
    with pytest.raises(DataError, match="not digit sequences"):
        load_sequences(other)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError):
        load_sequences(broken)


def test_sum_metrics_and_calc_metrics_values():
    data = sequence_data("sum").test
    predicted = data.target + np.array([0.4, -0.6, 0.0, 1.0, 0.2, -0.2])
    metrics = sum_metrics(predicted, data, digits=data.slots)
    assert metrics["mae"] == pytest.approx(2.4 / 6) and metrics["exact_match"] == pytest.approx(4 / 6)
    assert metrics["rmse"] == pytest.approx(np.sqrt((0.16 + 0.36 + 1 + 0.04 + 0.04) / 6))
    assert metrics["digit_accuracy"] == 1.0
    calc = sequence_data("calc").test
    codes = calc.target.copy()
    codes[0, -1] = (codes[0, -1] + 1) % 10
    read = calc.slots.copy()
    digit = np.argwhere(read < 10)[0]
    read[tuple(digit)] = (read[tuple(digit)] + 1) % 10
    scores = calc_metrics(codes, calc, read)
    assert scores["exact_match"] == pytest.approx(5 / 6)
    assert scores["char_accuracy"] == pytest.approx(1 - 1 / codes.size)
    assert scores["digit_accuracy"] == pytest.approx(1 - 1 / (calc.slots < 10).sum())


def test_sums_are_read_as_the_most_likely_sum_of_the_distribution():
    distribution = np.array([[0.0, 0.6, 0.0, 0.4],    # likeliest 1, expected 1.8
                             [0.4, 0.0, 0.35, 0.25],  # likeliest 0, though the median is 2; expected 1.45
                             [0.0, 0.0, 1.0, 0.0]])   # sure: 2
    likeliest, expected = read_sums(distribution)
    assert likeliest.tolist() == [1, 0, 2]
    np.testing.assert_allclose(expected, [1.8, 1.45, 2.0])


def test_regrouped_sums_keep_the_images_and_deal_new_sequences_each_epoch():
    from mlkit.mnist_sum.regrouping import RegroupedSums

    sequences = make_sum_sequences(labelled_pool(), 10, 3, np.random.default_rng(0))
    batches = RegroupedSums(sequences, batch_size=4, seed=0)
    assert len(batches) == 3

    def epoch():
        parts = [batches[index] for index in range(len(batches))]
        return np.concatenate([images for images, _ in parts]), np.concatenate([sums for _, sums in parts])

    first_images, first_sums = epoch()
    np.testing.assert_array_equal(first_images, sequences.x)
    np.testing.assert_array_equal(first_sums, sequences.target)
    batches.on_epoch_end()
    images, sums = epoch()
    assert images.shape == sequences.x.shape and not np.array_equal(images, sequences.x)
    # Pixel (0, 0) holds each image's digit and (0, 1) its index: the same images, summed right.
    np.testing.assert_array_equal(sums, images[:, :, 0, 0].sum(axis=1))
    assert sorted(images[:, :, 0, 1].ravel()) == sorted(sequences.x[:, :, 0, 1].ravel())


def test_digit_images_are_read_greyscale_28x28_and_inverted_when_light(tmp_path):
    from PIL import Image

    dark_on_light = np.full((56, 56, 3), 255, dtype=np.uint8)
    dark_on_light[20:36, 26:30] = 0
    Image.fromarray(dark_on_light).save(tmp_path / "one.png")
    image = load_digit_image(tmp_path / "one.png")
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert image[14, 14] > 200 and image[2, 2] < 30
    (tmp_path / "note.png").write_text("not an image")
    with pytest.raises(DataError, match="not a readable image"):
        load_digit_image(tmp_path / "note.png")


def test_eighteen_digit_questions_are_still_answered_right():
    # MAX_DIGITS: the operands are 64-bit integers, and 18 digits is the most whose sum fits one.
    questions = make_calc_questions(labelled_pool(), 20, "add", MAX_DIGITS, np.random.default_rng(4))
    for text, answer in zip((question_text(row) for row in questions.slots), decode_answers(questions.target)):
        a, b = text.split("+")
        assert int(answer) == int(a) + int(b)
    with pytest.raises(ConfigError, match="--digits must be 1 to 18"):
        make_calc_questions(labelled_pool(), 2, "add", MAX_DIGITS + 1, np.random.default_rng(4))


@pytest.mark.parametrize("config, message", [
    (SumConfig(eval_lengths=(5, 100_000_000)), "--eval-lengths must be 1 to 100"),
    (SumConfig(length=0), "--length"),
    (SumConfig(members=MAX_MEMBERS + 1), "--members"),
    (SumConfig(test_sequences=MAX_SET_IMAGES // 20 + 1), "more than the 4,000,000"),
    (SumConfig(train_sequences=MAX_SEQUENCES + 1), "--train-sequences"),
    (SumConfig(learning_rate=float("nan")), "--learning-rate"),
    (SumConfig(batch_size=MAX_STEP_IMAGES // 20 + 1), "images a step, more than 16,384"),
    (CalcConfig(batch_size=0), "--batch-size"),
    (SumConfig(encoder=EncoderConfig(shift=float("inf"))), "--shift"),
    (CalcConfig(digits=50), "--digits must be 1 to 18"),
    (CalcConfig(op="mul"), "--op"),
    (CalcConfig(epochs=0), "--epochs"),
    (CalcConfig(benchmark_digits=(4, 19)), "--benchmark-digits must be 1 to 18"),
    (CalcConfig(members=0), "--members"),
    (CalcConfig(digits=15, batch_size=600), "images a step, more than 16,384"),
])
def test_settings_outside_the_named_limits_are_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        config.check()


def test_the_default_settings_are_within_the_limits():
    SumConfig().check()
    CalcConfig().check()
    # The calculator trains on the same number of slots for any --digits.
    assert CalcConfig(digits=15).train_sequences * 31 <= CalcConfig(digits=1).train_sequences * 3


def test_digit_images_too_small_to_show_a_digit_are_refused(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 30), dtype=np.uint8)).save(tmp_path / "thin.png")
    with pytest.raises(DataError, match="30x4 pixels; a digit image needs at least 8 a side"):
        load_digit_image(tmp_path / "thin.png")
