"""`mlkit seq2seq`: train an RNN to do integer arithmetic on strings, scored by whole answers;
`mlkit seq2seq predict`: answer questions with a saved model.

Training goes through `mlkit.training.fit`; the exact-match scorer (mlkit/exact_match.py) is a
callback of its own, so scoring is not counted as training time (docs/architecture.md).
"""

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..arithmetic import MAX_DIGITS, Task, decode, encode_answers, encode_questions, format_questions, make_operands
from ..errors import ConfigError
from ..exact_match import ExactMatchScorer
from ..files import check_output_folder, check_output_path
from ..record import Record, data_block, file_entry
from ..training import FitOptions, FitOutcome, fit, save_model, set_seed

METRICS = ("exact_match", "val_accuracy", "train_accuracy", "loss", "seconds", "wall_seconds",
           "images_per_second", "best_epoch", "seconds_to_target")

# Upper limits of the size options: past them a run would not fit in memory or in a day on a CPU.
MAX_TRAIN_SIZE = 1_000_000  # questions; token arrays of about 100 MB
MAX_UNITS = 1024
MAX_LAYERS = 8
MAX_BATCH_SIZE = 65_536
MAX_EPOCHS = 1000
MAX_SAMPLES = 1000
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding, which keras.utils.set_random_seed calls
LIMITS = {"digits": (1, MAX_DIGITS), "train_size": (2, MAX_TRAIN_SIZE), "units": (1, MAX_UNITS),
          "layers": (1, MAX_LAYERS), "batch_size": (1, MAX_BATCH_SIZE), "epochs": (1, MAX_EPOCHS),
          "samples": (0, MAX_SAMPLES), "seed": (0, MAX_SEED)}
OPTION_NAMES = {"units": "--units"}  # config field -> option, where the kebab-case name differs


@dataclass
class Seq2SeqConfig:
    """Every setting of one run; the CLI defaults come from here."""

    op: str = "add"
    digits: int = 3
    train_size: int = 50000
    val_fraction: float = 0.1
    reverse: bool = True
    cell: str = "gru"
    units: int = 128
    layers: int = 1
    batch_size: int = 128
    learning_rate: float = 0.004
    lr_decay: float = 0.95  # per-epoch factor: 0.9 froze sub at 0.989 exact match, 0.95 reached 0.994
    epochs: int = 30
    jit_compile: bool = True
    seed: int = 0
    samples: int = 10
    target_exact_match: float | None = None  # stop once validation exact match reaches it
    save: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False

    def check(self) -> Task:
        """The task, once every setting is in range; otherwise a ConfigError naming the option."""
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                option = OPTION_NAMES.get(name, f"--{name.replace('_', '-')}")
                raise ConfigError(f"{option} must be between {low:,} and {high:,}, not {value:,}.")
        _check_fraction("--val-fraction", self.val_fraction, high_open=True)
        _check_fraction("--lr-decay", self.lr_decay)
        if self.target_exact_match is not None:
            _check_fraction("--target", self.target_exact_match)
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ConfigError(f"--learning-rate must be a positive finite number, not {self.learning_rate}.")
        if self.save is not None and Path(self.save).suffix != ".keras":
            raise ConfigError(f"--save {self.save} must end in .keras (the format predict reads).")
        return Task(self.op, self.digits)

    def to_dict(self) -> dict:
        """The effective settings for the record (the seed has its own place there)."""
        settings = {key: value for key, value in asdict(self).items() if key not in ("seed", "quiet")}
        return settings | {"monitor": "val_exact_match", "selection_split": "val"}


def _check_fraction(option: str, value: float, high_open: bool = False) -> None:
    if not (np.isfinite(value) and 0 < value and (value < 1 if high_open else value <= 1)):
        raise ConfigError(f"{option} must be in (0, 1{')' if high_open else ']'}, not {value}.")


