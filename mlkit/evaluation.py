"""Scoring a trained image classifier: per-class accuracy, confusion matrix, what it gets wrong."""

from dataclasses import dataclass

import numpy as np


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
                        batch_size: int = 500) -> Evaluation:
    """Predict every image of `x` and compare with the labels `y`."""
    probabilities = model.predict(x.astype("float32"), batch_size=batch_size, verbose=0)
    return Evaluation(list(class_names), np.asarray(y), np.argmax(probabilities, axis=1))


def plot_evaluation(evaluation: Evaluation, x: np.ndarray, folder, stem: str, grid: int = 0) -> list:
    """Write the confusion-matrix PNG and, when grid > 0, a grid of misclassified images."""
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
                                     title="Misclassified test images (true as predicted)"))
    return paths
