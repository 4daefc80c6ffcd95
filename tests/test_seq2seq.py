"""Arithmetic questions, token encoding, the seq2seq models and the exact-match scoring."""

import itertools
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlkit.arithmetic import (Task, decode, encode_answers, encode_questions, format_questions, held_out_pairs,
                              make_operands, near_pairs, near_partners, pair_keys, parse_expression)
from mlkit.errors import ConfigError, MlkitError, ModelError
from mlkit.exact_match import ExactMatchScorer
from mlkit.experiments.seq2seq import (MAX_TRAIN_SIZE, METRICS, NEAR_FRACTION, Seq2SeqConfig, make_split, run,
                                       seq2seq_config)
from mlkit.experiments.seq2seq_predict import predict
from mlkit.models.seq2seq import Seq2SeqSpec


def test_task_lengths_vocabulary_and_capacity():
    sub, mul = Task("sub", 3), Task("mul", 2)
    assert (sub.question_length, sub.answer_length, mul.answer_length) == (7, 4, 4)
    assert sub.tokens == ["", "[UNK]", *"0123456789", "-"]
    assert Task("add", 2).capacity == 100 * 101 // 2 and sub.capacity == 1000 * 1000
    assert Task.from_tokens(sub.tokens, 3) == sub and Task.from_tokens(mul.tokens, 2) == mul
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
    assert decode(task, encode_questions(task, a, b, padded=True)) == ["007-980", "123-045", "005-005"]
    lsb = encode_answers(task, a, b, order="lsb")
    assert decode(task, lsb) == ["379-", "87", "0"] and decode(task, lsb, order="lsb") == ["-973", "78", "0"]


def test_held_out_pairs_never_reach_training_in_either_order():
    task = Task("mul", 2)
    config = Seq2SeqConfig(op="mul", digits=2, train_size=10**6, val_fraction=0.1)
    split = make_split(config)

    def pairs(ids):
        return {tuple(sorted(map(int, q.split("*")))) for q in decode(task, ids[:, :task.question_length])}

    train, held = pairs(split.x_train), pairs(split.x_val)
    assert not train & held and len(train | held) == task.capacity == 5050
    assert split.held_out_pairs == len(held) == 505  # a tenth of the unordered pairs
    assert len(split.x_train) == 2 * (5050 - 505) - (100 - len({p for p in held if p[0] == p[1]}))  # both orders
    a, b = np.array([1, 2, 3, 4] * 50), np.array([2, 1, 4, 3] * 50)
    mask = held_out_pairs(a, b, 0.5, np.random.default_rng(0))
    assert mask[0] == mask[1] and mask[2] == mask[3] and mask[0] != mask[2]


def test_subtraction_trains_each_pair_both_ways_and_xla_gets_whole_batches():
    task = Task("sub", 2)
    split = make_split(Seq2SeqConfig(op="sub", digits=2, train_size=2000, val_fraction=0.1))
    trained = {tuple(map(int, q.split("-"))) for q in decode(task, split.x_train[:, :task.question_length])}
    held = {tuple(map(int, q.split("-"))) for q in split.val_questions}
    assert all((b, a) in trained for a, b in trained) and not {(b, a) for a, b in held} & trained
    whole = split.whole_batches(256)
    assert len(whole.x_train) == len(whole.y_train) == len(split.x_train) // 256 * 256
    assert np.array_equal(whole.x_train, split.x_train[:len(whole.x_train)]) and whole.x_val is split.x_val
    assert split.whole_batches(10**6) is split  # fewer questions than a batch: all kept


def test_near_partners_borrow_or_carry_through_every_digit():
    rng = np.random.default_rng(0)
    a = np.array([0, 7, 45, 523, 999, 5] * 100)
    below = near_partners(Task("sub", 3), a, rng)
    assert np.abs(below - a).max() <= 10 and (below >= 0).all() and len(set(below - a)) > 10
    total = a + near_partners(Task("add", 3), a, rng)  # near 9, 99 or 999, as a has 1, 2 or 3 digits
    assert (np.abs(total - np.array([9, 9, 99, 999, 999, 9] * 100)) <= 10).all()
    assert near_partners(Task("add", 3), np.array([999]), rng, spread=0).tolist() == [0]
    with pytest.raises(ValueError, match="no near partners for mul"):
        near_partners(Task("mul", 3), a, rng)


