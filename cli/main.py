"""The `mlkit` entry point: one Typer app, every command registered here."""

import typer

from . import data
from ._output import ErrorHandlingGroup

app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Small composable tools for classic deep-learning exercises. Results print as tables, "
    "or as one JSON document with --json; progress goes to stderr.",
)
app.add_typer(data.app, name="data")


def main() -> None:
    app(prog_name="mlkit")


if __name__ == "__main__":
    main()
