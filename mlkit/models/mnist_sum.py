"""Models reading sequences of MNIST images: the Deep Sets digit-sum model and the per-image CNN
it shares with the calculator (models/mnist_calc.py).

Both apply one small CNN to every image of a sequence. Keras is imported inside functions so
that importing this module stays cheap; `custom_objects()` names its custom layers for
`mlkit.training.load_model` (safe mode still refuses arbitrary code).
"""

from dataclasses import dataclass

IMAGE_SHAPE = (28, 28)
NUM_DIGITS = 10
SUM_MODEL_NAME = "mnist_sum"
DIGIT_LAYER = "digit_probabilities"


@dataclass(frozen=True)
class EncoderConfig:
    """The per-image CNN: two convolution blocks and a dense layer.

    `shift` moves each training image by up to this fraction of its size and `rotate` turns it
    by up to this fraction of a full turn (RandomTranslation and RandomRotation, off outside
    training), so the CNN cannot learn digits pixel by pixel. `dtype_policy` "mixed_bfloat16"
    runs the convolutions in bfloat16 with float32 variables (see mlkit.precision for when).
    """

    filters: tuple[int, int] = (32, 64)
    units: int = 128
    dropout_rate: float = 0.25
    batch_norm: bool = False
    shift: float = 0.0
    rotate: float = 0.0
    convs_per_block: int = 1
    dtype_policy: str = "float32"


def custom_objects() -> dict:
    """The custom layers of the sum model and the per-image CNN, by their registered names, for
    `load_model` (the calculator's own are in models/mnist_calc.py)."""
    time_distributed, sum_pooling = _layers()
    return {"mlkit>ImagewiseTimeDistributed": time_distributed, "mlkit>SumPooling": sum_pooling}


def _layers():
    import keras

    @keras.saving.register_keras_serializable(package="mlkit")
    class ImagewiseTimeDistributed(keras.layers.TimeDistributed):
        """TimeDistributed that folds the time axis into the batch: one big CNN call per batch
        instead of one call per time step (Keras 3 loops over steps), and any sequence length."""

        def call(self, inputs, training=None, mask=None):
            ops = keras.ops
            shape = ops.shape(inputs)
            merged = ops.reshape(inputs, (-1, *inputs.shape[2:]))
            outputs = self.layer(merged, training=training)
            return ops.reshape(outputs, (shape[0], shape[1], *outputs.shape[1:]))

    @keras.saving.register_keras_serializable(package="mlkit")
    class SumPooling(keras.layers.Layer):
        """Sum over the sequence axis: the permutation-invariant pooling of Deep Sets."""

        def call(self, inputs):
            return keras.ops.sum(inputs, axis=1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], *input_shape[2:])

    return ImagewiseTimeDistributed, SumPooling


def build_digit_encoder(config: EncoderConfig | None = None, name: str = "image_encoder"):
    """A CNN from one 28x28 uint8 image to a feature vector of `config.units`."""
    import keras
    from keras import layers

    config = config or EncoderConfig()
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Reshape((*IMAGE_SHAPE, 1))(x)
    if config.shift:
        x = layers.RandomTranslation(config.shift, config.shift, fill_mode="constant")(x)
    if config.rotate:
        x = layers.RandomRotation(config.rotate, fill_mode="constant")(x)
    dtype = config.dtype_policy
    for filters in config.filters:
        for _ in range(config.convs_per_block):
            x = layers.Conv2D(filters, 3, use_bias=not config.batch_norm, dtype=dtype)(x)
            if config.batch_norm:
                x = layers.BatchNormalization()(x)
            x = layers.Activation("relu", dtype=dtype)(x)
        x = layers.MaxPooling2D(dtype=dtype)(x)
    x = layers.Flatten(dtype=dtype)(x)
    x = layers.Dropout(config.dropout_rate, dtype=dtype)(x)
    outputs = layers.Dense(config.units, activation="relu", dtype=dtype)(x)
    return keras.Model(inputs, outputs, name=name)


