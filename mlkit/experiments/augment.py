"""`mlkit augment`: train a CIFAR-10 network with on-the-fly augmentation, and see what it gets wrong.

Seed 001 (problem 2) used ImageDataGenerator; here the augmentation is Keras preprocessing
layers inside the tf.data pipeline (mlkit.augmentation), trained with `mlkit cifar`'s recipe.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..augmentation import Augmentation, augmented_examples
from ..errors import ConfigError
from ..evaluation import plot_evaluation
from ..models.cifar import ARCHITECTURES
from ..recipes import FitSettings, Recipe, get_recipe
from ..training import set_seed
from .cifar import ArchRun, TrainingOptions, load_fitting_model, load_images, prepare_model, train_and_score


@dataclass
class AugmentConfig(TrainingOptions):
    """Options of one `mlkit augment` run; None means "the recipe's default"."""

    arch: str = "d"
    model: Path | None = None
    augmentation: Augmentation = field(default_factory=lambda: Augmentation(flip="horizontal", translate=0.1))
    epochs: int = 30
    patience: int = 5
    compare: bool = False
    preview: int = 0
    misclassified: int = 32


@dataclass
class AugmentResult:
    config: AugmentConfig
    recipe: Recipe
    data: dict
    augmented: ArchRun
    plain: ArchRun | None = None
    plots: list[str] = field(default_factory=list)


def check_config(config: AugmentConfig) -> None:
    if config.arch not in ARCHITECTURES:
        raise ConfigError(f"--arch must be one of {', '.join(ARCHITECTURES)}, got {config.arch!r}.")
    if config.epochs < 1 or (config.batch_size is not None and config.batch_size < 1):
        raise ConfigError("--epochs and --batch-size must be at least 1.")
    if config.preview < 0 or config.misclassified < 0 or config.patience < 0:
        raise ConfigError("--preview, --misclassified and --patience must be 0 or more.")
    if config.preview and not config.plot_dir:
        raise ConfigError("--preview writes a PNG grid; give --plot-dir to say where.")
    if config.model and config.resume:
        raise ConfigError("give --model (start from a trained network) or --resume (continue a run), not both.")
    for path in (config.save, config.resume, config.model):
        if path is not None and Path(path).suffix != ".keras":
            raise ConfigError(f"model file {path} must end in .keras.")


def run(config: AugmentConfig) -> AugmentResult:
    """Train with augmentation (and, with `compare`, without), then analyse the errors."""
    check_config(config)
    recipe = get_recipe(config.recipe)
    data = load_images(config.data, config.data_dir, config.subset, config.seed)
    result = AugmentResult(config, recipe, {"name": data.name, "train_images": len(data.x_train),
                                            "test_images": len(data.x_test), "class_names": data.class_names},
                           augmented=train(data, recipe, config, config.augmentation, config.save))
    if config.compare:
        result.plain = train(data, recipe, replace(config, resume=None), Augmentation(), None)
    if config.plot_dir:
        result.plots = [str(path) for path in write_plots(result, data)]
    return result


def starting_model(data, recipe: Recipe, config: AugmentConfig):
    """(model, resumed): a fresh network, a trained one from --model, or a run to resume."""
    if config.model is None:
        return prepare_model(config.arch, data, recipe, config.resume)
    # Start from the trained weights, with a fresh optimizer and schedule for this run.
    return load_fitting_model(config.model, data), False


def train(data, recipe: Recipe, config: AugmentConfig, augmentation: Augmentation, save: Path | None) -> ArchRun:
    set_seed(config.seed)
    model, resumed = starting_model(data, recipe, config)
    label = "augmented" if augmentation.enabled else "plain"
    settings = FitSettings(epochs=config.epochs, batch_size=config.batch_size or recipe.batch_size,
                           seed=config.seed, patience=config.patience, checkpoint=str(save) if save else None,
                           quiet=config.quiet, label=f"{model.name.removeprefix('cifar_')}/{label}",
                           augmentation=augmentation)
    return train_and_score(model, resumed, data, recipe, settings)


def write_plots(result: AugmentResult, data) -> list[Path]:
    """Curves, confusion matrix, misclassified images and the augmentation preview."""
    from ..plots import plot_curves, plot_image_grid

    config, folder = result.config, Path(result.config.plot_dir)
    runs = [run for run in (result.augmented, result.plain) if run is not None]
    paths = [plot_curves({run.recipe: run.history["epochs"] for run in runs}, ["accuracy", "loss"],
                         folder / "augment_curves.png", title="CIFAR-10 with and without augmentation")]
    paths += plot_evaluation(result.augmented.evaluation, data.x_test, folder, "augment", config.misclassified)
    if config.preview:
        images, rows = augmented_examples(data.x_train, config.augmentation.build(config.seed), config.preview,
                                          config.seed)
        paths.append(plot_image_grid(images, [data.class_names[data.y_train[row]] for row in rows],
                                     folder / "augment_preview.png", title="Augmented training images"))
    return paths
