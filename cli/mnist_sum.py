"""`mlkit mnist-sum`: sums of MNIST digit sequences, an MNIST calculator, and predicting with them."""

from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.mnist_sum import CALC_METRICS, SUM_METRICS, CalcConfig, SumConfig
from mlkit.mnist_sum.limits import MAX_DIGITS, MAX_LENGTH, MAX_MEMBERS, MAX_SEQUENCES
from mlkit.mnist_sum.predict import PREDICT_METRICS, PredictConfig

from ._options import (BatchSizeOption, DataDirOption, DataOption, EpochsOption, ExpectOption, JsonOption,
                       LearningRateOption, ModelOption, PlotDirOption, PrecisionOption, QuietOption, SaveOption,
                       SeedOption, comma_list, finite)
from ._output import expectations, finish, make_table, print_tables

app = typer.Typer(no_args_is_help=True, help="Read numbers written as sequences of MNIST images.")

RecipeOption = Annotated[str, typer.Option(
    "--recipe", help="default (mlkit's model) or seed (the seed exercise's data, model and training).")]
TrainOption = Annotated[int | None, typer.Option(
    "--train-sequences", min=1, max=MAX_SEQUENCES, help="Training sequences, from the training images.")]
ValidationOption = Annotated[int | None, typer.Option(
    "--validation-sequences", min=1, max=MAX_SEQUENCES,
    help="Validation sequences (default recipe: from held-out training images).")]
TestOption = Annotated[int | None, typer.Option(
    "--test-sequences", min=1, max=MAX_SEQUENCES, help="Test sequences per length, from the test images.")]
ExportOption = Annotated[Path | None, typer.Option(
    "--export-data", dir_okay=False, help="Write the sequences to this HDF5 file.")]
AUGMENTATION = finite(0.0, 0.5, high_open=True)
LengthOption = Annotated[int, typer.Option("--length", min=1, max=MAX_LENGTH, help="Images per training sequence.")]
EvalLengthsOption = Annotated[str | None, typer.Option(
    "--eval-lengths", help=f"Also score these lengths (each 1 to {MAX_LENGTH}).")]
ShiftOption = Annotated[float | None, typer.Option(
    "--shift", parser=AUGMENTATION, help="Shift training images randomly by up to this fraction of their size (0 = off).")]
RotateOption = Annotated[float | None, typer.Option(
    "--rotate", parser=AUGMENTATION, help="Rotate training images randomly by up to this fraction of a turn (0 = off).")]
MembersOption = Annotated[int | None, typer.Option(
    "--members", min=1, max=MAX_MEMBERS, help="CNNs trained side by side whose digit probabilities are averaged.")]
BenchmarkDigitsOption = Annotated[str | None, typer.Option(
    "--benchmark-digits", help=f"Also score questions whose operands have exactly these many digits (each 1 to "
                               f"{MAX_DIGITS}), as in the MNIST-addition benchmark.")]


