"""`mlkit mnist-sum`: sums of MNIST digit sequences, an MNIST calculator, and predicting with them."""

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.mnist_sum import SUM_ENCODER, CalcConfig, SumConfig
from mlkit.mnist_sum.predict import PredictConfig

from ._options import DataDirOption, JsonOption, PlotDirOption, QuietOption, SeedOption, comma_list
from ._output import make_table, print_json, print_tables, report_files

app = typer.Typer(no_args_is_help=True, help="Read numbers written as sequences of MNIST images.")

DataOption = Annotated[str, typer.Option(
    "--data", help="mnist, an mlkit HDF5 image dataset, or a sequence file from --export-data.")]
EpochsOption = Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training sequences.")]
TrainOption = Annotated[int, typer.Option("--train-sequences", min=1, help="Training sequences, sampled from the training images.")]
ValidationOption = Annotated[int, typer.Option(
    "--validation-sequences", min=1, help="Validation sequences, from held-out training images.")]
TestOption = Annotated[int, typer.Option("--test-sequences", min=1, help="Test sequences per length, from the test images.")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per batch.")]
SaveOption = Annotated[Path | None, typer.Option("--save", dir_okay=False, help="Save the trained model (.keras).")]
ExportOption = Annotated[Path | None, typer.Option("--export-data", dir_okay=False, help="Write the sequences to this HDF5 file.")]


@app.command("sum")
def sum_command(
    length: Annotated[int, typer.Option("--length", min=1, help="Images per training sequence.")] = SumConfig.length,
    eval_lengths: Annotated[str, typer.Option("--eval-lengths", help="Also score these lengths.")] = ",".join(map(str, SumConfig.eval_lengths)),
    shift: Annotated[float, typer.Option("--shift", help="Shift training images randomly by up to this fraction of their size (0 = off).")] = SUM_ENCODER.shift,
    rotate: Annotated[float, typer.Option("--rotate", help="Rotate training images randomly by up to this fraction of a turn (0 = off).")] = SUM_ENCODER.rotate,
    members: Annotated[int, typer.Option("--members", min=1, help="CNNs trained side by side whose digit probabilities are averaged.")] = SumConfig.members,
    precision: Annotated[str, typer.Option("--precision", help="auto, float32 or bfloat16 (auto: bfloat16 where the hardware computes it).")] = SumConfig.precision,
    train_sequences: TrainOption = SumConfig.train_sequences,
    validation_sequences: ValidationOption = SumConfig.validation_sequences,
    test_sequences: TestOption = SumConfig.test_sequences,
    epochs: EpochsOption = SumConfig.epochs,
    batch_size: BatchOption = SumConfig.batch_size,
    data: DataOption = SumConfig.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = SumConfig.seed,
    save: SaveOption = None,
    export_data: ExportOption = None,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Train a per-image CNN with sum pooling (Deep Sets) to read the sum of digit images.

    Training maximises the probability of the true sum under the convolution of the images'
    digit distributions, with the training images dealt into new sequences every epoch; the
    answer is the median of that distribution (`predict` also shows the expected sum).

    One trained model is scored on test sequences of every --eval-lengths length (MAE, RMSE, exact sum).

    Digit accuracy: how often each image's digit is read right, though no digit label is used.

    Example: mlkit mnist-sum sum --length 10 --eval-lengths 5,10,20 --save sum.keras
    """
    from mlkit.experiments.mnist_sum import run_sum

    config = SumConfig(data=data, data_dir=data_dir, length=length, eval_lengths=comma_list(eval_lengths, int, "--eval-lengths"),
                       encoder=replace(SUM_ENCODER, shift=shift, rotate=rotate), members=members,
                       precision=precision, train_sequences=train_sequences,
                       validation_sequences=validation_sequences, test_sequences=test_sequences, epochs=epochs,
                       batch_size=batch_size, seed=seed, save=save, export_data=export_data,
                       plot_dir=plot_dir, quiet=quiet)
    _render(run_sum(config), json, quiet, ["length", "sequences", "mae", "rmse", "exact_accuracy",
                                           "digit_accuracy", "images_per_second"])


@app.command("calc")
def calc_command(
    op: Annotated[str, typer.Option("--op", help="add or sub.")] = CalcConfig.op,
    digits: Annotated[int, typer.Option("--digits", min=1, help="Most digits per operand.")] = CalcConfig.digits,
    train_sequences: TrainOption = CalcConfig.train_sequences,
    validation_sequences: ValidationOption = CalcConfig.validation_sequences,
    test_sequences: TestOption = CalcConfig.test_sequences,
    epochs: EpochsOption = CalcConfig.epochs,
    batch_size: BatchOption = CalcConfig.batch_size,
    data: DataOption = CalcConfig.data,
    data_dir: DataDirOption = None,
    seed: SeedOption = CalcConfig.seed,
    save: SaveOption = None,
    export_data: ExportOption = None,
    plot_dir: PlotDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Answer questions such as 48+194 written with MNIST digit images, character by character.

    Operands are right-aligned in --digits slots, padded with blank images (docs/formats.md).

    Scores exact-match and per-character accuracy on test questions.

    Example: mlkit mnist-sum calc --op add --digits 3 --save calc.keras
    """
    from mlkit.experiments.mnist_sum import run_calc

    config = CalcConfig(data=data, data_dir=data_dir, op=op, digits=digits, train_sequences=train_sequences,
                        validation_sequences=validation_sequences, test_sequences=test_sequences,
                        epochs=epochs, batch_size=batch_size, seed=seed,
                        save=save, export_data=export_data, plot_dir=plot_dir, quiet=quiet)
    result = run_calc(config)
    _render(result, json, quiet, ["questions", "exact_accuracy", "char_accuracy", "images_per_second"])
    if not json:
        print_tables(make_table("Test examples", ["question", "answer", "predicted", "correct"],
                                [[r["question"], r["answer"], r["predicted"], r["correct"]] for r in result.examples]))


@app.command("predict")
def predict_command(
    model: Annotated[Path, typer.Option("--model", dir_okay=False, help="A model saved by sum or calc.")],
    images: Annotated[list[str] | None, typer.Argument(
        help="Image files in order; for calc put + or - between the operands.")] = None,
    data: Annotated[Path | None, typer.Option("--data", dir_okay=False, help="A sequence file from --export-data.")] = None,
    split: Annotated[str, typer.Option("--split", help="train, validation or test (with --data).")] = PredictConfig.split,
    show: Annotated[int, typer.Option("--show", min=0, help="Rows in the table (JSON has all).")] = 20,
    json: JsonOption = False,
):
    """Apply a saved mnist-sum model to a sequence file or to image files given in order.

    Example: mlkit mnist-sum predict --model calc.keras 4.png 8.png + 1.png 9.png 4.png
    """
    from mlkit.mnist_sum.predict import run_predict

    result = run_predict(PredictConfig(model=model, data=data, split=split, images=tuple(images or ())))
    if json:
        print_json(result)
        return
    rows = result.predictions[:show]
    columns = list(rows[0]) if rows else []
    tables = [make_table(f"{result.task} predictions ({len(result.predictions)} in all)", columns,
                         [[row[column] for column in columns] for row in rows])]
    if result.metrics:
        tables.append(make_table("Scores", list(result.metrics), [list(result.metrics.values())]))
    print_tables(*tables)


def _render(result, json: bool, quiet: bool, columns: list[str]) -> None:
    if json:
        print_json(result)
        return
    rows = [[evaluation.get(column) for column in columns] for evaluation in result.evaluations]
    headers = [column.replace("_", " ").replace("images per second", "images/s") for column in columns]
    training = make_table("Training", ["sequences", "epochs", "seconds", "images/s"], [[
        result.data["train"], result.history.num_epochs, result.train_seconds, result.train_images_per_second]])
    model = make_table("Model", ["setting", "value"], [list(item) for item in result.model.items()])
    print_tables(training, model, make_table(f"Test ({result.task})", headers, rows))
    report_files(result.files, quiet)
