"""Arithmetic questions, token encoding, the seq2seq models and the exact-match scoring."""

import time
from pathlib import Path

import numpy as np
import pytest

from mlkit.arithmetic import (Task, decode, encode_answers, encode_questions, format_questions,
                              make_operands, parse_expression)
from mlkit.errors import ConfigError, MlkitError, ModelError
from mlkit.exact_match import ExactMatchScorer
from mlkit.experiments.seq2seq import MAX_TRAIN_SIZE, METRICS, Seq2SeqConfig, predict, run


def test_task_lengths_vocabulary_and_capacity():
    sub, mul = Task("sub", 3), Task("mul", 2)
    assert (sub.question_length, sub.answer_length, mul.answer_length) == (7, 4, 4)
    assert sub.tokens == ["", "[UNK]", *"0123456789", "-"]
    assert Task("add", 2).capacity == 100 * 101 // 2 and sub.capacity == 1000 * 1000
    assert Task.from_tokens(sub.tokens, 7) == sub
    with pytest.raises(ConfigError, match="unknown operation"):
        Task("div", 3)


def test_fifty_thousand_unique_questions_in_under_two_seconds():
    started = time.perf_counter()
    a, b = make_operands(Task("sub", 3), 50000, seed=0)
    assert time.perf_counter() - started < 2
    assert len(set(zip(a.tolist(), b.tolist()))) == 50000 and a.max() <= 999 and b.min() >= 0
    # Operand lengths are drawn uniformly (Keras example), so short operands are common
    # (drawing values uniformly would give 1% below 10; the 10,000 such pairs saturate).
    assert 0.1 < np.mean(a < 10) < 0.2
    np.testing.assert_array_equal(make_operands(Task("sub", 3), 50000, seed=0)[0], a)


def test_commutative_questions_count_once_and_capacity_caps():
    a, b = make_operands(Task("add", 2), 3000, seed=1)
    assert len({(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist())}) == 3000
    assert np.any(a > b) and np.any(a < b)  # shown in either order
    a, b = make_operands(Task("mul", 1), 1000, seed=1)
    assert len(a) == 55  # every unordered pair of 0..9, once


def test_most_or_all_of_the_questions_come_quickly_with_the_same_odds():
    started = time.perf_counter()
    a, b = make_operands(Task("add", 3), 10**6, seed=0)  # every one of the 500,500: minutes by drawing alone
    assert time.perf_counter() - started < 3
    assert len({(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist())}) == 500_500
    # Just below a quarter of them they are drawn, just above picked at once: the same odds.
    drawn, picked = (make_operands(Task("sub", 3), count, seed=1)[0] for count in (249_000, 251_000))
    assert abs(np.mean(drawn < 10) - np.mean(picked < 10)) < 0.003  # about 0.04 both
    assert abs(np.mean(drawn[:20_000] < 10) - np.mean(picked[:20_000] < 10)) < 0.02  # short ones come first
    assert abs(drawn.mean() - picked.mean()) < 3


def test_encoding_round_trips_and_pads_with_zero():
    task = Task("sub", 3)
    a, b = np.array([7, 123, 5]), np.array([980, 45, 5])
    x, y = encode_questions(task, a, b), encode_answers(task, a, b)
    assert x.shape == (3, 7) and y.shape == (3, 4)
    assert x[0].tolist() == [9, 12, 11, 10, 2, 0, 0]  # "7-980" then padding
    assert decode(task, x) == ["7-980", "123-45", "5-5"]
    assert decode(task, y) == ["-973", "78", "0"]


def test_parse_expression_names_the_problem():
    task = Task("sub", 3)
    assert parse_expression(task, " 007-980 ") == (7, 980)
    assert parse_expression(task, "0" * 5000 + "12-3") == (12, 3)  # leading zeros are not digits of the operand
    for text, message in (("12+3", "uses '\\+'"), ("1234-5", "longer than"), ("12-x", "characters 'x'"),
                          ("-12", "not of the form"), ("1-2-3", "not of the form"),
                          ("\u0661\u0662-3", "characters"), ("\x00", "characters")):
        with pytest.raises(ConfigError, match=message):
            parse_expression(task, text)


def test_a_line_longer_than_pythons_integer_digit_limit_is_refused_in_a_short_message():
    with pytest.raises(ConfigError, match=r"\(9,002 characters\) has an operand longer than") as caught:
        parse_expression(Task("sub", 3), "1" * 9000 + "-1")  # int() refuses more than 4,300 digits
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("settings, message", [
    ({"digits": 10}, "--digits must be between 1 and 9, not 10"),
    ({"units": 10**20}, "--units must be between 1 and 1,024"),
    ({"layers": 9}, "--layers must be between 1 and 8"),
    ({"train_size": MAX_TRAIN_SIZE + 1}, "--train-size must be between 2 and 1,000,000"),
    ({"epochs": 0}, "--epochs must be between 1 and 1,000"),
    ({"val_fraction": float("nan")}, "--val-fraction must be in \\(0, 1\\)"),
    ({"lr_decay": float("inf")}, "--lr-decay must be in \\(0, 1\\]"),
    ({"target_exact_match": 0.0}, "--target must be in \\(0, 1\\]"),
    ({"learning_rate": float("nan")}, "--learning-rate must be a positive finite number"),
    ({"save": Path("model.h5")}, "must end in .keras"),
])
def test_config_refuses_values_out_of_range(settings, message):
    with pytest.raises(ConfigError, match=message):
        Seq2SeqConfig(**settings).check()


