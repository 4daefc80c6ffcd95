"""`mlkit cifar`: train seed 001's four CIFAR-10 networks with the seed's recipe or a fast one."""

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..data import load_data
from ..errors import ConfigError, ModelError
from ..evaluation import Evaluation, evaluate_classifier, plot_evaluation
from ..models.cifar import ARCHITECTURES
from ..recipes import FitSettings, Recipe, fit_classifier, get_recipe
from ..training import load_model, save_model, set_seed

ARCH_CHOICES = (*ARCHITECTURES, "all")


@dataclass
class TrainingOptions:
    """Options `mlkit cifar` and `mlkit augment` share; None means "the recipe's default"."""

    recipe: str = "fast"
    data: str = "cifar10"
    data_dir: str | None = None
    batch_size: int | None = None
    subset: int | None = None
    seed: int = 0
    save: Path | None = None
    resume: Path | None = None
    plot_dir: Path | None = None
    quiet: bool = False


@dataclass
class CifarConfig(TrainingOptions):
    """Options of one `mlkit cifar` run; None means "the recipe's default"."""

    arch: str = "d"
    epochs: int | None = None
    patience: int = 3


@dataclass
class ArchRun:
    """One network trained and scored."""

    arch: str
    recipe: str
    parameters: int
    epochs: int
    initial_epoch: int
    train_accuracy: float | None
    val_accuracy: float
    best_val_accuracy: float | None
    seconds: float
    train_seconds: float
    images_per_second: float
    elapsed: list[float]
    history: dict
    evaluation: Evaluation
    saved: str | None = None


@dataclass
class CifarResult:
    config: CifarConfig
    recipe: Recipe
    data: dict
    runs: list[ArchRun] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)


