"""Bad data and files given through the real CLI, as a hostile user would (what the readers
check: docs/formats.md, "What readers check"): every case is refused with exactly one `Error:` line on
stderr, the documented exit code (2 usage, 1 a problem found while running), no traceback, and
every file that was there before is left byte for byte, permission for permission.

Every case fails before any training starts, on tiny files, so the table runs in seconds.
"""

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._filesystems import fill, read_only_folder, snapshot, tiny_filesystem  # noqa: F401 (fixtures)
from ._hostile_files import write_bad_cifar, write_bad_hdf5, write_bad_idx
from .conftest import write_cifar_tar, write_mnist_idx


@dataclass(frozen=True)
class Case:
    """One hostile command line; {placeholders} name the files of the `hostile` fixture."""

    name: str
    args: tuple[str, ...]
    code: int
    message: str = ""  # a regular expression the error line must match

    def param(self):
        return pytest.param(self, id=self.name)


# Each prefix keeps a run tiny in case a command wrongly starts one.
CIFAR = ("cifar", "--arch", "a", "--epochs", "1", "--subset", "10")
AUGMENT = ("augment", "--arch", "a", "--epochs", "1", "--subset", "10")
DEPTH = ("depth-study", "--epochs", "1", "--subset", "10")
FASHION = ("fashion-sweep", "--epochs", "1", "--batch-sizes", "32", "--learning-rates", "0.001")
SUM = ("mnist-sum", "sum", "--epochs", "1", "--train-sequences", "8", "--validation-sequences", "8",
       "--test-sequences", "8")
CALC = ("mnist-sum", "calc", *SUM[2:])
INFO = ("data", "info")
EXPORT = ("data", "export")
EVALUATE = ("evaluate", "{model}")
GOOD = ("--data", "mnist", "--data-dir", "{good}")

WRONG_LABELS = "holds label"
NOT_FINITE = "NaN or infinite pixels"
DEVICE = "is a character device"
PIPE = "is a named pipe"
FOLDER = "is a folder"
DAMAGED = "truncated or damaged"
TOO_LARGE = "TiB of memory, more than the .* budget"
CANNOT_CREATE = "cannot create files in /proc"
NO_FOLDER = "does not exist"
FILE_AS_FOLDER = "is a file, not a folder"
TOO_SMALL = "(too small|at least \\d+ ?x ?\\d+|pool)"

# Where a case depends on a command's own change (issue 17) that has not landed yet.


def h5(name: str) -> str:
    return f"{{h5}}/{name}.h5"


def data_dir(name: str) -> str:
    return f"{{bad}}/{name}"


