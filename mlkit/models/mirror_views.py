"""Test-time mirror averaging inside a model: outside training, each image and its mirror image
go through the network and their predictions are averaged.

    images -> WithMirrors -> network -> MeanOfMirrors -> predictions

In training both layers pass their input through unchanged, so the model trains, resumes and
saves as before; in `predict` and `evaluate` (Keras calls them with training off) the batch is
doubled with the mirrors and the two halves' class probabilities averaged. Scoring the mirror
too lifted network d's fast recipe from 0.857 to 0.867 on the 10,000 CIFAR-10 test images (the
same trained model, scored both ways). Being part of the model, it is what `mlkit evaluate`
scores in the saved file as well. Registered as "mlkit>WithMirrors" and "mlkit>MeanOfMirrors",
so a saved model loads in safe mode (`mlkit.training.load_model` passes `custom_objects()`).
"""

import functools


@functools.cache
def mirror_layers() -> tuple:
    """(WithMirrors, MeanOfMirrors), defined on first use so that importing mlkit does not import Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="mlkit")
    class WithMirrors(keras.layers.Layer):
        """Outside training, the batch of images (N, H, W, C) followed by their mirrors (2N)."""

        def call(self, images, training=None):
            if training:
                return images
            return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)

        def compute_output_shape(self, input_shape):
            return input_shape

    @keras.saving.register_keras_serializable(package="mlkit")
    class MeanOfMirrors(keras.layers.Layer):
        """Outside training, the mean of the predictions for the images and for their mirrors."""

        def call(self, predictions, training=None):
            if training:
                return predictions
            count = keras.ops.shape(predictions)[0] // 2
            return (predictions[:count] + predictions[count:]) / 2

        def compute_output_shape(self, input_shape):
            return input_shape

    return WithMirrors, MeanOfMirrors


def custom_objects() -> dict:
    """The two layers by registered name, for `keras.saving.load_model`."""
    with_mirrors, mean_of_mirrors = mirror_layers()
    return {"mlkit>WithMirrors": with_mirrors, "mlkit>MeanOfMirrors": mean_of_mirrors}
