"""Seed 001's CIFAR-10 networks, the recipes, the input pipeline and the evaluation helpers."""

import numpy as np
import pytest

from mlkit.augmentation import Augmentation, augmented_examples, make_dataset
from mlkit.errors import ConfigError
from mlkit.evaluation import Evaluation
from mlkit.models.cifar import build_cifar_model
from mlkit.recipes import RECIPES, build_optimizer, get_recipe

# Parameter counts printed by model.summary() in seed 001 for networks a-d.
SEED_PARAMETERS = {"a": 924_910, "b": 82_826, "c": 234_550, "d": 640_502}


@pytest.mark.parametrize("arch", sorted(SEED_PARAMETERS))
def test_networks_have_the_seeds_parameter_counts(arch):
    model = build_cifar_model(arch)
    assert model.count_params() == SEED_PARAMETERS[arch]
    assert model.output_shape == (None, 10)


def test_batch_norm_variant_of_d():
    model = build_cifar_model("d", batch_norm=True, dropout_rate=0.2)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert names.count("BatchNormalization") == 7 and names.count("Dropout") == 1
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert all(not conv.use_bias for conv in convs)
    # 7 convolutions lose their biases (576 filters in all) and gain 4 BN weights per filter.
    assert model.count_params() == 640_502 - 576 + 4 * 576


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="arch must be one of"):
        build_cifar_model("e")


def test_recipes():
    assert RECIPES["seed"].optimizer == "adadelta" and RECIPES["seed"].batch_size == 300
    assert get_recipe("fast").batch_norm
    with pytest.raises(ConfigError, match="unknown recipe"):
        get_recipe("slow")


def test_fast_schedule_warms_up_then_decays_to_zero():
    recipe = RECIPES["fast"]
    optimizer = build_optimizer(recipe, steps_per_epoch=10, epochs=5)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 10, 30, 50)]
    assert rates[0] == pytest.approx(recipe.learning_rate / 10)
    assert rates[1] == pytest.approx(recipe.learning_rate)
    assert rates[1] > rates[2] > rates[3] and rates[3] == pytest.approx(0.0, abs=1e-9)
    assert float(build_optimizer(RECIPES["seed"], 10, 5).learning_rate) == pytest.approx(1.0)


def test_augmentation_options_are_checked():
    with pytest.raises(ConfigError, match="flip must be one of"):
        Augmentation(flip="diagonal")
    with pytest.raises(ConfigError, match="--translate must be between 0 and 1"):
        Augmentation(translate=1.5)
    assert Augmentation().build() is None and not Augmentation().enabled


def test_horizontal_flip_mirrors_or_keeps_each_image():
    images = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
    flipped, rows = augmented_examples(images, Augmentation(flip="horizontal").build(seed=3), 16, seed=0)
    originals = images[rows]
    kept = [np.array_equal(a, b) for a, b in zip(flipped, originals)]
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped, originals)]
    assert all(k or m for k, m in zip(kept, mirrored))
    assert any(mirrored) and any(kept)


def test_make_dataset_batches_one_hot_labels_in_order():
    x = np.arange(5 * 4 * 4 * 3, dtype=np.uint8).reshape(5, 4, 4, 3)
    y = np.array([0, 1, 2, 1, 0])
    batches = list(make_dataset(x, y, num_classes=3, batch_size=2))
    assert [len(images) for images, _ in batches] == [2, 2, 1]
    images = np.concatenate([np.asarray(images) for images, _ in batches])
    labels = np.concatenate([np.asarray(labels) for _, labels in batches])
    assert images.dtype == np.float32 and np.array_equal(images, x.astype(np.float32))
    assert np.array_equal(labels.argmax(axis=1), y) and labels.sum() == 5
    with pytest.raises(ConfigError, match="no images"):
        make_dataset(x[:0], y[:0], 3, 2)


def test_evaluation_per_class_and_confused_pairs():
    evaluation = Evaluation(["cat", "dog", "ship"], np.array([0, 0, 0, 1, 1, 2]), np.array([0, 1, 1, 0, 1, 2]))
    assert evaluation.accuracy == pytest.approx(3 / 6)
    assert evaluation.per_class_accuracy() == pytest.approx({"cat": 1 / 3, "dog": 1 / 2, "ship": 1.0})
    assert evaluation.confused_pairs() == [{"classes": ["cat", "dog"], "count": 3,
                                            "first_as_second": 2, "second_as_first": 1}]
    assert sorted(evaluation.misclassified(10).tolist()) == [1, 2, 3]
    assert evaluation.to_dict()["confusion_matrix"] == [[1, 2, 0], [1, 1, 0], [0, 0, 1]]
