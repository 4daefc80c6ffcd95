"""`mlkit seq2seq`: train an RNN to do integer arithmetic on strings, scored by whole answers.

Keras' accuracy on sequences counts characters; a 4-character answer with one wrong digit still
scores 0.75. Seed 001 therefore counted whole correct answers (exact match) by hand. Here both
are computed from one batched prediction over the validation questions after every epoch.
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arithmetic import (Task, decode, encode_answers, encode_questions, format_questions,
                          make_operands, parse_expression)
from ..errors import ConfigError
from ..training import History, save_model, set_seed, training_callbacks


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
    target_exact_match: float = 0.0  # stop once validation exact match reaches it (0: never)
    save: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False

    def check(self) -> Task:
        task = Task(self.op, self.digits)
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"--val-fraction must be between 0 and 1, not {self.val_fraction}.")
        for name in ("train_size", "units", "layers", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1.")
        if self.samples < 0:
            raise ConfigError("--samples must be 0 or more.")
        if self.learning_rate <= 0:
            raise ConfigError("--learning-rate must be positive.")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"--lr-decay must be in (0, 1], not {self.lr_decay}.")
        return task


@dataclass
class Seq2SeqResult:
    """The best epoch's validation scores (the saved weights), and the whole history."""

    op: str
    digits: int
    questions: int
    train_questions: int
    val_questions: int
    epochs: int
    best_epoch: int
    accuracy: float
    val_accuracy: float
    val_exact_match: float
    seconds: float
    seconds_to_target: float | None
    history: History
    files: list[Path] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"Seq2SeqResult(op={self.op!r}, digits={self.digits}, epochs={self.epochs}, "
                f"val_exact_match={self.val_exact_match:.4f}, seconds={self.seconds:.1f})")


