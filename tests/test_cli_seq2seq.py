"""`mlkit seq2seq` and `mlkit seq2seq predict` through the real Typer app."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cli.main import app
from mlkit.experiments.seq2seq import METRICS
from tests.conftest import ROOT, Invoker, traced, validate_envelope

TINY = ("--op", "sub", "--digits", "2", "--train-size", "300", "--d-model", "16", "--heads", "2", "--layers", "1",
        "--epochs", "1", "--no-jit", "--seed", "3")
TIMINGS = ("seconds", "wall_seconds", "images_per_second")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run through the CLI, shared by the tests below: (JSON, stderr, model).
    Traced, as the seed test below repeats it so."""
    folder = tmp_path_factory.mktemp("seq2seq")
    with traced():
        result = Invoker()("seq2seq", *TINY, "--samples", "2", "--save", folder / "sub.keras", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validate_envelope(document)
    return document, result.stderr, folder / "sub.keras"


def test_training_json_and_progress(trained):
    document, stderr, model = trained
    assert (document["command"], document["seed"]) == ("seq2seq", 3)
    assert set(document["metrics"]) == set(METRICS)
    config, metrics, data = document["config"], document["metrics"], document["data"]
    assert (config["op"], config["digits"], config["d_model"], config["selection_split"]) == ("sub", 2, 16, None)
    assert (config["arch"], config["answer_order"], config["recipe"]) == ("transformer", "lsb", "default")
    assert "units" not in config and "cell" not in config  # the RNN's settings: nothing read them
    questions = 300 - data["validation"]  # each training pair trained in both orders
    assert questions < data["train"] <= 2 * questions and len(data["fingerprint"]) == 64
    assert document["history"]["epochs"]["val_exact_match"] == [metrics["exact_match"]]
    assert 0 <= metrics["exact_match"] <= metrics["val_accuracy"] <= 1
    assert metrics["best_epoch"] is None and metrics["seconds_to_target"] is None  # the last model is kept
    assert metrics["images_per_second"] == pytest.approx(data["train"] / metrics["seconds"])
    assert document["files"] == [{"path": str(model), "kind": "model"}] and model.is_file()
    assert "seq2seq sub epoch 1/1" in stderr and stderr.count(" Q ") == 2


def saved_weights(path) -> list[np.ndarray]:
    from mlkit.training import load_model

    return load_model(path).get_weights()


@pytest.mark.traced
def test_seed_repeats_the_run_and_another_seed_changes_it(mlkit, trained, tmp_path):
    first, _, first_model = trained
    again = mlkit.json("seq2seq", *TINY, "--quiet", "--save", tmp_path / "again.keras")
    # The other seed's run also misses a target: exit 3, with the whole record still printed.
    other = mlkit.json("seq2seq", *TINY, "--seed", "4", "--quiet", "--save", tmp_path / "other.keras",
                       "--expect", "exact_match>=1", "--expect", "seconds>=0", exit_code=3)

    def scores(document):
        return {key: value for key, value in document["metrics"].items() if key not in TIMINGS}

    assert scores(again) == scores(first) and again["history"]["epochs"] == first["history"]["epochs"]
    assert again["data"]["fingerprint"] == first["data"]["fingerprint"]
    for a, b in zip(saved_weights(first_model), saved_weights(tmp_path / "again.keras"), strict=True):
        np.testing.assert_array_equal(a, b)
    assert other["seed"] == 4 and other["data"]["fingerprint"] != first["data"]["fingerprint"]
    assert other["history"]["epochs"]["loss"] != first["history"]["epochs"]["loss"]
    assert any(not np.array_equal(a, b) for a, b in zip(saved_weights(first_model),
                                                        saved_weights(tmp_path / "other.keras"), strict=True))
    checks = {check["metric"]: check for check in other["expectations"]}
    assert checks["exact_match"]["passed"] is False and checks["seconds"]["passed"] is True
    assert checks["exact_match"]["actual"] == other["metrics"]["exact_match"] < 1


@pytest.mark.traced  # an RNN: its unrolled steps run faster traced than eagerly
def test_target_stops_training_at_the_first_epoch_reaching_it(mlkit):
    # One-digit products (a fifth of them are 0): exact match rises above 0 within a few epochs.
    easy = ("--op", "mul", "--digits", "1", "--train-size", "55", "--val-fraction", "0.5", "--arch", "rnn",
            "--units", "16", "--batch-size", "4", "--learning-rate", "0.05", "--epochs", "4", "--no-jit", "--seed", "4",
            "--quiet")
    curve = mlkit.json("seq2seq", *easy)["history"]["epochs"]["val_exact_match"]
    peak = max(curve)
    assert peak > 0, curve
    first = curve.index(peak) + 1  # the same seed repeats the curve, so this epoch reaches the target
    document = mlkit.json("seq2seq", *easy, "--target", str(peak))
    metrics = document["metrics"]
    assert document["epochs_run"] == metrics["best_epoch"] == first and metrics["exact_match"] == peak
    assert document["config"]["target_exact_match"] == peak
    assert 0 < metrics["seconds"] < metrics["seconds_to_target"] <= metrics["wall_seconds"]


def test_table_expectations_and_plot(mlkit, tmp_path):
    result = mlkit("seq2seq", *TINY, "--samples", "0", "--plot-dir", tmp_path, "--quiet", "--expect", "exact_match<=1")
    assert result.exit_code == 0, result.output
    assert "exact match" in result.stdout and "per-char accuracy" in result.stdout and "Expectations" in result.stdout
    assert (tmp_path / "seq2seq_sub_accuracy.png").is_file() and result.stderr == ""


def test_short_products_train_on_3_digit_questions_and_predict_them(mlkit, tmp_path):
    model, tiny = tmp_path / "mul.keras", ("--d-model", "16", "--heads", "2", "--layers", "1", "--epochs", "1",
                                           "--no-jit", "--quiet", "--op", "mul", "--digits", "1")
    narrow = mlkit.json("seq2seq", *tiny, "--train-digits", "1", "--train-size", "400")
    assert (narrow["data"]["train_digits"], narrow["data"]["validation"]) == (1, 6)  # a tenth of the 55 pairs
    assert 55 - 6 < narrow["data"]["train"] < 2 * (55 - 6)  # both orders of each pair, a*a once
    wide = mlkit.json("seq2seq", *tiny, "--train-size", "400", "--save", model)
    assert (wide["data"]["digits"], wide["data"]["train_digits"], wide["config"]["train_digits"]) == (1, 3, 3)
    assert wide["data"]["validation"] == 6 and wide["data"]["train"] > 400
    answered = mlkit.json("seq2seq", "predict", "--model", model, "123*45", "3*4")
    assert [answer["truth"] for answer in answered["answers"]] == [5535, 12]


def test_predict_arguments_json(mlkit, trained):
    model = trained[2]
    document = mlkit.json("seq2seq", "predict", "--model", model, "12-45", "99-9")
    assert document["command"] == "seq2seq predict" and document["model"]["op"] == "sub"
    assert [(a["expression"], a["truth"], a["error"]) for a in document["answers"]] == \
        [("12-45", -33, None), ("99-9", 90, None)]
    assert all(a["correct"] == (a["prediction"] == str(a["truth"])) for a in document["answers"])
    correct = sum(a["correct"] for a in document["answers"])
    assert document["metrics"] == {"exact_match": correct / 2, "questions": 2, "answered": 2, "errors": 0}


def test_predict_expect_exit_3(mlkit, trained):
    document = mlkit.json("seq2seq", "predict", "--model", trained[2], "12-45", "--expect", "answered>=2",
                          exit_code=3)
    assert document["expectations"] == [{"metric": "answered", "op": ">=", "value": 2.0, "actual": 1,
                                         "passed": False}]


def test_predict_stdin_reports_bad_lines_and_answers_the_rest(mlkit, trained):
    result = mlkit.runner.invoke(app, ["seq2seq", "predict", "--model", str(trained[2])],
                                 input="5-7\n123-4\n\n8+1\n30-2\n", prog_name="mlkit")
    assert result.exit_code == 1
    assert "5-7" in result.stdout and "30-2" in result.stdout and "123-4" not in result.stdout
    errors = result.stderr.strip().splitlines()
    assert errors[0].startswith("Error: line 2: '123-4' has an operand longer than the model's 2 digits")
    assert errors[1].startswith("Error: line 3: '8+1' uses '+'") and len(errors) == 2


def test_predict_garbage_lines_are_per_line_errors(mlkit, trained):
    lines = b"1" * 5000 + b"-1\n\xff\xfe-1\n" + b"9" * 10 + b"\n12-3\n"  # over int()'s digit limit, not UTF-8, no operator
    result = mlkit.runner.invoke(app, ["seq2seq", "predict", "--model", str(trained[2]), "--json"],
                                 input=lines, prog_name="mlkit")
    assert result.exit_code == 1 and "Traceback" not in result.output
    document = json.loads(result.stdout)
    validate_envelope(document)
    assert document["metrics"]["errors"] == 3 and document["answers"][3]["truth"] == 9
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith(f"Error: line {n}: ") for n, line in zip((1, 2, 3), errors))
    assert "(5,002 characters) has an operand longer" in errors[0] and len(errors[0]) < 200
    assert "has characters" in errors[1] and "is not of the form" in errors[2]


