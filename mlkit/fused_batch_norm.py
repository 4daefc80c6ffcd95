"""Batch normalisation through TensorFlow's fused kernel, in Keras' own BatchNormalization layers.

Keras 3 normalises in several separate ops (moments, then the affine transform, with float32
casts around them in mixed precision), each a pass over the whole tensor. On this project's
2-core CPU that made a training step of network d in mixed bfloat16 slower than in float32
(711 against 551 ms at batch 256), while TensorFlow's FusedBatchNormV3 takes one pass forward
and one back: the bfloat16 step took 235-334 ms with it (benchmarks/cifar_profile.py; the
machine's speed drifts by a quarter from run to run). `use_fused_batch_norm`
swaps the computation in each layer for the fused op and keeps the layer a plain Keras
BatchNormalization, so a saved model loads anywhere without mlkit's code, computing the same
function the unfused way.
"""

import types

FUSABLE_RANK = 4  # FusedBatchNormV3 takes NHWC images only


def use_fused_batch_norm(model) -> int:
    """Make every BatchNormalization layer of `model` (nested models too) compute with the fused
    kernel when it can (4-D inputs, channels last, no mask); returns how many layers it changed.

    Call it before the model is compiled or trained: Keras traces each layer's `call` once.
    """
    import keras

    changed = 0
    for layer in _layers(model):
        # Exactly Keras' layer: a subclass (models/keras2_batch_norm.py) keeps statistics of its own.
        if type(layer) is keras.layers.BatchNormalization and layer.axis in (-1, 3) and not layer.synchronized:
            layer.call = types.MethodType(_fused_call(type(layer).call), layer)
            changed += 1
    return changed


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _fused_call(keras_call):
    """A `call` for a BatchNormalization layer that runs FusedBatchNormV3, or `keras_call` where
    the fused op does not apply."""

    def call(self, inputs, training=None, mask=None):
        import tensorflow as tf

        if mask is not None or len(inputs.shape) != FUSABLE_RANK or self.renorm:
            return keras_call(self, inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = tf.cast(self.gamma.value, tf.float32) if self.scale else tf.ones([channels], tf.float32)
        offset = tf.cast(self.beta.value, tf.float32) if self.center else tf.zeros([channels], tf.float32)
        if not (training and self.trainable):
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, scale, offset, mean=self.moving_mean.value, variance=self.moving_variance.value,
                epsilon=self.epsilon, is_training=False)
            return tf.cast(outputs, self.compute_dtype)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(inputs, scale, offset, epsilon=self.epsilon,
                                                                   is_training=True)
        # The fused op returns the unbiased variance; Keras' moving variance follows the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
        variance = variance * (count - 1) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)

    return call
