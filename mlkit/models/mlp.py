"""Multi-layer perceptrons for MNIST-like images: the depth-study MLP and its fixes (seeds
000/002), and seed 004's linear model and wide MLP.

Every builder takes images as the files store them (uint8, 0-255): the first layer divides them
by 255 (see pixels.py), so a saved model needs no preparation of its inputs.
"""

from .initializers import truncated_normal_start
from .pixels import pixel_scaling

# "sigmoid-first" is seed 002's fix (its lines 530-535): the first hidden layer keeps the
# sigmoid, the layers after it use the run's activation (ReLU in the seed).
VARIANTS = ("seed", "he", "batchnorm", "residual", "sigmoid-first")
ACTIVATIONS = ("sigmoid", "relu", "tanh", "elu", "selu", "gelu")
DEPTH_UNITS = 512
DEPTH_DROPOUT_RATE = 0.2
WIDE_UNITS = 1500
WIDE_DEPTH = 3


def build_depth_mlp(input_shape: tuple[int, ...], num_classes: int, depth: int,
                    activation: str = "sigmoid", variant: str = "seed",
                    units: int = DEPTH_UNITS, dropout_rate: float = DEPTH_DROPOUT_RATE):
    """The seed MLP: `depth` x (Dense(units) + Dropout), then a softmax Dense.

    Args:
        input_shape: shape of one image, e.g. (28, 28).
        num_classes: outputs of the softmax layer.
        depth: number of hidden layers (1 or more).
        activation: hidden activation, one of ACTIVATIONS.
        variant: "seed" (Glorot-uniform, as the seeds), "he" (He-normal initialisation),
            "batchnorm" (Dense -> BatchNormalization -> activation), "residual" (every hidden
            layer after the first adds its input back: x + f(x), so gradients skip the layer)
            or "sigmoid-first" (the first hidden layer sigmoid, the others `activation`).
        units: width of every hidden layer.
        dropout_rate: dropout after every hidden layer.
    Returns:
        An uncompiled keras.Model named after its configuration.
    """
    import keras

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(pixel_scaling()(inputs))
    for index in range(depth):
        layer_activation = "sigmoid" if variant == "sigmoid-first" and index == 0 else activation
        hidden = _hidden_block(x, units, layer_activation, variant, dropout_rate, index)
        x = keras.layers.Add(name=f"residual_{index + 1}")([x, hidden]) if (
            variant == "residual" and index > 0) else hidden
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=f"mlp_{activation}_{variant.replace('-', '_')}_{depth}")


def _hidden_block(x, units: int, activation: str, variant: str, dropout_rate: float, index: int):
    """Dense (+ batch norm) + activation + dropout: one hidden layer of the depth MLP."""
    import keras

    initializer = "he_normal" if variant == "he" else "glorot_uniform"
    batchnorm = variant == "batchnorm"
    # With batch norm the Dense bias is redundant: BN's beta plays its part.
    x = keras.layers.Dense(units, kernel_initializer=initializer, use_bias=not batchnorm,
                           name=f"dense_{index + 1}")(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(name=f"batchnorm_{index + 1}")(x)
    x = keras.layers.Activation(activation)(x)
    return keras.layers.Dropout(dropout_rate)(x)


def build_linear(input_shape: tuple[int, ...], num_classes: int):
    """Seed 004's linear model: Dense(10, zeros, linear) -> Dense(10, softmax)."""
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(pixel_scaling()(inputs))
    x = keras.layers.Dense(num_classes, kernel_initializer="zeros", bias_initializer="zeros",
                           name="dense_1")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="linear")


def build_wide_mlp(input_shape: tuple[int, ...], num_classes: int, dropout_rate: float = 0.0,
                   units: int = WIDE_UNITS, depth: int = WIDE_DEPTH):
    """Seed 004's MLP: depth x Dense(units, relu, truncated-normal 0.01, bias 0.1) (+ Dropout)."""
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(pixel_scaling()(inputs))
    for index in range(depth):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}", **truncated_normal_start())(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="mlp_dropout" if dropout_rate else "mlp")
