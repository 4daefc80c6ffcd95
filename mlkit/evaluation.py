"""Scoring a trained image classifier: per-class accuracy, confusion matrix, what it gets wrong."""

from dataclasses import dataclass

import numpy as np

PREDICT_BATCH_SIZE = 500
# Keras clips probabilities to [1e-7, 1 - 1e-7] before taking logs; so does `cross_entropy`.
EPSILON = 1e-7
# Rows of outputs that sum to 1 within this are a probability distribution (a softmax).
DISTRIBUTION_TOLERANCE = 1e-3


@dataclass
class Evaluation:
    """A classifier's predictions on a test set, and what they add up to."""

    class_names: list[str]
    y_true: np.ndarray
    y_pred: np.ndarray

    def __repr__(self) -> str:
        return f"Evaluation(images={len(self.y_true)}, accuracy={self.accuracy:.4f})"

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_true == self.y_pred)) if len(self.y_true) else 0.0

    @property
    def confusion(self) -> np.ndarray:
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.y_true, self.y_pred, labels=range(len(self.class_names)))

    def per_class_accuracy(self) -> dict[str, float | None]:
        """Recall of each class (None for a class absent from the test set)."""
        matrix = self.confusion
        totals = matrix.sum(axis=1)
        return {name: (float(matrix[i, i] / totals[i]) if totals[i] else None)
                for i, name in enumerate(self.class_names)}

    def confused_pairs(self, top: int = 5) -> list[dict]:
        """The class pairs mixed up most often, counting both directions (cat as dog and dog as cat)."""
        matrix = self.confusion
        pairs = []
        for i in range(len(matrix)):
            for j in range(i + 1, len(matrix)):
                count = int(matrix[i, j] + matrix[j, i])
                if count:
                    pairs.append({"classes": [self.class_names[i], self.class_names[j]], "count": count,
                                  "first_as_second": int(matrix[i, j]), "second_as_first": int(matrix[j, i])})
        return sorted(pairs, key=lambda pair: -pair["count"])[:top]

    def misclassified(self, count: int, seed: int = 0) -> np.ndarray:
        """Indices of up to `count` wrongly classified test images, drawn at random."""
        wrong = np.flatnonzero(self.y_true != self.y_pred)
        if len(wrong) > count:
            wrong = np.sort(np.random.default_rng(seed).choice(wrong, count, replace=False))
        return wrong

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "per_class_accuracy": self.per_class_accuracy(),
                "confusion_matrix": self.confusion.tolist(), "confused_pairs": self.confused_pairs()}


def evaluate_classifier(model, x: np.ndarray, y: np.ndarray, class_names: list[str],
                        batch_size: int = PREDICT_BATCH_SIZE) -> Evaluation:
    """Predict every image of `x` and compare with the labels `y`."""
    probabilities = predict_outputs(model, x, batch_size)
    return Evaluation(list(class_names), np.asarray(y), np.argmax(probabilities, axis=1))


def predict_outputs(model, x: np.ndarray, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """The model's outputs for every image of `x`, fed as float32 in batches of `batch_size`.

    Every scorer predicts through here with the same batch size, so a command that trained a
    model and `mlkit evaluate` on its saved file compute the very same numbers.
    """
    return model.predict(x.astype("float32"), batch_size=batch_size, verbose=0)


def output_kind(outputs: np.ndarray) -> str:
    """"probabilities" when every row is non-negative and sums to 1 (a softmax output), else "logits".

    Decided from the outputs rather than the last layer's name, so Dense(softmax), a Softmax
    layer and Activation("softmax") all count as probabilities.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    sums = outputs.sum(axis=1)
    is_distribution = bool(np.all(outputs >= 0) and np.all(np.abs(sums - 1) <= DISTRIBUTION_TOLERANCE))
    return "probabilities" if is_distribution else "logits"


def cross_entropy(outputs: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Mean sparse categorical cross-entropy of integer labels `y` under `outputs`.

    Args:
        kind: "probabilities" (clipped as Keras does) or "logits" (log-softmax, computed stably).
    """
    outputs, rows = np.asarray(outputs, dtype=np.float64), np.arange(len(y))
    if kind == "probabilities":
        chosen = np.clip(outputs / outputs.sum(axis=1, keepdims=True), EPSILON, 1 - EPSILON)[rows, y]
        return float(-np.mean(np.log(chosen)))
    if kind != "logits":
        raise ValueError(f"kind must be 'probabilities' or 'logits', got {kind!r}")
    peak = outputs.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(outputs - peak).sum(axis=1)) + peak[:, 0]
    return float(np.mean(log_sum - outputs[rows, y]))


def plot_evaluation(evaluation: Evaluation, x: np.ndarray, folder, stem: str, grid: int = 0,
                    split: str = "test") -> list:
    """Write the confusion-matrix PNG and, when grid > 0, a grid of misclassified images of `split`."""
    from pathlib import Path

    from .plots import plot_confusion_matrix, plot_image_grid

    folder = Path(folder)
    paths = [plot_confusion_matrix(evaluation.confusion, evaluation.class_names,
                                   folder / f"{stem}_confusion.png", title=f"Confusion matrix ({stem})")]
    if grid:
        rows = evaluation.misclassified(grid)
        names = evaluation.class_names
        titles = [f"{names[evaluation.y_true[i]]} as {names[evaluation.y_pred[i]]}" for i in rows]
        paths.append(plot_image_grid(x[rows], titles, folder / f"{stem}_misclassified.png",
                                     title=f"Misclassified {split} images (true as predicted)"))
    return paths
