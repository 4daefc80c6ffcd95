"""Render docs/cli.md from the real `--help` of every command: `python -m cli._docs > docs/cli.md`.

A test renders it again and compares, so the reference never drifts from the code.
"""

import typer
from typer.testing import CliRunner

from .main import app

HEADER = """# mlkit command reference

Generated from each command's `--help` by `make docs` (`python -m cli._docs`); a test checks it
is in step with the code. Every command also takes `--help`.
"""


def command_paths(command, prefix=("mlkit",)):
    """Yield the word path of every command and group, depth first, in registration order."""
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, prefix + (name,))


def render() -> str:
    runner = CliRunner()
    sections = [HEADER]
    for path in command_paths(typer.main.get_command(app)):
        # Fixed width and no colour so the text is the same on every terminal.
        result = runner.invoke(app, [*path[1:], "--help"], prog_name="mlkit",
                               env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
        help_text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        sections.append(f"## {' '.join(path)}\n\n```\n{help_text}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    print(render(), end="")