def test_near_pairs_replace_a_fraction_and_never_make_a_held_out_pair():
    task, rng = Task("sub", 2), np.random.default_rng(1)
    a = rng.integers(0, 100, 1000)
    b = (a + 50) % 100  # training pairs as make_split passes them: none held out
    excluded = pair_keys(np.arange(100), np.arange(100) + 1)  # every pair one apart is held out
    changed_b, changed = near_pairs(task, a, b, 0.3, excluded, rng)
    assert 200 < changed < 300 and (changed_b[300:] == b[300:]).all() and (changed_b != b).sum() <= changed
    assert not np.isin(pair_keys(a[:300], changed_b[:300]), excluded).any()
    same, changed = near_pairs(Task("mul", 2), a, b, 0.3, excluded, rng)
    assert same is b and changed == 0


def test_default_training_holds_near_pairs_and_the_seed_recipe_none():
    config = Seq2SeqConfig(op="sub", digits=3, train_size=20000, arch="rnn", answer_order="msb")
    split = make_split(config)

    def near_share(questions):
        return np.mean([abs(a - b) <= 10 for a, b in (map(int, q.split("-")) for q in questions)])

    # NEAR_FRACTION of the training pairs drawn near (less the few that would be held-out pairs);
    # the held-out questions as drawn
    expected = NEAR_FRACTION * (config.train_size - len(split.x_val))
    assert 0.95 * expected <= split.near_pairs <= expected
    assert near_share(decode(Task("sub", 3), split.x_train)) > near_share(split.val_questions) + NEAR_FRACTION / 2
    assert make_split(replace(config, recipe="seed")).near_pairs == 0


def test_longer_training_questions_leave_out_every_held_out_pair():
    task, wide = Task("mul", 1), Task("mul", 2)
    config = Seq2SeqConfig(op="mul", digits=1, train_digits=2, train_size=3000, val_fraction=0.2)
    split = make_split(config)

    def pairs(ids):
        return {tuple(sorted(map(int, q.split("*")))) for q in decode(wide, ids[:, :wide.question_length])}

    train, held = pairs(split.x_train), pairs(split.x_val)
    assert held and all(max(pair) < 10 for pair in held) and split.held_out_pairs == len(held) == 11  # of 55
    assert not train & held and any(max(pair) >= 10 for pair in train)
    assert len(train & set(itertools.combinations_with_replacement(range(10), 2))) == 55 - 11
    assert all(len(q) == 3 for q in split.val_questions)  # shown as --digits questions: "7*3"
    with pytest.raises(ConfigError, match="--train-digits must be between --digits"):
        Seq2SeqConfig(op="mul", digits=2, train_digits=1).check()


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
    ({"arch": "cnn"}, "--arch must be one of transformer, rnn"),
    ({"answer_order": "mid"}, "--answer-order must be one of lsb, msb"),
    ({"d_model": 30, "heads": 4}, "--d-model 30 must be a multiple of --heads 4"),
])
def test_config_refuses_values_out_of_range(settings, message):
    with pytest.raises(ConfigError, match=message):
        Seq2SeqConfig(**settings).check()


def test_save_into_a_missing_folder_fails_before_any_training(tmp_path):
    started = time.perf_counter()
    with pytest.raises(MlkitError, match="does not exist; create it first"):
        run(Seq2SeqConfig(train_size=10**6, save=tmp_path / "missing" / "m.keras"))  # would train for an hour
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("spec, settings", [
    (Seq2SeqSpec(Task("mul", 2), "rnn", "msb", reverse=False), {"cell": "lstm", "units": 8}),
    (Seq2SeqSpec(Task("sub", 2), "rnn", "lsb", reverse=True), {"cell": "gru", "units": 8, "embedding_dim": None}),
    (Seq2SeqSpec(Task("mul", 2), "transformer", "lsb"), {"d_model": 8, "layers": 1, "heads": 2}),
])
def test_string_model_matches_core_and_carries_its_spec(tmp_path, spec, settings):
    from mlkit.models.seq2seq import build_core, build_string_model, read_spec
    from mlkit.training import load_model, save_model

    core = build_core(spec, settings)
    a, b = make_operands(spec.task, 20, seed=0)
    strings = np.array(format_questions(spec.task, a, b, padded=spec.padded), dtype=object)
    loaded = load_model(save_model(build_string_model(core, spec), tmp_path / "m.keras"))
    ids = encode_questions(spec.task, a, b, padded=spec.padded)
    if spec.arch == "transformer":  # the string model's output is the first answer step
        ids = np.pad(ids, ((0, 0), (0, spec.input_length - ids.shape[1])))
    np.testing.assert_allclose(loaded.predict(strings, verbose=0), core.predict(ids, verbose=0), atol=1e-5)
    assert read_spec(loaded) == spec
    with pytest.raises(ModelError, match="not saved by"):
        read_spec(core)


