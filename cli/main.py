"""The `mlkit` entry point: one Typer app, every command registered here."""

from typing import Annotated

import typer

from . import augment, backprop, cifar, data, depth_study, evaluate, faces, fashion_sweep, filter, mnist_sum, seq2seq
from ._output import ErrorHandlingGroup

app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Small composable tools for classic deep-learning exercises. Results print as tables, "
    "or as one JSON document with --json; progress goes to stderr.",
)


def _print_version(value: bool) -> None:
    if value:
        from mlkit import __version__

        typer.echo(f"mlkit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                 help="Print mlkit's version and exit.")] = False):
    """Small composable tools for classic deep-learning exercises."""


app.add_typer(data.app, name="data")
app.command("backprop")(backprop.backprop)
app.add_typer(seq2seq.app, name="seq2seq")
app.add_typer(mnist_sum.app, name="mnist-sum")
app.command("depth-study")(depth_study.depth_study)
app.command("cifar")(cifar.cifar)
app.command("augment")(augment.augment)
app.command("fashion-sweep")(fashion_sweep.fashion_sweep)
app.add_typer(faces.app, name="faces")
app.command("filter")(filter.filter_image)
app.command("evaluate")(evaluate.evaluate)


def main() -> None:
    app(prog_name="mlkit")


if __name__ == "__main__":
    main()