def test_predict_quiet_leaves_stderr_empty(trained):
    # A process of its own: TensorFlow reads its C++ log level when first imported.
    result = subprocess.run([sys.executable, "-m", "cli.main", "seq2seq", "predict", "--model", str(trained[2]),
                             "--quiet", "12-45"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stderr == "" and "12-45" in result.stdout


def test_predict_model_problems_exit_1_with_a_json_error_document(mlkit, trained, tmp_path):
    missing = mlkit("seq2seq", "predict", "--model", tmp_path / "none.keras", "1-2", "--json")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: model file")
    document = json.loads(missing.stdout)
    validate_envelope(document)
    assert document["command"] == "seq2seq predict" and document["error"]["exit_code"] == 1
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(trained[2].read_bytes()[:4000])
    result = mlkit("seq2seq", "predict", "--model", truncated, "1-2")
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: cannot load model {truncated}")
    assert "not found" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_predict_refuses_a_model_it_did_not_save(mlkit, tmp_path):
    import keras

    from mlkit.training import save_model

    inputs = keras.Input((3,))
    path = save_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)), tmp_path / "other.keras")
    result = mlkit("seq2seq", "predict", "--model", path, "1-2")
    assert result.exit_code == 1 and "was not saved by `mlkit seq2seq --save`" in result.stderr