@dataclass
class Split:
    """Token ids of the training and validation questions and answers."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    val_questions: list[str]

    def __repr__(self) -> str:
        return f"Split(train={len(self.x_train)}, validation={len(self.x_val)})"

    def fingerprint(self) -> str:
        """SHA-256 of the four arrays: the same seed and settings give the same questions."""
        from ..data.hdf5 import checksum

        return checksum({"x_train": self.x_train, "y_train": self.y_train, "x_val": self.x_val, "y_val": self.y_val})


@dataclass
class Seq2SeqResult:
    """The best epoch's validation scores (the saved weights), the training outcome, the files."""

    config: Seq2SeqConfig
    task: Task
    split: Split
    outcome: FitOutcome
    seconds_to_target: float | None
    wall_seconds: float
    files: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"Seq2SeqResult(op={self.task.op!r}, digits={self.task.digits}, epochs={self.outcome.epochs}, "
                f"exact_match={self.outcome.at_best('val_exact_match'):.4f})")

    def metrics(self) -> dict:
        outcome = self.outcome
        return {"exact_match": outcome.at_best("val_exact_match"), "val_accuracy": outcome.at_best("val_accuracy"),
                "train_accuracy": outcome.at_best("accuracy"), "loss": outcome.at_best("val_loss"),
                "seconds": outcome.train_seconds, "wall_seconds": self.wall_seconds,
                "images_per_second": outcome.images_per_second, "best_epoch": outcome.best_epoch,
                "seconds_to_target": self.seconds_to_target}

    def record(self) -> Record:
        split = self.split
        data = data_block("arithmetic questions", None, split.fingerprint(), op=self.task.op, digits=self.task.digits,
                          train=len(split.x_train), validation=len(split.x_val))
        return Record("seq2seq", self.config.to_dict(), self.metrics(), data=data, files=self.files,
                      seed=self.config.seed,
                      sections={"epochs_run": self.outcome.epochs_run, "history": self.outcome.history.to_dict()})


def make_split(task: Task, config: Seq2SeqConfig) -> Split:
    a, b = make_operands(task, config.train_size, config.seed)
    x, y = encode_questions(task, a, b), encode_answers(task, a, b)
    val_count = max(1, round(len(a) * config.val_fraction))
    if val_count >= len(a):
        raise ConfigError(f"only {len(a)} questions: too few to hold out a validation set.")
    questions = format_questions(task, a[-val_count:], b[-val_count:])
    return Split(x[:-val_count], y[:-val_count], x[-val_count:], y[-val_count:], questions)


def run(config: Seq2SeqConfig) -> Seq2SeqResult:
    """Generate questions, train, score exact match each epoch; optionally save and plot.

    Output paths are checked first, so a run is never trained and then lost to a bad path.
    """
    started = time.perf_counter()
    task = config.check()
    if config.save is not None:
        check_output_path(config.save, "--save")
    if config.plot_dir is not None:
        check_output_folder(config.plot_dir, "--plot-dir")
    if config.train_size > task.capacity:
        _say(config, f"only {task.capacity} different {task.op} questions with {task.digits} "
                     f"digits exist; using all of them.")
    set_seed(config.seed)
    split = make_split(task, config)
    model = compile_model(task, config, len(split.x_train))
    scorer = ExactMatchScorer(task, split.x_val, split.y_val, split.val_questions, samples=config.samples,
                              seed=config.seed, target=config.target_exact_match, quiet=config.quiet)
    options = FitOptions(epochs=config.epochs, batch_size=config.batch_size, monitor="val_exact_match",
                         quiet=config.quiet, label=f"seq2seq {task.op}")
    outcome = fit(model, split.x_train, split.y_train, options=options, callbacks=[scorer.callback()])
    model.set_weights(scorer.best_weights)
    # Training stops at the epoch that reached the target, so its time is every epoch's wall time.
    seconds_to_target = outcome.wall_seconds if scorer.reached_target else None
    files = write_outputs(model, task, outcome, config)
    return Seq2SeqResult(config, task, split, outcome, seconds_to_target, time.perf_counter() - started, files)


def compile_model(task: Task, config: Seq2SeqConfig, train_questions: int):
    """The token-id model with Adam on a per-epoch exponential decay."""
    import keras

    from ..models.seq2seq import build_seq2seq

    model = build_seq2seq(task, config.cell, config.units, config.layers, config.reverse)
    # A large step early, then smaller ones: constant rates leave exact match swinging by +-5%.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=-(-train_questions // config.batch_size), decay_rate=config.lr_decay)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=config.jit_compile)
    return model


