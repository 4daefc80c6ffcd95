"""`mlkit seq2seq`: train a transformer or an RNN on arithmetic strings; `mlkit seq2seq predict` answers questions."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlkit.arithmetic import MAX_DIGITS
from mlkit.experiments.seq2seq import (MAX_HEADS, MAX_LAYERS, MAX_SAMPLES, MAX_TRAIN_SIZE, MAX_UNITS, METRICS,
                                       Seq2SeqConfig)
from mlkit.experiments.seq2seq_predict import PREDICT_METRICS

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


class Arch(str, Enum):
    transformer = "transformer"
    rnn = "rnn"


class AnswerOrder(str, Enum):
    lsb = "lsb"
    msb = "msb"


class Recipe(str, Enum):
    default = "default"
    seed = "seed"


D = Seq2SeqConfig()  # the defaults live in the config dataclass (the RNN's and the seed's beside it)


def _value(choice):
    return None if choice is None else choice.value


@app.callback()
def train(
    ctx: typer.Context,
    op: Annotated[Op, typer.Option("--op", help="Operation to learn.")] = Op(D.op),
    recipe: Annotated[Recipe, typer.Option("--recipe", help="default (mlkit's setups) or seed (seed 001's LSTM, as it ran).")] = Recipe.default,
    arch: Annotated[Arch | None, typer.Option("--arch", help="transformer (default) or rnn (encoder-decoder; --cell chooses the cell).")] = None,
    answer_order: Annotated[AnswerOrder | None, typer.Option("--answer-order", help="Answers written least- or most-significant digit first (default: lsb for the transformer, msb for the RNN).")] = None,
    digits: Annotated[int | None, typer.Option("--digits", min=1, max=MAX_DIGITS, help=f"Most digits of each operand [default: {D.digits}].")] = None,
    train_digits: Annotated[int | None, typer.Option("--train-digits", min=1, max=MAX_DIGITS, help="Train on operands of up to this many digits, at least --digits; the held-out questions are --digits ones (every held-out pair left out of training) [default: 3 for mul up to 2 digits, else --digits].")] = None,
    train_size: Annotated[int | None, typer.Option("--train-size", min=2, max=MAX_TRAIN_SIZE, help=f"Different questions generated, train + validation [default: {D.train_size}].")] = None,
    val_fraction: Annotated[float | None, typer.Option("--val-fraction", parser=finite(0, 1, low_open=True, high_open=True), help=f"Share of operand pairs held out for validation, in both orders [default: {D.val_fraction}].")] = None,
    reverse: Annotated[bool | None, typer.Option("--reverse/--no-reverse", help="RNN: the encoder reads questions backwards [default: reverse].")] = None,
    cell: Annotated[Cell | None, typer.Option("--cell", help=f"RNN: recurrent cell [default: {D.cell}].")] = None,
    units: Annotated[int | None, typer.Option("--units", "--hidden", min=1, max=MAX_UNITS, help=f"RNN: units of each recurrent layer [default: {D.units}].")] = None,
    d_model: Annotated[int | None, typer.Option("--d-model", min=1, max=MAX_UNITS, help=f"Transformer: width of the token vectors [default: {D.d_model}].")] = None,
    heads: Annotated[int | None, typer.Option("--heads", min=1, max=MAX_HEADS, help=f"Transformer: attention heads [default: {D.heads}].")] = None,
    layers: Annotated[int | None, typer.Option("--layers", min=1, max=MAX_LAYERS, help=f"Transformer blocks [default: {D.layers}], or recurrent layers in encoder and in decoder [default: 1].")] = None,
    batch_size: BatchSizeOption = None,
    learning_rate: LearningRateOption = None,
    lr_decay: Annotated[float | None, typer.Option("--lr-decay", parser=finite(0, 1, low_open=True), help=f"RNN: learning-rate factor per epoch, 1: constant [default: {D.lr_decay}].")] = None,
    epochs: EpochsOption = None,
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
    """Teach a small transformer (or an encoder-decoder RNN) integer arithmetic from strings such as "123-45".

    Scored by exact match (the whole answer right) on held-out questions after every epoch,
    beside per-character accuracy; the transformer's rate decays to near zero and it keeps its
    last model, the RNN keeps its best epoch's weights (saved with --save, for `predict`). Held-out operand pairs are never trained on, in either order; each training pair is trained in both orders, and for add and sub a tenth of them are near pairs (a-b with b within 10 of a, a+b within 10 of 99..9: borrows and carries through every digit). Defaults:
    transformer of 2 blocks of width 64 reading zero-padded operands and writing answers
    least-significant digit first (products after their working: a times the last 1, 2, ...
    digits of b), batch 256, AdamW 0.002 with warm-up and cosine decay; 3 epochs for add, 5
    for sub (at 0.003), 3 epochs of 250,000 questions for mul (300,000 for up to 2 digits, trained on
    3-digit questions and scored on the held-out 2-digit ones).
    --arch rnn: GRU 128, answers most-significant digit first, batch 128, Adam 0.004 decaying
    0.95 per epoch, 30 epochs. --recipe seed is seed 001's setup instead (50,000 questions of
    3 digits, shuffled and the last 10% held out, one-hot reversed questions, LSTM 128, batch
    128, Adam 0.001, 39 epochs, the last epoch scored); --arch, --answer-order, --lr-decay,
    --d-model, --heads, --target and --train-digits do not apply to it.
    Subcommand `predict` answers questions with a saved model.

    Example: mlkit seq2seq --op mul --digits 2 --save mul.keras --expect 'exact_match>=0.99'
    """
    if ctx.invoked_subcommand is not None:
        return
    from mlkit.experiments.seq2seq import run, seq2seq_config

    targets = expectations(expect, METRICS)  # before training: a typo must not cost a run
    config = seq2seq_config(
        recipe.value, op=op.value, arch=_value(arch), answer_order=_value(answer_order), digits=digits,
        train_digits=train_digits, train_size=train_size, val_fraction=val_fraction, reverse=reverse, cell=_value(cell), units=units,
        d_model=d_model, heads=heads, layers=layers, batch_size=batch_size, learning_rate=learning_rate,
        lr_decay=lr_decay, epochs=epochs, target_exact_match=target, jit_compile=jit, seed=seed, samples=samples,
        save=save, plot_dir=plot_dir, quiet=quiet)
    record = run(config).record()
    finish(record, json=json, expect=targets, render=lambda: _render(record), quiet=quiet)


def _render(record) -> None:
    metrics, data = record.metrics, record.data
    reached = metrics["seconds_to_target"]
    config = record.config
    print_tables(make_table(
        f"seq2seq {data['op']}, {data['digits']} digits, {config['arch']}, answers {config['answer_order']} "
        f"first ({data['train']} train / {data['validation']} validation questions)",
        ["epochs", "kept epoch", "per-char accuracy", "exact match", "seconds", "to target"],
        [[record.sections["epochs_run"], metrics["best_epoch"] or "last", metrics["val_accuracy"], metrics["exact_match"],
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
    from mlkit.experiments.seq2seq_predict import predict as answer

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
