"""Exact match: the share of whole answers right, scored on validation questions after each epoch.

Keras' sequence accuracy counts characters, so a 4-character answer with one wrong digit still
scores 0.75; seed 001 counted whole answers by hand. `ExactMatchScorer` computes both from one
batched prediction, as a callback passed to `mlkit.training.fit`, which runs it after the
epoch's training timer has stopped (docs/architecture.md).
"""

import sys

import numpy as np

from .arithmetic import Task, decode


class ExactMatchScorer:
    """Scores the validation questions after each epoch, keeps the best weights, and stops
    training once exact match reaches `target` (None: never).

    Args:
        x_val, y_val: token ids of the questions and of their answers.
        questions: the questions as text, for the samples shown on `stream`.
        samples: validation questions shown after each epoch (0: none).
        seed: seeds the samples' own generator, so showing them changes no weights.
    """

    def __init__(self, task: Task, x_val: np.ndarray, y_val: np.ndarray, questions: list[str], *,
                 samples: int = 0, seed: int = 0, target: float | None = None, quiet: bool = False, stream=None):
        self.task, self.x_val, self.y_val, self.questions = task, x_val, y_val, questions
        self.samples, self.target, self.quiet = samples, target, quiet
        self.stream = stream or sys.stderr
        self.best, self.best_weights, self.reached_target = -1.0, None, False
        self.rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"ExactMatchScorer(op={self.task.op!r}, questions={len(self.x_val)}, best={self.best:.4f})"

    def score(self, model) -> tuple[dict, np.ndarray]:
        """(val_loss, val_accuracy per character, val_exact_match) and the predicted token ids."""
        probabilities = model.predict(self.x_val, batch_size=1024, verbose=0)
        predicted = probabilities.argmax(axis=-1)
        correct = predicted == self.y_val
        picked = np.take_along_axis(probabilities, self.y_val[..., None], axis=-1)
        logs = {"val_loss": float(-np.log(np.clip(picked, 1e-7, 1)).mean()),
                "val_accuracy": float(correct.mean()),
                "val_exact_match": float(correct.all(axis=1).mean())}
        return logs, predicted

    def callback(self):
        import keras

        scorer = self

        class ExactMatch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                scores, predicted = scorer.score(self.model)
                logs.update(scores)  # the same dict reaches the history and the epoch logger
                if scores["val_exact_match"] > scorer.best:
                    scorer.best, scorer.best_weights = scores["val_exact_match"], self.model.get_weights()
                if scorer.target is not None and scores["val_exact_match"] >= scorer.target:
                    scorer.reached_target = True
                    self.model.stop_training = True
                scorer.show_samples(predicted)

        return ExactMatch()

    def show_samples(self, predicted: np.ndarray) -> None:
        if self.quiet or not self.samples:
            return
        picks = self.rng.choice(len(predicted), min(self.samples, len(predicted)), replace=False)
        colour = getattr(self.stream, "isatty", lambda: False)()
        answers, guesses = decode(self.task, self.y_val[picks]), decode(self.task, predicted[picks])
        width = self.task.question_length
        for index, answer, guess in zip(picks, answers, guesses):
            mark = "\u2713" if answer == guess else "\u2717"
            if colour:
                mark = f"\033[{32 if answer == guess else 31}m{mark}\033[0m"
            self.stream.write(f"  Q {self.questions[index]:<{width}} T {answer:<{width}} {mark} {guess}\n")
        self.stream.flush()
