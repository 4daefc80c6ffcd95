"""Seed 001's CIFAR-10 networks, the recipes, the repeatable input pipeline and resumable starts."""

import numpy as np
import pytest

from mlkit.augmentation import Augmentation, TrainingBatches, augmented_examples, make_dataset
from mlkit.data import Dataset
from mlkit.errors import ConfigError, DataError, ModelError
from mlkit.evaluation import Evaluation
from mlkit.experiments.cifar import CifarConfig
from mlkit.models.cifar import build_cifar_model
from mlkit.network_start import checked_state, new_network
from mlkit.recipes import RECIPES, build_optimizer, get_recipe, stretch_schedule
from mlkit.training import load_model, save_model

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


def test_mirror_views_score_each_image_with_its_mirror_and_train_on_the_image_alone(tmp_path):
    mirrored = build_cifar_model("c", batch_norm=True, input_shape=(8, 8, 3), mirror_views=True)
    plain = build_cifar_model("c", batch_norm=True, input_shape=(8, 8, 3))
    plain.set_weights(mirrored.get_weights())
    assert mirrored.count_params() == plain.count_params()
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)
    expected = (plain.predict(x, verbose=0) + plain.predict(x[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(mirrored.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    loaded = load_model(save_model(mirrored, tmp_path / "mirrored.keras"))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mirrored(x, training=True), plain(x, training=True), rtol=1e-5, atol=1e-7)


def test_the_fast_recipe_scores_mirrors_and_the_seed_recipe_does_not():
    images = np.zeros((4, 32, 32, 3), np.uint8)
    data = Dataset("tiny", images, np.arange(4) % 2, images, np.arange(4) % 2, ["no", "yes"])
    layers = {name: [layer.name for layer in new_network("d", data, RECIPES[name]).model.layers]
              for name in ("fast", "seed")}
    assert "with_mirrors" in layers["fast"] and "mean_of_mirrors" in layers["fast"]
    assert "with_mirrors" not in layers["seed"]


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="arch must be one of"):
        build_cifar_model("e")


def test_images_too_small_for_the_pooling_are_refused_before_building():
    images = np.zeros((4, 2, 2, 1), np.uint8)
    data = Dataset("tiny", images, np.arange(4) % 2, images, np.arange(4) % 2, ["no", "yes"])
    with pytest.raises(DataError, match="2x2, too small for network c: .* at least 4x4"):
        new_network("c", data, RECIPES["fast"])
    assert new_network("b", data, RECIPES["fast"]).model.output_shape == (None, 2)


def test_recipes_and_the_dropout_override():
    assert RECIPES["seed"].optimizer == "adadelta" and RECIPES["seed"].batch_size == 300
    assert get_recipe("fast").batch_norm
    with pytest.raises(ConfigError, match="unknown recipe"):
        get_recipe("slow")
    assert CifarConfig(recipe="seed", dropout_rate=0.3).recipe_used().dropout_rate == 0.3
    assert CifarConfig(recipe="seed").recipe_used().dropout_rate is None  # the seed's own choice per network
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="--dropout"):
            CifarConfig(dropout_rate=rate).validate()


def learning_rate(optimizer, step: int) -> float:
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    return float(schedule(step))


def test_fast_schedule_warms_up_then_decays_to_zero():
    recipe = RECIPES["fast"]
    optimizer = build_optimizer(recipe, steps_per_epoch=10, epochs=5)
    rates = [learning_rate(optimizer, step) for step in (0, 10, 30, 50)]
    assert rates[0] == pytest.approx(recipe.learning_rate / 10)
    assert rates[1] == pytest.approx(recipe.learning_rate)
    assert rates[1] > rates[2] > rates[3] and rates[3] == pytest.approx(0.0, abs=1e-9)
    assert float(build_optimizer(RECIPES["seed"], 10, 5).learning_rate) == pytest.approx(1.0)


def test_a_changed_batch_size_keeps_the_schedule_on_course_per_epoch():
    optimizer = build_optimizer(RECIPES["fast"], steps_per_epoch=10, epochs=5)
    at_epoch = {epoch: learning_rate(optimizer, epoch * 10) for epoch in (1, 2, 4)}
    stretch_schedule(optimizer, old_steps_per_epoch=10, new_steps_per_epoch=40)
    assert {epoch: learning_rate(optimizer, epoch * 40) for epoch in (1, 2, 4)} == pytest.approx(at_epoch)


def test_stored_training_state_is_checked():
    good = {"monitor": "val_accuracy", "mode": "max", "best": 0.5, "epoch": 3, "batch_size": 64, "steps_per_epoch": 2}
    assert checked_state(good, "m.keras") == good
    for damage in ({"epoch": 0}, {"epoch": "3"}, {"best": float("nan")}, {"monitor": "val_loss"}, {"batch_size": -1}):
        with pytest.raises(ModelError, match="damaged or not cifar's"):
            checked_state(good | damage, "m.keras")


def test_augmentation_options_are_checked():
    with pytest.raises(ConfigError, match="flip must be one of"):
        Augmentation(flip="diagonal")
    with pytest.raises(ConfigError, match="--translate must be between 0 and 1"):
        Augmentation(translate=1.5)
    with pytest.raises(ConfigError, match="--zoom must be between 0 and 1"):
        Augmentation(zoom=float("nan"))
    assert not Augmentation().enabled and Augmentation(cutout=0.1).enabled


def test_horizontal_flip_mirrors_or_keeps_each_image():
    images = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
    flipped, rows = augmented_examples(images, Augmentation(flip="horizontal"), 16, seed=0)
    originals = images[rows]
    kept = [np.array_equal(a, b) for a, b in zip(flipped, originals)]
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped, originals)]
    assert all(k or m for k, m in zip(kept, mirrored))
    assert any(mirrored) and any(kept)


