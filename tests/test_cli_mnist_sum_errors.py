"""Bad input to `mlkit mnist-sum sum|calc|predict`: one `Error:` line, the documented exit code
(2 usage, 1 a problem found while running), a JSON error document with --json, nothing written.

None of these trains: sizes, numbers and output paths are refused before any data is read.
"""

import json
import struct
import zlib

import numpy as np
import pytest

from mlkit.data import save_arrays
from mlkit.mnist_sum import SequenceData, make_calc_questions, make_sum_sequences, save_sequences
from mlkit.mnist_sum.sampling import ImagePool

from .conftest import validate_envelope


def assert_one_error(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.count("Error:") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["sum", "--eval-lengths", "100000000"], "--eval-lengths must be 1 to 100"),
    (["sum", "--eval-lengths", "5,x"], "comma-separated"),
    (["sum", "--length", "101"], "--length"),
    (["sum", "--members", "9"], "--members"),
    (["sum", "--members", "0"], "--members"),
    (["sum", "--train-sequences", "2000000"], "--train-sequences"),
    (["sum", "--test-sequences", "1000000"], "more than the 4,000,000 a split may hold"),
    (["sum", "--epochs", "0"], "--epochs"),
    (["sum", "--batch-size", "100000"], "--batch-size"),
    (["sum", "--shift", "nan"], "--shift"),
    (["sum", "--shift", "0.7"], "--shift"),
    (["sum", "--rotate", "inf"], "--rotate"),
    (["sum", "--lr", "nan"], "--learning-rate"),
    (["sum", "--precision", "half"], "--precision must be one of auto, float32, bfloat16"),
    (["sum", "--save", "model.txt"], "must end in .keras"),
    (["sum", "--expect", "nosuch>=1"], "exact_match, mae"),
    (["calc", "--digits", "50"], "--digits"),
    (["calc", "--digits", "0"], "--digits"),
    (["calc", "--op", "mul"], "--op must be one of add, sub"),
    (["calc", "--validation-sequences", "0"], "--validation-sequences"),
    (["calc", "--expect", "mae>=1"], "exact_match, char_accuracy"),
    (["predict", "--model", "m.keras", "--split", "dev", "--data", "d.h5"], "--split must be one of"),
    (["predict", "--model", "m.keras"], "not both or neither"),
    (["predict", "--model", "m.keras", *["1.png"] * 101], "at most 100 image files"),
    (["predict", "--model", "m.keras", "--expect", "loss>=1", "1.png"], "exact_match, mae"),
])
def test_usage_errors_exit_2_with_a_json_error_document(mlkit, tmp_path, args, message):
    # --data names a missing file: an error about it would mean the option was checked too late.
    data = ["--data", tmp_path / "missing.h5"] if args[0] != "predict" else []
    result = mlkit("mnist-sum", *args, *data, "--json")
    assert_one_error(result, 2, message)
    document = json.loads(result.stdout)
    validate_envelope(document)
    assert document["command"] == f"mnist-sum {args[0]}" and document["error"]["exit_code"] == 2


def test_output_paths_are_checked_before_any_data_is_read(mlkit, tmp_path):
    kept = tmp_path / "kept.keras"
    kept.write_bytes(b"an earlier model")
    kept.chmod(0o600)
    (tmp_path / "plots").write_text("a file, not a folder")
    missing = ["--data", tmp_path / "missing.h5"]
    cases = [
        (["sum", "--save", tmp_path / "no" / "such" / "m.keras"], 1, "--save"),
        (["calc", "--export-data", tmp_path / "no" / "d.h5"], 1, "--export-data"),
        (["sum", "--save", kept, "--plot-dir", tmp_path / "plots"], 2, "--plot-dir"),
    ]
    for args, code, message in cases:
        result = mlkit.json("mnist-sum", *args, *missing, exit_code=code)
        assert result["error"]["exit_code"] == code and message in result["error"]["message"]
    assert kept.read_bytes() == b"an earlier model" and kept.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.keras", "plots"]


def test_missing_files_exit_1_with_a_json_error_document(mlkit, tmp_path):
    for args in (["sum", "--data", tmp_path / "missing.h5"], ["calc", "--data", tmp_path / "missing.h5"],
                 ["predict", "--model", tmp_path / "missing.keras", "a.png"]):
        document = mlkit.json("mnist-sum", *args, exit_code=1)
        assert document["error"]["exit_code"] == 1 and "does not exist" in document["error"]["message"]


