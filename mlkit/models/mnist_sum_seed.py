"""The seed exercises' own networks for `mnist-sum sum|calc --recipe seed` (docs/seeds.md).

Both are the seeds' layer stacks as written, in Keras 3 layers only (no Lambda, so a saved
model loads in safe mode). Each applies its per-image CNN through mlkit's
ImagewiseTimeDistributed (see models/mnist_sum.py): the same numbers as Keras' TimeDistributed,
one CNN call per batch.

Both seeds ran on Keras 2.0/2.1 (their imports: `keras.layers.wrappers`,
`keras.engine.training._slice_arrays`), whose LSTMs gated with a hard sigmoid until Keras 2.3 and
whose batch normalisation kept debiased moving statistics, so every LSTM here uses that gate
(models/keras2_gates.py), as seed 001's preset does, and seed 002's batch normalisation those
statistics (models/keras2_batch_norm.py).
"""

from .keras2_batch_norm import keras2_batch_normalization
from .keras2_gates import keras2_hard_sigmoid
from .mnist_sum import IMAGE_SHAPE, _layers

SEED_SUM_MODEL_NAME = "mnist_sum_seed"
SEED_CALC_MODEL_NAME = "mnist_calc_seed"


def build_seed_sum_model(length: int):
    """Seed 002's sum regressor: (batch, length, 28, 28) uint8 images -> (batch, 1) sum.

    Per image: Conv 32 3x3 (same) - Conv 32 3x3 - max pool - dropout 0.25 - flatten; then an
    LSTM of 128 over the sequence, batch normalisation, dropout 0.2, flatten, Dense 256 ReLU,
    dropout 0.5 and Dense 1 with ReLU (the LSTM and the batch normalisation Keras 2's). Pixels
    are scaled to 0-1 as the seed did. The flatten after the LSTM fixes the number of images
    the model reads.
    """
    import keras
    from keras import layers

    time_distributed, _ = _layers()
    image = keras.Input(IMAGE_SHAPE, name="image")
    x = layers.Rescaling(1 / 255)(image)
    x = layers.Reshape((*IMAGE_SHAPE, 1))(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    cnn = keras.Model(image, layers.Flatten()(x), name="image_encoder")

    inputs = keras.Input((length, *IMAGE_SHAPE), name="images")
    x = time_distributed(cnn, name="per_image_cnn")(inputs)
    x = layers.LSTM(128, return_sequences=True, recurrent_activation=keras2_hard_sigmoid())(x)
    x = keras2_batch_normalization()()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="relu", name="sum")(x)
    return keras.Model(inputs, outputs, name=SEED_SUM_MODEL_NAME)


def build_seed_calc_model(slots: int, answer_length: int, num_chars: int, units: int = 256, layers_after: int = 2):
    """Seed 000's calculator: (batch, slots, 28, 28) question images -> (batch, answer_length, num_chars).

    Per image: Conv 32 5x5 stride 3 ReLU - max pool - dropout 0.25 - Conv 64 3x3 ReLU - max pool
    - dropout 0.5 - flatten - Dense 128 ReLU; then an LSTM of `units` reads the question, a
    RepeatVector hands its last state to every answer character, `layers_after` LSTMs of
    `units` write the answer left to right (all with Keras 2 gates) and a softmax picks each
    character. The seed fed raw 0-255 pixels (no scaling), and so does this model.
    """
    import keras
    from keras import layers

    time_distributed, _ = _layers()
    image = keras.Input(IMAGE_SHAPE, name="image")
    x = layers.Reshape((*IMAGE_SHAPE, 1))(image)
    x = layers.Conv2D(32, 5, strides=3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
    cnn = keras.Model(image, x, name="image_encoder")

    inputs = keras.Input((slots, *IMAGE_SHAPE), name="question")
    x = time_distributed(cnn, name="per_image_cnn")(inputs)
    gate = keras2_hard_sigmoid()
    x = layers.LSTM(units, recurrent_activation=gate, name="question_reader")(x)
    x = layers.RepeatVector(answer_length)(x)
    for index in range(layers_after):
        x = layers.LSTM(units, return_sequences=True, recurrent_activation=gate, name=f"answer_writer_{index + 1}")(x)
    outputs = layers.Dense(num_chars, activation="softmax", name="characters")(x)
    return keras.Model(inputs, outputs, name=SEED_CALC_MODEL_NAME)