DATA_FILE_CASES = [
    # The dataset check itself, through `data info` (class 6: bad data accepted; 7: malformed input).
    Case("info-label-too-large", (*INFO, h5("label_too_large")), 1, "y_train holds label 12 \\(image 29\\)"),
    Case("info-label-negative", (*INFO, h5("label_negative")), 1, "y_test holds label -1 \\(image 0\\)"),
    Case("info-nan-pixels", (*INFO, h5("nan_pixels")), 1, NOT_FINITE),
    Case("info-inf-pixels", (*INFO, h5("inf_pixels")), 1, NOT_FINITE),
    Case("info-zero-dim-array", (*INFO, h5("zero_dim")), 1, "zero-dimensional"),
    Case("info-flat-rows", (*INFO, h5("flat_rows")), 1, "x_train has shape \\(30, 784\\)"),
    Case("info-split-shapes-differ", (*INFO, h5("shapes_differ")), 1, "both splits need the same image shape"),
    Case("info-no-train-images", (*INFO, h5("no_train_images")), 1, "x_train holds no images"),
    Case("info-float-labels", (*INFO, h5("float_labels")), 1, "labels must be integers"),
    Case("info-label-count", (*INFO, h5("labels_missing_one")), 1, "30 train images but 29 labels"),
    Case("info-text-pixels", (*INFO, h5("text_pixels")), 1, "images must be numbers"),
    Case("info-too-few-class-names", (*INFO, h5("names_too_few")), 1, "there are 3 class names"),
    Case("info-too-many-class-names", (*INFO, h5("names_too_many")), 1, "class_names has 12 names"),
    Case("info-repeated-class-names", (*INFO, h5("names_repeated")), 1, "class_names repeats '0'"),
    Case("info-9-tib-array", (*INFO, h5("huge")), 1, TOO_LARGE),
    Case("info-truncated", (*INFO, h5("truncated")), 1, DAMAGED),
    Case("info-text-file", (*INFO, h5("text")), 1, "not a readable HDF5 file"),
    Case("info-empty-file", (*INFO, h5("empty")), 1, "not a readable HDF5 file"),
    Case("info-altered", (*INFO, h5("altered")), 1, "checksum does not match"),
    Case("info-no-checksum", (*INFO, h5("unsigned")), 1, "no sha256"),
    Case("info-sequence-file", (*INFO, h5("sequences")), 1, "not an image dataset"),
    Case("info-dev-zero", (*INFO, "/dev/zero"), 1, DEVICE),
    Case("info-fifo", (*INFO, "{fifo}"), 1, PIPE),
    Case("info-missing", (*INFO, "{h5}/nowhere.h5"), 1, NO_FOLDER),
    Case("info-folder", (*INFO, "{h5}"), 2),
    # The same files given to the training and scoring commands with --data.
    Case("cifar-nan-pixels", (*CIFAR, "--data", h5("nan_pixels")), 1, NOT_FINITE),
    Case("cifar-label-too-large", (*CIFAR, "--data", h5("label_too_large")), 1, WRONG_LABELS),
    Case("cifar-9-tib-array", (*CIFAR, "--data", h5("huge")), 1, TOO_LARGE),
    Case("cifar-zero-dim-array", (*CIFAR, "--data", h5("zero_dim")), 1, "zero-dimensional"),
    Case("cifar-dev-zero", (*CIFAR, "--data", "/dev/zero"), 1, DEVICE),
    Case("cifar-folder-as-data", (*CIFAR, "--data", "{h5}"), 1, f"{FOLDER}, not an mlkit HDF5 file"),
    Case("cifar-fifo", (*CIFAR, "--data", "{fifo}"), 1, PIPE),
    Case("cifar-images-too-small", (*CIFAR[:2], "c", *CIFAR[3:], "--data", h5("tiny_images")), 1, TOO_SMALL),
    Case("augment-inf-pixels", (*AUGMENT, "--data", h5("inf_pixels")), 1, NOT_FINITE),
    Case("augment-too-many-class-names", (*AUGMENT, "--data", h5("names_too_many")), 1, "class_names has 12"),
    Case("augment-truncated", (*AUGMENT, "--data", h5("truncated")), 1, DAMAGED),
    Case("augment-dev-zero", (*AUGMENT, "--data", "/dev/zero"), 1, DEVICE),
    Case("augment-images-too-small", (*AUGMENT[:2], "c", *AUGMENT[3:], "--data", h5("tiny_images")), 1, TOO_SMALL),
    Case("depth-study-label-negative", (*DEPTH, "--data", h5("label_negative")), 1, WRONG_LABELS),
    Case("depth-study-flat-rows", (*DEPTH, "--data", h5("flat_rows")), 1, "expected images of shape"),
    Case("depth-study-empty-file", (*DEPTH, "--data", h5("empty")), 1, "not a readable HDF5 file"),
    Case("depth-study-dev-zero", (*DEPTH, "--data", "/dev/zero"), 1, DEVICE),
    Case("fashion-sweep-float-labels", (*FASHION, "--data", h5("float_labels")), 1, "labels must be integers"),
    Case("fashion-sweep-split-shapes-differ", (*FASHION, "--data", h5("shapes_differ")), 1, "same image shape"),
    Case("fashion-sweep-9-tib-array", (*FASHION, "--data", h5("huge")), 1, TOO_LARGE),
    Case("fashion-sweep-dev-zero", (*FASHION, "--data", "/dev/zero"), 1, DEVICE),
    Case("fashion-sweep-folder-as-data", (*FASHION, "--data", "{h5}"), 1, FOLDER),
    Case("mnist-sum-no-train-images", (*SUM, "--data", h5("no_train_images")), 1, "holds no images"),
    Case("mnist-sum-text-pixels", (*SUM, "--data", h5("text_pixels")), 1, "images must be numbers"),
    Case("mnist-sum-no-checksum", (*SUM, "--data", h5("unsigned")), 1, "no sha256"),
    Case("mnist-sum-dev-zero", (*SUM, "--data", "/dev/zero"), 1, DEVICE),
    Case("mnist-sum-fifo", (*SUM, "--data", "{fifo}"), 1, PIPE),
    Case("mnist-sum-folder-as-data", (*SUM, "--data", "{h5}"), 1, FOLDER),
    Case("mnist-sum-images-too-small", (*SUM, "--data", h5("tiny_images")), 1, "28"),
    Case("mnist-sum-calc-too-few-names", (*CALC, "--data", h5("names_too_few")), 1, "3 class names"),
    Case("mnist-sum-calc-altered", (*CALC, "--data", h5("altered")), 1, "checksum does not match"),
    Case("mnist-sum-predict-dev-zero", ("mnist-sum", "predict", "--model", "{model}", "--data", "/dev/zero"), 1, DEVICE),
    Case("evaluate-nan-pixels", (*EVALUATE, "--data", h5("nan_pixels")), 1, NOT_FINITE),
    Case("evaluate-9-tib-array", (*EVALUATE, "--data", h5("huge")), 1, TOO_LARGE),
    Case("evaluate-dev-zero", (*EVALUATE, "--data", "/dev/zero"), 1, DEVICE),
    Case("evaluate-label-too-large", (*EVALUATE, "--data", h5("label_too_large")), 1, WRONG_LABELS),
    Case("backprop-points-dev-zero", ("backprop", "--preset", "chain", "--data", "/dev/zero"), 1, DEVICE),
]

