"""Scoring sum and calculator models on sequence sets (NumPy metrics over model predictions)."""

import time
from dataclasses import dataclass

import numpy as np

from .columns import column_answers
from .storage import SequenceSet
from .symbols import CHARS, decode_answers

PREDICT_BATCH_SIZE = 256


def question_text(slots: np.ndarray) -> str:
    """The written question of one row of slot codes, blanks removed: `48+194`."""
    return "".join(CHARS[code] for code in slots).replace(" ", "")


@dataclass
class SumPredictions:
    """A sum model's answers: the most likely sum, the expected sum and each image's digit."""

    sums: np.ndarray
    expected: np.ndarray
    digits: np.ndarray | None  # None for a seed-recipe regressor, which reads no single digits
    seconds: float


def read_sums(distribution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(most likely sum, expected value) of each row of a distribution over sums 0, 1, 2, ...

    The most likely sum is the answer: where the model is sure of every digit it is their sum,
    and it is what training's exact-sum accuracy scores (Keras' argmax). The median, which
    would minimise the absolute error if the probabilities were calibrated, did worse on the
    validation sequences of a default run: exact 0.957 and MAE 0.151 against 0.963 and 0.139.
    The expected value is what MSE training would give; one doubtful image pulls it off the
    integers (a 4 that might be a 9 adds 4.5).
    """
    return distribution.argmax(axis=1), distribution @ np.arange(distribution.shape[1])


def predict_sums(model, sequences: SequenceSet) -> SumPredictions:
    """Predict the sums of `sequences` with a sum model (see `read_sums`).

    A `--recipe seed` model regresses the sum directly: its answer is its output rounded, and it
    reads no single digits (`digits` is None).
    """
    from ..models.mnist_sum_seed import SEED_SUM_MODEL_NAME

    if model.name == SEED_SUM_MODEL_NAME:
        return _regress_sums(model, sequences)
    started = time.perf_counter()
    digits = digit_probabilities(model, sequences.x)
    likeliest, expected = read_sums(sum_distribution(digits))
    return SumPredictions(likeliest, expected, digits.argmax(axis=-1), time.perf_counter() - started)


def distinct_images(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct images of (count, length, 28, 28) sequences, and where each slot's is."""
    flat = np.ascontiguousarray(x).reshape(-1, x.shape[-2] * x.shape[-1])
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, first, where = np.unique(keys, return_index=True, return_inverse=True)
    return flat[first].reshape(-1, *x.shape[-2:]), where.reshape(x.shape[:2])


def digit_probabilities(model, x: np.ndarray) -> np.ndarray:
    """(count, length, 10) digit probabilities of a sum model, each distinct image read once.

    Test sequences are drawn from MNIST's 10,000 test images, so 50,000 sequences of 20 hold
    each about 100 times; the model reads images one by one (sum pooling comes after), so
    reading each once gives the same probabilities at a fraction of the cost.
    """
    import keras

    from ..models.mnist_sum import DIGIT_LAYER

    images, where = distinct_images(x)
    reader = keras.Model(model.inputs, model.get_layer(DIGIT_LAYER).output)
    return reader.predict(images[:, None], batch_size=PREDICT_BATCH_SIZE, verbose=0)[:, 0][where]


