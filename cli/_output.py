"""What every command shares on the way out: stdout/stderr consoles, tables, the JSON envelope,
`--expect` checks, and the error handling that turns failures into one `Error: ...` line."""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from mlkit.errors import ConfigError, MlkitError
from mlkit.expectations import Expectation, check_metric_names, evaluate_expectations, parse_expectation
from mlkit.record import Record, error_document
from mlkit.results import to_jsonable


# Looked up at call time so CliRunner's captured streams are used in tests.
def stdout() -> Console:
    return Console(file=sys.stdout, soft_wrap=False)


def stderr() -> Console:
    return Console(file=sys.stderr, soft_wrap=False)


# Typer 0.29 carries its own copy of click, whose usage errors (an option out of range, a
# typer.BadParameter) are not click's own: both are usage errors (exit 2).
USAGE_ERRORS = (click.UsageError, *(base for base in typer.BadParameter.__mro__ if base.__name__ == "UsageError"))


class ExpectationFailed(Exception):
    """Raised after the results are printed when an --expect target was missed (exit 3)."""


class ErrorHandlingGroup(TyperGroup):
    """Top-level group: every failure is one `Error: ...` line on stderr and a documented exit
    code (docs/json.md): 2 for a usage error (an option that does not parse, is out of range or
    is refused by the library as a ConfigError), 1 for a problem found while running, 3 for a
    missed --expect target, 130 for Ctrl-C. With --json, a failure before the results still
    prints one JSON document on stdout, carrying the error."""

    def main(self, args=None, prog_name=None, **extra):
        self.raw_args = list(sys.argv[1:] if args is None else args)
        return super().main(args, prog_name, **extra)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except USAGE_ERRORS as error:
            self.fail(ctx, error.format_message(), 2)
        except ConfigError as error:
            self.fail(ctx, str(error), 2)
        except MlkitError as error:
            self.fail(ctx, str(error), 1)
        except ExpectationFailed as error:
            typer.echo(f"Error: {error}", err=True)  # the results (and their JSON) are already out
            ctx.exit(3)
        except KeyboardInterrupt:
            self.fail(ctx, "interrupted; files already written are complete.", 130)

    def fail(self, ctx: typer.Context, message: str, code: int):
        args = getattr(self, "raw_args", [])
        message = " ".join(message.split())
        if "--json" in args:
            print_json(error_document(self.command_name(args), message, code))
        typer.echo(f"Error: {message}", err=True)
        ctx.exit(code)

    def command_name(self, args: list[str]) -> str:
        """'faces match' from the words of the command line that name (sub)commands."""
        words = [arg for arg in args if not arg.startswith("-")]
        group = self.commands.get(words[0]) if words else None
        if group is None:
            return "mlkit"
        commands = getattr(group, "commands", {})
        return f"{words[0]} {words[1]}" if len(words) > 1 and words[1] in commands else words[0]


def expectations(texts: list[str] | None, metrics: tuple[str, ...]) -> list[Expectation]:
    """Parse --expect values and check their metric names before any work starts."""
    parsed = [parse_expectation(text) for text in texts or []]
    check_metric_names(parsed, metrics)
    return parsed


def finish(record: Record, *, json: bool, expect: list[Expectation] = (), render: Callable[[], None] | None = None,
           quiet: bool = False) -> None:
    """Print a command's record (JSON envelope, or tables via `render`), then hold it to --expect.

    Raises:
        ExpectationFailed: a target was missed; the caller's group turns it into exit 3.
    """
    checks = evaluate_expectations(list(expect), record.metrics)
    if checks:
        record.sections["expectations"] = checks
    if json:
        print_json(record.to_dict())
    else:
        if render is not None:
            render()
        if checks:
            print_tables(make_table("Expectations", ["metric", "target", "actual", "passed"], [
                [c["metric"], f"{c['op']} {c['value']:g}", c["actual"], "yes" if c["passed"] else "NO"]
                for c in checks]))
        report_files([entry["path"] for entry in record.files], quiet)
    failed = [c for c in checks if not c["passed"]]
    if failed:
        raise ExpectationFailed("expectation failed: " + "; ".join(
            f"{c['metric']} {c['op']} {c['value']:g} (actual {_cell(c['actual'])})" for c in failed))


def print_json(result: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
    sys.stdout.flush()


def make_table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A Rich table whose long cells wrap instead of being cut, so 80 columns show everything."""
    table = Table(title=title)
    first = rows[0] if rows else [""] * len(columns)
    for column, sample in zip(columns, first):
        table.add_column(column, justify="right" if isinstance(sample, (int, float)) else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.2e}"  # learning rates 1e-5 and 4e-5 stay apart
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
            stderr().print(f"wrote {path}", highlight=False, soft_wrap=True)  # a path is never broken