@pytest.mark.parametrize("args", [
    ("--digits", "10"), ("--digits", "0"), ("--units", "99999999999999999999"), ("--hidden", "2000"),
    ("--layers", "9"), ("--train-size", "100000000"), ("--epochs", "0"), ("--epochs", "100000"),
    ("--batch-size", "0"), ("--val-fraction", "1.5"), ("--val-fraction", "nan"), ("--lr-decay", "0"),
    ("--lr-decay", "inf"), ("--learning-rate", "nan"), ("--lr", "-1"), ("--target", "0"), ("--target", "1.5"),
    ("--target", "nan"), ("--samples", "-1"), ("--seed", "x"), ("--seed", "-1"), ("--seed", str(2**32)),
    ("--op", "div"), ("--save", "model.h5"), ("--arch", "cnn"), ("--answer-order", "x"), ("--d-model", "30"),
    ("--heads", "0"), ("--recipe", "seed", "--arch", "rnn"), ("--recipe", "seed", "--target", "0.9"),
    ("--recipe", "seed", "--lr-decay", "0.9"), ("--recipe", "nope"), ("--digits", "3", "--train-digits", "2"),
    ("--train-digits", "10"), ("--recipe", "seed", "--train-digits", "4"),
    ("--expect", "exact_match>>1"), ("--expect", "nosuch>=1"),
])
def test_usage_errors_exit_2_with_one_error_line_before_training(mlkit, args):
    result = mlkit("seq2seq", *args, "--quiet")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output


def test_unknown_expect_metric_lists_the_available_ones(mlkit):
    result = mlkit("seq2seq", "--expect", "accuracy>=0.5")
    assert result.exit_code == 2 and "exact_match, val_accuracy" in result.stderr


def test_usage_error_with_json_prints_an_error_document(mlkit):
    result = mlkit("seq2seq", "--digits", "10", "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    validate_envelope(document)
    assert document["command"] == "seq2seq" and document["error"]["exit_code"] == 2


@pytest.mark.parametrize("where, message", [("missing/m.keras", "folder"), ("file.txt/m.keras", "folder"),
                                            ("locked/m.keras", "is not writable")])
def test_unwritable_save_fails_before_training(mlkit, tmp_path, where, message):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "locked").mkdir(mode=0o500)
    if where.startswith("locked") and os.access(tmp_path / "locked", os.W_OK):
        pytest.skip("this user can write into a read-only folder (root)")
    result = mlkit("seq2seq", *TINY, "--save", tmp_path / where)
    assert result.exit_code == 1 and message in result.stderr
    assert "epoch" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / where).exists()
