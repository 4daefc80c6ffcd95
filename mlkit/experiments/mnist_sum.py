"""`mlkit mnist-sum sum|calc`: train on sequences of MNIST images to read their sum or answer a question.

`run_sum` and `run_calc` check every setting, build (or read) the sequence datasets, train
through `mlkit.training.fit`, score on the test sequences and write the requested files
(`mnist-sum predict` lives in mlkit.mnist_sum.predict).
"""

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..files import check_output_folder, check_output_path
from ..mnist_sum import SequenceData, SequenceSet, make_calc_questions, make_sum_sequences, save_sequences
from ..mnist_sum.evaluation import evaluate_calc, evaluate_sum
from ..mnist_sum.limits import MAX_DIGITS, MAX_LENGTH, MAX_MEMBERS, check_batch_size, check_range, check_set_size
from ..mnist_sum.sources import prepare_sequences
from ..mnist_sum.symbols import operator_name
from ..models.mnist_sum import EncoderConfig
from ..precision import PRECISIONS, dtype_policy
from ..record import Record, file_entry
from ..training import MODEL_SUFFIXES, FitOptions, FitOutcome, History, fit, save_model, set_seed

# The metrics block of each command (docs/json.md). exact_match, mae, rmse, digit_accuracy and
# char_accuracy are scored on the test sequences at the training length (every length's
# figures are in `evaluations`). train_accuracy and val_accuracy are Keras' figures of the last
# epoch, which is the model kept: for sum the exact-sum accuracy of the training sequences
# (running mean) and of the validation sequences; for calc the per-character accuracy.
SUM_METRICS = ("exact_match", "mae", "rmse", "digit_accuracy", "train_accuracy", "val_accuracy",
               "seconds", "wall_seconds", "images_per_second")
CALC_METRICS = ("exact_match", "char_accuracy", "digit_accuracy", "train_accuracy", "val_accuracy",
                "seconds", "wall_seconds", "images_per_second")
METRICS = {"sum": SUM_METRICS, "calc": CALC_METRICS}
# default: mlkit's models (below); seed: the seed exercises' setups (mlkit/mnist_sum/seed_recipe.py).
RECIPES = ("default", "seed")
# Options that change only mlkit's own models; with --recipe seed they are refused.
SUM_MODEL_OPTIONS = ("members", "shift", "rotate", "precision", "validation_sequences")
CALC_MODEL_OPTIONS = ("members", "shift", "rotate", "precision", "benchmark_digits")


@dataclass
class SequenceOptions:
    """What every mnist-sum training run shares: data, sizes, training and output files."""

    recipe: str = "default"
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

    def check_sizes(self, length: int, test_length: int, cnns: int = 1) -> None:
        """Counts within the named limits (mlkit/mnist_sum/limits.py), training settings in range."""
        check_set_size("--train-sequences", self.train_sequences, length)
        check_set_size("--validation-sequences", self.validation_sequences, length)
        check_set_size("--test-sequences", self.test_sequences, test_length)
        check_batch_size(self.batch_size, length, cnns)
        if self.recipe not in RECIPES:
            raise ConfigError(f"--recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}.")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"--learning-rate must be a finite number above 0, got {self.learning_rate}.")

    def check_outputs(self) -> None:
        """Refuse output paths that cannot be written, before any data is read or trained on."""
        if self.save:
            if Path(self.save).suffix not in MODEL_SUFFIXES:
                raise ConfigError(f"--save {self.save} must end in .keras.")
            check_output_path(self.save, "--save")
        if self.export_data:
            check_output_path(self.export_data, "--export-data")
        if self.plot_dir:
            check_output_folder(self.plot_dir, "--plot-dir")


