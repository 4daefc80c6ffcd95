"""`mlkit seq2seq` and `mlkit seq2seq predict` through the real Typer app."""

import json

import pytest

from cli.main import app
from tests.conftest import Invoker

TINY = ("--op", "sub", "--digits", "2", "--train-size", "300", "--hidden", "16", "--epochs", "1",
        "--no-jit", "--seed", "3")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run through the CLI, shared by the tests below: (JSON, stderr, model)."""
    folder = tmp_path_factory.mktemp("seq2seq")
    result = Invoker()("seq2seq", *TINY, "--samples", "2", "--save", folder / "sub.keras", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr, folder / "sub.keras"


def test_training_json_and_progress(trained):
    document, stderr, model = trained
    assert {"op", "digits", "epochs", "best_epoch", "accuracy", "val_accuracy", "val_exact_match",
            "seconds", "history", "files"} <= set(document)
    assert (document["op"], document["digits"], document["train_questions"], document["val_questions"]) == \
        ("sub", 2, 270, 30)
    assert document["history"]["epochs"]["val_exact_match"] == [document["val_exact_match"]]
    assert 0 <= document["val_exact_match"] <= document["val_accuracy"] <= 1
    assert document["files"] == [str(model)] and model.is_file()
    assert "seq2seq sub epoch 1/1" in stderr and stderr.count(" Q ") == 2


def test_table_and_plot(mlkit, tmp_path):
    result = mlkit("seq2seq", *TINY, "--samples", "0", "--plot-dir", tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    assert "exact match" in result.stdout and "per-char accuracy" in result.stdout
    assert (tmp_path / "seq2seq_sub_accuracy.png").is_file() and result.stderr == ""


def test_predict_arguments_json(mlkit, trained):
    model = trained[2]
    document = mlkit.json("seq2seq", "predict", "--model", model, "12-45", "99-9")
    assert [(a["expression"], a["truth"], a["error"]) for a in document["answers"]] == \
        [("12-45", -33, None), ("99-9", 90, None)]
    assert all(a["correct"] == (a["prediction"] == str(a["truth"])) for a in document["answers"])


def test_predict_stdin_reports_bad_lines_and_answers_the_rest(mlkit, trained):
    result = mlkit.runner.invoke(app, ["seq2seq", "predict", "--model", str(trained[2])],
                                 input="5-7\n123-4\n\n8+1\n30-2\n", prog_name="mlkit")
    assert result.exit_code == 1
    assert "5-7" in result.stdout and "30-2" in result.stdout and "123-4" not in result.stdout
    errors = result.stderr.strip().splitlines()
    assert errors[0].startswith("Error: line 2: '123-4' has an operand longer than the model's 2 digits")
    assert errors[1].startswith("Error: line 3: '8+1' uses '+'") and len(errors) == 2


def test_errors_exit_1_or_2(mlkit, tmp_path):
    missing = mlkit("seq2seq", "predict", "--model", tmp_path / "none.keras", "1-2")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: model file") and missing.stdout == ""
    bad = mlkit("seq2seq", "--val-fraction", "1.5", "--quiet")
    assert bad.exit_code == 1 and bad.stderr.strip() == "Error: --val-fraction must be between 0 and 1, not 1.5."
    decay = mlkit("seq2seq", "--lr-decay", "0", "--quiet")
    assert decay.exit_code == 1 and decay.stderr.strip() == "Error: --lr-decay must be in (0, 1], not 0.0."
    assert mlkit("seq2seq", "--op", "div").exit_code == 2