def build_sum_model(config: EncoderConfig | None = None, members: int = 1):
    """Deep Sets sum model for sequences of any length: (batch, length, 28, 28) -> (batch, 1).

    phi = CNN + softmax over the ten digits for every image; sum pooling turns those into
    expected digit counts; rho = a fixed linear map with weights 0..9 gives the sum. Because
    pooling is a sum and rho is linear, a model trained on length 10 is exact on any length as
    soon as it reads single digits right (an LSTM over the sequence has no such guarantee).
    The model's output is the expected sum; mlkit answers the most likely sum under the sum's
    distribution (`sum_distribution_model`; see mnist_sum.evaluation.read_sums for why).

    `members` > 1 makes phi an ensemble: that many CNNs, each with its own softmax (trained on
    its own loss, see `sum_distribution_model`), whose digit probabilities are averaged.
    """
    import numpy as np
    import keras
    from keras import layers

    _, sum_pooling = _layers()
    inputs = keras.Input((None, *IMAGE_SHAPE), name="images")
    votes = member_digit_probabilities(inputs, config or EncoderConfig(), members)
    digits = votes[0] if members == 1 else layers.Average(name=DIGIT_LAYER)(votes)
    counts = sum_pooling(name="sum_pooling")(digits)
    value = layers.Dense(1, use_bias=False, trainable=False, name="digit_values")
    total = value(counts)
    value.set_weights([np.arange(NUM_DIGITS, dtype="float32").reshape(NUM_DIGITS, 1)])
    return keras.Model(inputs, total, name=SUM_MODEL_NAME)


def member_digit_probabilities(inputs, config: EncoderConfig, members: int) -> list:
    """Each member's (batch, length, 10) digit probabilities of (batch, length, 28, 28) images.

    A member is one CNN (`build_digit_encoder`) applied to every image, dropout and a softmax
    over the ten digits; a single member keeps the plain layer names.
    """
    from keras import layers

    time_distributed, _ = _layers()
    votes = []
    for suffix in _member_suffixes(members):
        features = time_distributed(build_digit_encoder(config, f"image_encoder{suffix}"),
                                    name=f"per_image_cnn{suffix}")(inputs)
        features = layers.Dropout(config.dropout_rate)(features)
        votes.append(layers.Dense(NUM_DIGITS, activation="softmax", name=f"{DIGIT_LAYER}{suffix}")(features))
    return votes


def _member_suffixes(members: int) -> list[str]:
    """Layer name suffixes of an ensemble's members; a single model keeps the plain names."""
    if members < 1:
        raise ValueError(f"an ensemble needs at least one member, got {members}")
    return [""] if members == 1 else [f"_{number}" for number in range(1, members + 1)]


def ensemble_size(sum_model) -> int:
    """How many CNNs a sum model averages (1 for a single one)."""
    return sum(layer.name.startswith("per_image_cnn") for layer in sum_model.layers)


def sum_distribution_model(sum_model, length: int, with_digits: bool = False, per_member: bool = False):
    """A view of a sum model giving the probability of every sum 0..9*length.

    Treating the images' digits as independent draws from their softmax, the sum's
    distribution is the convolution of theirs. Training maximises the probability of the true
    sum (fitting the expected sum with MSE lets the model hedge, half 4 and half 6 reading as 5,
    and per-image accuracy stalled near 98%); answers are read off this distribution. Shares
    all weights with `sum_model`; `with_digits` adds each image's digit probabilities as a
    second output. `per_member` gives each ensemble member's own distribution instead, stacked
    as (batch, members, sums), for training them on separate losses (see `member_losses`).
    """
    import keras

    ops = keras.ops

    class SumDistribution(keras.layers.Layer):
        def call(self, probabilities):
            distribution = probabilities[:, 0, :]
            for position in range(1, length):
                digit = probabilities[:, position, :]
                distribution = sum(
                    ops.pad(distribution * digit[:, value : value + 1], [[0, 0], [value, NUM_DIGITS - 1 - value]])
                    for value in range(NUM_DIGITS)
                )
            return distribution

        def compute_output_shape(self, input_shape):
            return (input_shape[0], (NUM_DIGITS - 1) * length + 1)

    convolve = SumDistribution(name="sum_distribution")
    if per_member:
        suffixes = _member_suffixes(ensemble_size(sum_model))
        distributions = [convolve(sum_model.get_layer(f"{DIGIT_LAYER}{suffix}").output) for suffix in suffixes]
        return keras.Model(sum_model.inputs, ops.stack(distributions, axis=1))
    probabilities = sum_model.get_layer(DIGIT_LAYER).output
    distribution = convolve(probabilities)
    return keras.Model(sum_model.inputs, [distribution, probabilities] if with_digits else distribution)


def member_losses():
    """(loss, metric) for `sum_distribution_model(..., per_member=True)` against true sums.

    The loss is the members' mean cross-entropy, so each CNN learns on its own and the ensemble
    stays an ensemble; the metric is the exact-sum accuracy of their averaged distribution.
    """
    import keras

    def loss(sums, distributions):
        members = keras.ops.shape(distributions)[1]
        repeated = keras.ops.repeat(keras.ops.expand_dims(sums, 1), members, axis=1)
        return keras.losses.sparse_categorical_crossentropy(repeated, distributions)

    def accuracy(sums, distributions):
        return keras.metrics.sparse_categorical_accuracy(sums, keras.ops.mean(distributions, axis=1))

    return loss, accuracy
