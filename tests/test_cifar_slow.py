"""Issue 9, 10 and 16's targets on the real CIFAR-10 (make test-slow; run under the CPU lock)."""

import numpy as np
import pytest

from mlkit.augmentation import Augmentation
from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.augment import AugmentConfig
from mlkit.experiments.augment import run as run_augment
from mlkit.experiments.cifar import CifarConfig, run
from mlkit.training import load_model

from .conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, needs_shared_data]


def test_fast_recipe_reaches_085_within_15_minutes():
    result = run(CifarConfig(arch="d", data_dir=str(SHARED_DATA), quiet=True)).runs[0]
    assert result.test_accuracy >= 0.85 and result.wall_seconds <= 15 * 60


def test_seed_recipe_reproduces_the_seeds_071():
    result = run(CifarConfig(arch="d", recipe="seed", epochs=10, data_dir=str(SHARED_DATA), quiet=True)).runs[0]
    assert 0.66 <= result.test_accuracy <= 0.78


def test_augmentation_reaches_088_within_40_minutes_and_beats_plain_training():
    result = run_augment(AugmentConfig(arch="d", augmentation=Augmentation(flip="horizontal", translate=0.1),
                                       compare=True, data_dir=str(SHARED_DATA), quiet=True))
    assert result.augmented.test_accuracy >= 0.88 and result.augmented.wall_seconds <= 40 * 60
    assert result.augmented.test_accuracy > result.plain.test_accuracy


def test_a_seed_repeats_a_run_and_the_saved_model_scores_as_reported(tmp_path):
    def once(name: str):
        config = CifarConfig(arch="b", epochs=1, subset=3000, seed=1, save=tmp_path / name,
                             data_dir=str(SHARED_DATA), quiet=True)
        return run(config).runs[0]

    first, again = once("first.keras"), once("again.keras")
    assert first.test_accuracy == again.test_accuracy and first.loss == again.loss
    saved = [load_model(tmp_path / name).get_weights() for name in ("first.keras", "again.keras")]
    assert all(np.array_equal(a, b) for a, b in zip(*saved, strict=True))
    data = load_data("cifar10", SHARED_DATA)
    model = load_model(tmp_path / "first.keras")
    assert evaluate_classifier(model, data.x_test, data.y_test, data.class_names).accuracy == first.test_accuracy
