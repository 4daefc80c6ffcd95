"""`mlkit evaluate`: score a saved image classifier (mlkit's own or anyone's) on a dataset split."""

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, ModelError
from ..evaluation import PREDICT_BATCH_SIZE, Evaluation, cross_entropy, output_kind, plot_evaluation, predict_outputs
from ..model_inputs import SCALES, PixelScale, choose_scale, class_count, fit_images, input_shape
from ..record import Record, data_block, file_entry, file_sha256

SPLITS = ("test", "train")
METRICS = ("test_accuracy", "train_accuracy", "loss", "images", "seconds", "wall_seconds", "images_per_second")
# The misclassified-image grid written beside the confusion matrix.
GRID_IMAGES = 16


@dataclass
class EvaluateConfig:
    """What to score and how; `scale` None lets the model decide (see model_inputs.choose_scale)."""

    model: Path
    data: str
    split: str = "test"
    scale: int | None = None
    data_dir: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False

    def validate(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}.")
        if self.scale is not None and self.scale not in SCALES:
            raise ConfigError(f"--scale must be 1 or 255, got {self.scale!r}.")


@dataclass
class EvaluateResult:
    """One model scored on one split."""

    config: EvaluateConfig
    model: dict  # path, sha256, name, parameters, input_shape
    scale: PixelScale
    outputs: str  # "probabilities" or "logits": how the loss was computed
    data: dict
    evaluation: Evaluation
    loss: float
    seconds: float  # predicting only
    wall_seconds: float
    plots: list[Path] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"EvaluateResult({self.model['name']!r}, {self.config.split}_accuracy={self.accuracy:.4f})"

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy

    @property
    def images(self) -> int:
        return len(self.evaluation.y_true)

    def metrics(self) -> dict:
        """Every key of METRICS; the split not scored is None."""
        accuracy = {f"{split}_accuracy": self.accuracy if split == self.config.split else None for split in SPLITS}
        return {**accuracy, "loss": self.loss, "images": self.images, "seconds": self.seconds,
                "wall_seconds": self.wall_seconds,
                "images_per_second": self.images / self.seconds if self.seconds else None}

    def record(self) -> Record:
        config = {"model": str(self.config.model), "data": self.config.data, "data_dir": self.config.data_dir,
                  "split": self.config.split, "scale": self.scale.scale, "scale_from": self.scale.reason,
                  "outputs": self.outputs, "batch_size": PREDICT_BATCH_SIZE, "plot_dir": self.config.plot_dir}
        evaluation = self.evaluation.to_dict() | {
            "class_names": self.evaluation.class_names,
            "class_counts": np.bincount(self.evaluation.y_true, minlength=len(self.evaluation.class_names))}
        return Record("evaluate", config, self.metrics(), self.data, [file_entry(p, "plot") for p in self.plots],
                      sections={"model": self.model, "evaluation": evaluation})


def run(config: EvaluateConfig) -> EvaluateResult:
    """Load the model (safe mode) and the data, check they fit, predict the split and score it."""
    from ..data import load_data
    from ..training import load_model

    config.validate()
    started = time.perf_counter()
    with warnings.catch_warnings():
        # Scoring needs no optimizer; Keras warns when a saved optimizer was never trained.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = load_model(config.model)
    refuse_other_tasks(model, config.model)
    dataset = load_data(config.data, config.data_dir)
    images, labels = getattr(dataset, f"x_{config.split}"), getattr(dataset, f"y_{config.split}")
    if not len(images):
        raise DataError(f"{config.data} has no {config.split} images to score.")
    check_classes(model, dataset)
    scale = choose_scale(model, config.scale)
    fitted = fit_images(images, input_shape(model))
    predict_started = time.perf_counter()
    outputs = predict_outputs(model, scale.apply(fitted))
    seconds = time.perf_counter() - predict_started
    kind = output_kind(outputs)
    evaluation = Evaluation(list(dataset.class_names), labels, np.argmax(outputs, axis=1))
    if not config.quiet:
        sys.stderr.write(f"{config.model.name}: {config.split} accuracy {evaluation.accuracy:.4f} "
                         f"on {len(images)} images in {seconds:.1f}s\n")
    plots = write_plots(evaluation, images, config) if config.plot_dir else []
    data = data_block(dataset.name, dataset.source, dataset.fingerprint(), split=config.split,
                      images=len(images), image_shape=list(images.shape[1:]), dtype=str(images.dtype))
    return EvaluateResult(config, describe_model(model, config.model), scale, kind, data, evaluation,
                          cross_entropy(outputs, labels, kind), seconds, time.perf_counter() - started, plots)


def refuse_other_tasks(model, path: Path) -> None:
    """Point mlkit's models that are not image classifiers to the command that scores them."""
    from ..mnist_sum.predict import MODEL_TASKS
    from ..models.seq2seq import TOKENIZER_NAME

    if model.name in MODEL_TASKS:
        raise ModelError(f"{path} is an `mlkit mnist-sum {MODEL_TASKS[model.name]}` model, which reads sequences of "
                         f"digit images; score it with `mlkit mnist-sum predict --model {path} --data SEQUENCES.h5`.")
    if any(layer.name == TOKENIZER_NAME for layer in model.layers):
        raise ModelError(f"{path} is an `mlkit seq2seq` model, which answers written questions; "
                         f"use `mlkit seq2seq predict --model {path} QUESTION ...`.")


def check_classes(model, dataset) -> None:
    """Refuse a model whose output does not score exactly the dataset's classes."""
    count = class_count(model)
    if count != dataset.num_classes:
        raise ModelError(f"the model predicts {count} classes but {dataset.name} has {dataset.num_classes}; "
                         "give data the model was trained on.")


def describe_model(model, path: Path) -> dict:
    return {"path": str(path), "sha256": file_sha256(path), "name": model.name,
            "parameters": int(model.count_params()), "input_shape": list(input_shape(model))}


def write_plots(evaluation: Evaluation, images: np.ndarray, config: EvaluateConfig) -> list[Path]:
    """The confusion matrix and, when the model got any wrong, a grid of misclassified images."""
    stem = f"evaluate_{config.model.stem}_{config.split}"
    grid = GRID_IMAGES if evaluation.accuracy < 1 else 0
    return plot_evaluation(evaluation, images, config.plot_dir, stem, grid=grid, split=config.split)