def check_config(config: CifarConfig) -> None:
    if config.arch not in ARCH_CHOICES:
        raise ConfigError(f"--arch must be one of {', '.join(ARCH_CHOICES)}, got {config.arch!r}.")
    for name in ("epochs", "batch_size", "subset"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
    if config.patience < 0:
        raise ConfigError(f"--patience must be 0 (off) or more, got {config.patience}.")
    if config.resume and config.arch == "all":
        raise ConfigError("--resume continues one network; give --arch a, b, c or d, not all.")
    for path in (config.save, config.resume):
        if path is not None and Path(path).suffix != ".keras":
            raise ConfigError(f"model file {path} must end in .keras.")


def load_images(spec: str, data_dir=None, subset: int | None = None, seed: int = 0):
    """The dataset with channels-last images (grey images get one channel), cut to `subset`."""
    data = load_data(spec, data_dir).subset(subset, seed)
    if data.x_train.ndim == 3:
        data = replace(data, x_train=data.x_train[..., None], x_test=data.x_test[..., None])
    if data.x_train.ndim != 4:
        raise ConfigError(f"{spec} holds arrays of shape {data.x_train.shape}; expected images (N, H, W, C).")
    return data


def run(config: CifarConfig) -> CifarResult:
    """Train the chosen network(s) and score them on the test split (the seed's validation set)."""
    check_config(config)
    recipe = get_recipe(config.recipe)
    data = load_images(config.data, config.data_dir, config.subset, config.seed)
    result = CifarResult(config, recipe, {"name": data.name, "train_images": len(data.x_train),
                                          "test_images": len(data.x_test), "class_names": data.class_names})
    arches = ARCHITECTURES if config.arch == "all" else (config.arch,)
    for arch in arches:
        result.runs.append(train_arch(arch, data, recipe, config))
    if config.plot_dir:
        result.plots = [str(p) for p in write_plots(result, data)]
    return result


def prepare_model(arch: str, data, recipe: Recipe, resume: Path | None):
    """(model, resumed): a fresh network for `data`, or the run saved in `resume` to continue."""
    from ..models.cifar import build_cifar_model

    if resume is None:
        return build_cifar_model(arch, batch_norm=recipe.batch_norm, dropout_rate=recipe.dropout_rate,
                                 input_shape=data.input_shape, num_classes=data.num_classes), False
    model = load_fitting_model(resume, data)
    if model.optimizer is None or not model.optimizer.built:
        raise ModelError(f"{resume} holds no optimizer state to resume from; save it with `mlkit cifar --save`.")
    return model, True


def load_fitting_model(path: Path, data):
    """Load a saved model and check that it takes the data's images and classes."""
    model = load_model(path)
    if tuple(model.input_shape[1:]) != data.input_shape or model.output_shape[-1] != data.num_classes:
        raise ModelError(f"{path} takes {model.input_shape[1:]} images into {model.output_shape[-1]} "
                         f"classes, but the data has {data.input_shape} and {data.num_classes}.")
    return model


def save_path(save: Path | None, arch: str, several: bool) -> Path | None:
    if save is None or not several:
        return save
    return Path(save).with_name(f"{Path(save).stem}_{arch}{Path(save).suffix}")


def train_arch(arch: str, data, recipe: Recipe, config: CifarConfig) -> ArchRun:
    set_seed(config.seed)
    model, resumed = prepare_model(arch, data, recipe, config.resume)
    arch = model.name.removeprefix("cifar_") if resumed else arch
    checkpoint = save_path(config.save, arch, config.arch == "all")
    settings = FitSettings(epochs=config.epochs or recipe.epochs, batch_size=config.batch_size or recipe.batch_size,
                           seed=config.seed, patience=config.patience,
                           checkpoint=str(checkpoint) if checkpoint else None, quiet=config.quiet,
                           label=f"{arch}/{recipe.name}", augmentation=recipe.augmentation)
    return train_and_score(model, resumed, data, recipe, settings)


def train_and_score(model, resumed: bool, data, recipe: Recipe, settings: FitSettings) -> ArchRun:
    """Train (see fit_classifier), make sure the checkpoint exists, score on the test split.

    The run's `recipe` field is the part of `settings.label` after the slash.
    """
    started = time.perf_counter()
    outcome = fit_classifier(model, data, recipe, replace(settings, label=f"[{settings.label}]"), resumed=resumed)
    seconds = time.perf_counter() - started
    if settings.checkpoint and not Path(settings.checkpoint).exists():
        save_model(model, settings.checkpoint)  # a resumed run that was already complete
    evaluation = evaluate_classifier(model, data.x_test, data.y_test, data.class_names)
    if not settings.quiet:
        sys.stderr.write(f"[{settings.label}] val accuracy {evaluation.accuracy:.4f} in {seconds:.0f}s\n")
    arch, name = settings.label.split("/")
    epochs = outcome.history.epochs
    return ArchRun(arch, name, int(model.count_params()), outcome.initial_epoch + outcome.history.num_epochs,
                   outcome.initial_epoch, epochs["accuracy"][-1] if epochs.get("accuracy") else None,
                   evaluation.accuracy, outcome.history.best("val_accuracy"), seconds, outcome.train_seconds,
                   outcome.images_per_second, outcome.elapsed, outcome.history.to_dict(), evaluation,
                   settings.checkpoint)


def write_plots(result: CifarResult, data) -> list[Path]:
    """Curves of every run overlaid, and a confusion matrix per network."""
    from ..plots import plot_curves

    folder = Path(result.config.plot_dir)
    name = f"cifar_{result.config.arch}_{result.recipe.name}"
    paths = [plot_curves({run.arch: run.history["epochs"] for run in result.runs}, ["accuracy", "loss"],
                         folder / f"{name}_curves.png", title=f"CIFAR-10, {result.recipe.name} recipe")]
    for run in result.runs:
        paths += plot_evaluation(run.evaluation, data.x_test, folder, f"cifar_{run.arch}_{run.recipe}")
    return paths


def per_class_rows(runs: list[ArchRun]) -> list[list]:
    """Rows of class name then each run's accuracy on that class (for a table)."""
    names = runs[0].evaluation.class_names if runs else []
    return [[name, *(run.evaluation.per_class_accuracy()[name] for run in runs)] for name in names]