def test_greedy_decoding_is_what_the_model_predicts_given_its_own_answers():
    from mlkit.models.transformer import build_transformer, greedy_answers, teacher_forced

    task = Task("add", 2)
    core = build_transformer(task, task.answer_length, d_model=8, layers=1, heads=2)
    a, b = make_operands(task, 50, seed=0)
    questions = encode_questions(task, a, b, padded=True)
    answers = greedy_answers(core, task, questions, task.answer_length)
    # Fed its own answer, the model predicts it again at every position: the causal mask keeps
    # each step blind to the positions not written yet.
    again = core.predict(teacher_forced(task, questions, answers), verbose=0).argmax(axis=-1)
    np.testing.assert_array_equal(again, answers)


def test_the_last_blocks_feed_forward_runs_on_the_answer_positions_only():
    from mlkit.models.transformer import build_transformer, sequence_length

    task = Task("sub", 3)
    core = build_transformer(task, task.answer_length, d_model=8, layers=2, heads=2)
    positions = {name: core.get_layer(f"{name}_mlp_in").output.shape[1] for name in ("block_1", "block_2")}
    assert positions == {"block_1": sequence_length(task, task.answer_length), "block_2": task.answer_length}
    assert core.output.shape[1:] == (task.answer_length, len(task.tokens))


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
    scorer = ExactMatchScorer(Seq2SeqSpec(task), encode_questions(task, a, b), y, format_questions(task, a, b))
    scores, predicted = scorer.score(model)
    assert scores["val_exact_match"] == 0.75 and scores["val_accuracy"] == 15 / 16
    assert decode(task, predicted) == ["4", "50", "700", "9"]


@pytest.mark.parametrize("target, reached", [(0.75, True), (0.76, False), (None, False)])
def test_scorer_stops_training_once_the_target_is_reached(target, reached):
    task, y, guessed, model = one_wrong_answer_in_four()
    scorer = ExactMatchScorer(Seq2SeqSpec(task), y, y, ["q"] * 4, target=target)
    callback = scorer.callback()
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_exact_match"] == 0.75 and scorer.best == 0.75 and scorer.best_weights is not None
    assert scorer.reached_target is reached and model.stop_training is reached


@pytest.mark.traced
@pytest.mark.parametrize("arch, settings", [("rnn", {"units": 16}),
                                            ("transformer", {"d_model": 16, "heads": 2, "layers": 1})])
def test_run_two_epochs_then_predict(tmp_path, capsys, arch, settings):
    config = seq2seq_config(op="sub", digits=2, train_size=400, arch=arch, epochs=2, batch_size=64, jit_compile=False,
                            samples=3, save=tmp_path / "sub.keras", plot_dir=tmp_path, **settings)
    result = run(config)
    record = result.record()
    questions = 400 - record.data["validation"]  # every training pair is trained in both orders
    assert questions < record.data["train"] <= 2 * questions and result.outcome.epochs_run == 2
    assert 30 < record.data["validation"] < 50 and record.config["answer_order"] == config.answer_order
    history = result.outcome.history.epochs
    assert set(history) >= {"accuracy", "loss", "val_accuracy", "val_exact_match", "val_loss"}
    metrics = record.metrics
    assert set(metrics) == set(METRICS) and metrics["seconds_to_target"] is None
    if arch == "rnn":  # the RNN keeps the epoch best on the held-out questions
        kept = metrics["best_epoch"] - 1
        assert metrics["exact_match"] == max(history["val_exact_match"]) and record.config["selection_split"] == "val"
    else:  # the transformer's rate decays to near zero: it keeps its last model, no epoch chosen
        kept = -1
        assert metrics["best_epoch"] is None and record.config["selection_split"] is None
    assert metrics["exact_match"] == history["val_exact_match"][kept]
    assert metrics["exact_match"] <= metrics["val_accuracy"] == history["val_accuracy"][kept]
    assert metrics["train_accuracy"] == history["accuracy"][kept] and metrics["loss"] == history["val_loss"][kept]
    assert metrics["images_per_second"] == pytest.approx(2 * record.data["train"] / metrics["seconds"])
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
    assert (answered.spec.arch, answered.spec.answer_order) == (arch, config.answer_order)


def test_scoring_and_predict_decode_the_same_answers(tmp_path):
    """The exact match a run reports is the share predict gets right on the same questions."""
    config = seq2seq_config(op="add", digits=1, train_size=55, val_fraction=0.3, d_model=16, heads=2, layers=1,
                            epochs=3, batch_size=8, learning_rate=0.01, jit_compile=False, samples=0, quiet=True,
                            save=tmp_path / "add.keras")
    result = run(config)
    answered = predict(tmp_path / "add.keras", result.split.val_questions)
    assert answered.metrics()["exact_match"] == result.metrics()["exact_match"]