def write_outputs(model, task: Task, outcome: FitOutcome, config: Seq2SeqConfig) -> list[dict]:
    """Save the string model (what predict reads) and the accuracy plot, as asked."""
    from ..models.seq2seq import build_string_model

    files = []
    if config.save:
        files.append(file_entry(save_model(build_string_model(model, task), config.save), "model"))
    if config.plot_dir:
        files.append(file_entry(plot_accuracies(outcome, task, config.plot_dir), "plot"))
    return files


def plot_accuracies(outcome: FitOutcome, task: Task, plot_dir: Path) -> Path:
    from ..plots import plot_curves

    epochs = outcome.history.epochs
    curves = {"per character": {"val_accuracy": epochs["val_accuracy"]},
              "exact match": {"val_accuracy": epochs["val_exact_match"]}}
    return plot_curves(curves, ["accuracy"], Path(plot_dir) / f"seq2seq_{task.op}_accuracy.png",
                       title=f"{task.op}, {task.digits} digits: validation accuracy")


def _say(config: Seq2SeqConfig, message: str) -> None:
    if not config.quiet:
        sys.stderr.write(message + "\n")


PREDICT_METRICS = ("exact_match", "questions", "answered", "errors")


@dataclass
class Answer:
    """One expression given to predict: the model's answer and the true one, or why not."""

    expression: str
    prediction: str | None = None
    truth: int | None = None
    correct: bool | None = None
    error: str | None = None


@dataclass
class PredictResult:
    """The answers to every question, and the model that gave them."""

    model_path: Path
    task: Task
    reverse: bool
    answers: list[Answer]

    def __repr__(self) -> str:
        return f"PredictResult(model={self.model_path.name!r}, questions={len(self.answers)})"

    @property
    def errors(self) -> list[tuple[int, Answer]]:
        """(line number from 1, answer) of every question that could not be asked."""
        return [(number, answer) for number, answer in enumerate(self.answers, 1) if answer.error]

    def metrics(self) -> dict:
        answered = [answer for answer in self.answers if answer.error is None]
        correct = sum(answer.correct for answer in answered)
        return {"exact_match": correct / len(answered) if answered else None, "questions": len(self.answers),
                "answered": len(answered), "errors": len(self.answers) - len(answered)}

    def record(self) -> Record:
        from ..record import file_sha256

        model = {"path": str(self.model_path), "sha256": file_sha256(self.model_path), "op": self.task.op,
                 "digits": self.task.digits, "reverse": self.reverse}
        return Record("seq2seq predict", {"model": str(self.model_path)}, self.metrics(),
                      sections={"model": model, "answers": self.answers})


def predict(model_path: Path, expressions: list[str]) -> PredictResult:
    """Answer each expression with a model saved by `run(config)` with `save` set.

    A bad expression gets its `error` filled in; the others are still answered.
    """
    from ..arithmetic import parse_expression
    from ..models.seq2seq import read_spec
    from ..training import load_model

    model = load_model(model_path)
    spec = read_spec(model)
    task = spec.task
    answers, operands = [], []
    for expression in expressions:
        answers.append(Answer(expression.strip()))
        try:
            operands.append(parse_expression(task, expression))
        except ConfigError as error:
            answers[-1].error = str(error)
            operands.append(None)
    valid = [index for index, pair in enumerate(operands) if pair is not None]
    if valid:
        a, b = (np.array([operands[index][side] for index in valid]) for side in (0, 1))
        questions = np.array(format_questions(task, a, b), dtype=object)
        guesses = decode(task, model.predict(questions, batch_size=1024, verbose=0).argmax(axis=-1))
        for index, guess, truth in zip(valid, guesses, task.apply(a, b).tolist()):
            answers[index].prediction, answers[index].truth = guess, truth
            answers[index].correct = guess == str(truth)
    return PredictResult(Path(model_path), task, spec.reverse, answers)