DATA_DIR_CASES = [
    # Official formats that lie or are spoilt, found through --data-dir.
    Case("cifar-idx-header-lies", (*CIFAR, "--data", "mnist", "--data-dir", data_dir("idx_header_lies")), 1,
         "truncated or damaged: its header says shape \\(60000, 28, 28\\)"),
    Case("augment-idx-absurd-dims", (*AUGMENT, "--data", "mnist", "--data-dir", data_dir("idx_absurd_dims")), 1,
         "EiB of memory, more than the"),
    Case("depth-study-idx-bad-magic", (*DEPTH, "--data", "mnist", "--data-dir", data_dir("idx_bad_magic")), 1,
         "bad magic number"),
    Case("depth-study-idx-no-dims", (*DEPTH, "--data", "mnist", "--data-dir", data_dir("idx_no_dims")), 1,
         "no dimensions"),
    Case("depth-study-idx-dev-zero", (*DEPTH, "--data", "mnist", "--data-dir", data_dir("idx_dev_zero")), 1, DEVICE),
    Case("fashion-sweep-idx-trailing-data", (*FASHION, "--data-dir", data_dir("idx_trailing")), 1,
         "more data than its header"),
    Case("fashion-sweep-idx-label-200", (*FASHION, "--data-dir", data_dir("idx_label_200")), 1,
         "y_train holds label 200"),
    Case("mnist-sum-idx-labels-short", (*SUM, "--data", "mnist", "--data-dir", data_dir("idx_labels_short")), 1,
         "30 train images but 29 labels"),
    Case("mnist-sum-calc-idx-test-shape", (*CALC, "--data", "mnist", "--data-dir", data_dir("idx_test_shape")), 1,
         "same image shape"),
    Case("export-idx-not-gzip", (*EXPORT, "mnist", "--data-dir", data_dir("idx_not_gzip"), "--out", "{out}/m.h5"), 1,
         DAMAGED),
    Case("export-idx-cut-gzip", (*EXPORT, "mnist", "--data-dir", data_dir("idx_cut_gzip"), "--out", "{out}/m.h5"), 1,
         DAMAGED),
    Case("evaluate-idx-folder", (*EVALUATE, "--data", "mnist", "--data-dir", data_dir("idx_folder")), 1,
         f"{FOLDER}, not an IDX file"),
    Case("cifar-idx-fifo", (*CIFAR, "--data", "mnist", "--data-dir", data_dir("idx_fifo")), 1, PIPE),
    Case("cifar-pickle-runs-code", (*CIFAR, "--data", "cifar10", "--data-dir", data_dir("cifar_pickle_runs_code")),
         1, "refusing to load posix.system"),
    Case("augment-tar-member-outside", (*AUGMENT, "--data", "cifar10", "--data-dir", data_dir("cifar_outside_member")),
         1, "points outside the archive"),
    Case("export-cifar-label-10", (*EXPORT, "cifar10", "--data-dir", data_dir("cifar_label_10"), "--out",
                                   "{out}/c.h5"), 1, "y_test holds label 10"),
    Case("cifar-batch-wrong-shape", (*CIFAR, "--data", "cifar10", "--data-dir", data_dir("cifar_wrong_shape")), 1,
         "shape \\(20, 100\\)"),
    Case("augment-cifar-float-pixels", (*AUGMENT, "--data", "cifar10", "--data-dir", data_dir("cifar_float_pixels")),
         1, "dtype float32; expected uint8"),
    Case("export-cifar-truncated", (*EXPORT, "cifar10", "--data-dir", data_dir("cifar_truncated"), "--out",
                                    "{out}/c.h5"), 1, DAMAGED),
    Case("evaluate-cifar-not-a-tar", (*EVALUATE, "--data", "cifar10", "--data-dir", data_dir("cifar_not_tar")), 1,
         DAMAGED),
    Case("cifar-archive-dev-zero", (*CIFAR, "--data", "cifar10", "--data-dir", data_dir("cifar_dev_zero")), 1, DEVICE),
    Case("cifar-data-dir-dev-zero", (*CIFAR, "--data", "mnist", "--data-dir", "/dev/zero"), 1,
         "data folder /dev/zero is a character device"),
]

