"""`mlkit augment`: train a CIFAR-10 network with on-the-fly augmentation, and see what it gets wrong.

Seed 001 (problem 2) used ImageDataGenerator; here the augmentation runs inside the tf.data
pipeline with draws keyed by seed, epoch and batch (mlkit.augmentation), and the network trains
with `mlkit cifar`'s recipe (mlkit.image_training). Each epoch is validated on the test images,
as in the seed (`config.selection_split` is "test").
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..augmentation import Augmentation, augmented_examples
from ..errors import ConfigError
from ..evaluation import plot_evaluation
from ..image_training import (NetworkRun, TrainingOptions, TrainPlan, check_outputs, describe_data, load_images,
                              recipe_settings, require_keras_file, selection_split, train_network)
from ..models.cifar import ARCHITECTURES
from ..network_start import AIRBENCH, Start, check_fits, new_network, resumed_network, trained_network
from ..precision import dtype_policy
from ..record import Record, file_entry
from ..recipes import Recipe
from ..training import set_seed

DEFAULT_PATIENCE = 5
# Epochs by recipe: seed 001 trained its augmented network d for 20; the fast recipe's 22 epochs
# of network d (~49 s each with shifts, bfloat16, on the 2-core CPU, once tf.data's autotune
# stalls were gone: mlkit.augmentation) fit a 20-minute run; other recipes (airbench) train for
# their own number.
AUGMENTED_EPOCHS = {"seed": 20, "fast": 22}
# The augmented run's numbers, and with --compare the plain run's test accuracy (else None).
METRICS = ("train_accuracy", "test_accuracy", "loss", "best_epoch", "seconds", "wall_seconds", "images_per_second",
           "plain_test_accuracy")


@dataclass
class AugmentConfig(TrainingOptions):
    """Options of one `mlkit augment` run; None means "the recipe's default"."""

    arch: str = "d"
    model: Path | None = None
    augmentation: Augmentation = field(default_factory=lambda: Augmentation(flip="horizontal", translate=0.1))
    epochs: int | None = None  # AUGMENTED_EPOCHS for the recipe, else the recipe's own
    patience: int | None = None  # DEFAULT_PATIENCE, or 0 with a recipe that keeps the last model
    compare: bool = False
    preview: int = 0
    misclassified: int = 32

    def epochs_for(self, recipe: Recipe) -> int:
        return self.epochs or AUGMENTED_EPOCHS.get(recipe.name, recipe.epochs)

    def validate(self) -> None:
        """Refuse values no run can use (ConfigError, a usage error) before any work starts."""
        if self.arch not in (*ARCHITECTURES, AIRBENCH):
            raise ConfigError(f"--arch must be one of {', '.join((*ARCHITECTURES, AIRBENCH))}, got {self.arch!r}.")
        self.validate_counts()
        self.patience_for(self.recipe_for(self.arch), DEFAULT_PATIENCE)
        self.test_curves_for(self.recipe_for(self.arch))
        if self.preview < 0 or self.misclassified < 0:
            raise ConfigError("--preview and --misclassified must be 0 or more.")
        if self.preview and not self.plot_dir:
            raise ConfigError("--preview writes a PNG grid; give --plot-dir to say where.")
        if self.model and self.resume:
            raise ConfigError("give --model (start from a trained network) or --resume (continue a run), not both.")
        for path, option in ((self.save, "--save"), (self.resume, "--resume"), (self.model, "--model")):
            require_keras_file(path, option)


@dataclass
class AugmentResult:
    """The augmented run and, with --compare, the same network trained without augmentation.

    The record's metrics are the augmented run's (`plain_test_accuracy` the plain one's);
    `wall_seconds` is the whole command's.
    """

    config: AugmentConfig
    recipe: Recipe
    batch_size: int
    patience: int
    data: dict
    augmented: NetworkRun
    plain: NetworkRun | None = None
    plots: list[Path] = field(default_factory=list)
    wall_seconds: float = 0.0

    def __repr__(self) -> str:
        return f"AugmentResult(augmented={self.augmented}, plain={self.plain})"

    @property
    def runs(self) -> list[NetworkRun]:
        return [run for run in (self.augmented, self.plain) if run is not None]

    def settings(self) -> dict:
        """Every effective setting, one value each (a resumed network keeps its own optimizer)."""
        config, recipe = self.config, self.recipe
        return {"arch": self.augmented.arch, "model": config.model, "recipe": recipe.name,
                "epochs": config.epochs_for(recipe),
                "batch_size": self.batch_size, "patience": self.patience, "precision": self.augmented.precision,
                "test_curves": config.test_curves_for(recipe),
                **recipe_settings(recipe), "dropout_rate": self.augmented.dropout_rate,
                "augmentation": config.augmentation.to_dict(), "compare": config.compare,
                "selection_split": selection_split(recipe), "data": config.data,
                "subset": config.subset, "resume": config.resume, "save": config.save, "plot_dir": config.plot_dir,
                "preview": config.preview, "misclassified": config.misclassified}

    def record(self) -> Record:
        metrics = self.augmented.metrics() | {"wall_seconds": self.wall_seconds,
                                              "plain_test_accuracy": self.plain.test_accuracy if self.plain else None}
        files = [file_entry(self.augmented.saved, "model")] if self.augmented.saved else []
        files += [file_entry(path, "plot") for path in self.plots]
        return Record("augment", self.settings(), metrics, data=self.data, files=files, seed=self.config.seed,
                      sections={"runs": [run.to_dict() for run in self.runs]})


def run(config: AugmentConfig) -> AugmentResult:
    """Train with augmentation (and, with `compare`, without), then analyse the errors."""
    started = time.perf_counter()
    config.validate()
    recipe = config.recipe_for(config.arch)
    check_outputs([config.save], config.plot_dir)
    first = resumed_network(config.resume) if config.resume else None
    first = first or (trained_network(config.model) if config.model else None)
    data = load_images(config.data, config.data_dir, config.subset, config.seed)
    batch_size = config.batch_size or (first.batch_size if first else None) or recipe.batch_size
    augmented = train(first, data, recipe, config, batch_size, config.augmentation, config.save)
    result = AugmentResult(config, recipe, batch_size, config.patience_for(recipe, DEFAULT_PATIENCE),
                           describe_data(data), augmented)
    if config.compare:
        start = trained_network(config.model) if config.model else None
        result.plain = train(start, data, recipe, config, batch_size, Augmentation(), None, augmented.arch)
    if config.plot_dir:
        result.plots = write_plots(result, data)
    result.wall_seconds = time.perf_counter() - started
    return result


def train(start: Start | None, data, recipe: Recipe, config: AugmentConfig, batch_size: int,
          augmentation: Augmentation, save: Path | None, arch: str | None = None) -> NetworkRun:
    """Train `start`, or a new network `arch` (default --arch) when None, with `augmentation`."""
    set_seed(config.seed)
    start = start or new_network(arch or config.arch, data, recipe, dtype_policy(config.precision))
    check_fits(start, data)
    label = f"{start.arch}/{'augmented' if augmentation.enabled else 'plain'}"
    plan = TrainPlan(label=label, epochs=config.epochs_for(recipe),
                     batch_size=batch_size, patience=config.patience_for(recipe, DEFAULT_PATIENCE), seed=config.seed,
                     augmentation=augmentation, save=save, quiet=config.quiet,
                     test_curves=config.test_curves_for(recipe))
    return train_network(start, data, recipe, plan)


def write_plots(result: AugmentResult, data) -> list[Path]:
    """Curves, confusion matrix, misclassified test images and the augmentation preview."""
    from ..plots import plot_curves, plot_image_grid

    config, folder = result.config, Path(result.config.plot_dir)
    paths = [plot_curves({run.label: run.outcome.history.epochs for run in result.runs}, ["accuracy", "loss"],
                         folder / "augment_curves.png", title="CIFAR-10 with and without augmentation (dashed: test)")]
    paths += plot_evaluation(result.augmented.evaluation, data.x_test, folder, "augment", config.misclassified)
    if config.preview:
        images, rows = augmented_examples(data.x_train, config.augmentation, config.preview, config.seed)
        paths.append(plot_image_grid(images, [data.class_names[data.y_train[row]] for row in rows],
                                     folder / "augment_preview.png", title="Augmented training images"))
    return paths
