"""`mlkit cifar`: train seed 001's four CIFAR-10 networks with the seed's recipe or a fast one,
or airbench94's network with its own recipe.

With the seed recipe, as in the seed, every epoch is validated on the test images and the best
epoch is kept (`config.selection_split` is "test"): the test accuracy reported is that model's,
and it is the model `--save` writes (see mlkit.image_training). The fast and airbench recipes
keep the model the run ends with instead (`selection_split` is None), the fast one scoring each
image with its mirror too (models/mirror_views.py), airbench with its six views.
"""

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..evaluation import plot_evaluation
from ..image_training import (NetworkRun, TrainingOptions, TrainPlan, check_outputs, describe_data, load_images,
                              recipe_settings, require_keras_file, selection_split, train_network)
from ..models.cifar import ARCHITECTURES
from ..network_start import AIRBENCH, check_fits, new_network, resumed_network
from ..precision import dtype_policy
from ..record import Record, file_entry
from ..recipes import Recipe
from ..training import set_seed

ARCH_CHOICES = (*ARCHITECTURES, AIRBENCH, "all")
DEFAULT_PATIENCE = 3
METRICS = ("train_accuracy", "test_accuracy", "loss", "best_epoch", "seconds", "wall_seconds", "images_per_second")


@dataclass
class CifarConfig(TrainingOptions):
    """Options of one `mlkit cifar` run; None means "the recipe's default"."""

    arch: str = "d"
    epochs: int | None = None
    patience: int | None = None  # DEFAULT_PATIENCE, or 0 with a recipe that keeps the last model
    dropout_rate: float | None = None

    def validate(self) -> None:
        """Refuse values no run can use (ConfigError, a usage error) before any work starts."""
        if self.arch not in ARCH_CHOICES:
            raise ConfigError(f"--arch must be one of {', '.join(ARCH_CHOICES)}, got {self.arch!r}.")
        self.validate_counts()
        if self.dropout_rate is not None and not (math.isfinite(self.dropout_rate) and 0 <= self.dropout_rate < 1):
            raise ConfigError(f"--dropout must be at least 0 and below 1, got {self.dropout_rate}.")
        if self.resume and self.arch == "all":
            raise ConfigError("--resume continues one network; give --arch a, b, c or d, not all.")
        if self.resume and self.dropout_rate is not None:
            raise ConfigError("--dropout shapes a new network; a resumed one keeps its own.")
        if self.arch == AIRBENCH and self.dropout_rate is not None:
            raise ConfigError("--dropout shapes networks a-d; airbench has no dropout layer.")
        self.patience_for(self.recipe_used(), DEFAULT_PATIENCE)
        self.test_curves_for(self.recipe_used())
        require_keras_file(self.save, "--save")
        require_keras_file(self.resume, "--resume")

    def recipe_used(self) -> Recipe:
        """The recipe (see TrainingOptions.recipe_for), with --dropout in place of its dropout rate."""
        recipe = self.recipe_for(self.arch)
        return recipe if self.dropout_rate is None else replace(recipe, dropout_rate=self.dropout_rate)

    def save_paths(self) -> dict[str, Path | None]:
        """Where each network is saved: --save itself, or with --arch all one file per network."""
        arches = ARCHITECTURES if self.arch == "all" else (self.arch,)
        if self.save is None or self.arch != "all":
            return {arch: self.save for arch in arches}
        save = Path(self.save)
        return {arch: save.with_name(f"{save.stem}_{arch}{save.suffix}") for arch in arches}


@dataclass
class CifarResult:
    """The networks trained and scored.

    The record's metrics are the run's; with --arch all they are those of the network with the
    highest test accuracy (the first on a tie, named by `best_arch`), except `wall_seconds`,
    which is the whole command's in every case.
    """

    config: CifarConfig
    recipe: Recipe
    epochs: int
    batch_size: int
    patience: int
    data: dict
    runs: list[NetworkRun] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    wall_seconds: float = 0.0

    def __repr__(self) -> str:
        return f"CifarResult(runs={self.runs}, wall_seconds={self.wall_seconds:.0f})"

    @property
    def best_run(self) -> NetworkRun:
        return max(self.runs, key=lambda run: run.test_accuracy)

    def settings(self) -> dict:
        """Every effective setting, one value each (a resumed network keeps its own optimizer)."""
        recipe, config = self.recipe, self.config
        single = self.runs[0] if len(self.runs) == 1 else None
        return {"arch": single.arch if single else config.arch, "recipe": recipe.name, "epochs": self.epochs,
                "batch_size": self.batch_size, "patience": self.patience, "precision": self.runs[0].precision,
                "test_curves": config.test_curves_for(recipe),
                **recipe_settings(recipe), "batch_norm": recipe.batch_norm,
                "dropout_rate": single.dropout_rate if single else recipe.dropout_rate,
                "augmentation": recipe.augmentation.to_dict(), "selection_split": selection_split(recipe),
                "data": config.data, "subset": config.subset, "resume": config.resume, "save": config.save,
                "plot_dir": config.plot_dir}

    def record(self) -> Record:
        best = self.best_run
        files = [file_entry(run.saved, "model") for run in self.runs if run.saved]
        files += [file_entry(path, "plot") for path in self.plots]
        return Record("cifar", self.settings(), best.metrics() | {"wall_seconds": self.wall_seconds}, data=self.data,
                      files=files, seed=self.config.seed,
                      sections={"best_arch": best.arch, "runs": [run.to_dict() for run in self.runs]})


def run(config: CifarConfig) -> CifarResult:
    """Train the chosen network(s), each scored on the test split with its best epoch's weights."""
    started = time.perf_counter()
    config.validate()
    recipe, saves = config.recipe_used(), config.save_paths()
    check_outputs(saves.values(), config.plot_dir)
    resumed = resumed_network(config.resume) if config.resume else None
    data = load_images(config.data, config.data_dir, config.subset, config.seed)
    epochs = config.epochs or recipe.epochs
    batch_size = config.batch_size or (resumed.batch_size if resumed else None) or recipe.batch_size
    patience = config.patience_for(recipe, DEFAULT_PATIENCE)
    result = CifarResult(config, recipe, epochs, batch_size, patience, describe_data(data))
    for arch, save in saves.items():
        set_seed(config.seed)
        start = resumed or new_network(arch, data, recipe, dtype_policy(config.precision))
        check_fits(start, data)
        plan = TrainPlan(label=f"{start.arch}/{recipe.name}", epochs=epochs, batch_size=batch_size,
                         patience=patience, seed=config.seed, augmentation=recipe.augmentation, save=save,
                         quiet=config.quiet, test_curves=config.test_curves_for(recipe))
        result.runs.append(train_network(start, data, recipe, plan))
    if config.plot_dir:
        result.plots = write_plots(result, data)
    result.wall_seconds = time.perf_counter() - started
    return result


def write_plots(result: CifarResult, data) -> list[Path]:
    """Curves of every run overlaid (test-split curves dashed), and a confusion matrix per network."""
    from ..plots import plot_curves

    folder, recipe = Path(result.config.plot_dir), result.recipe.name
    paths = [plot_curves({run.arch: run.outcome.history.epochs for run in result.runs}, ["accuracy", "loss"],
                         folder / f"cifar_{result.settings()['arch']}_{recipe}_curves.png",
                         title=f"CIFAR-10, {recipe} recipe (dashed: test split)")]
    for run in result.runs:
        paths += plot_evaluation(run.evaluation, data.x_test, folder, f"cifar_{run.arch}_{recipe}")
    return paths