@dataclass
class Split:
    """Token ids of the training and validation questions and answers."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    val_questions: list[str]


def make_split(task: Task, config: Seq2SeqConfig) -> Split:
    a, b = make_operands(task, config.train_size, config.seed)
    x, y = encode_questions(task, a, b), encode_answers(task, a, b)
    val_count = max(1, round(len(a) * config.val_fraction))
    if val_count >= len(a):
        raise ConfigError(f"only {len(a)} questions: too few to hold out a validation set.")
    questions = format_questions(task, a[-val_count:], b[-val_count:])
    return Split(x[:-val_count], y[:-val_count], x[-val_count:], y[-val_count:], questions)


def run(config: Seq2SeqConfig) -> Seq2SeqResult:
    """Generate questions, train, score exact match each epoch; optionally save and plot."""
    import keras

    from ..models.seq2seq import build_seq2seq, build_string_model

    task = config.check()
    if config.train_size > task.capacity:
        _say(config, f"only {task.capacity} different {task.op} questions with {task.digits} "
                     f"digits exist; using all of them.")
    set_seed(config.seed)
    split = make_split(task, config)
    model = build_seq2seq(task, config.cell, config.units, config.layers, config.reverse)
    # A large step early, then smaller ones: constant rates leave exact match swinging by +-5%.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=-(-len(split.x_train) // config.batch_size),
        decay_rate=config.lr_decay)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=config.jit_compile)
    history = History()
    scorer = ExactMatchScorer(task, split, config)
    callbacks = [scorer.callback()] + training_callbacks(
        history, monitor="val_exact_match", quiet=config.quiet, label=f"seq2seq {task.op}")
    model.fit(split.x_train, split.y_train, batch_size=config.batch_size, epochs=config.epochs,
              shuffle=True, verbose=0, callbacks=callbacks)
    best = int(np.argmax(history.epochs["val_exact_match"]))
    model.set_weights(scorer.best_weights)
    result = Seq2SeqResult(
        task.op, task.digits, len(split.x_train) + len(split.x_val), len(split.x_train),
        len(split.x_val), history.num_epochs, best + 1, history.epochs["accuracy"][best],
        history.epochs["val_accuracy"][best], history.epochs["val_exact_match"][best],
        history.seconds, scorer.seconds_to_target, history)
    if config.save:
        result.files.append(save_model(build_string_model(model, task), config.save))
    if config.plot_dir:
        result.files.append(plot_accuracies(history, task, config.plot_dir))
    return result


class ExactMatchScorer:
    """Scores the validation questions after each epoch and keeps the best weights."""

    def __init__(self, task: Task, split: Split, config: Seq2SeqConfig, stream=None):
        self.task, self.split, self.config = task, split, config
        self.stream = stream or sys.stderr
        self.best, self.best_weights, self.seconds_to_target = -1.0, None, None
        self.rng = np.random.default_rng(config.seed)

    def score(self, model) -> tuple[dict, np.ndarray]:
        probabilities = model.predict(self.split.x_val, batch_size=1024, verbose=0)
        predicted = probabilities.argmax(axis=-1)
        correct = predicted == self.split.y_val
        picked = np.take_along_axis(probabilities, self.split.y_val[..., None], axis=-1)
        logs = {"val_loss": float(-np.log(np.clip(picked, 1e-7, 1)).mean()),
                "val_accuracy": float(correct.mean()),
                "val_exact_match": float(correct.all(axis=1).mean())}
        return logs, predicted

    def callback(self):
        import keras

        scorer = self

        class ExactMatch(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                scores, predicted = scorer.score(self.model)
                logs.update(scores)  # the same dict reaches the history and the epoch logger
                if scores["val_exact_match"] > scorer.best:
                    scorer.best, scorer.best_weights = scores["val_exact_match"], self.model.get_weights()
                target = scorer.config.target_exact_match
                if target and scores["val_exact_match"] >= target and scorer.seconds_to_target is None:
                    scorer.seconds_to_target = time.perf_counter() - self.started
                    self.model.stop_training = True
                scorer.show_samples(predicted)

        return ExactMatch()

    def show_samples(self, predicted: np.ndarray) -> None:
        if self.config.quiet or not self.config.samples:
            return
        picks = self.rng.choice(len(predicted), min(self.config.samples, len(predicted)), replace=False)
        colour = getattr(self.stream, "isatty", lambda: False)()
        answers, guesses = decode(self.task, self.split.y_val[picks]), decode(self.task, predicted[picks])
        width = self.task.question_length
        for index, answer, guess in zip(picks, answers, guesses):
            mark = "\u2713" if answer == guess else "\u2717"
            if colour:
                mark = f"\033[{32 if answer == guess else 31}m{mark}\033[0m"
            self.stream.write(f"  Q {self.split.val_questions[index]:<{width}} T {answer:<{width}} {mark} {guess}\n")
        self.stream.flush()


def plot_accuracies(history: History, task: Task, plot_dir: Path) -> Path:
    from ..plots import plot_curves

    curves = {"per character": {"val_accuracy": history.epochs["val_accuracy"]},
              "exact match": {"val_accuracy": history.epochs["val_exact_match"]}}
    return plot_curves(curves, ["accuracy"], Path(plot_dir) / f"seq2seq_{task.op}_accuracy.png",
                       title=f"{task.op}, {task.digits} digits: validation accuracy")


def _say(config: Seq2SeqConfig, message: str) -> None:
    if not config.quiet:
        sys.stderr.write(message + "\n")


@dataclass
class Answer:
    """One expression given to predict: the model's answer and the true one, or why not."""

    expression: str
    prediction: str | None = None
    truth: int | None = None
    correct: bool | None = None
    error: str | None = None


def predict(model_path: Path, expressions: list[str]) -> list[Answer]:
    """Answer each expression with a model saved by `run(config)` with `save` set.

    A bad expression gets its `error` filled in; the others are still answered.
    """
    from ..models.seq2seq import read_spec
    from ..training import load_model

    model = load_model(model_path)
    task = read_spec(model).task
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
    return answers
