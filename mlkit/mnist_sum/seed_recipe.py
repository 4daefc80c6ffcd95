"""The seed presets of `mlkit mnist-sum sum|calc --recipe seed`: the exercises as they ran (docs/seeds.md).

sum is seed 002's (MNIST cut into disjoint groups of 10, an LSTM regressor trained with MSE and
Adadelta, test MAE of the last epoch); calc is seed 000's (left-aligned `a+b` with noise images
for `+` and padding, a CNN-LSTM encoder-decoder trained with Adam, per-character validation
accuracy of the last epoch). Neither selects an epoch: the last one's model is reported.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from . import SequenceData
from .evaluation import PREDICT_BATCH_SIZE, answer_rows, calc_metrics, prediction_speed, sum_metrics
from .limits import check_batch_size
from .sampling import ImagePool
from .seed_data import grouped_sums, seed_questions
from .storage import SequenceSet
from .symbols import CHARS
from ..record import data_block
from ..training import FitOptions, FitOutcome, fit, set_seed

# Seed 002 (MNIST sum): Keras 2's Adadelta defaults, which Keras 3 changed (its learning rate
# default is 0.001): learning rate 1.0, rho 0.95, epsilon 1e-7.
SEED_SUM = {"length": 10, "epochs": 12, "batch_size": 128, "learning_rate": 1.0}
ADADELTA_RHO, ADADELTA_EPSILON = 0.95, 1e-7
# Seed 000 (MNIST calculator): 50,000 questions split 90/10 into training and validation, Adam
# with Keras' defaults, hidden size 256, two LSTMs writing the answer; scored on 2,000 test
# questions (the seed reported only validation accuracy).
SEED_CALC = {"digits": 3, "train_sequences": 45000, "validation_sequences": 5000, "test_sequences": 2000,
             "epochs": 45, "batch_size": 512, "learning_rate": 1e-3, "units": 256}
SEED_CALC_WRITERS = 2


def load_digits(config) -> tuple[ImagePool, ImagePool, dict]:
    """MNIST's training and test images in their stored order, and the record's `data` block."""
    from ..data import is_hdf5_path, load_data, load_dataset_file
    from .storage import is_sequence_file

    if is_hdf5_path(config.data) and is_sequence_file(config.data):
        raise ConfigError("--recipe seed builds the seed's own sequences from a digit dataset; "
                          "give --data mnist (or an image dataset), not a sequence file.")
    if is_hdf5_path(config.data):
        dataset = load_dataset_file(config.data)
    else:
        dataset = load_data(config.data, config.data_dir)
    pools = ImagePool(dataset.x_train, dataset.y_train), ImagePool(dataset.x_test, dataset.y_test)
    return (*pools, data_block(dataset.name, dataset.source or None, dataset.fingerprint(),
                               train_images=len(pools[0]), test_images=len(pools[1])))


def refuse_unused(config) -> None:
    """Settings the seed recipes have no use for are usage errors, not silently ignored."""
    if config.export_data:
        raise ConfigError("--export-data is not available with --recipe seed (its sequences follow the "
                          "seed's layout, which mlkit's sequence files do not describe).")


@dataclass
class SeedRun:
    """A trained seed preset: what `mlkit.experiments.mnist_sum` turns into its result."""

    task: str
    settings: dict  # every effective setting (the record's `config`)
    data_block: dict
    outcome: FitOutcome
    evaluations: list[dict]
    model: object
    data: SequenceData
    examples: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"SeedRun({self.task!r}, evaluations={self.evaluations})"


def _stop_on_nan() -> list:
    import keras

    return [keras.callbacks.TerminateOnNaN()]


def train_seed_sum(config) -> SeedRun:
    """Seed 002: regress the sum of 10 consecutive images with MSE; report the last epoch's test MAE."""
    import keras

    from ..models.mnist_sum_seed import build_seed_sum_model

    refuse_unused(config)
    if list(config.eval_lengths) != [config.length]:
        raise ConfigError("--eval-lengths does not apply to --recipe seed: its model reads exactly --length images.")
    check_batch_size(config.batch_size, config.length)
    set_seed(config.seed)
    train_pool, test_pool, block = load_digits(config)
    train = grouped_sums(train_pool, config.length, config.train_sequences)
    test = grouped_sums(test_pool, config.length, config.test_sequences)
    # The seed validated on its test sequences; mlkit records them as both splits.
    data = SequenceData(train, test, test, source=block["name"])
    block |= {"train": len(train), "validation": len(test), "test": len(test), "length": config.length}
    model = build_seed_sum_model(config.length)
    optimizer = keras.optimizers.Adadelta(config.learning_rate, rho=ADADELTA_RHO, epsilon=ADADELTA_EPSILON)
    model.compile(optimizer, loss="mean_squared_error", metrics=["mae"])
    outcome = fit(model, train.x, train.target.astype("float32"),
                  options=FitOptions(config.epochs, config.batch_size, monitor="val_loss", quiet=config.quiet,
                                     label="sum (seed)"),
                  validation=(test.x, test.target.astype("float32")), callbacks=_stop_on_nan(),
                  examples_per_epoch=train.image_count)
    return SeedRun("sum", seed_sum_settings(config, len(train), len(test)), block, outcome,
                   [evaluate_seed_sum(model, test)], model, data)


