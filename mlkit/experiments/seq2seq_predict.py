"""`mlkit seq2seq predict`: answer arithmetic questions with a model saved by `mlkit seq2seq --save`.

The answers are decoded as training scored them (`mlkit.models.seq2seq.answer_ids`) and printed
in the usual order, whichever order the model writes them in.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arithmetic import Task, decode, format_questions, parse_expression
from ..errors import ConfigError
from ..record import Record

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
    spec: object  # mlkit.models.seq2seq.Seq2SeqSpec
    answers: list[Answer]

    def __repr__(self) -> str:
        return f"PredictResult(model={self.model_path.name!r}, questions={len(self.answers)})"

    @property
    def task(self) -> Task:
        return self.spec.task

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

        spec = self.spec
        model = {"path": str(self.model_path), "sha256": file_sha256(self.model_path), "op": spec.task.op,
                 "digits": spec.task.digits, "arch": spec.arch, "answer_order": spec.answer_order,
                 "reverse": spec.reverse}
        return Record("seq2seq predict", {"model": str(self.model_path)}, self.metrics(),
                      sections={"model": model, "answers": self.answers})


def predict(model_path: Path, expressions: list[str]) -> PredictResult:
    """Answer each expression with a model saved by `mlkit seq2seq --save`.

    A bad expression gets its `error` filled in; the others are still answered.
    """
    from ..models.seq2seq import CORE_NAME, TOKENIZER_NAME, answer_ids, read_spec
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
        questions = np.array(format_questions(task, a, b, padded=spec.padded))
        ids = np.asarray(model.get_layer(TOKENIZER_NAME)(questions))[:, :task.question_length]
        guesses = decode(task, answer_ids(model.get_layer(CORE_NAME), spec, ids), spec.answer_order)
        for index, guess, truth in zip(valid, guesses, task.apply(a, b).tolist()):
            answers[index].prediction, answers[index].truth = guess, truth
            answers[index].correct = guess == str(truth)
    return PredictResult(Path(model_path), spec, answers)
