"""`mlkit seq2seq`: train an RNN on arithmetic strings; `mlkit seq2seq predict` answers questions."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.seq2seq import Seq2SeqConfig

from ._options import JsonOption, PlotDirOption, QuietOption, SeedOption
from ._output import make_table, print_json, print_tables, report_files

app = typer.Typer(invoke_without_command=True)


class Op(str, Enum):
    add = "add"
    sub = "sub"
    mul = "mul"


class Cell(str, Enum):
    lstm = "lstm"
    gru = "gru"
    simple = "simple"


D = Seq2SeqConfig()  # the defaults live in the config dataclass


@app.callback()
def train(
    ctx: typer.Context,
    op: Annotated[Op, typer.Option("--op", help="Operation to learn.")] = Op(D.op),
    digits: Annotated[int, typer.Option("--digits", help="Most digits of each operand.")] = D.digits,
    train_size: Annotated[int, typer.Option("--train-size", help="Different questions generated (train + validation).")] = D.train_size,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of questions held out for validation.")] = D.val_fraction,
    reverse: Annotated[bool, typer.Option("--reverse/--no-reverse", help="Encoder reads questions backwards.")] = D.reverse,
    cell: Annotated[Cell, typer.Option("--cell", help="Recurrent cell.")] = Cell(D.cell),
    hidden: Annotated[int, typer.Option("--hidden", help="Units of each recurrent layer.")] = D.units,
    layers: Annotated[int, typer.Option("--layers", help="Recurrent layers in encoder and in decoder.")] = D.layers,
    batch_size: Annotated[int, typer.Option("--batch-size")] = D.batch_size,
    learning_rate: Annotated[float, typer.Option("--learning-rate", help="Adam's first learning rate.")] = D.learning_rate,
    lr_decay: Annotated[float, typer.Option("--lr-decay", help="Learning-rate factor per epoch (1: constant).")] = D.lr_decay,
    epochs: Annotated[int, typer.Option("--epochs")] = D.epochs,
    jit: Annotated[bool, typer.Option("--jit/--no-jit", help="XLA-compile training steps (faster on CPU after a few seconds of compiling).")] = D.jit_compile,
    samples: Annotated[int, typer.Option("--samples", help="Validation questions shown after each epoch (stderr).")] = D.samples,
    save: Annotated[Path | None, typer.Option("--save", dir_okay=False, help="Save the best model here (.keras) for `predict`.")] = None,
    seed: SeedOption = D.seed,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Teach an encoder-decoder RNN integer arithmetic from strings such as "123-45".

    Scored by exact match (the whole answer right) on held-out questions after every epoch,
    beside Keras' per-character accuracy; the best epoch's weights are kept. Subcommand
    `predict` answers questions with a saved model.

    Example: mlkit seq2seq --op sub --epochs 30 --save sub.keras
    """
    if ctx.invoked_subcommand is not None:
        return
    from mlkit.experiments.seq2seq import run

    config = Seq2SeqConfig(
        op=op.value, digits=digits, train_size=train_size, val_fraction=val_fraction,
        reverse=reverse, cell=cell.value, units=hidden, layers=layers, batch_size=batch_size,
        learning_rate=learning_rate, lr_decay=lr_decay, epochs=epochs, jit_compile=jit, seed=seed, samples=samples,
        save=save, plot_dir=plot_dir, quiet=quiet)
    result = run(config)
    if json:
        print_json(result)
        return
    print_tables(make_table(
        f"seq2seq {result.op}, {result.digits} digits ({result.train_questions} train / "
        f"{result.val_questions} validation questions)",
        ["epochs", "best epoch", "per-char accuracy", "exact match", "seconds"],
        [[result.epochs, result.best_epoch, result.val_accuracy, result.val_exact_match,
          f"{result.seconds:.1f}"]]))
    report_files(result.files, quiet)


@app.command("predict")
def predict(
    model: Annotated[Path, typer.Option("--model", dir_okay=False, help="A model saved by `mlkit seq2seq --save`.")],
    expressions: Annotated[list[str] | None, typer.Argument(help="Questions such as 123-45; none: read stdin, one a line.")] = None,
    json: JsonOption = False,
):
    """Answer arithmetic questions with a saved model; prints expression, prediction, truth.

    A bad question (other operator, too many digits, stray characters) is reported on stderr
    and the others are still answered; the exit status is then 1.

    Example: mlkit seq2seq predict --model sub.keras "123-45" "7-980"
    """
    from mlkit.errors import ConfigError
    from mlkit.experiments.seq2seq import predict as answer

    lines = expressions or [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not lines:
        raise ConfigError("no questions given; pass them as arguments or on stdin, one a line.")
    answers = answer(model, lines)
    if json:
        print_json({"answers": answers})
    else:
        rows = [[a.expression, a.prediction, a.truth, "\u2713" if a.correct else "\u2717"]
                for a in answers if a.error is None]
        if rows:
            print_tables(make_table("seq2seq predict", ["expression", "prediction", "truth", "correct"], rows))
    errors = [(number, a) for number, a in enumerate(answers, 1) if a.error]
    for number, bad in errors:
        typer.echo(f"Error: line {number}: {bad.error}" if len(answers) > 1 else f"Error: {bad.error}", err=True)
    if errors:
        raise typer.Exit(1)
