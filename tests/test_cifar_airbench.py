"""airbench94's network, its augmentation and weight averaging, on tiny synthetic images."""

import numpy as np
import pytest

from mlkit.augmentation import Augmentation, TrainingBatches, first_mirrored
from mlkit.errors import ConfigError
from mlkit.models.airbench import WIDTHS, build_airbench, whitening_filters
from mlkit.recipes import RECIPES, build_optimizer
from mlkit.training import load_model, save_model
from mlkit.weight_averaging import LOOKAHEAD_DECAY, lookahead, lookahead_decay


def correlated_images(count: int = 40, side: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random images: neighbouring pixels and channels strongly correlated, as in photos."""
    noise = np.random.default_rng(seed).normal(size=(count, side + 1, side + 1, 1))
    smooth = (noise[:, 1:, 1:] + noise[:, :-1, 1:] + noise[:, 1:, :-1] + noise[:, :-1, :-1]) / 4
    colour = np.concatenate([smooth, 0.8 * smooth, 0.6 * smooth], axis=3)
    colour += 0.1 * np.random.default_rng(seed + 1).normal(size=colour.shape)
    return np.clip(128 + 60 * colour, 0, 255).astype("uint8")


def test_whitening_filters_make_the_patch_covariance_the_identity():
    import keras

    images = correlated_images()
    normalize = keras.layers.Normalization(mean=images.mean(axis=(0, 1, 2)) / 255,
                                           variance=(images / 255).var(axis=(0, 1, 2)))
    scale = keras.layers.Rescaling(1 / 255)
    kernel = whitening_filters(images, lambda x: normalize(scale(x)))
    assert kernel.shape == (2, 2, 3, 24)
    np.testing.assert_array_equal(kernel[..., 12:], -kernel[..., :12])
    normalised = np.asarray(normalize(scale(images.astype("float32"))), dtype="float64")
    patches = np.stack([normalised[:, r:r + 31, c:c + 31] for r in (0, 1) for c in (0, 1)], axis=3).reshape(-1, 12)
    whitened = patches @ kernel[..., :12].reshape(12, 12)
    covariance = whitened.T @ whitened / len(whitened)
    # Each direction keeps eigenvalue / (eigenvalue + 5e-4) of its variance: 1 but for the faintest.
    np.testing.assert_allclose(covariance, np.diag(np.diag(covariance)), atol=1e-6)
    assert np.all(np.diag(covariance)[:6] > 0.99) and np.all(np.diag(covariance) <= 1)


def test_airbench_network_shapes_initialisation_and_test_time_views():
    images = correlated_images(count=8)
    models = build_airbench(images, num_classes=10)
    net = models.train.get_layer("airbench_net")
    widths = [24, *WIDTHS]
    convs = 3 * 3 * sum(a * b + b * b for a, b in zip(widths, widths[1:]))
    batch_norms = 2 * 3 * sum(WIDTHS)  # two per block, each a shift and two moving statistics per channel
    assert models.train.count_params() == 2 * 2 * 3 * 24 + convs + batch_norms + WIDTHS[-1] * 10
    assert not net.get_layer("whiten").trainable and models.train.output_shape == (None, 10)
    kernel = net.get_layer("block1_conv1").get_weights()[0]  # 24 -> 64 channels: 24 identities
    np.testing.assert_array_equal(kernel[1, 1, :, :24], np.eye(24))
    assert np.count_nonzero(kernel[..., :24]) == 24 and kernel[..., 24:].any()
    x = images.astype("float32")
    # airbench94's six views, made with NumPy: reflect-pad one pixel, crop at (0, 0) and (2, 2), mirror each.
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    down, up = padded[:, :-2, :-2], padded[:, 2:, 2:]
    logits = [np.asarray(net(view)) for view in (x, x[:, :, ::-1], down, down[:, :, ::-1], up, up[:, :, ::-1])]
    assert np.abs(logits[0] - logits[1]).max() > 0  # the network itself tells an image from its mirror
    mean = (logits[0] + logits[1]) / 4 + sum(logits[2:]) / 8
    expected = np.exp(mean) / np.exp(mean).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(models.inference.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)


def test_airbench_recipe_warms_up_from_a_fifth_then_decays_to_seven_hundredths():
    recipe = RECIPES["airbench"]
    optimizer = build_optimizer(recipe, steps_per_epoch=10, epochs=10)
    schedule = optimizer._learning_rate
    peak = recipe.learning_rate
    assert float(schedule(0)) == pytest.approx(0.2 * peak)
    assert float(schedule(23)) == pytest.approx(peak)
    assert float(schedule(100)) == pytest.approx(0.07 * peak)
    assert float(schedule(11.5)) == pytest.approx(0.6 * peak)  # straight lines, as the reference's
    assert float(schedule(61.5)) == pytest.approx((1 + 0.07) / 2 * peak, rel=1e-5)
    assert optimizer.nesterov and optimizer.momentum == 0.85
    assert recipe.keep == "last" and recipe.lookahead_every == 5 and recipe.label_smoothing == 0.2


def test_lookahead_decay_grows_with_the_cube_of_progress():
    assert lookahead_decay(0, 100) == 0 and lookahead_decay(100, 100) == pytest.approx(LOOKAHEAD_DECAY)
    assert lookahead_decay(50, 100) == pytest.approx(LOOKAHEAD_DECAY / 8)


def test_lookahead_moves_the_average_and_restarts_the_network_from_it():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    callback = lookahead(model, every=2, total_steps=2)
    callback.set_model(model)
    model.layers[0].set_weights([np.array([[1.0], [1.0]])])
    callback.on_train_begin()
    model.layers[0].set_weights([np.array([[3.0], [5.0]])])
    callback.on_train_batch_end(0)  # step 1: no update
    np.testing.assert_array_equal(model.get_weights()[0], [[3.0], [5.0]])
    callback.on_train_batch_end(1)  # step 2 of 2: decay 0.95^5, the average moves a little toward the weights
    expected = 1 + (1 - LOOKAHEAD_DECAY) * np.array([[2.0], [4.0]])
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-6)
    callback.on_train_end()  # the last update was at the last step: nothing left to average
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-6)


def test_lookahead_averages_the_steps_after_its_last_update_at_the_end():
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    callback = lookahead(model, every=5, total_steps=3)
    callback.set_model(model)
    model.layers[0].set_weights([np.array([[2.0]])])
    callback.on_train_begin()
    model.layers[0].set_weights([np.array([[4.0]])])
    for batch in range(3):
        callback.on_train_batch_end(batch)
    np.testing.assert_array_equal(model.get_weights()[0], [[4.0]])  # fewer steps than `every`: no update yet
    callback.on_train_end()
    np.testing.assert_allclose(model.get_weights()[0], [[2.0 + (1 - LOOKAHEAD_DECAY) * 2.0]], rtol=1e-6)


def epoch_images(pipeline: TrainingBatches, epoch: int) -> np.ndarray:
    pipeline.epoch.assign(epoch)
    return np.concatenate([np.asarray(images) for images, _ in pipeline.dataset])


def test_alternate_flip_mirrors_each_image_in_every_other_epoch():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 4, 4, 1), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(12)  # a tag in the top-left corner says which image it is
    x[:, 0, 3, 0] = 200  # the top-right corner is never a tag
    pipeline = TrainingBatches(x, np.zeros(12, int), 2, batch_size=5, augmentation=Augmentation(flip="alternate"))
    mirrored_by_epoch = []
    for epoch in (0, 1, 2):
        images = epoch_images(pipeline, epoch)
        mirrored = images[:, 0, 0, 0] == 200
        rows = np.where(mirrored, images[:, 0, 3, 0], images[:, 0, 0, 0]).astype(int)
        assert sorted(rows) == list(range(12))
        mirrored_by_epoch.append(dict(zip(rows, mirrored)))
    first = first_mirrored(12, seed=0)
    assert [mirrored_by_epoch[0][row] for row in range(12)] == first.tolist() and 0 < first.sum() < 12
    assert all(mirrored_by_epoch[1][row] != first[row] for row in range(12))
    assert mirrored_by_epoch[2] == mirrored_by_epoch[0]


def test_crop_shifts_by_whole_pixels_with_reflected_edges():
    import tensorflow as tf

    images = np.random.default_rng(2).integers(0, 256, (16, 8, 8, 3)).astype("float32")
    shifted = np.asarray(Augmentation(crop=2).apply(tf.constant(images), tf.constant([0, 1], tf.int64)))
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    offsets = []
    for image, pad in zip(shifted, padded):
        windows = [(r, c) for r in range(5) for c in range(5) if np.array_equal(image, pad[r:r + 8, c:c + 8])]
        assert windows
        offsets.append(windows[0])
    assert len(set(offsets)) > 3  # the shifts differ from image to image
    with pytest.raises(ConfigError, match="--crop must be a whole number"):
        Augmentation(crop=-1)
    assert Augmentation(crop=1).enabled and not Augmentation().enabled


def test_a_model_trained_on_the_linear_schedule_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=build_optimizer(RECIPES["airbench"], steps_per_epoch=10, epochs=10), loss="mse")
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    loaded = load_model(save_model(model, tmp_path / "linear.keras"))
    assert loaded.optimizer._learning_rate.get_config() == model.optimizer._learning_rate.get_config()
    assert float(loaded.optimizer._learning_rate(61.5)) == pytest.approx(float(model.optimizer._learning_rate(61.5)))


def test_batch_norm_shifts_step_bias_scale_times_further_and_the_rest_as_plain_sgd():
    import keras

    from mlkit.bias_scaled_sgd import bias_scaled_sgd

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(1)(keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs)))
    start = keras.Model(inputs, outputs)
    x, y = np.random.default_rng(0).normal(size=(8, 4)), np.ones((8, 1))
    moves = {}
    for scale in (1.0, 64.0):
        model = keras.models.clone_model(start)
        model.set_weights(start.get_weights())
        model.compile(bias_scaled_sgd()(bias_scale=scale, learning_rate=0.01, momentum=0.85, nesterov=True,
                                        weight_decay=0.01), loss="mse")
        before = [variable.numpy().copy() for variable in model.trainable_variables]
        model.train_on_batch(x, y)
        moves[scale] = {variable.path: variable.numpy() - old
                        for variable, old in zip(model.trainable_variables, before)}
    for path, move in moves[1.0].items():
        expected = 64 * move if path.endswith("/beta") else move
        np.testing.assert_allclose(moves[64.0][path], expected, rtol=1e-5, atol=1e-7)
    assert any(path.endswith("/beta") and np.abs(move).max() > 0 for path, move in moves[1.0].items())
    assert RECIPES["airbench"].bias_scale == 64 and build_optimizer(RECIPES["airbench"], 10, 10).bias_scale == 64
