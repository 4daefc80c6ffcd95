"""Arithmetic questions, token encoding, the seq2seq models and the exact-match scoring."""

import time

import numpy as np
import pytest

from mlkit.arithmetic import (Task, decode, encode_answers, encode_questions, format_questions,
                              make_operands, parse_expression)
from mlkit.errors import ConfigError, ModelError
from mlkit.experiments.seq2seq import ExactMatchScorer, Seq2SeqConfig, Split, predict, run


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
    for text, message in (("12+3", "uses '\\+'"), ("1234-5", "longer than"), ("12-x", "characters 'x'"),
                          ("-12", "not of the form"), ("1-2-3", "not of the form")):
        with pytest.raises(ConfigError, match=message):
            parse_expression(task, text)


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

    def __init__(self, ids, tokens):
        self.probabilities = np.eye(tokens, dtype="float32")[ids]

    def predict(self, x, batch_size, verbose):
        return self.probabilities


def test_exact_match_counts_whole_answers_and_per_character_counts_characters():
    task = Task("add", 3)
    a, b = np.array([1, 20, 300, 4]), np.array([2, 30, 400, 5])
    y = encode_answers(task, a, b)
    split = Split(y[:0], y[:0], encode_questions(task, a, b), y, format_questions(task, a, b))
    guessed = y.copy()
    guessed[0, 0] = 6  # "4" for "3": one wrong character in the first answer
    scores, predicted = ExactMatchScorer(task, split, Seq2SeqConfig()).score(FixedModel(guessed, len(task.tokens)))
    assert scores["val_exact_match"] == 0.75 and scores["val_accuracy"] == 15 / 16
    assert decode(task, predicted) == ["4", "50", "700", "9"]


def test_run_one_epoch_then_predict(tmp_path, capsys):
    config = Seq2SeqConfig(op="sub", digits=2, train_size=400, units=16, epochs=2, batch_size=64,
                           jit_compile=False, samples=3, save=tmp_path / "sub.keras", plot_dir=tmp_path)
    result = run(config)
    assert (result.train_questions, result.val_questions, result.epochs) == (360, 40, 2)
    history = result.history.epochs
    assert set(history) >= {"accuracy", "loss", "val_accuracy", "val_exact_match", "val_loss"}
    assert result.val_exact_match == max(history["val_exact_match"]) <= result.val_accuracy
    assert [p.name for p in result.files] == ["sub.keras", "seq2seq_sub_accuracy.png"]
    assert capsys.readouterr().err.count(" Q ") == 6  # three samples after each epoch
    answers = predict(tmp_path / "sub.keras", ["12-45", "9+1", "3-99"])
    assert [(x.truth, x.error is None) for x in answers] == [(-33, True), (None, False), (-96, True)]
    assert all(x.correct == (x.prediction == str(x.truth)) for x in answers if x.error is None)


@pytest.mark.slow
@pytest.mark.parametrize("op", ["sub", "add"])
def test_default_setup_reaches_99_percent_exact_match(op):
    result = run(Seq2SeqConfig(op=op, target_exact_match=0.99, quiet=True))
    assert result.val_exact_match >= 0.99, result.history.epochs["val_exact_match"]
