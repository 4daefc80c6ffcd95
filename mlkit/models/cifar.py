"""The four CIFAR-10 networks of seed 001 (problem 1), as Keras Functional models.

(a) Flatten, Dense 300 relu, Dropout 0.5, Dense 10 softmax
(b) [Conv 32 relu], max-pool, Dense 10 softmax
(c) [Conv 32 relu] x2, pool, [Conv 32 relu] x2, pool, Dense 100 relu, Dense 10 softmax
(d) [Conv 32] x2, pool, [Conv 64] x2, pool, [Conv 128] x3, pool, Dense 100 relu, Dense 10 softmax

Every convolution is 3x3, `padding="same"`, ReLU. Models take uint8-range images and scale
them to [0, 1] themselves, so a saved model needs no outside preprocessing. `batch_norm` puts
batch normalisation between each convolution and its ReLU (the fast recipe), `dropout_rate`
adds dropout after the hidden dense layer (the seed uses it only in network a). `dtype_policy`
"mixed_bfloat16" computes in bfloat16 with float32 variables (see mlkit.precision); the softmax
layer stays float32 either way.
"""

from .mirror_views import mirror_layers

ARCHITECTURES = ("a", "b", "c", "d")
# Convolution blocks: filters of each convolution, one max-pool after each block.
CONV_BLOCKS = {
    "a": (),
    "b": ((32,),),
    "c": ((32, 32), (32, 32)),
    "d": ((32, 32), (64, 64), (128, 128, 128)),
}
DENSE_UNITS = {"a": 300, "b": 0, "c": 100, "d": 100}
SEED_DROPOUT = {"a": 0.5, "b": 0.0, "c": 0.0, "d": 0.0}
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def smallest_image_side(arch: str) -> int:
    """The smallest height and width network `arch` takes: each of its max-pools halves them."""
    return 2 ** len(CONV_BLOCKS[arch])


def build_cifar_model(arch: str, *, batch_norm: bool = False, dropout_rate: float | None = None,
                      input_shape: tuple[int, ...] = INPUT_SHAPE, num_classes: int = NUM_CLASSES,
                      dtype_policy: str = "float32", mirror_views: bool = False):
    """Build one of the seed's networks.

    Args:
        arch: "a", "b", "c" or "d".
        batch_norm: Conv -> BatchNormalization -> ReLU instead of Conv(relu).
        dropout_rate: dropout after the hidden dense layer; None keeps the seed's choice.
        input_shape: image shape, channels last.
        num_classes: units of the softmax layer.
        dtype_policy: "float32" or "mixed_bfloat16".
        mirror_views: outside training, average each image's predictions with its mirror's
            (models/mirror_views.py).

    Returns:
        An uncompiled keras.Model named `cifar_<arch>`.
    """
    import keras
    from keras import layers

    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    if dropout_rate is None:
        dropout_rate = SEED_DROPOUT[arch]
    with_mirrors, mean_of_mirrors = mirror_layers()
    inputs = keras.Input(shape=input_shape, name="image")
    x = with_mirrors(name="with_mirrors")(inputs) if mirror_views else inputs
    x = layers.Rescaling(1.0 / 255, dtype=dtype_policy, name="scale")(x)
    for block, filters_list in enumerate(CONV_BLOCKS[arch], start=1):
        for index, filters in enumerate(filters_list, start=1):
            x = _conv(x, filters, batch_norm, f"block{block}_conv{index}", dtype_policy)
        x = layers.MaxPooling2D(dtype=dtype_policy, name=f"block{block}_pool")(x)
    x = layers.Flatten(dtype=dtype_policy, name="flatten")(x)
    if DENSE_UNITS[arch]:
        x = layers.Dense(DENSE_UNITS[arch], activation="relu", dtype=dtype_policy, name="dense")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, dtype=dtype_policy, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    if mirror_views:
        outputs = mean_of_mirrors(name="mean_of_mirrors")(outputs)
    return keras.Model(inputs, outputs, name=f"cifar_{arch}")


def _conv(x, filters: int, batch_norm: bool, name: str, dtype_policy: str):
    from keras import layers

    if not batch_norm:
        return layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=dtype_policy, name=name)(x)
    # The bias is redundant before batch normalisation, which has its own shift.
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype_policy, name=name)(x)
    x = layers.BatchNormalization(dtype=dtype_policy, name=f"{name}_bn")(x)
    return layers.ReLU(dtype=dtype_policy, name=f"{name}_relu")(x)
