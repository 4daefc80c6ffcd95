"""The grading script of docs/grading.md, run as written on tiny data."""

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlkit.data import Dataset, load_data, save_dataset
from mlkit.training import save_model

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Random biases, so the two models below answer differently.
BIASES = {"class_name": "RandomNormal", "config": {"stddev": 1.0, "seed": 3}}


def grading_script() -> str:
    """The ```sh block of docs/grading.md that starts with #!/bin/sh."""
    match = re.search(r"```sh\n(#!/bin/sh\n.*?)```", (ROOT / "docs" / "grading.md").read_text(), re.DOTALL)
    assert match, "docs/grading.md lost its grading script"
    return match.group(1)


def cifar_model(seed: int):
    """A CIFAR-10 classifier shaped like mlkit's own: 0-255 pixels in, Rescaling inside."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", bias_initializer=BIASES)(x))


@pytest.fixture
def submissions(tmp_path, data_dir):
    """good.keras (the test labels are its own answers: accuracy 1) and weak.keras (another
    model: below 1), with the data they are graded on."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    good, weak = cifar_model(seed=0), cifar_model(seed=1)
    data = load_data("cifar10", data_dir)
    answers = np.argmax(good.predict(data.x_test.astype("float32"), verbose=0), axis=1)
    assert not np.array_equal(answers, np.argmax(weak.predict(data.x_test.astype("float32"), verbose=0), axis=1))
    graded = save_dataset(Dataset("graded", data.x_train, data.y_train, data.x_test, answers, data.class_names),
                          tmp_path / "graded.h5")
    save_model(good, folder / "good.keras")
    save_model(weak, folder / "weak.keras")
    return folder, graded


def grade(tmp_path, folder: Path, pass_mark: str, **env: str) -> subprocess.CompletedProcess:
    script = tmp_path / "grade.sh"
    script.write_text(grading_script())
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MLKIT=str(BIN / "mlkit"),
                       PYTHON=sys.executable, GRADES=str(tmp_path / "grades.csv"), **env)
    return subprocess.run(["sh", str(script), str(folder), pass_mark], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=300)


def read_grades(tmp_path) -> dict[str, dict]:
    with open(tmp_path / "grades.csv", newline="") as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


def test_grading_script_trains_a_reference_and_grades_pass_and_fail(tmp_path, submissions):
    folder, graded = submissions
    reader = "jq" if shutil.which("jq") else "python"
    done = grade(tmp_path, folder, "0.9", DATA=str(graded), REFERENCE="1", JSON_READER=reader,
                 REFERENCE_ARGS="--arch b --epochs 1 --subset 40 --seed 1")
    # Exit 0 also says the reference scored what its training reported (else it is an error).
    assert done.returncode == 0, done.stderr + done.stdout
    grades = read_grades(tmp_path)
    assert sorted(grades) == ["good", "reference", "weak"]
    assert grades["good"]["result"] == "pass" and float(grades["good"]["test_accuracy"]) == 1.0
    assert grades["weak"]["result"] == "fail" and float(grades["weak"]["test_accuracy"]) < 0.9
    assert grades["reference"]["result"] in ("pass", "fail") and grades["reference"]["note"] == ""
    assert "good: pass" in done.stdout and "weak: fail" in done.stdout


def test_grading_script_records_errors_with_python_and_stops_on_a_usage_error(tmp_path, submissions):
    folder, graded = submissions
    for model in folder.iterdir():  # keep one damaged file only
        model.unlink()
    (folder / "cut.keras").write_bytes(b"PK\x03\x04 not a whole archive")
    done = grade(tmp_path, folder, "0.5", DATA=str(graded), JSON_READER="python")
    assert done.returncode == 1, done.stderr
    cut = read_grades(tmp_path)["cut"]
    assert cut["result"] == "error" and cut["test_accuracy"] == "" and "cannot load model" in cut["note"]
    refused = grade(tmp_path, folder, "high", DATA=str(graded), JSON_READER="python")
    assert refused.returncode == 2 and "mlkit refused the command line" in refused.stderr
    assert "--expect" in refused.stderr
