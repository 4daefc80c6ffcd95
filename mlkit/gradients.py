"""Per-layer gradient norms: the evidence for vanishing gradients in deep sigmoid MLPs.

The norm of a layer is the mean |dL/dW| over the entries of its kernel (Dense or Conv), for
the loss on a fixed batch of training images, as the optimizer would see it (training mode).
"""

import os
from pathlib import Path

import numpy as np

from .plots import _pyplot, save_figure


def kernel_layers(model) -> list:
    """The layers with a kernel (Dense, Conv...), input side first."""
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def kernel_gradient_norms(model, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Mean |dL/dW| of every kernel, input side first, for the model's loss on (x, y).

    The loss is sparse categorical cross-entropy on softmax outputs. Batch-norm moving
    statistics, which a training-mode call updates, are put back afterwards.

    Args:
        model: a classifier with softmax outputs.
        x: a batch of inputs as the model takes them.
        y: integer labels.
    Returns:
        One float per layer in `kernel_layers(model)`.
    """
    import keras
    import tensorflow as tf

    kernels = [layer.kernel.value for layer in kernel_layers(model)]
    frozen = [(variable, variable.numpy()) for variable in model.non_trainable_variables]
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    gradients = tape.gradient(loss, kernels)
    for variable, value in frozen:
        variable.assign(value)
    return [float(tf.reduce_mean(tf.abs(gradient))) for gradient in gradients]


def gradient_norm_recorder(x: np.ndarray, y: np.ndarray, norms: list[list[float]]):
    """A Keras callback appending the kernel gradient norms to `norms` before training and
    after every epoch (so `norms` ends with epochs + 1 rows)."""
    import keras

    class GradientNormRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            norms.append(kernel_gradient_norms(self.model, x, y))

        def on_epoch_end(self, epoch, logs=None):
            norms.append(kernel_gradient_norms(self.model, x, y))

    return GradientNormRecorder()


def plot_gradient_norms(runs: dict[str, list[list[float]]], path: str | os.PathLike,
                        title: str = "Mean |dL/dW| per layer") -> Path:
    """One panel per run: each layer's gradient norm (log scale) before training and per epoch.

    Args:
        runs: label -> rows of norms (row 0 before training, row k after epoch k).
        path: the PNG to write.
    """
    plt = _pyplot()
    columns = min(3, len(runs))
    rows = -(-len(runs) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False,
                                sharey=True, layout="constrained")
    for axis in axes.ravel()[len(runs):]:
        axis.axis("off")
    for axis, (label, norms) in zip(axes.ravel(), runs.items()):
        table = np.asarray(norms, dtype=float)
        colours = plt.cm.viridis(np.linspace(0, 0.9, table.shape[1]))
        for layer in range(table.shape[1]):
            name = "output" if layer == table.shape[1] - 1 else f"layer {layer + 1}"
            axis.plot(range(len(table)), table[:, layer], marker=".", color=colours[layer], label=name)
        axis.set_yscale("log")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_title(label)
        axis.set_xlabel("epoch (0 = before training)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6)
    axes[0][0].set_ylabel("mean |dL/dW|")
    figure.suptitle(title)
    return save_figure(figure, path)