@app.command("sum")
def sum_command(
    recipe: RecipeOption = SumConfig.recipe,
    length: LengthOption = SumConfig.length,
    eval_lengths: EvalLengthsOption = None,
    shift: ShiftOption = None,
    rotate: RotateOption = None,
    members: MembersOption = None,
    precision: PrecisionOption = None,
    train_sequences: TrainOption = None,
    validation_sequences: ValidationOption = None,
    test_sequences: TestOption = None,
    epochs: EpochsOption = None,
    batch_size: BatchSizeOption = None,
    learning_rate: LearningRateOption = None,
    data: DataOption = SumConfig.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = SumConfig.seed,
    save: SaveOption = None,
    export_data: ExportOption = None,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train a per-image CNN with sum pooling (Deep Sets) to read the sum of digit images.

    Training maximises the probability of the true sum under the convolution of the images'
    digit distributions, with the training images dealt into new sequences every epoch; the
    answer is the most likely sum under that distribution (`predict` also shows the expected sum).

    One trained model is scored on test sequences of every --eval-lengths length (MAE, RMSE, exact sum).
    --data may also be a sequence file from --export-data (its sequences and length are used).

    Digit accuracy: how often each image's digit is read right, though no digit label is used.

    Defaults: 20,000 training and 50,000 test sequences per length, 8 epochs, batch 32, two
    CNNs, shift 0.1, lengths 5,10,20. --recipe seed is seed 002's setup instead: the images
    cut into disjoint groups of --length (6,000 training and 1,000 test sequences, the test
    ones also validating), an LSTM regressor trained with MSE and Adadelta (learning rate 1.0),
    batch 128, 12 epochs, the last epoch's test MAE (--train/--test-sequences take the first
    groups; --members, --shift, --rotate, --precision and --validation-sequences do not apply).

    Example: mlkit mnist-sum sum --length 10 --eval-lengths 5,10,20 --save sum.keras --expect 'exact_match>=0.9'
    """
    from mlkit.experiments.mnist_sum import run_sum, sum_config

    targets = expectations(expect, SUM_METRICS)
    lengths = None if eval_lengths is None else tuple(comma_list(eval_lengths, int, "--eval-lengths"))
    config = sum_config(recipe, data=data, data_dir=data_dir, length=length, eval_lengths=lengths, shift=shift,
                        rotate=rotate, members=members, precision=precision, train_sequences=train_sequences,
                        validation_sequences=validation_sequences, test_sequences=test_sequences, epochs=epochs,
                        batch_size=batch_size, learning_rate=learning_rate, seed=seed, save=save,
                        export_data=export_data, plot_dir=plot_dir, quiet=quiet)
    result = run_sum(config)
    columns = ["length", "sequences", "mae", "rmse", "exact_match", "digit_accuracy", "predict_images_per_second"]
    finish(result.record(), json=json, expect=targets, quiet=quiet, render=lambda: _render(result, columns))


@app.command("calc")
def calc_command(
    recipe: RecipeOption = CalcConfig.recipe,
    op: Annotated[str, typer.Option("--op", help="add or sub.")] = CalcConfig.op,
    digits: Annotated[int, typer.Option("--digits", min=1, max=MAX_DIGITS, help="Most digits per operand.")] = CalcConfig.digits,
    benchmark_digits: BenchmarkDigitsOption = None,
    shift: ShiftOption = None,
    rotate: RotateOption = None,
    members: MembersOption = None,
    precision: PrecisionOption = None,
    train_sequences: TrainOption = None,
    validation_sequences: ValidationOption = None,
    test_sequences: TestOption = None,
    epochs: EpochsOption = None,
    batch_size: BatchSizeOption = None,
    learning_rate: LearningRateOption = None,
    data: DataOption = CalcConfig.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = CalcConfig.seed,
    save: SaveOption = None,
    export_data: ExportOption = None,
    plot_dir: PlotDirOption = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Answer questions such as 48+194 written with MNIST digit images, digit by digit.

    Operands are right-aligned in --digits slots, padded with blank images (docs/formats.md).
    One CNN reads every image; the digits of each column are added (or subtracted) and the
    carry passed from the units up, exactly on the digit probabilities, and training maximises
    the probability of the whole answer. The reader's work is per image, so the model answers
    any number of digits: --benchmark-digits scores it on questions whose operands have exactly
    N digit images each (leading zeros included), the MNIST-addition benchmark's questions.

    Scores exact-match, per-character and per-digit accuracy on test questions.

    Defaults: training questions of 270,000 slots in all (38,571 questions of 7 slots at
    --digits 3, 8,709 of 31 at --digits 15), 1,000 validation and 10,000 test questions,
    6 epochs, batch 64, one CNN, shift 0.1.
    --recipe seed is seed 000's setup instead: `a+b` left-aligned with `+` and padding as
    random-noise images, a CNN, LSTM 256, RepeatVector and 2 x LSTM 256, Adam, 45,000
    training and 5,000 validation questions, batch 512, 45 epochs, the last epoch's
    per-character validation accuracy (val_accuracy); --members, --shift, --rotate, --precision
    and --benchmark-digits do not apply. Its models are not read by `predict`.

    Example: mlkit mnist-sum calc --digits 4 --benchmark-digits 1,2,4,15 --save calc.keras --expect 'exact_match>=0.9'
    """
    from mlkit.experiments.mnist_sum import calc_config, run_calc

    targets = expectations(expect, CALC_METRICS)
    benchmark = None if benchmark_digits is None else tuple(comma_list(benchmark_digits, int, "--benchmark-digits"))
    config = calc_config(recipe, data=data, data_dir=data_dir, op=op, digits=digits, benchmark_digits=benchmark,
                         shift=shift, rotate=rotate, members=members, precision=precision,
                         train_sequences=train_sequences,
                         validation_sequences=validation_sequences, test_sequences=test_sequences,
                         epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                         save=save, export_data=export_data, plot_dir=plot_dir, quiet=quiet)
    result = run_calc(config)
    columns = ["digits", "operands", "questions", "exact_match", "char_accuracy", "digit_accuracy",
               "predict_images_per_second"]
    finish(result.record(), json=json, expect=targets, quiet=quiet, render=lambda: _render(result, columns))