def sum_distribution(probabilities: np.ndarray) -> np.ndarray:
    """(count, 9*length+1) distribution of each sequence's sum from (count, length, 10) digit
    probabilities, the images read as independent draws (models/mnist_sum.sum_distribution_model)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    distribution = probabilities[:, 0]
    for position in range(1, probabilities.shape[1]):
        digit = probabilities[:, position]
        grown = np.zeros((len(distribution), distribution.shape[1] + 9))
        for value in range(10):
            grown[:, value:value + distribution.shape[1]] += distribution * digit[:, value:value + 1]
        distribution = grown
    return distribution


def _regress_sums(model, sequences: SequenceSet) -> SumPredictions:
    from ..errors import ModelError

    length = model.inputs[0].shape[1]
    if sequences.length != length:
        raise ModelError(f"this seed-recipe model reads sequences of exactly {length} images, got {sequences.length}.")
    started = time.perf_counter()
    expected = model.predict(sequences.x, batch_size=PREDICT_BATCH_SIZE, verbose=0).reshape(-1).astype(np.float64)
    return SumPredictions(np.rint(expected).astype(np.int64), expected, None, time.perf_counter() - started)


def sum_metrics(predicted: np.ndarray, sequences: SequenceSet, digits: np.ndarray | None = None) -> dict:
    """MAE, RMSE and exact-sum accuracy (rounded prediction equals the sum) of predictions.

    `digit_accuracy` scores each image's argmax digit; the model never saw a digit label.
    """
    error = np.asarray(predicted, dtype=np.float64) - sequences.target
    metrics = {
        "length": sequences.length, "sequences": len(sequences),
        "mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error ** 2).mean())),
        "exact_match": float((np.rint(predicted) == sequences.target).mean()),
    }
    if digits is not None:
        metrics["digit_accuracy"] = float((digits == sequences.slots).mean())
    return metrics


def evaluate_sum(model, sequences: SequenceSet) -> dict:
    """`sum_metrics` on a set, with the prediction time and images per second."""
    predictions = predict_sums(model, sequences)
    return sum_metrics(predictions.sums, sequences, predictions.digits) | prediction_speed(
        predictions.seconds, sequences)


def prediction_speed(seconds: float, sequences: SequenceSet) -> dict:
    """Prediction seconds and images per second (named apart from training's `seconds`)."""
    return {"predict_seconds": seconds,
            "predict_images_per_second": sequences.image_count / seconds if seconds else None}


def predict_answers(model, sequences: SequenceSet) -> tuple[np.ndarray, np.ndarray, float]:
    """Predicted answer codes (most significant character first), each slot's digit as the
    reader sees it, and the seconds it took.

    A calculator gives each column's digit probabilities, units first (models/mnist_calc.py).
    """
    from ..models.mnist_calc import calc_op, reading_view

    started = time.perf_counter()
    columns, readings = reading_view(model).predict(sequences.x, batch_size=PREDICT_BATCH_SIZE, verbose=0)
    codes = column_answers(columns, calc_op(model))
    return codes, readings.mean(axis=1).argmax(axis=-1), time.perf_counter() - started


def calc_metrics(codes: np.ndarray, sequences: SequenceSet, digits: np.ndarray | None = None) -> dict:
    """Exact-match accuracy of whole answers and per-character accuracy (padding included).

    `digit_accuracy` scores the digit read in every digit slot (operator and blanks left out);
    the model never saw a digit label.
    """
    correct = codes == sequences.target
    metrics = {"questions": len(sequences), "exact_match": float(correct.all(axis=1).mean()),
               "char_accuracy": float(correct.mean())}
    if digits is not None:
        digit = sequences.slots < 10
        metrics["digit_accuracy"] = float((digits[digit] == sequences.slots[digit]).mean())
    return metrics


def evaluate_calc(model, sequences: SequenceSet, examples: int = 8) -> tuple[dict, list[dict]]:
    """`calc_metrics` with timing, and the first `examples` questions with both answers."""
    codes, digits, seconds = predict_answers(model, sequences)
    metrics = calc_metrics(codes, sequences, digits) | prediction_speed(seconds, sequences)
    return metrics, answer_rows(codes[:examples], sequences.slots[:examples], sequences.target[:examples])


def answer_rows(codes: np.ndarray, slots: np.ndarray, target: np.ndarray | None = None) -> list[dict]:
    """One dict per question: its text, the predicted answer and, when known, the true one."""
    predicted = decode_answers(codes)
    if target is None:
        return [{"question": question_text(row), "predicted": guess} for row, guess in zip(slots, predicted)]
    return [{"question": question_text(row), "predicted": guess, "answer": answer, "correct": guess == answer}
            for row, guess, answer in zip(slots, predicted, decode_answers(target))]