def test_seed_recipe_holds_out_a_shuffled_tenth_of_the_questions_drawn():
    config = seq2seq_config("seed", op="sub", train_size=1000)
    task = Task("sub", 3)
    drawn = format_questions(task, *make_operands(task, 1000, config.seed))
    held_out = make_split(config).val_questions
    assert len(held_out) == 100 and set(held_out) < set(drawn)
    # In draw order the last questions lean to long operands: seed 001 shuffled first.
    assert set(held_out) != set(drawn[-100:])


@pytest.mark.traced  # the Keras 2 gates, as a user's run traces them
def test_seed_recipe_is_seed_001s_setup_scored_at_the_last_epoch():
    config = seq2seq_config("seed", op="sub", train_size=300, units=8, epochs=2, jit_compile=False, samples=0,
                            quiet=True)
    assert (config.arch, config.cell, config.gates, config.one_hot, config.reverse, config.answer_order,
            config.keep) == ("rnn", "lstm", "keras2", True, True, "msb", "last")
    assert (config.batch_size, config.learning_rate, config.lr_decay, config.digits) == (128, 1e-3, 1.0, 3)
    assert seq2seq_config("seed", op="sub").epochs == 39
    result = run(config)
    record = result.record()
    history = result.outcome.history.epochs
    assert record.metrics["exact_match"] == history["val_exact_match"][-1] and record.metrics["best_epoch"] is None
    assert (record.data["train"], record.data["validation"]) == (270, 30)  # a shuffled tenth held out, as the seed did
    assert (record.config["monitor"], record.config["selection_split"], record.config["one_hot"]) == \
        (None, None, True)
    assert "d_model" not in record.config and (record.config["cell"], record.config["gates"]) == ("lstm", "keras2")
    with pytest.raises(ConfigError, match="--arch, --target: not used by --recipe seed"):
        seq2seq_config("seed", arch="transformer", target_exact_match=0.9)


def test_keras2_gates_are_its_hard_sigmoid_in_every_lstm_and_survive_a_save(tmp_path):
    from mlkit.models.seq2seq import build_core
    from mlkit.training import load_model, save_model

    spec = seq2seq_config("seed", op="sub").spec
    settings = {"cell": "lstm", "units": 4, "layers": 1, "embedding_dim": None}
    model = build_core(spec, settings | {"gates": "keras2"})
    gates = [layer.cell.recurrent_activation for layer in model.layers if hasattr(layer, "cell")]
    assert len(gates) == 2  # encoder and decoder
    x = np.array([-3.0, -2.5, 0.0, 1.0, 2.5, 3.0], dtype="float32")
    for gate in gates:  # clip(0.2 x + 0.5, 0, 1), where Keras 3's hard_sigmoid is x / 6 + 0.5
        np.testing.assert_allclose(np.asarray(gate(x)), [0.0, 0.0, 0.5, 0.7, 1.0, 1.0], atol=1e-6)
    saved = load_model(save_model(model, tmp_path / "seed.keras"))
    questions = np.arange(2 * spec.input_length).reshape(2, -1) % len(spec.task.tokens)
    np.testing.assert_array_equal(saved.predict(questions, verbose=0), model.predict(questions, verbose=0))
    sigmoid = build_core(spec, settings | {"gates": "sigmoid"}).get_layer("encoder_1").cell.recurrent_activation
    assert float(sigmoid(np.float32(1.0))) == pytest.approx(1 / (1 + np.exp(-1.0)), abs=1e-6)
    with pytest.raises(ModelError, match="unknown gates"):
        build_core(spec, settings | {"gates": "hard"})


@pytest.mark.slow
@pytest.mark.parametrize("op", ["sub", "add"])
def test_addition_and_subtraction_reach_0999_within_a_minute_of_training(op):
    metrics = run(seq2seq_config(op=op, quiet=True)).record().metrics  # as `mlkit seq2seq --op OP` runs
    assert metrics["exact_match"] >= 0.999 and metrics["seconds"] <= 60, metrics


@pytest.mark.slow
@pytest.mark.parametrize("digits", [2, 3])
def test_multiplication_reaches_099_within_10_minutes(digits):
    metrics = run(seq2seq_config(op="mul", digits=digits, quiet=True)).record().metrics
    assert metrics["exact_match"] >= 0.99 and metrics["wall_seconds"] <= 600, metrics
