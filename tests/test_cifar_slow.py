"""Issue 9 and 10's targets on the real CIFAR-10 (make test-slow; run under the CPU lock)."""

import pytest

from mlkit.augmentation import Augmentation
from mlkit.experiments.augment import AugmentConfig
from mlkit.experiments.augment import run as run_augment
from mlkit.experiments.cifar import CifarConfig, run

from .conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, needs_shared_data]


def test_fast_recipe_reaches_085_within_15_minutes():
    result = run(CifarConfig(arch="d", data_dir=str(SHARED_DATA), quiet=True)).runs[0]
    assert result.val_accuracy >= 0.85 and result.seconds <= 15 * 60


def test_seed_recipe_reproduces_the_seeds_071():
    result = run(CifarConfig(arch="d", recipe="seed", epochs=10, data_dir=str(SHARED_DATA), quiet=True)).runs[0]
    assert 0.66 <= result.best_val_accuracy <= 0.78


def test_augmentation_reaches_088_within_40_minutes_and_beats_plain_training():
    result = run_augment(AugmentConfig(arch="d", augmentation=Augmentation(flip="horizontal", translate=0.1),
                                       compare=True, data_dir=str(SHARED_DATA), quiet=True))
    assert result.augmented.val_accuracy >= 0.88 and result.augmented.seconds <= 40 * 60
    assert result.augmented.val_accuracy > result.plain.val_accuracy
