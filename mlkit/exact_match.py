"""Exact match: the share of whole answers right, scored on validation questions after each epoch.

Keras' sequence accuracy counts characters, so a 4-character answer with one wrong digit still
scores 0.75; seed 001 counted whole answers by hand. `ExactMatchScorer` computes both from one
batched prediction, as a callback passed to `mlkit.training.fit`, which runs it after the
epoch's training timer has stopped (docs/architecture.md). The answers scored are decoded by
`mlkit.models.seq2seq.answer_ids`, as `mlkit seq2seq predict` decodes them.
"""

import sys

import numpy as np

from .arithmetic import decode


class ExactMatchScorer:
    """Scores the validation questions after each epoch, keeps the best weights, and stops
    training once exact match reaches `target` (None: never).

    Args:
        spec: how the model reads questions and writes answers (mlkit.models.seq2seq).
        x_val, y_val: token ids of the model's input (question, and for a transformer the
            answer it is taught with) and of the answers, in the model's answer order.
        questions: the questions as text, for the samples shown on `stream`.
        samples: validation questions shown after each epoch (0: none).
        seed: seeds the samples' own generator, so showing them changes no weights.
    """

    def __init__(self, spec, x_val: np.ndarray, y_val: np.ndarray, questions: list[str], *,
                 samples: int = 0, seed: int = 0, target: float | None = None, quiet: bool = False, stream=None):
        self.spec, self.task, self.x_val, self.y_val, self.questions = spec, spec.task, x_val, y_val, questions
        self.answers = y_val[:, -spec.task.answer_length:]  # the model's working, if any, left out
        self.samples, self.target, self.quiet = samples, target, quiet
        self.stream = stream or sys.stderr
        self.best, self.best_weights, self.reached_target = -1.0, None, False
        self.rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"ExactMatchScorer(op={self.task.op!r}, questions={len(self.x_val)}, best={self.best:.4f})"

    def score(self, model) -> tuple[dict, np.ndarray]:
        """(val_loss, val_accuracy per character, val_exact_match) and the answers' token ids.

        The loss is that of every true token (fed to a transformer, as in training, its working
        included); the accuracies are those of the answers the model writes itself.
        """
        from .models.seq2seq import answer_ids

        probabilities = model.predict(self.x_val, batch_size=1024, verbose=0)
        predicted = answer_ids(model, self.spec, self.x_val[:, :self.task.question_length])
        correct = predicted == self.answers
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
        order = self.spec.answer_order
        answers, guesses = decode(self.task, self.answers[picks], order), decode(self.task, predicted[picks], order)
        width = self.task.question_length
        for index, answer, guess in zip(picks, answers, guesses):
            mark = "\u2713" if answer == guess else "\u2717"
            if colour:
                mark = f"\033[{32 if answer == guess else 31}m{mark}\033[0m"
            self.stream.write(f"  Q {self.questions[index]:<{width}} T {answer:<{width}} {mark} {guess}\n")
        self.stream.flush()
