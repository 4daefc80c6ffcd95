"""Issue 9, 10, 16 and 19's targets on the real CIFAR-10 (make test-slow; run under the CPU lock)."""

import numpy as np
import pytest

from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.augment import AugmentConfig
from mlkit.experiments.augment import run as run_augment
from mlkit.experiments.cifar import CifarConfig, run
from mlkit.training import load_model

from .conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, needs_shared_data]


# Wall seconds of the whole run as `mlkit cifar` / `mlkit augment` make it (data loading,
# training, scoring), on the 2-core CPU the targets were set for (issue 19).
def test_fast_recipe_reaches_085_within_8_minutes():
    result = run(CifarConfig(arch="d", data_dir=str(SHARED_DATA), quiet=True))
    assert result.runs[0].test_accuracy >= 0.85 and result.wall_seconds <= 8 * 60


@pytest.mark.parametrize("epochs, target, minutes", [(None, 0.94, 30), (8, 0.93, 15)])
def test_airbench_reaches_its_targets(epochs, target, minutes):
    result = run(CifarConfig(arch="airbench", epochs=epochs, data_dir=str(SHARED_DATA), quiet=True))
    assert result.runs[0].test_accuracy >= target and result.wall_seconds <= minutes * 60


def test_seed_recipe_reproduces_the_seeds_071():
    result = run(CifarConfig(arch="d", recipe="seed", epochs=10, data_dir=str(SHARED_DATA), quiet=True)).runs[0]
    assert 0.66 <= result.test_accuracy <= 0.78


def test_augmentation_reaches_090_within_20_minutes():
    result = run_augment(AugmentConfig(arch="d", data_dir=str(SHARED_DATA), quiet=True))
    assert result.augmented.test_accuracy >= 0.90 and result.wall_seconds <= 20 * 60


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
