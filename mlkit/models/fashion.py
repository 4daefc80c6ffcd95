"""Fashion-MNIST classifiers: the seed's one-hidden-layer MLP and a small CNN.

Both take raw uint8 images of shape (28, 28) and scale them inside the model, so a saved
model classifies the files exactly as they are stored.
"""

from ..errors import ConfigError, DataError

ARCHITECTURES = ("mlp", "cnn")
# Steps run inside one compiled call: the MLP's steps are so short that Python overhead per
# step dominates at batch size 8; 32 at a time trains ~40% faster with the same updates.
STEPS_PER_EXECUTION = 32


def build_fashion_mlp(input_shape=(28, 28), num_classes: int = 10, units: int = 128):
    """The seed's network: Flatten, Dense(units, relu), Dense(num_classes, softmax).

    Args:
        input_shape: image shape (height, width).
        num_classes: output classes.
        units: hidden units (the seed uses 128).
    Returns:
        An uncompiled keras.Model.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(units, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="class")(x)
    return keras.Model(inputs, outputs, name="fashion_mlp")


def build_fashion_cnn(input_shape=(28, 28), num_classes: int = 10, dropout_rate: float = 0.25):
    """Two conv blocks (3x3 conv with 32 then 64 filters, batch norm, relu, 2x2 max pooling),
    Dense 128, softmax: small enough to train on a CPU in minutes.

    Args:
        input_shape: image shape (height, width); a channel axis is added inside.
        num_classes: output classes.
        dropout_rate: dropout after each block and before the output layer.
    Returns:
        An uncompiled keras.Model.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.Reshape((*input_shape, 1), name="add_channel")(x)
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Dropout(dropout_rate)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="class")(x)
    return keras.Model(inputs, outputs, name="fashion_cnn")


def build_fashion_model(arch: str, input_shape=(28, 28), num_classes: int = 10,
                        learning_rate: float = 1e-3):
    """Build and compile `arch` ("mlp" or "cnn") with Adam and sparse categorical crossentropy.

    Args:
        arch: which network.
        input_shape: image shape (height, width).
        num_classes: output classes.
        learning_rate: Adam's learning rate (Keras' default 0.001 is the seed's).
    Returns:
        A compiled keras.Model reporting accuracy.
    Raises:
        ConfigError: an unknown architecture. DataError: images that are not grey (H, W).
    """
    import keras

    builders = {"mlp": build_fashion_mlp, "cnn": build_fashion_cnn}
    if arch not in builders:
        raise ConfigError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHITECTURES)}.")
    check_input_shape(arch, input_shape)
    network = builders[arch](tuple(input_shape), num_classes)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    steps_per_execution=STEPS_PER_EXECUTION)
    return network


def check_input_shape(arch: str, input_shape) -> None:
    """Refuse images the networks cannot take (they need grey images: height x width).

    Raises:
        DataError: naming the shape found.
    """
    if len(input_shape) != 2:
        raise DataError(f"the {arch} network needs grey images (height, width), got shape {tuple(input_shape)}; "
                        "give a dataset such as fashion-mnist or mnist.")