# Chosen on validation sequences (real MNIST, 8 epochs): random shifts of 0.1 lifted exact-sum
# accuracy from ~0.93 to ~0.956 (without them the CNN overfits after 3 epochs), two convolutions
# per block to ~0.966 while 20,000 sequences an epoch kept the run short; rotations (0.03 of a
# turn), wider filters, batch normalisation and weight averaging did not help.
SUM_ENCODER = EncoderConfig(shift=0.1, convs_per_block=2)
# Single CNNs of every setting above misread 39-48 of the 10,000 MNIST test images from run to
# run; averaging two CNNs' digit probabilities (trained together, each on its own loss) misread
# 33, 40 and 48 in three runs. Two members cost two CNNs' time, which bfloat16 (see mlkit.precision)
# pays for where it is native. Four misread 36 (exact sum 0.965 at length 10) in 2.5 times the
# time (36 minutes), too little gain to be the default. Learning from sums costs little: the
# same CNN trained on the true digit labels, for the same 1.6 million images, misread 17 of the
# 5,000 validation images against 21 from sums; random rotations and zoom (19), batch
# normalisation (30) or twice the images (18) did not help, and averaging two to five of these
# CNNs misread 12 to 20: their errors fall on the same images. Labels are not the limit either:
# each training image's digit inferred from the sums of its sequences (its probability given the
# sum and the single CNN's reading of the other nine) was wrong for 1 of 53,535 images after one
# grouping of the training set and for none after two.
SUM_MEMBERS = 2
# The calculator reads digits with the sum model's CNN (models/mnist_calc.py).
CALC_ENCODER = SUM_ENCODER
# Digit slots the calculator trains on per epoch, whatever --digits is: the reader's work is
# per image, so N=15 questions (31 slots) come 31 to a question and fewer questions are drawn.
CALC_TRAIN_SLOTS = 270_000


@dataclass
class ReaderOptions:
    """The per-image digit reader both default-recipe models train: CNN, ensemble, precision."""

    encoder: EncoderConfig = SUM_ENCODER  # frozen, so one shared default is safe
    members: int = SUM_MEMBERS
    precision: str = "auto"  # sets encoder.dtype_policy (see mlkit.precision)

    def check_reader(self) -> None:
        """Members, augmentation and precision in range (ConfigError: a usage error)."""
        check_range("--members", self.members, 1, MAX_MEMBERS)
        for name in ("shift", "rotate"):
            value = getattr(self.encoder, name)
            if not (math.isfinite(value) and 0 <= value < 0.5):
                raise ConfigError(f"--{name} must be at least 0 and below 0.5, got {value}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.")

    def reader_encoder(self) -> EncoderConfig:
        """The encoder with --precision resolved to a dtype policy."""
        return replace(self.encoder, dtype_policy=dtype_policy(self.precision))

    def reader_settings(self) -> dict:
        """The reader as trained, for the record: members, the encoder and the precision it ran in."""
        encoder = self.reader_encoder()
        return {"members": self.members, "encoder": asdict(encoder),
                "precision": "bfloat16" if encoder.dtype_policy == "mixed_bfloat16" else "float32"}


@dataclass
class SumConfig(ReaderOptions, SequenceOptions):
    """`mnist-sum sum`: the sum of `length` digit images, scored at `eval_lengths` too."""

    length: int = 10
    eval_lengths: tuple[int, ...] = (5, 10, 20)
    train_sequences: int = 20000
    # MAE is a mean over rare large errors (one misread 4/9 costs 5), and it depends on how often
    # the few misread test images happen to be drawn: one model scored 0.116-0.154 on six sets of
    # 10,000 length-10 sequences. 50,000 sequences (each test image drawn ~50 times) halve that
    # spread; scoring reads each distinct test image once (mnist_sum.evaluation.digit_probabilities)
    # and convolves the digit distributions in NumPy, not the 1.75 million slots of lengths 5, 10, 20.
    test_sequences: int = 50000

    def check(self) -> None:
        """Every setting in range, before any data is read (ConfigError: a usage error)."""
        check_range("--length", self.length, 1, MAX_LENGTH)
        for length in self.eval_lengths:
            check_range("--eval-lengths", length, 1, MAX_LENGTH)
        self.check_reader()
        self.check_sizes(self.length, max(self.length, *self.eval_lengths), self.members)


