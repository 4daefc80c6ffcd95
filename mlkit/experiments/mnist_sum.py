"""`mlkit mnist-sum`: train on sequences of MNIST images to read their sum or answer a question.

`run_sum` and `run_calc` build (or read) the sequence datasets, train, score on the test
sequences and write the requested files; `run_predict` applies a saved model.
"""

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..data import is_hdf5_path, load_data, load_dataset_file
from ..errors import ConfigError
from ..mnist_sum import ImagePool, SequenceData, load_sequences, make_calc_questions, make_sum_sequences, save_sequences, split_pool
from ..mnist_sum.evaluation import evaluate_calc, evaluate_sum
from ..mnist_sum.storage import is_sequence_file
from ..mnist_sum.symbols import CHARS
from ..models.mnist_sum import EncoderConfig
from ..precision import dtype_policy
from ..training import History, save_model, set_seed, training_callbacks


@dataclass
class SequenceOptions:
    """What every mnist-sum training run shares: data, sizes, training and output files."""

    data: str = "mnist"
    data_dir: Path | None = None
    train_sequences: int = 30000
    validation_sequences: int = 1000
    test_sequences: int = 2000
    validation_fraction: float = 1 / 12  # 5,000 of MNIST's 60,000 training images
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    save: Path | None = None
    export_data: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False


# Chosen on validation sequences (real MNIST, 8 epochs): random shifts of 0.1 lifted exact-sum
# accuracy from ~0.93 to ~0.956 (without them the CNN overfits after 3 epochs), two convolutions
# per block to ~0.966 while 20,000 sequences an epoch kept the run short; rotations (0.03 of a
# turn), wider filters, batch normalisation and weight averaging did not help.
SUM_ENCODER = EncoderConfig(shift=0.1, convs_per_block=2)
# Single CNNs of every setting above misread 39-48 of the 10,000 MNIST test images from run to
# run; averaging two CNNs' digit probabilities (trained together, each on its own loss) misread
# 33 and 40 in two runs. Two members cost two CNNs' time, which bfloat16 (see mlkit.precision)
# pays for where it is native.
SUM_MEMBERS = 2


@dataclass
class SumConfig(SequenceOptions):
    """`mnist-sum sum`: the sum of `length` digit images, scored at `eval_lengths` too."""

    length: int = 10
    eval_lengths: tuple[int, ...] = (5, 10, 20)
    train_sequences: int = 20000
    # MAE is a mean over rare large errors (one misread 4/9 costs 5), and it depends on how often
    # the few misread test images happen to be drawn: one model scored 0.116-0.154 on six sets of
    # 10,000 length-10 sequences. 50,000 sequences (each test image drawn ~50 times) halve that
    # spread; scoring them takes about two minutes for lengths 5, 10 and 20.
    test_sequences: int = 50000
    encoder: EncoderConfig = SUM_ENCODER  # frozen, so one shared default is safe
    members: int = SUM_MEMBERS
    precision: str = "auto"  # sets encoder.dtype_policy (see mlkit.precision)


@dataclass
class CalcConfig(SequenceOptions):
    """`mnist-sum calc`: `a op b` with operands of up to `digits` digits, answered as text."""

    op: str = "add"
    digits: int = 3
    units: int = 128
    train_sequences: int = 30000
    epochs: int = 10
    batch_size: int = 64


@dataclass
class RunResult:
    """One training run: its data, curves, test scores, throughput and the files written."""

    task: str
    data: dict
    history: History
    evaluations: list[dict]
    train_seconds: float
    train_images_per_second: float
    examples: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    model: dict = field(default_factory=dict)  # what the trained network was built with

    def __repr__(self) -> str:
        return f"RunResult({self.task!r}, evaluations={self.evaluations}, seconds={self.train_seconds:.1f})"


def prepare_data(config: SequenceOptions, task: str, make) -> tuple[SequenceData, ImagePool]:
    """Read a sequence file given as --data, or sample fresh splits from a digit dataset.

    Args:
        make: (pool, count, rng) -> SequenceSet for this task.
    Returns:
        The sequences and the pool of test images further test sets can be drawn from.
    """
    if is_hdf5_path(config.data) and is_sequence_file(config.data):
        data = load_sequences(config.data, task)
        return data, ImagePool.from_sequences(data.test)
    dataset = load_dataset_file(config.data) if is_hdf5_path(config.data) else load_data(config.data, config.data_dir)
    train_pool, validation_pool = split_pool(ImagePool(dataset.x_train, dataset.y_train),
                                             config.validation_fraction, config.seed)
    test_pool = ImagePool(dataset.x_test, dataset.y_test)
    rng = np.random.default_rng(config.seed)
    data = SequenceData(make(train_pool, config.train_sequences, rng),
                        make(validation_pool, config.validation_sequences, rng),
                        make(test_pool, config.test_sequences, rng), source=dataset.source or dataset.name)
    return data, test_pool


