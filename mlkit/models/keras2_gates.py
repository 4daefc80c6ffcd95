"""The gate activation of Keras 2's recurrent layers, for seed presets that ran on Keras 2.

Until TensorFlow 2.0, Keras' LSTM and GRU opened and closed their gates with a hard sigmoid,
clip(0.2 x + 0.5, 0, 1), not the logistic sigmoid Keras 3 uses (standalone Keras switched in
2.3); seed 001's subtraction LSTM (`from tensorflow.python.keras import layers`, TensorFlow 1.x)
and the LSTMs of seeds 000 and 002 (Keras 2.0/2.1) trained with it. Keras 3's own
`hard_sigmoid` is a different line (x / 6 + 0.5), so this one is defined here and registered as
"mlkit>keras2_hard_sigmoid": a saved model names it, and `mlkit.training.load_model` passes
`custom_objects()` so it loads in safe mode.
"""

import functools

NAME = "keras2_hard_sigmoid"


@functools.cache
def keras2_hard_sigmoid():
    """The activation function, registered with Keras on first use (importing mlkit stays cheap)."""
    import keras

    @keras.saving.register_keras_serializable(package="mlkit", name=NAME)
    def hard_sigmoid(x):
        return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)

    return hard_sigmoid


def custom_objects() -> dict:
    """The activation by registered name, for `keras.saving.load_model`."""
    return {f"mlkit>{NAME}": keras2_hard_sigmoid()}
