"""airbench94's network (Keller Jordan's CIFAR-10 speedrun) as Keras Functional models.

    normalise -> whitening conv 2x2 (frozen) -> GELU
    -> 3 blocks [conv 3x3, max-pool 2, batch norm, GELU, conv 3x3, batch norm, GELU]
       of widths 64, 256, 256 -> max-pool 3 -> dense (no bias) -> logits x 1/9

The whitening convolution's filters are the eigenvectors of the covariance of the training
images' 2x2 patches, scaled to unit variance, and their negatives (so the GELU after it passes
both signs); it is never trained. The other convolutions start as identities on their first
input channels (Dirac initialisation). Batch norms learn only a shift, as in the reference.

Two models share these layers: `train` (softmax of the logits) is what `fit` trains, and
`inference` averages the logits of six views of each image before the softmax (the image and its
mirror, and both moved a pixel each way: airbench94's test-time augmentation); the inference
model is the one scored and saved. Every layer is a standard Keras layer; the GELUs are one
compiled kernel each (models/compiled_gelu.py, registered with Keras), so a saved model loads in
safe mode through `mlkit.training.load_model` (`mlkit evaluate`).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from .compiled_gelu import compiled_gelu

WIDTHS = (64, 256, 256)
LOGIT_SCALE = 1 / 9
BATCH_NORM_MOMENTUM = 0.6  # Keras' convention: the share of the old moving statistics kept each step
# The reference's epsilon. Weight decay shrinks the convolutions' weights all run long (batch
# norm makes their scale irrelevant to the function), so their outputs' variance can fall near
# Keras' default 1e-3, where that epsilon stops normalising them.
BATCH_NORM_EPSILON = 1e-12
WHITENING_PATCH = 2
WHITENING_EPSILON = 5e-4
WHITENING_IMAGES = 5000  # the reference estimates the patch covariance on this many training images
NAME = "cifar_airbench"


@dataclass
class AirbenchModels:
    """The trained network and the view-averaging model scored and saved (they share weights)."""

    train: Any
    inference: Any

    def __repr__(self) -> str:
        return f"AirbenchModels(parameters={self.train.count_params()})"


def smallest_image_side() -> int:
    """The 2x2 whitening drops one pixel, three max-pools halve, and the last pool takes 3x3."""
    return 3 * 2 ** len(WIDTHS) + 1


def build_airbench(x_train: np.ndarray, num_classes: int, dtype_policy: str = "float32") -> AirbenchModels:
    """airbench94's network for images like `x_train` (N, H, W, C) in 0..255.

    Args:
        x_train: training images; their channel statistics normalise the input and their first
            5,000 images' patch covariance sets the whitening filters.
        num_classes: units of the last dense layer.
        dtype_policy: "float32" or "mixed_bfloat16" (see mlkit.precision); softmax is float32.
    """
    import keras
    from keras import layers

    pixels = x_train.reshape(-1, x_train.shape[-1]).astype("float64") / 255
    inputs = keras.Input(shape=x_train.shape[1:], name="image")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    x = layers.Normalization(mean=pixels.mean(axis=0), variance=pixels.var(axis=0), name="normalize")(x)
    whitening = layers.Conv2D(2 * WHITENING_PATCH ** 2 * x_train.shape[-1], WHITENING_PATCH, use_bias=False,
                              trainable=False, dtype=dtype_policy, name="whiten")
    x = layers.Activation(compiled_gelu(), dtype=dtype_policy, name="whiten_gelu")(whitening(x))
    for block, width in enumerate(WIDTHS, start=1):
        x = _block(x, width, f"block{block}", dtype_policy)
    x = layers.MaxPooling2D(3, dtype=dtype_policy, name="pool")(x)
    x = layers.Flatten(dtype=dtype_policy, name="flatten")(x)
    x = layers.Dense(num_classes, use_bias=False, kernel_initializer=_torch_uniform(), dtype=dtype_policy,
                     name="head")(x)
    logits = layers.Rescaling(LOGIT_SCALE, dtype="float32", name="logits")(x)
    net = keras.Model(inputs, logits, name="airbench_net")
    whitening.set_weights([whitening_filters(x_train[:WHITENING_IMAGES], net.get_layer("normalize"))])
    _dirac(net)
    train = keras.Model(inputs, layers.Activation("softmax", dtype="float32", name="probabilities")(net(inputs)),
                        name=NAME)
    return AirbenchModels(train, test_time_views(net, x_train.shape[1:]))


def _block(x, width: int, name: str, dtype_policy: str):
    from keras import layers

    for index in (1, 2):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=_torch_uniform(),
                          dtype=dtype_policy, name=f"{name}_conv{index}")(x)
        if index == 1:
            x = layers.MaxPooling2D(2, dtype=dtype_policy, name=f"{name}_pool")(x)
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, scale=False,
                                      dtype=dtype_policy, name=f"{name}_bn{index}")(x)
        x = layers.Activation(compiled_gelu(), dtype=dtype_policy, name=f"{name}_gelu{index}")(x)
    return x


def _torch_uniform():
    """PyTorch's default initialisation, which the reference's settings were tuned with:
    uniform within +-1/sqrt(fan_in)."""
    import keras

    return keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform")


def whitening_filters(images: np.ndarray, normalize) -> np.ndarray:
    """The Conv2D kernel (2, 2, C, 8C) whitening the normalised images' 2x2 patches.

    Each filter is one eigenvector of the patch covariance divided by the square root of its
    eigenvalue (plus a small epsilon), largest first; the second half are their negatives.
    """
    normalised = np.asarray(normalize(images.astype("float32")), dtype="float64")
    size = WHITENING_PATCH
    height, width = normalised.shape[1] - size + 1, normalised.shape[2] - size + 1
    patches = np.stack([normalised[:, row:row + height, col:col + width]
                        for row in range(size) for col in range(size)], axis=3)  # (N, H', W', 4, C)
    flat = patches.reshape(-1, size * size * images.shape[-1])
    eigenvalues, eigenvectors = np.linalg.eigh(flat.T @ flat / len(flat))
    order = np.argsort(eigenvalues)[::-1]
    scaled = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + WHITENING_EPSILON)
    kernel = scaled.reshape(size, size, images.shape[-1], -1)  # rows of `flat` are (row, col, channel)
    return np.concatenate([kernel, -kernel], axis=-1).astype("float32")


def _dirac(net) -> None:
    """Start every 3x3 convolution as the identity on its first input channels."""
    for layer in net.layers:
        if layer.__class__.__name__ == "Conv2D" and layer.kernel_size == (3, 3):
            kernel = layer.get_weights()[0]
            inputs = min(kernel.shape[2], kernel.shape[3])
            kernel[..., :inputs] = 0
            kernel[1, 1, np.arange(inputs), np.arange(inputs)] = 1
            layer.set_weights([kernel])


def test_time_views(net, input_shape: tuple[int, ...]):
    """A model giving the softmax of airbench94's test-time mean of `net`'s logits: half from each
    image and its mirror, half from the mirrored pairs of the image moved one pixel down-right and
    one pixel up-left (its edge reflected into the gap), as the reference scores.

    Every view is the image times fixed matrices along its rows and its columns (a mirror, a
    shift, or both): frozen Dense layers, so the saved model needs no custom layer to load.
    """
    import keras
    from keras import layers

    height, width = input_shape[:2]
    inputs = keras.Input(shape=input_shape, name="image")

    def view(name: str, rows: np.ndarray | None, columns: np.ndarray | None):
        x = inputs
        for axis, matrix, order in (("rows", rows, (3, 2, 1)), ("columns", columns, (1, 3, 2))):
            if matrix is not None:  # Dense acts on the last axis: bring this one there and back
                dense = layers.Dense(len(matrix), use_bias=False, trainable=False, dtype="float32",
                                     name=f"{name}_{axis}")
                x = layers.Permute(order, name=f"{name}_{axis}_back")(dense(
                    layers.Permute(order, name=f"{name}_{axis}_last")(x)))
                dense.set_weights([matrix])
        return net(x)

    mirror = np.eye(width, dtype="float32")[::-1]
    views = [net(inputs), view("mirror", None, mirror)]
    for name, step in (("down", 1), ("up", -1)):
        rows, columns = shift_matrix(height, step), shift_matrix(width, step)
        views += [view(name, rows, columns), view(f"{name}_mirror", rows, columns @ mirror)]
    mean = layers.Average(dtype="float32", name="mean_logits")([
        layers.Average(dtype="float32", name="image_logits")(views[:2]),
        layers.Average(dtype="float32", name="shifted_logits")(views[2:])])
    return keras.Model(inputs, layers.Activation("softmax", dtype="float32", name="probabilities")(mean),
                       name=NAME)


def shift_matrix(size: int, step: int) -> np.ndarray:
    """M with (x @ M)[i] = x[i - step]: a shift by `step` pixels, the edge reflected into the gap
    (index -1 reads 1, index `size` reads size - 2)."""
    sources = np.arange(size) - step
    sources = np.where(sources < 0, -sources, sources)
    sources = np.where(sources >= size, 2 * (size - 1) - sources, sources)
    matrix = np.zeros((size, size), dtype="float32")
    matrix[sources, np.arange(size)] = 1
    return matrix
