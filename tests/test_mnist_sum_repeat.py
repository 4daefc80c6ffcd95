"""`--seed` repeats `mnist-sum sum` and `calc` exactly (docs/json.md), and `--expect` grades them.

Each command runs three times on tiny data: twice with one seed (the first also with a target
it must miss, which exits 3 but still prints the record and saves the model) and once with
another seed.
"""

import json

import numpy as np
import pytest

from mlkit.training import load_model

from .conftest import validate_envelope, write_mnist_idx

TIMINGS = ("seconds", "wall_seconds", "images_per_second")
TINY = ["--train-sequences", "32", "--validation-sequences", "8", "--test-sequences", "8", "--epochs", "1",
        "--batch-size", "8"]
COMMANDS = {
    "sum": ["--length", "3", "--eval-lengths", "3", "--members", "1", "--precision", "float32"],
    "calc": ["--digits", "1"],
}


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_mnist_idx(root / "mnist", train=240, test=60)
    return root


def run(mlkit, command: str, seed: int, path, digits_dir, *extra: str, exit_code: int = 0):
    result = mlkit("mnist-sum", command, *COMMANDS[command], *TINY, "--data-dir", digits_dir, "--seed", seed,
                   "--save", path, "--quiet", "--json", *extra)
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    validate_envelope(document)
    return document


def weights(path) -> list[np.ndarray]:
    return load_model(path).get_weights()


def scores(document: dict) -> dict:
    """Everything a run computed, its timings left out."""
    return {key: value for key, value in document["metrics"].items() if key not in TIMINGS} | {
        "evaluations": [{key: value for key, value in e.items() if not key.startswith("predict_")}
                        for e in document["evaluations"]],
        "history": document["training"]["history"]["epochs"]}


@pytest.mark.traced
@pytest.mark.parametrize("command", ["sum", "calc"])
def test_the_same_seed_repeats_a_run_exactly_and_another_seed_does_not(mlkit, digits_dir, tmp_path, command):
    first = run(mlkit, command, 1, tmp_path / "a.keras", digits_dir, "--expect", "exact_match>=1.5", exit_code=3)
    again = run(mlkit, command, 1, tmp_path / "b.keras", digits_dir)
    other = run(mlkit, command, 2, tmp_path / "c.keras", digits_dir)
    assert first["expectations"] == [{"metric": "exact_match", "op": ">=", "value": 1.5,
                                      "actual": first["metrics"]["exact_match"], "passed": False}]
    assert scores(first) == scores(again) and first["seed"] == again["seed"] == 1
    assert first["data"]["fingerprint"] == other["data"]["fingerprint"]
    a, b, c = (weights(tmp_path / name) for name in ("a.keras", "b.keras", "c.keras"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert scores(first) != scores(other)