def test_every_transformation_is_keyed_by_its_seed_and_stays_in_range():
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(1).integers(0, 256, (8, 16, 16, 3)).astype("float32"))
    every = Augmentation(flip="both", translate=0.2, rotate=0.1, zoom=0.2, contrast=0.5, cutout=1.0)
    first, again, other = (np.asarray(every.apply(images, tf.constant(seed, tf.int64)))
                           for seed in ([1, 2], [1, 2], [1, 3]))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.min() >= 0 and first.max() <= 255 and (first == 127.5).any()  # erased rectangles are grey
    # A rotation of a billionth of a turn resamples each pixel onto itself.
    still = Augmentation(rotate=1e-9).apply(images, tf.constant([0, 0], tf.int64))
    np.testing.assert_allclose(np.asarray(still), np.asarray(images), atol=1e-3)


def batches_of(pipeline: TrainingBatches, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    pipeline.epoch.assign(epoch)
    pairs = [(np.asarray(images), np.asarray(labels)) for images, labels in pipeline.dataset]
    return np.concatenate([images for images, _ in pairs]), np.concatenate([labels for _, labels in pairs])


def test_training_batches_are_one_permutation_per_epoch_keyed_by_seed_and_epoch():
    x = np.arange(10 * 2 * 2 * 1, dtype=np.uint8).reshape(10, 2, 2, 1)
    y = np.arange(10) % 3
    pipeline = TrainingBatches(x, y, 3, batch_size=4, seed=5)
    assert pipeline.steps == 3
    images, labels = batches_of(pipeline, epoch=0)
    order = images[:, 0, 0, 0].astype(int) // 4  # each image's row in x
    assert sorted(order) == list(range(10)) and order.tolist() != list(range(10))
    assert np.array_equal(labels.argmax(axis=1), y[order])
    assert np.array_equal(batches_of(TrainingBatches(x, y, 3, 4, seed=5), epoch=0)[0], images)
    assert not np.array_equal(batches_of(pipeline, epoch=1)[0], images)
    assert not np.array_equal(batches_of(TrainingBatches(x, y, 3, 4, seed=6), epoch=0)[0], images)


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


def test_image_pipelines_run_without_tf_data_autotuning():
    """Autotuning's thread made freeing each epoch's iterator wait 20-25 s (mlkit.pipelines)."""
    x, y = np.zeros((6, 4, 4, 3), dtype=np.uint8), np.zeros(6, dtype=int)
    for dataset in (make_dataset(x, y, 3, 2), TrainingBatches(x, y, 3, 2, augmentation=Augmentation(crop=1)).dataset):
        assert dataset.options().autotune.enabled is False


def test_evaluation_per_class_and_confused_pairs():
    evaluation = Evaluation(["cat", "dog", "ship"], np.array([0, 0, 0, 1, 1, 2]), np.array([0, 1, 1, 0, 1, 2]))
    assert evaluation.accuracy == pytest.approx(3 / 6)
    assert evaluation.per_class_accuracy() == pytest.approx({"cat": 1 / 3, "dog": 1 / 2, "ship": 1.0})
    assert evaluation.confused_pairs() == [{"classes": ["cat", "dog"], "count": 3,
                                            "first_as_second": 2, "second_as_first": 1}]
    assert sorted(evaluation.misclassified(10).tolist()) == [1, 2, 3]
    assert evaluation.to_dict()["confusion_matrix"] == [[1, 2, 0], [1, 1, 0], [0, 0, 1]]