@dataclass
class CalcConfig(ReaderOptions, SequenceOptions):
    """`mnist-sum calc`: `a op b` with operands of up to `digits` digits, answered as text.

    `benchmark_digits` also scores questions whose operands have exactly that many digits
    (sampling.make_calc_questions with full_width), with the same reader.
    """

    op: str = "add"
    digits: int = 3
    train_sequences: int | None = None  # None: CALC_TRAIN_SLOTS // (2 * digits + 1) questions
    test_sequences: int = 10000
    epochs: int = 6
    batch_size: int = 64
    encoder: EncoderConfig = CALC_ENCODER
    members: int = 1
    benchmark_digits: tuple[int, ...] = ()
    units: int = 256  # the LSTM width of --recipe seed's model (seed 000); mlkit's has no LSTM

    def __post_init__(self):
        if self.train_sequences is None:
            self.train_sequences = max(1, CALC_TRAIN_SLOTS // (2 * self.digits + 1))

    def check(self) -> None:
        """Every setting in range, before any data is read (ConfigError: a usage error)."""
        operator_name(self.op)
        check_range("--digits", self.digits, 1, MAX_DIGITS)
        for digits in self.benchmark_digits:
            check_range("--benchmark-digits", digits, 1, MAX_DIGITS)
        self.check_reader()
        slots = 2 * max((self.digits, *self.benchmark_digits)) + 1
        self.check_sizes(2 * self.digits + 1, slots, self.members)


@dataclass
class RunResult:
    """One training run: its settings, data, training outcome, test scores and files written."""

    task: str
    config: dict  # every effective setting (record's `config`)
    data: dict  # the record's `data` block
    fit: FitOutcome
    evaluations: list[dict]
    seed: int
    wall_seconds: float = 0.0
    examples: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"RunResult({self.task!r}, evaluations={self.evaluations}, seconds={self.fit.train_seconds:.1f})"

    @property
    def headline(self) -> dict:
        """The test scores at the training length (calc scores one test set only)."""
        if self.task == "calc":
            return self.evaluations[0]
        return next(e for e in self.evaluations if e["length"] == self.config["length"])

    @property
    def model(self) -> dict:
        """What the trained network was built with."""
        if "encoder" not in self.config:  # a seed recipe's model, described in full
            return self.config["model"]
        built = {key: self.config[key] for key in ("members", "digits") if key in self.config}
        return built | self.config["encoder"]

    def record(self) -> Record:
        """The shared result record (docs/json.md): metrics named as in every command."""
        metrics = {name: self.headline.get(name) for name in METRICS[self.task]}
        metrics |= {"train_accuracy": self.fit.last("accuracy"), "val_accuracy": self.fit.last("val_accuracy"),
                    "seconds": self.fit.train_seconds, "wall_seconds": self.wall_seconds,
                    "images_per_second": self.fit.images_per_second}
        sections = {"evaluations": self.evaluations, "training": self.fit.to_dict()}
        if self.task == "calc":
            sections["examples"] = self.examples
        return Record(f"mnist-sum {self.task}", self.config, metrics, data=self.data, files=self.files,
                      seed=self.seed, sections=sections)


def sum_config(recipe: str = "default", **given) -> SumConfig:
    """A SumConfig from the options given (None = not given): the recipe's values for the rest."""
    from ..mnist_sum.seed_recipe import SEED_SUM

    chosen = _chosen(recipe, given, SUM_MODEL_OPTIONS, SEED_SUM, "seed 002's own model and grouping")
    if recipe == "seed":
        chosen.setdefault("eval_lengths", (chosen["length"],))
    augmentation = {name: chosen.pop(name) for name in ("shift", "rotate") if name in chosen}
    return SumConfig(recipe=recipe, encoder=replace(SUM_ENCODER, **augmentation), **chosen)


def calc_config(recipe: str = "default", **given) -> CalcConfig:
    """A CalcConfig from the options given (None = not given): the recipe's values for the rest."""
    from ..mnist_sum.seed_recipe import SEED_CALC

    chosen = _chosen(recipe, given, CALC_MODEL_OPTIONS, SEED_CALC, "seed 000's own model")
    augmentation = {name: chosen.pop(name) for name in ("shift", "rotate") if name in chosen}
    return CalcConfig(recipe=recipe, encoder=replace(CALC_ENCODER, **augmentation), **chosen)


def _chosen(recipe: str, given: dict, model_options: tuple[str, ...], preset: dict, why: str) -> dict:
    """The options given (None = not given); with --recipe seed, the preset under them and
    mlkit's model options refused."""
    chosen = {name: value for name, value in given.items() if value is not None}
    if recipe != "seed":
        return chosen
    refused = [name for name in model_options if name in chosen]
    if refused:
        names = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise ConfigError(f"{names}: not used by --recipe seed ({why}).")
    return preset | chosen


def optimizer(config: SequenceOptions, train_sequences: int):
    """Adam with a cosine decay of the learning rate over the whole run (to 1% at the end)."""
    import keras

    steps = config.epochs * -(-train_sequences // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.01)
    return keras.optimizers.Adam(schedule)


def fit_options(config: SequenceOptions, label: str, batch_size: int | None = None) -> FitOptions:
    """Every epoch trained and the last one's model kept (no early stopping, no checkpoint)."""
    return FitOptions(epochs=config.epochs, batch_size=batch_size, monitor="val_accuracy", quiet=config.quiet,
                      label=label)


def stop_on_nan() -> list:
    """The callbacks both tasks train with: a NaN loss ends the run instead of wasting epochs."""
    import keras

    return [keras.callbacks.TerminateOnNaN()]


def run_sum(config: SumConfig) -> RunResult:
    """Train the Deep Sets sum model on `length`-image sequences and score every eval length."""
    from ..mnist_sum.regrouping import RegroupedSums
    from ..models.mnist_sum import build_sum_model, member_losses, sum_distribution_model

    started = time.perf_counter()
    config.check()
    config.check_outputs()
    if config.recipe == "seed":
        from ..mnist_sum.seed_recipe import train_seed_sum

        return seed_result(train_seed_sum(config), config, started, "mnist_sum_seed")
    encoder = config.reader_encoder()
    set_seed(config.seed)
    data, test_pool, block = prepare_sequences(
        config, "sum", lambda pool, count, rng: make_sum_sequences(pool, count, config.length, rng))
    # A sequence file given as --data sets the training length.
    check_batch_size(config.batch_size, data.train.length, config.members)
    lengths = sorted({data.train.length, *config.eval_lengths})
    model = build_sum_model(encoder, config.members)
    # Trained through the distribution of the sum (see sum_distribution_model), scored as a sum.
    trainer = sum_distribution_model(model, data.train.length, per_member=True)
    loss, accuracy = member_losses()
    trainer.compile(optimizer(config, len(data.train)), loss=loss, metrics=[accuracy])
    batches = RegroupedSums(data.train, config.batch_size, config.seed)
    outcome = fit(trainer, batches, options=fit_options(config, "sum"),
                  validation=(data.validation.x, data.validation.target.astype("int32")), callbacks=stop_on_nan(),
                  examples_per_epoch=data.train.image_count)
    evaluations = []
    for length in lengths:
        sequences = data.test if length == data.test.length else make_sum_sequences(
            test_pool, config.test_sequences, length, np.random.default_rng([config.seed, length]))
        evaluations.append(evaluate_sum(model, sequences))
    files = write_files(model, data, outcome.history, config, "mnist_sum")
    settings = {"recipe": "default"} | _settings(config, data) | {"eval_lengths": lengths} | config.reader_settings()
    return RunResult("sum", settings, block, outcome, evaluations, config.seed,
                     time.perf_counter() - started, files=files)


def run_calc(config: CalcConfig) -> RunResult:
    """Train the column calculator's digit reader on `a op b` questions and score whole answers."""
    from ..mnist_sum.columns import answer_columns
    from ..models.mnist_calc import answer_loss, build_calc_model, build_digit_reader, column_trainer

    started = time.perf_counter()
    config.check()
    config.check_outputs()
    if config.recipe == "seed":
        from ..mnist_sum.seed_recipe import train_seed_calc

        return seed_result(train_seed_calc(config), config, started, "mnist_calc_seed")
    encoder = config.reader_encoder()
    set_seed(config.seed)
    data, test_pool, block = prepare_sequences(config, "calc", lambda pool, count, rng: make_calc_questions(
        pool, count, config.op, config.digits, rng))
    # A sequence file given as --data sets the operation and the digits.
    op, digits = data.train.attrs.get("op", config.op), int(data.train.attrs.get("digits", config.digits))
    check_batch_size(config.batch_size, data.train.length, config.members)
    model = build_calc_model(digits, op, build_digit_reader(encoder, config.members))
    # Trained through the probability of the whole answer (see models/mnist_calc.answer_loss).
    trainer = column_trainer(model)
    loss, accuracy = answer_loss(op)
    trainer.compile(optimizer(config, len(data.train)), loss=loss, metrics=[accuracy])
    outcome = fit(trainer, data.train.x, answer_columns(data.train.target, op, digits),
                  options=fit_options(config, "calc", config.batch_size),
                  validation=(data.validation.x, answer_columns(data.validation.target, op, digits)),
                  callbacks=stop_on_nan(), examples_per_epoch=data.train.image_count)
    evaluations, examples = score_calc(model, data.test, test_pool, config)
    files = write_files(model, data, outcome.history, config, "mnist_calc")
    settings = {"recipe": "default"} | _settings(config, data) | {
        "test_sequences": len(data.test), "op": op, "digits": digits,
        "benchmark_digits": list(config.benchmark_digits)} | config.reader_settings()
    return RunResult("calc", settings, block, outcome, evaluations, config.seed, time.perf_counter() - started,
                     examples, files)


def score_calc(model, test: SequenceSet, test_pool, config: CalcConfig) -> tuple[list[dict], list[dict]]:
    """The test questions' scores, then those of full-width questions at every --benchmark-digits."""
    from ..models.mnist_calc import calc_model_for, calc_op

    headline, examples = evaluate_calc(model, test)
    evaluations = [{"digits": (test.length - 1) // 2, "operands": "1 to N digits"} | headline]
    for digits in config.benchmark_digits:
        questions = make_calc_questions(test_pool, config.test_sequences, calc_op(model), digits,
                                        np.random.default_rng([config.seed, digits]), full_width=True)
        scores, _ = evaluate_calc(calc_model_for(model, digits), questions, examples=0)
        evaluations.append({"digits": digits, "operands": "N digits"} | scores)
    return evaluations, examples


def _settings(config: SequenceOptions, data: SequenceData) -> dict:
    """The shared settings as used: a sequence file's own counts and length replace the options."""
    return {"data": config.data, "data_dir": config.data_dir, "length": data.train.length,
            "train_sequences": len(data.train), "validation_sequences": len(data.validation),
            "test_sequences": config.test_sequences, "validation_fraction": config.validation_fraction,
            "epochs": config.epochs, "batch_size": config.batch_size, "learning_rate": config.learning_rate,
            "learning_rate_schedule": "cosine decay to 1%", "save": config.save,
            "export_data": config.export_data, "plot_dir": config.plot_dir}


def seed_result(run, config: SequenceOptions, started: float, stem: str) -> RunResult:
    """A seed preset's run (mlkit.mnist_sum.seed_recipe) as this command's result, files written."""
    files = write_files(run.model, run.data, run.outcome.history, config, stem)
    return RunResult(run.task, run.settings, run.data_block, run.outcome, run.evaluations, config.seed,
                     time.perf_counter() - started, run.examples, files)


def write_files(model, data: SequenceData, history: History, config: SequenceOptions, stem: str) -> list[dict]:
    """Save the model, export the sequences and plot the curves, as the options ask."""
    from ..plots import plot_curves

    files = []
    if config.save:
        files.append(file_entry(save_model(model, config.save), "model"))
    if config.export_data:
        files.append(file_entry(save_sequences(data, config.export_data), "dataset"))
    if config.plot_dir:
        path = plot_curves({stem: history.epochs}, ["loss", "accuracy"], Path(config.plot_dir) / f"{stem}_curves.png",
                           title=f"{stem}: training (solid) and validation (dashed)")
        files.append(file_entry(path, "plot"))
    return files