OUTPUT_CASES = [
    # Write failures (class 4): refused before any work, or one line with nothing lost.
    Case("export-missing-parent", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{out}/missing/m.h5"), 1, NO_FOLDER),
    Case("export-under-proc", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "/proc/mlkit.h5"), 1,
         "cannot create (a file|files) in /proc"),
    Case("export-parent-is-a-file", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{out}/keep.txt/m.h5"), 1,
         "(is a file, not a folder|Not a directory)"),
    Case("export-to-a-folder", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{out}"), 2),
    Case("export-over-dev-null", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{out}/null"), 1, DEVICE),
    Case("export-full-disk", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{tiny}/existing.h5"), 1,
         "No space left on device; the existing file is unchanged"),
    Case("export-read-only", (*EXPORT, "mnist", "--data-dir", "{good}", "--out", "{read_only}/m.h5"), 1,
         "(is not writable|Read-only file system)"),
    Case("cifar-save-missing-parent", (*CIFAR, *GOOD, "--save", "{out}/missing/m.keras"), 1, NO_FOLDER),
    Case("cifar-save-under-proc", (*CIFAR, *GOOD, "--save", "/proc/m.keras"), 1, CANNOT_CREATE),
    Case("cifar-plot-dir-under-proc", (*CIFAR, *GOOD, "--plot-dir", "/proc/plots"), 1, CANNOT_CREATE),
    Case("cifar-plot-dir-under-a-file", (*CIFAR, *GOOD, "--plot-dir", "{out}/keep.txt/plots"), 1, FILE_AS_FOLDER),
    Case("cifar-plot-dir-is-a-file", (*CIFAR, *GOOD, "--plot-dir", "{out}/keep.txt"), 2),
    Case("cifar-resume-a-folder", (*CIFAR, *GOOD, "--resume", "{out}"), 2),
    Case("augment-save-missing-parent", (*AUGMENT, *GOOD, "--save", "{out}/missing/m.keras"), 1, NO_FOLDER),
    Case("augment-plot-dir-under-proc", (*AUGMENT, *GOOD, "--plot-dir", "/proc/plots"), 1, CANNOT_CREATE),
    Case("depth-study-plot-dir-under-proc", (*DEPTH, *GOOD, "--plot-dir", "/proc/plots"), 1, CANNOT_CREATE),
    Case("depth-study-plot-dir-read-only", (*DEPTH, *GOOD, "--plot-dir", "{read_only}/plots"), 1,
         "(is not writable|Read-only file system)"),
    Case("fashion-sweep-out-under-proc", (*FASHION, "--data-dir", "{good}", "--out", "/proc/sweep"), 1, CANNOT_CREATE),
    Case("fashion-sweep-out-under-a-file", (*FASHION, "--data-dir", "{good}", "--out", "{out}/keep.txt/sweep"), 1,
         FILE_AS_FOLDER),
    Case("fashion-sweep-save-missing-parent", (*FASHION, "--data-dir", "{good}", "--save", "{out}/missing/b.keras"), 1,
         NO_FOLDER),
    Case("fashion-sweep-plot-dir-under-proc", (*FASHION, "--data-dir", "{good}", "--plot-dir", "/proc/plots"), 1,
         CANNOT_CREATE),
    Case("mnist-sum-save-missing-parent", (*SUM, *GOOD, "--save", "{out}/missing/m.keras"), 1, NO_FOLDER),
    Case("mnist-sum-export-under-proc", (*SUM, *GOOD, "--export-data", "/proc/s.h5"), 1, CANNOT_CREATE),
    Case("mnist-sum-plot-dir-under-a-file", (*SUM, *GOOD, "--plot-dir", "{out}/keep.txt/plots"), 1, FILE_AS_FOLDER),
    Case("mnist-sum-calc-export-missing-parent", (*CALC, *GOOD, "--export-data", "{out}/missing/s.h5"), 1, NO_FOLDER),
    Case("evaluate-plot-dir-under-proc", (*EVALUATE, *GOOD, "--plot-dir", "/proc/plots"), 1, CANNOT_CREATE),
    Case("seq2seq-save-under-proc", ("seq2seq", "--epochs", "1", "--save", "/proc/m.keras"), 1, CANNOT_CREATE),
    Case("backprop-dot-under-proc", ("backprop", "--preset", "chain", "--dot", "/proc/graph.dot"), 1,
         "cannot create (a file|files) in /proc"),
]

OPTION_CASES = [
    # NaN and inf are no numbers for any option (class 6), a usage error.
    Case("augment-translate-nan", (*AUGMENT, *GOOD, "--translate", "nan"), 2, "finite"),
    Case("augment-rotate-inf", (*AUGMENT, *GOOD, "--rotate", "inf"), 2, "finite"),
    Case("augment-cutout-minus-inf", (*AUGMENT, *GOOD, "--cutout", "-inf"), 2),
    Case("augment-zoom-nan", (*AUGMENT, *GOOD, "--zoom", "nan"), 2, "finite"),
    Case("fashion-sweep-learning-rate-nan", (*FASHION[:-2], "--learning-rates", "nan", "--data-dir", "{good}"), 2,
         "finite"),
    Case("fashion-sweep-learning-rate-inf", (*FASHION[:-2], "--learning-rates", "0.001,inf", "--data-dir", "{good}"), 2,
         "finite"),
    Case("fashion-sweep-val-fraction-nan", (*FASHION, "--val-fraction", "nan", "--data-dir", "{good}"), 2, ""),
    Case("mnist-sum-shift-nan", (*SUM, *GOOD, "--shift", "nan"), 2),
    Case("mnist-sum-rotate-inf", (*SUM, *GOOD, "--rotate", "inf"), 2),
    Case("backprop-lr-nan", ("backprop", "--preset", "chain", "--lr", "nan"), 2),
    Case("backprop-lr-inf", ("backprop", "--preset", "chain", "--lr", "inf"), 2),
    Case("seq2seq-learning-rate-nan", ("seq2seq", "--epochs", "1", "--learning-rate", "nan"), 2, ""),
    Case("faces-threshold-nan", ("faces", "match", "{out}/keep.txt", "--index", "{out}/keep.txt", "--threshold", "nan"),
         2, ""),
]

CASES = DATA_FILE_CASES + DATA_DIR_CASES + OUTPUT_CASES + OPTION_CASES

@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Every bad file once per module: HDF5 datasets, IDX and CIFAR data folders, a pipe, a good folder."""
    root = tmp_path_factory.mktemp("hostile")
    write_bad_hdf5(root / "h5")
    write_bad_idx(root / "bad")
    write_bad_cifar(root / "bad")
    good = root / "good"
    write_mnist_idx(good / "mnist")
    write_mnist_idx(good / "fashion-mnist")
    (good / "cifar10").mkdir()
    write_cifar_tar(good / "cifar10" / "cifar-10-python.tar.gz")
    os.mkfifo(root / "pipe")
    for path in (root / "h5").iterdir():
        path.chmod(0o600)  # a failed run must not loosen them
    return {"root": root, "h5": root / "h5", "bad": root / "bad", "good": good, "fifo": root / "pipe"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 28x28 -> 10 classifier saved as .keras, for the scoring commands."""
    import keras

    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture
def output_folder(tmp_path) -> Path:
    """Where outputs go: a private file that must stay private, and a link to /dev/null."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("written before the run\n")
    (out / "keep.txt").chmod(0o600)
    (out / "null").symlink_to("/dev/null")
    return out


def places(case: Case, request, hostile: dict, out: Path) -> dict[str, str]:
    """The paths a case's placeholders name; mounts and the model are made only when used."""
    text = " ".join(case.args)
    paths = {**hostile, "out": out}
    if "{model}" in text:
        paths["model"] = request.getfixturevalue("tiny_model")
    if "{tiny}" in text:
        tiny = request.getfixturevalue("tiny_filesystem")
        (tiny / "existing.h5").write_bytes(b"an older export\n")
        (tiny / "existing.h5").chmod(0o600)
        fill(tiny)
        paths["tiny"] = tiny
    if "{read_only}" in text:
        paths["read_only"] = request.getfixturevalue("read_only_folder")
    return {key: str(value) for key, value in paths.items()}


class PipeUnblocker:
    """Opens the test's named pipe for writing whenever a reader waits on it, so a command that
    opens the pipe gets an empty read and fails the case instead of hanging the suite."""

    def __init__(self, pipe: Path):
        self.pipe, self.done = pipe, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.done.wait(0.2):
            try:
                os.close(os.open(self.pipe, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # no reader waiting: the normal case

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_hostile_input_is_refused_cleanly(case, mlkit, hostile, output_folder, request):
    paths = places(case, request, hostile, output_folder)
    args = [arg.format(**paths) for arg in case.args]
    watched = [hostile["root"], output_folder] + [Path(paths[key]) for key in ("tiny", "read_only") if key in paths]
    before = snapshot(*watched)
    with PipeUnblocker(hostile["fifo"]):
        result = mlkit(*args)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and (result.exception is None or isinstance(result.exception, SystemExit)), \
        f"{result.exception!r}\n{output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"stderr:\n{result.stderr}"
    assert result.exit_code == case.code, lines[0]
    assert re.search(case.message, lines[0]), lines[0]
    assert snapshot(*watched) == before
    assert not Path("/tmp/mlkit-hostile-pickle-ran").exists()


def test_the_table_covers_enough_cases():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) >= 60