def seed_sum_settings(config, train_sequences: int, test_sequences: int) -> dict:
    """Every effective setting of a seed sum run (the record's `config`)."""
    return {
        "recipe": "seed", "data": config.data, "data_dir": config.data_dir, "length": config.length,
        "grouping": f"disjoint consecutive groups of {config.length} images, each image once",
        "train_sequences": train_sequences, "validation": "the test sequences, as the seed",
        "test_sequences": test_sequences, "eval_lengths": [config.length],
        "model": {"name": "seed 002 LSTM regressor",
                  "per_image": "conv32 same - conv32 - maxpool - dropout 0.25 - flatten",
                  "sequence": "LSTM 128 - batch norm - dropout 0.2 - flatten - dense 256 relu - dropout 0.5 - "
                              "dense 1 relu",
                  "gates": "keras2", "pixels": "scaled to 0-1"},
        "loss": "mean squared error",
        "optimizer": {"name": "adadelta", "learning_rate": config.learning_rate, "rho": ADADELTA_RHO,
                      "epsilon": ADADELTA_EPSILON},
        "epochs": config.epochs, "batch_size": config.batch_size, "reported_epoch": "last",
        "answer": "the model's output (mae); rounded for exact_match", "save": config.save,
        "plot_dir": config.plot_dir}


def evaluate_seed_sum(model, sequences: SequenceSet) -> dict:
    """MAE of the regressor's raw output (what the seed reported), RMSE and exact sums."""
    started = time.perf_counter()
    predicted = model.predict(sequences.x, batch_size=PREDICT_BATCH_SIZE, verbose=0).reshape(-1)
    seconds = time.perf_counter() - started
    return sum_metrics(predicted, sequences) | prediction_speed(seconds, sequences)


def train_seed_calc(config) -> SeedRun:
    """Seed 000: answer left-aligned `a+b` questions; report the last epoch's per-character accuracy."""
    import keras

    from ..models.mnist_sum_seed import build_seed_calc_model

    refuse_unused(config)
    if config.op != "add":
        raise ConfigError("--recipe seed asks only additions (seed 000); use --op add.")
    slots, answer_length = 2 * config.digits + 1, config.digits + 1
    check_batch_size(config.batch_size, slots)
    set_seed(config.seed)
    train_pool, test_pool, block = load_digits(config)
    rng = np.random.default_rng(config.seed)
    # Like the seed, training and validation questions both draw on all training images.
    data = SequenceData(seed_questions(train_pool, config.train_sequences, config.digits, rng),
                        seed_questions(train_pool, config.validation_sequences, config.digits, rng),
                        seed_questions(test_pool, config.test_sequences, config.digits, rng), source=block["name"])
    block |= {"train": len(data.train), "validation": len(data.validation), "test": len(data.test), "length": slots}
    model = build_seed_calc_model(slots, answer_length, len(CHARS), config.units, SEED_CALC_WRITERS)
    model.compile(keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    outcome = fit(model, data.train.x, data.train.target,
                  options=FitOptions(config.epochs, config.batch_size, monitor="val_accuracy", quiet=config.quiet,
                                     label="calc (seed)"),
                  validation=(data.validation.x, data.validation.target), callbacks=_stop_on_nan(),
                  examples_per_epoch=data.train.image_count)
    metrics, examples = evaluate_seed_calc(model, data.test)
    return SeedRun("calc", seed_calc_settings(config), block, outcome, [metrics], model, data, examples)


def seed_calc_settings(config) -> dict:
    """Every effective setting of a seed calc run (the record's `config`)."""
    return {
        "recipe": "seed", "data": config.data, "data_dir": config.data_dir, "op": "add", "digits": config.digits,
        "length": 2 * config.digits + 1, "questions": config.train_sequences + config.validation_sequences,
        "train_sequences": config.train_sequences, "validation_sequences": config.validation_sequences,
        "test_sequences": config.test_sequences,
        "layout": "a+b left-aligned, blank-padded on the right; answer left-aligned in digits+1 characters",
        "digit_images": "training images for training and validation questions, test images for test",
        "symbol_images": "+ and blank: fresh uniform noise (255 * U[0,1), truncated to uint8)",
        "model": {"name": "seed 000 encoder-decoder",
                  "per_image": "conv32 5x5 stride 3 relu - maxpool - dropout 0.25 - conv64 3x3 relu - maxpool - "
                               "dropout 0.5 - flatten - dense 128 relu",
                  "sequence": f"LSTM {config.units} - repeat {config.digits + 1} - {SEED_CALC_WRITERS} x LSTM "
                              f"{config.units} - dense softmax",
                  "units": config.units, "gates": "keras2", "characters": len(CHARS),
                  "pixels": "raw 0-255, as the seed"},
        "loss": "categorical cross-entropy (integer labels)",
        "optimizer": {"name": "adam", "learning_rate": config.learning_rate},
        "epochs": config.epochs, "batch_size": config.batch_size, "reported_epoch": "last",
        "save": config.save, "plot_dir": config.plot_dir}


def evaluate_seed_calc(model, sequences: SequenceSet, examples: int = 8) -> tuple[dict, list[dict]]:
    """Exact and per-character accuracy; the seed's model writes answers left to right."""
    started = time.perf_counter()
    codes = model.predict(sequences.x, batch_size=PREDICT_BATCH_SIZE, verbose=0).argmax(axis=-1)
    metrics = calc_metrics(codes, sequences) | prediction_speed(time.perf_counter() - started, sequences)
    return metrics, answer_rows(codes[:examples], sequences.slots[:examples], sequences.target[:examples])
