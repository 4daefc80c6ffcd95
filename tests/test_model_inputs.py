"""What a saved classifier takes: pixel scale, image shape and class count (mlkit.model_inputs)."""

import numpy as np
import pytest

from mlkit.errors import ModelError
from mlkit.model_inputs import choose_scale, class_count, fit_images, input_shape


def model_with(*front_layers, input_shape=(28, 28), units=10):
    """Input -> front layers -> Flatten -> Dense(units)."""
    import keras

    inputs = keras.Input(input_shape)
    x = inputs
    for layer in front_layers:
        x = layer(x)
    return keras.Model(inputs, keras.layers.Dense(units)(keras.layers.Flatten()(x)))


def test_models_that_scale_their_own_pixels_take_them_as_stored():
    import keras

    adapted_on_pixels = keras.layers.Normalization(axis=None)
    adapted_on_pixels.adapt(np.random.default_rng(0).integers(0, 256, (50, 28, 28)).astype("float32"))
    for front in ([keras.layers.Rescaling(1 / 255, name="scale")],
                  [keras.layers.Rescaling(1 / 127.5, offset=-1)],
                  [keras.layers.Normalization(mean=0.0, variance=255.0 ** 2, axis=None)],  # mlkit's pixel_scaling
                  [adapted_on_pixels],
                  [keras.Sequential([keras.layers.RandomFlip(), keras.layers.Rescaling(1 / 255)])]):
        assert choose_scale(model_with(*front)).scale == 255, front


def test_frozen_layers_in_front_are_looked_through_as_airbench_s_test_time_views():
    from mlkit.models.airbench import build_airbench

    images = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3)).astype("uint8")
    views = build_airbench(images, 10, "float32").inference
    names = [layer.name for layer in views.layers]
    assert names.index("down_rows") < names.index("airbench_net")  # a frozen Dense before the network
    scale = choose_scale(views)
    assert scale.scale == 255 and "Rescaling" in scale.reason


def test_models_without_a_scaling_layer_up_front_take_pixels_divided_by_255():
    import keras

    adapted_on_units = keras.layers.Normalization(axis=None)
    adapted_on_units.adapt(np.random.default_rng(0).random((50, 28, 28)).astype("float32"))
    inputs = keras.Input((28, 28))
    dense_first = keras.Model(inputs, keras.layers.Rescaling(1 / 255)(keras.layers.Dense(10)(inputs)))
    for model in (model_with(), model_with(adapted_on_units), model_with(keras.layers.Rescaling(2.0)), dense_first):
        scale = choose_scale(model)
        assert scale.scale == 1 and "no Rescaling layer" in scale.reason
    assert choose_scale(model_with(keras.layers.Rescaling(1 / 255)), given=1).scale == 1
    assert choose_scale(model_with(), given=255).reason == "--scale"


def test_pixel_scale_one_divides_exactly_as_float64_then_float32():
    pixels = np.arange(256, dtype=np.uint8)
    divided = choose_scale(model_with(), given=1).apply(pixels)
    assert divided.dtype == np.float32 and np.array_equal(divided, (pixels / 255.0).astype(np.float32))
    assert np.array_equal(choose_scale(model_with(), given=255).apply(pixels), pixels.astype(np.float32))


def test_grey_images_gain_or_lose_a_channel_or_are_flattened():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert fit_images(images, (28, 28)).shape == (2, 28, 28)
    assert fit_images(images, (28, 28, 1)).shape == (2, 28, 28, 1)
    assert fit_images(images, (None, None, 1)).shape == (2, 28, 28, 1)
    assert fit_images(images[..., None], (28, 28)).shape == (2, 28, 28)
    flat = fit_images(images, (784,))
    assert flat.shape == (2, 784) and np.array_equal(flat[1], images[1].ravel())
    with pytest.raises(ModelError, match=r"takes images of shape \(32, 32, 3\) .* have shape \(28, 28\)"):
        fit_images(images, (32, 32, 3))


def test_one_input_and_one_class_output_are_required():
    import keras

    first, second = keras.Input((4,)), keras.Input((4,))
    two_inputs = keras.Model([first, second], keras.layers.Dense(3)(keras.layers.Concatenate()([first, second])))
    with pytest.raises(ModelError, match="takes 2 inputs"):
        input_shape(two_inputs)
    assert class_count(model_with(units=7)) == 7
    inputs = keras.Input((28, 28))
    per_pixel = keras.Model(inputs, keras.layers.Dense(10)(inputs))  # output (N, 28, 10)
    with pytest.raises(ModelError, match=r"one output of shape \(N, classes\)"):
        class_count(per_pixel)
