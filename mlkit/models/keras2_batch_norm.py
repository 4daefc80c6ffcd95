"""Batch normalisation with Keras 2's moving statistics, for seed presets that ran on Keras 2.

Keras 2 (standalone, TensorFlow backend) kept a BatchNormalization layer's moving mean and
variance with TensorFlow's `assign_moving_average(..., zero_debias=True)`: an exponential
average of the batches' statistics that starts from zero and is divided by 1 - momentum^steps,
so from the first step on it follows the batches. Keras 3 starts them at 0 and 1 and blends in
1% a step at momentum 0.99: after seed 002's 47 steps an epoch, 62% of those starting values
remain, and the model scored in inference mode normalises with numbers training never saw
(its first-epoch test MAE was 31 where the seed's was 8.2). Keras 2.1 also scaled each batch's
variance by n / (n - 1 - epsilon) before averaging it. Registered as
"mlkit>Keras2BatchNormalization", so a saved model loads in safe mode.
"""

import functools

NAME = "Keras2BatchNormalization"


@functools.cache
def keras2_batch_normalization():
    """The layer class, registered with Keras on first use (importing mlkit stays cheap)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mlkit", name=NAME)
    class Keras2BatchNormalization(keras.layers.BatchNormalization):
        """BatchNormalization whose moving mean and variance are Keras 2's debiased averages.

        Training normalises with the batch's own statistics and inference with the moving
        ones, as every BatchNormalization; only how the moving ones are kept differs.
        """

        def build(self, input_shape):
            super().build(input_shape)
            # Steps taken (TensorFlow's zero_debias state): with them each moving value is the
            # average of the batches' values, debiased, so no other state is needed.
            self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False, autocast=False,
                                         name="steps")

        def call(self, inputs, training=None):
            if not (training and self.trainable):
                return super().call(inputs, training=False)
            x = ops.cast(inputs, "float32")
            axis = self.axis % len(x.shape)
            mean, variance = ops.moments(x, [a for a in range(len(x.shape)) if a != axis])
            count = ops.cast(ops.size(x), "float32") / x.shape[axis]
            sample_variance = variance * count / (count - 1.0 - self.epsilon)
            # The debiased average after this batch is a weighted mean of the one before, weight
            # momentum * (1 - momentum^steps), and this batch, weight 1 - momentum. Before the
            # first step the first weight is 0: Keras 3's starting values 0 and 1 leave no trace.
            history = self.momentum * (1.0 - ops.power(self.momentum, self.steps))
            fresh = 1.0 - self.momentum
            for moving, batch_value in ((self.moving_mean, mean), (self.moving_variance, sample_variance)):
                moving.assign((moving * history + batch_value * fresh) / (history + fresh))
            self.steps.assign_add(1.0)
            outputs = ops.batch_normalization(x, mean, variance, axis=axis, epsilon=self.epsilon,
                                              offset=self.beta if self.center else None,
                                              scale=self.gamma if self.scale else None)
            return ops.cast(outputs, self.compute_dtype)

    return Keras2BatchNormalization


def custom_objects() -> dict:
    """The layer by registered name, for `keras.saving.load_model`."""
    return {f"mlkit>{NAME}": keras2_batch_normalization()}
