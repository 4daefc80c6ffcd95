"""`mlkit seq2seq`: train an RNN on arithmetic strings; `mlkit seq2seq predict` answers questions."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlkit.arithmetic import MAX_DIGITS
from mlkit.experiments.seq2seq import (MAX_LAYERS, MAX_SAMPLES, MAX_TRAIN_SIZE, MAX_UNITS, METRICS,
                                       PREDICT_METRICS, Seq2SeqConfig)

from ._options import (BatchSizeOption, EpochsOption, ExpectOption, JsonOption, LearningRateOption, ModelOption,
                       PlotDirOption, QuietOption, SaveOption, SeedOption, finite)
from ._output import expectations, finish, make_table, print_tables

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
    digits: Annotated[int, typer.Option("--digits", min=1, max=MAX_DIGITS, help="Most digits of each operand.")] = D.digits,
    train_size: Annotated[int, typer.Option("--train-size", min=2, max=MAX_TRAIN_SIZE, help="Different questions generated (train + validation).")] = D.train_size,
    val_fraction: Annotated[float, typer.Option("--val-fraction", parser=finite(0, 1, low_open=True, high_open=True), help="Share of questions held out for validation.")] = D.val_fraction,
    reverse: Annotated[bool, typer.Option("--reverse/--no-reverse", help="Encoder reads questions backwards.")] = D.reverse,
    cell: Annotated[Cell, typer.Option("--cell", help="Recurrent cell.")] = Cell(D.cell),
    units: Annotated[int, typer.Option("--units", "--hidden", min=1, max=MAX_UNITS, help="Units of each recurrent layer.")] = D.units,
    layers: Annotated[int, typer.Option("--layers", min=1, max=MAX_LAYERS, help="Recurrent layers in encoder and in decoder.")] = D.layers,
    batch_size: BatchSizeOption = D.batch_size,
    learning_rate: LearningRateOption = D.learning_rate,
    lr_decay: Annotated[float, typer.Option("--lr-decay", parser=finite(0, 1, low_open=True), help="Learning-rate factor per epoch (1: constant).")] = D.lr_decay,
    epochs: EpochsOption = D.epochs,
    target: Annotated[float | None, typer.Option("--target", metavar="EXACT", parser=finite(0, 1, low_open=True), help="Stop once validation exact match reaches this (0 < EXACT <= 1); fills seconds_to_target.")] = None,
    jit: Annotated[bool, typer.Option("--jit/--no-jit", help="XLA-compile training steps (faster on CPU after a few seconds of compiling).")] = D.jit_compile,
    samples: Annotated[int, typer.Option("--samples", min=0, max=MAX_SAMPLES, help="Validation questions shown after each epoch (stderr).")] = D.samples,
    save: SaveOption = None,
    seed: SeedOption = D.seed,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Teach an encoder-decoder RNN integer arithmetic from strings such as "123-45".

    Scored by exact match (the whole answer right) on held-out questions after every epoch,
    beside Keras' per-character accuracy; the best epoch's weights are kept (and saved with
    --save, for `predict`). Subcommand `predict` answers questions with a saved model.

    Example: mlkit seq2seq --op sub --epochs 30 --save sub.keras --expect 'exact_match>=0.99'
    """
    if ctx.invoked_subcommand is not None:
        return
    from mlkit.experiments.seq2seq import run

    targets = expectations(expect, METRICS)  # before training: a typo must not cost a run
    config = Seq2SeqConfig(
        op=op.value, digits=digits, train_size=train_size, val_fraction=val_fraction, reverse=reverse,
        cell=cell.value, units=units, layers=layers, batch_size=batch_size, learning_rate=learning_rate,
        lr_decay=lr_decay, epochs=epochs, jit_compile=jit, seed=seed, samples=samples, target_exact_match=target,
        save=save, plot_dir=plot_dir, quiet=quiet)
    record = run(config).record()
    finish(record, json=json, expect=targets, render=lambda: _render(record), quiet=quiet)


def _render(record) -> None:
    metrics, data = record.metrics, record.data
    reached = metrics["seconds_to_target"]
    print_tables(make_table(
        f"seq2seq {data['op']}, {data['digits']} digits ({data['train']} train / {data['validation']} "
        f"validation questions)",
        ["epochs", "best epoch", "per-char accuracy", "exact match", "seconds", "to target"],
        [[record.sections["epochs_run"], metrics["best_epoch"], metrics["val_accuracy"], metrics["exact_match"],
          f"{metrics['seconds']:.1f}", "" if reached is None else f"{reached:.1f}"]]))


@app.command("predict")
def predict(
    model: ModelOption,
    expressions: Annotated[list[str] | None, typer.Argument(help="Questions such as 123-45; none: read stdin, one a line.")] = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Answer arithmetic questions with a model saved by `mlkit seq2seq --save`.

    Prints expression, prediction and truth for each question. A bad question (other operator,
    too many digits, stray characters) is reported on stderr and the others are still answered;
    the exit status is then 1. `exact_match` is the share of answered questions right.

    Example: mlkit seq2seq predict --model sub.keras "123-45" "7-980"
    """
    from mlkit.errors import ConfigError
    from mlkit.experiments.seq2seq import predict as answer

    targets = expectations(expect, PREDICT_METRICS)
    lines = expressions or [line for line in _read_stdin().splitlines() if line.strip()]
    if not lines:
        raise ConfigError("no questions given; pass them as arguments or on stdin, one a line.")
    result = answer(model, lines)
    for number, bad in result.errors:
        typer.echo(f"Error: line {number}: {bad.error}" if len(lines) > 1 else f"Error: {bad.error}", err=True)
    finish(result.record(), json=json, expect=targets, render=lambda: _render_answers(result.answers), quiet=quiet)
    if result.errors:
        raise typer.Exit(1)


def _read_stdin() -> str:
    """Standard input as text; bytes that are not UTF-8 become U+FFFD, which the parser names."""
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read().decode("utf-8", errors="replace") if stream is not None else sys.stdin.read()


def _render_answers(answers) -> None:
    rows = [[a.expression, a.prediction, a.truth, "\u2713" if a.correct else "\u2717"]
            for a in answers if a.error is None]
    if rows:
        print_tables(make_table("seq2seq predict", ["expression", "prediction", "truth", "correct"], rows))