@app.command("predict")
def predict_command(
    model: ModelOption,
    images: Annotated[list[str] | None, typer.Argument(
        help="Image files in order; for calc put + or - between the operands.")] = None,
    data: Annotated[Path | None, typer.Option("--data", dir_okay=False, help="A sequence file from --export-data.")] = None,
    split: Annotated[str, typer.Option("--split", help="train, validation or test (with --data).")] = PredictConfig.split,
    show: Annotated[int, typer.Option("--show", min=0, help="Rows in the table (JSON has all).")] = 20,
    expect: ExpectOption = None,
    json: JsonOption = False,
):
    """Apply a saved mnist-sum model to a sequence file or to image files given in order.

    With --data the true answers are known, so the scores (exact_match, mae, ...) are reported
    and can be held to --expect; image files get predictions only.

    Example: mlkit mnist-sum predict --model calc.keras 4.png 8.png + 1.png 9.png 4.png
    """
    from mlkit.mnist_sum.predict import run_predict

    targets = expectations(expect, PREDICT_METRICS)
    result = run_predict(PredictConfig(model=model, data=data, split=split, images=tuple(images or ())))
    finish(result.record(), json=json, expect=targets, render=lambda: _render_predictions(result, show))


def _render(result, columns: list[str]) -> None:
    metrics = result.record().metrics
    training = make_table("Training", ["sequences", "epochs", "seconds", "images/s"], [[
        result.config["train_sequences"], result.fit.epochs_run, metrics["seconds"], metrics["images_per_second"]]])
    model = make_table("Model", ["setting", "value"], [list(item) for item in result.model.items()])
    rows = [[evaluation.get(column) for column in columns] for evaluation in result.evaluations]
    headers = [column.replace("predict_images_per_second", "predict images/s").replace("_", " ") for column in columns]
    tables = [training, model, make_table(f"Test ({result.task})", headers, rows)]
    if result.examples:
        tables.append(make_table("Test examples", ["question", "answer", "predicted", "correct"],
                                 [[r["question"], r["answer"], r["predicted"], r["correct"]] for r in result.examples]))
    print_tables(*tables)


def _render_predictions(result, show: int) -> None:
    rows = result.predictions[:show]
    columns = list(rows[0]) if rows else []
    tables = [make_table(f"{result.task} predictions ({len(result.predictions)} in all)", columns,
                         [[row[column] for column in columns] for row in rows])]
    if result.metrics:
        tables.append(make_table("Scores", list(result.metrics), [list(result.metrics.values())]))
    print_tables(*tables)