def optimizer(config: SequenceOptions, train_sequences: int):
    """Adam with a cosine decay of the learning rate over the whole run (to 1% at the end)."""
    import keras

    steps = config.epochs * -(-train_sequences // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.01)
    return keras.optimizers.Adam(schedule)


def train(model, training: dict, validation: tuple, images_per_epoch: int, config: SequenceOptions,
          monitor: str, label: str):
    """Fit, validating each epoch; returns (history, seconds, training images/s).

    Args:
        training: what `model.fit` trains on: {"x": a PyDataset} or {"x", "y", "batch_size"}.
        validation: (x, y) arrays.
    """
    import keras

    history = History()
    callbacks = training_callbacks(history, monitor=monitor, quiet=config.quiet, label=label)
    started = time.perf_counter()
    model.fit(**training, epochs=config.epochs, validation_data=validation, verbose=0,
              callbacks=callbacks + [keras.callbacks.TerminateOnNaN()])
    seconds = time.perf_counter() - started
    images = history.num_epochs * images_per_epoch
    return history, seconds, images / seconds if seconds else 0.0


def run_sum(config: SumConfig) -> RunResult:
    """Train the Deep Sets sum model on `length`-image sequences and score every eval length."""
    from ..mnist_sum.regrouping import RegroupedSums
    from ..models.mnist_sum import build_sum_model, member_losses, sum_distribution_model

    if min(config.eval_lengths, default=1) < 1:
        raise ConfigError(f"--eval-lengths must all be at least 1, got {min(config.eval_lengths)}.")
    for name in ("shift", "rotate"):
        if not 0 <= getattr(config.encoder, name) < 0.5:
            raise ConfigError(f"--{name} must be at least 0 and below 0.5, got {getattr(config.encoder, name)}.")
    if config.members < 1:
        raise ConfigError(f"--members must be at least 1, got {config.members}.")
    encoder = replace(config.encoder, dtype_policy=dtype_policy(config.precision))
    set_seed(config.seed)
    data, test_pool = prepare_data(
        config, "sum", lambda pool, count, rng: make_sum_sequences(pool, count, config.length, rng))
    # A sequence file given as --data sets the training length.
    lengths = sorted({data.train.length, *config.eval_lengths})
    model = build_sum_model(encoder, config.members)
    # Trained through the distribution of the sum (see sum_distribution_model), scored as a sum.
    trainer = sum_distribution_model(model, data.train.length, per_member=True)
    loss, accuracy = member_losses()
    trainer.compile(optimizer(config, len(data.train)), loss=loss, metrics=[accuracy])
    training = {"x": RegroupedSums(data.train, config.batch_size, config.seed)}
    validation = (data.validation.x, data.validation.target.astype("int32"))
    history, seconds, speed = train(trainer, training, validation, data.train.image_count,
                                    config, "val_accuracy", "sum")
    evaluations = []
    for length in lengths:
        sequences = data.test if length == data.test.length else make_sum_sequences(
            test_pool, config.test_sequences, length, np.random.default_rng([config.seed, length]))
        evaluations.append(evaluate_sum(model, sequences))
    files = write_files(model, data, history, config, ["loss", "accuracy"], "mnist_sum")
    return RunResult("sum", data.summary(), history, evaluations, seconds, speed, files=files,
                     model={"members": config.members, **asdict(encoder)})


def run_calc(config: CalcConfig) -> RunResult:
    """Train the calculator on `a op b` questions and score exact and per-character accuracy."""
    from ..models.mnist_sum import build_calc_model

    set_seed(config.seed)
    data, _ = prepare_data(config, "calc", lambda pool, count, rng: make_calc_questions(
        pool, count, config.op, config.digits, rng))
    digits = int(data.train.attrs.get("digits", config.digits))
    model = build_calc_model(digits, len(CHARS), config.units)
    model.compile(optimizer(config, len(data.train)), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # The model writes answers least significant character first (see build_calc_model).
    training = {"x": data.train.x, "y": data.train.target[:, ::-1], "batch_size": config.batch_size}
    validation = (data.validation.x, data.validation.target[:, ::-1])
    history, seconds, speed = train(model, training, validation, data.train.image_count,
                                    config, "val_accuracy", "calc")
    metrics, examples = evaluate_calc(model, data.test)
    files = write_files(model, data, history, config, ["loss", "accuracy"], "mnist_calc")
    return RunResult("calc", data.summary(), history, [metrics], seconds, speed, examples, files,
                     model={"digits": digits, "units": config.units})


def write_files(model, data: SequenceData, history: History, config: SequenceOptions,
                metrics: list[str], stem: str) -> list[str]:
    """Save the model, export the sequences and plot the curves, as the options ask."""
    from ..plots import plot_curves

    files = []
    if config.save:
        files.append(save_model(model, config.save))
    if config.export_data:
        files.append(save_sequences(data, config.export_data))
    if config.plot_dir:
        files.append(plot_curves({stem: history.epochs}, metrics, Path(config.plot_dir) / f"{stem}_curves.png",
                                 title=f"{stem}: training (solid) and validation (dashed)"))
    return [str(path) for path in files]