def test_save_into_a_missing_folder_fails_before_any_training(tmp_path):
    started = time.perf_counter()
    with pytest.raises(MlkitError, match="does not exist; create it first"):
        run(Seq2SeqConfig(train_size=10**6, save=tmp_path / "missing" / "m.keras"))  # would train for an hour
    assert time.perf_counter() - started < 1


def test_string_model_matches_core_and_carries_its_spec(tmp_path):
    from mlkit.models.seq2seq import build_seq2seq, build_string_model, read_spec
    from mlkit.training import load_model, save_model

    task = Task("mul", 2)
    core = build_seq2seq(task, cell="lstm", units=8, reverse=False)
    a, b = make_operands(task, 20, seed=0)
    strings = np.array(format_questions(task, a, b), dtype=object)
    loaded = load_model(save_model(build_string_model(core, task), tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict(strings, verbose=0),
                               core.predict(encode_questions(task, a, b), verbose=0), atol=1e-6)
    spec = read_spec(loaded)
    assert (spec.task, spec.reverse) == (task, False)
    with pytest.raises(ModelError, match="not saved by"):
        read_spec(core)
    with pytest.raises(ModelError, match="unknown cell"):
        build_seq2seq(task, cell="transformer")


class FixedModel:
    """Stands in for a Keras model: predicts given token ids as one-hot probabilities."""

    stop_training = False

    def __init__(self, ids, tokens):
        self.probabilities = np.eye(tokens, dtype="float32")[ids]

    def predict(self, x, batch_size, verbose):
        return self.probabilities

    def get_weights(self):
        return [self.probabilities]


def one_wrong_answer_in_four():
    """A scorer for four addition questions, and a model getting one character of one answer wrong."""
    task = Task("add", 3)
    a, b = np.array([1, 20, 300, 4]), np.array([2, 30, 400, 5])
    y = encode_answers(task, a, b)
    guessed = y.copy()
    guessed[0, 0] = 6  # "4" for "3": one wrong character in the first answer
    return task, y, guessed, FixedModel(guessed, len(task.tokens))


def test_exact_match_counts_whole_answers_and_per_character_counts_characters():
    task, y, guessed, model = one_wrong_answer_in_four()
    a, b = np.array([1, 20, 300, 4]), np.array([2, 30, 400, 5])
    scorer = ExactMatchScorer(task, encode_questions(task, a, b), y, format_questions(task, a, b))
    scores, predicted = scorer.score(model)
    assert scores["val_exact_match"] == 0.75 and scores["val_accuracy"] == 15 / 16
    assert decode(task, predicted) == ["4", "50", "700", "9"]


@pytest.mark.parametrize("target, reached", [(0.75, True), (0.76, False), (None, False)])
def test_scorer_stops_training_once_the_target_is_reached(target, reached):
    task, y, guessed, model = one_wrong_answer_in_four()
    scorer = ExactMatchScorer(task, y, y, ["q"] * 4, target=target)
    callback = scorer.callback()
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_exact_match"] == 0.75 and scorer.best == 0.75 and scorer.best_weights is not None
    assert scorer.reached_target is reached and model.stop_training is reached


def test_run_two_epochs_then_predict(tmp_path, capsys):
    config = Seq2SeqConfig(op="sub", digits=2, train_size=400, units=16, epochs=2, batch_size=64,
                           jit_compile=False, samples=3, save=tmp_path / "sub.keras", plot_dir=tmp_path)
    result = run(config)
    record = result.record()
    assert (record.data["train"], record.data["validation"], result.outcome.epochs_run) == (360, 40, 2)
    history = result.outcome.history.epochs
    assert set(history) >= {"accuracy", "loss", "val_accuracy", "val_exact_match", "val_loss"}
    metrics = record.metrics
    assert set(metrics) == set(METRICS) and metrics["seconds_to_target"] is None
    best = metrics["best_epoch"] - 1
    assert metrics["exact_match"] == max(history["val_exact_match"]) == history["val_exact_match"][best]
    assert metrics["exact_match"] <= metrics["val_accuracy"] == history["val_accuracy"][best]
    assert metrics["train_accuracy"] == history["accuracy"][best] and metrics["loss"] == history["val_loss"][best]
    assert metrics["images_per_second"] == pytest.approx(2 * 360 / metrics["seconds"])
    assert 0 < metrics["seconds"] < sum(result.outcome.epoch_seconds) <= metrics["wall_seconds"]
    assert [(Path(f["path"]).name, f["kind"]) for f in record.files] == [
        ("sub.keras", "model"), ("seq2seq_sub_accuracy.png", "plot")]
    assert capsys.readouterr().err.count(" Q ") == 6  # three samples after each epoch
    answered = predict(tmp_path / "sub.keras", ["12-45", "9+1", "3-99"])
    answers = answered.answers
    assert [(x.truth, x.error is None) for x in answers] == [(-33, True), (None, False), (-96, True)]
    assert all(x.correct == (x.prediction == str(x.truth)) for x in answers if x.error is None)
    assert answered.metrics() == {"exact_match": sum(x.correct is True for x in answers) / 2, "questions": 3,
                                  "answered": 2, "errors": 1}


@pytest.mark.slow
@pytest.mark.parametrize("op", ["sub", "add"])
def test_default_setup_reaches_99_percent_exact_match(op):
    metrics = run(Seq2SeqConfig(op=op, target_exact_match=0.99, quiet=True)).record().metrics
    assert metrics["exact_match"] >= 0.99 and metrics["seconds_to_target"] > 0, metrics
