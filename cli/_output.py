"""What every command shares: common options, stdout/stderr consoles, JSON and table output,
and the error handling that turns MlkitError into one `Error: ...` line."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from mlkit.errors import ConfigError, MlkitError
from mlkit.options import parse_list
from mlkit.results import to_jsonable

# Looked up at call time so CliRunner's captured streams are used in tests.
def stdout() -> Console:
    return Console(file=sys.stdout, soft_wrap=False)


def stderr() -> Console:
    return Console(file=sys.stderr, soft_wrap=False)


class ErrorHandlingGroup(TyperGroup):
    """Top-level group: a user's mistake (MlkitError) is one stderr line and exit 1."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except MlkitError as error:
            typer.echo(f"Error: {error}", err=True)
            ctx.exit(1)


# Options every command spells the same way (STYLE.md rule 4: Keras names, kebab case).
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="MLKIT_DATA_DIR", file_okay=False,
                 help="Folder holding the datasets (searched before the Keras cache)."),
]
DataOption = Annotated[str, typer.Option("--data", help="Dataset name (mnist, fashion-mnist, cifar10) or an mlkit HDF5 file.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed repeats the run.")]
PlotDirOption = Annotated[Path | None, typer.Option("--plot-dir", file_okay=False, help="Write PNG plots to this folder.")]


def comma_list(text: str, cast: type, option: str) -> tuple:
    """An option's comma-separated list; a malformed one is a usage error (exit 2)."""
    try:
        return parse_list(text, cast, option)
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def print_json(result: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
    sys.stdout.flush()


def make_table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A Rich table; floats are shown with 4 significant decimals."""
    table = Table(title=title)
    first = rows[0] if rows else [""] * len(columns)
    for column, sample in zip(columns, first):
        table.add_column(column, justify="right" if isinstance(sample, (int, float)) else "left")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    if isinstance(value, (tuple, list)):
        return ",".join(_cell(item) for item in value)  # (32, 64) shows as 32,64
    return "" if value is None else str(value)


def print_tables(*tables: Table) -> None:
    console = stdout()
    for table in tables:
        console.print(table)


def report_files(paths: list[Path | str], quiet: bool = False) -> None:
    """Tell the user (on stderr) which files were written."""
    if not quiet:
        for path in paths:
            stderr().print(f"wrote {path}", highlight=False)