def digit_pool() -> ImagePool:
    labels = np.arange(40) % 10
    return ImagePool(np.zeros((40, 28, 28), dtype=np.uint8), labels)


def sequence_arrays(task: str) -> tuple[dict, dict]:
    """The arrays and attributes a valid sequence file of `task` holds."""
    rng = np.random.default_rng(0)
    make = (lambda n: make_sum_sequences(digit_pool(), n, 3, rng)) if task == "sum" else \
        (lambda n: make_calc_questions(digit_pool(), n, "add", 2, rng))
    data = SequenceData(make(4), make(2), make(2), source="test")
    arrays = {}
    for split in ("train", "validation", "test"):
        part = getattr(data, split)
        arrays |= {f"x_{split}": part.x, f"slots_{split}": part.slots, f"y_{split}": part.target}
    return arrays, {"kind": "digit-sequences", "task": task, "source": "test", **data.train.attrs}


def damaged(task: str, change) -> tuple[dict, dict]:
    arrays, attrs = sequence_arrays(task)
    change(arrays, attrs)
    return arrays, attrs


@pytest.mark.parametrize("task, change, message", [
    ("calc", lambda a, _: a["slots_test"].__setitem__((0, 0), 13), "slots_test[0, 0] is 13"),
    ("calc", lambda a, _: a["y_train"].__setitem__((1, 0), -1), "y_train[1, 0] is -1"),
    ("sum", lambda a, _: a["slots_validation"].__setitem__((0, 1), 10), "codes must be 0 to 9"),
    ("sum", lambda a, _: a["y_train"].__setitem__(0, 99), "digits sum to"),
    ("sum", lambda a, _: a.__setitem__("x_train", a["x_train"].astype(np.float32)), "expected uint8 images"),
    ("sum", lambda a, _: a.__setitem__("slots_test", a["slots_test"].astype(np.float64)), "expected integers"),
    ("calc", lambda _, attrs: attrs.__setitem__("digits", 3), "needs 7"),
    ("calc", lambda _, attrs: attrs.__setitem__("digits", 50), "digits is 50"),
    ("calc", lambda _, attrs: attrs.__setitem__("op", "mul"), "op is 'mul'"),
    ("sum", lambda a, _: a.pop("y_test"), "lacks the arrays y_test"),
])
def test_damaged_sequence_files_are_refused_before_use(mlkit, tmp_path, task, change, message):
    path = save_arrays(tmp_path / "damaged.h5", *damaged(task, change))
    before = path.read_bytes()
    trained = mlkit("mnist-sum", task, "--data", path, "--epochs", "1")
    assert_one_error(trained, 1, message)
    model = tmp_path / "m.keras"
    model.write_bytes(b"not read: the file is refused first")
    predicted = mlkit("mnist-sum", "predict", "--model", model, "--data", path)
    assert_one_error(predicted, 1, message)
    assert path.read_bytes() == before


def test_a_valid_sequence_file_passes_the_same_checks(tmp_path):
    from mlkit.mnist_sum import load_sequences

    arrays, attrs = sequence_arrays("calc")
    data = load_sequences(save_arrays(tmp_path / "calc.h5", arrays, attrs), "calc")
    assert data.train.attrs == {"op": "add", "digits": 2} and len(data.test) == 2
    assert load_sequences(save_sequences(data, tmp_path / "again.h5")).task == "calc"


def png_header_only(path, width: int, height: int):
    """A PNG whose header declares width x height greyscale pixels, with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def text_file(path, text: str):
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def sum_model_file(tmp_path_factory):
    from mlkit.models.mnist_sum import build_sum_model
    from mlkit.training import save_model

    return save_model(build_sum_model(), tmp_path_factory.mktemp("model") / "sum.keras")


@pytest.mark.parametrize("make, message", [
    (lambda p: png_header_only(p, 100_000, 100_000), "too large to read safely"),
    (lambda p: png_header_only(p, 8000, 8000), "more than the 40,000,000"),
    (lambda p: png_header_only(p, 4, 4), "at least 8 a side"),
    (lambda p: png_header_only(p, 28, 28), "not a readable image"),
    (lambda p: text_file(p, "not an image"), "not a readable image"),
])
def test_predict_refuses_bombs_and_unreadable_images_in_one_line(mlkit, tmp_path, sum_model_file, make, message):
    image = make(tmp_path / "digit.png")
    result = mlkit("mnist-sum", "predict", "--model", sum_model_file, image)
    assert_one_error(result, 1, message)
