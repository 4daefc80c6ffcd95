"""Project rules that code review alone would miss."""

import subprocess
import sys
from pathlib import Path

from cli._docs import render

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(output.stdout.split())


def test_library_never_imports_the_cli_layer():
    modules = imported_modules("import mlkit, mlkit.data, mlkit.training, mlkit.plots, mlkit.results")
    assert not {"typer", "rich", "cli"} & {name.split(".")[0] for name in modules}


def test_cli_start_up_does_not_import_tensorflow():
    # `mlkit --help` must answer in well under a second, so Keras is imported lazily.
    modules = imported_modules("import cli.main")
    assert not {"tensorflow", "keras"} & {name.split(".")[0] for name in modules}


def test_docs_cli_md_is_in_step_with_help():
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run `make docs`"


def test_tensorflow_start_up_lines_are_kept_off_stderr():
    # They would stand before every `Error: ...` line that grading scripts read. Other warnings
    # of TensorFlow's logger still come through.
    code = ("import cli, tensorflow as tf; tf.constant(1.0) + 1; log = tf.get_logger(); "
            "log.warning('5 out of the last 17 calls to f triggered tf.function retracing.'); log.warning('kept')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0
    assert len(result.stderr.splitlines()) == 1 and "kept" in result.stderr, result.stderr
