"""Matplotlib PNGs shared by the commands; every file is written atomically."""

import os
from pathlib import Path

import numpy as np

from .files import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Write a figure as PNG atomically and close it."""
    plt = _pyplot()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


def plot_curves(runs: dict[str, dict[str, list[float]]], metrics: list[str],
                path: str | os.PathLike, title: str = "", xlabel: str = "epoch",
                steps: dict[str, list[int]] | None = None) -> Path:
    """Overlay several runs' curves, one panel per metric.

    Args:
        runs: label -> {metric name -> values}; a `val_` twin of a metric is drawn dashed in
            the same colour, so train and validation of one run read as a pair.
        metrics: the metrics to draw, one panel each (e.g. ["accuracy", "loss"]).
        path: the PNG to write.
        steps: label -> x values (e.g. batch numbers); default 1, 2, 3, ...
    """
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, metric in zip(axes[0], metrics):
        for index, (label, curves) in enumerate(runs.items()):
            colour = colours[index % len(colours)]
            for key, style, suffix in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
                values = curves.get(key)
                if not values:
                    continue
                xs = (steps or {}).get(label) or list(range(1, len(values) + 1))
                axis.plot(xs[: len(values)], values, style, color=colour, label=f"{label} {suffix}")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_bars(labels: list[str], values: list[float], path: str | os.PathLike,
              title: str = "", ylabel: str = "") -> Path:
    """A bar chart with one labelled bar per class (e.g. a class histogram)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(max(6, 0.7 * len(labels)), 4))
    bars = axis.bar(range(len(values)), values)
    axis.bar_label(bars, fontsize=7)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    return save_figure(figure, path)


def plot_confusion_matrix(matrix: np.ndarray, class_names: list[str], path: str | os.PathLike,
                          title: str = "Confusion matrix") -> Path:
    """Counts with true classes as rows and predictions as columns."""
    plt = _pyplot()
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axis = plt.subplots(figsize=(8, 7))
    ConfusionMatrixDisplay(matrix, display_labels=class_names).plot(
        ax=axis, cmap="Blues", colorbar=False, xticks_rotation=45, values_format="d")
    axis.set_title(title)
    return save_figure(figure, path)


def plot_image_grid(images: np.ndarray, titles: list[str], path: str | os.PathLike,
                    columns: int = 8, title: str = "") -> Path:
    """A grid of images (uint8 or floats in [0, 1]; grey or RGB) with a caption under each."""
    plt = _pyplot()
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, titles):
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        axis.imshow(image, cmap="gray" if image.ndim == 2 else None)
        axis.set_title(caption, fontsize=7)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
