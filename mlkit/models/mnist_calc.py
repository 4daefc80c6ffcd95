"""The column calculator: one digit reader for every image, exact carries over the columns.

A question `a op b` has both operands right-aligned (mlkit/mnist_sum/symbols.py), so slot
N-1-i of the first operand and slot 2N-i of the second hold the digits of place value 10^i.
One shared reader (a CNN and a softmax over the ten digits) reads every slot; blank slots read
0. Each column's two digit distributions give the distribution of a+b (or a-b) in that column,
and the carry (or borrow) runs from the units column up as in written arithmetic, computed
exactly on those distributions: every column passes on 0 or 1, so the answer's probability is
a sum over two carry states per column. Nothing but the reader is learned and it costs the same
per image for any N, so a reader trained at one N answers questions of any other
(`calc_model_for`).
"""

import functools
import math

import numpy as np

from .mnist_sum import IMAGE_SHAPE, NUM_DIGITS, EncoderConfig, member_digit_probabilities

READER_NAME = "digit_reader"
ANSWER_LAYER = "answer_columns"
CALC_MODEL_NAMES = {"add": "mnist_calc_add", "sub": "mnist_calc_sub"}
# A column of a+b holds 0..18 and one of a-b holds -9..9: nineteen values either way.
COLUMN_VALUES = 2 * NUM_DIGITS - 1
CARRIES = 2
# Added to every column's probability before its logarithm, so an answer the reader rules out
# still has a finite loss and a gradient (Keras' cross-entropy clips at the same 1e-7).
EPSILON = 1e-7


def _lowest(op: str) -> int:
    return 0 if op == "add" else -(NUM_DIGITS - 1)


def value_table(op: str) -> np.ndarray:
    """(10, 10, 19) 0/1 table: digits a and b of a column give the value a+b (or a-b)."""
    sign = 1 if op == "add" else -1
    table = np.zeros((NUM_DIGITS, NUM_DIGITS, COLUMN_VALUES), dtype="float32")
    for a in range(NUM_DIGITS):
        for b in range(NUM_DIGITS):
            table[a, b, a + sign * b - _lowest(op)] = 1
    return table


def carry_table(op: str) -> np.ndarray:
    """(2, 19, 20) 0/1 table: carry in c and column value v give digit d and carry out k, at d + 10k.

    For add the column's total is v + c and it carries 1 when it reaches 10; for sub it is v - c
    and it borrows 1 when it falls below 0.
    """
    sign = 1 if op == "add" else -1
    table = np.zeros((CARRIES, COLUMN_VALUES, CARRIES * NUM_DIGITS), dtype="float32")
    for carry in range(CARRIES):
        for index in range(COLUMN_VALUES):
            total = index + _lowest(op) + sign * carry
            table[carry, index, total % NUM_DIGITS + NUM_DIGITS * abs(total // NUM_DIGITS)] = 1
    return table


def column_values(readings, op: str):
    """(..., 2N+1, 10) slot digit probabilities -> (..., N, 19) each column's value, units first."""
    import keras

    ops = keras.ops
    digits = (readings.shape[-2] - 1) // 2
    first = ops.flip(readings[..., :digits, :], axis=-2)
    second = ops.flip(readings[..., digits + 1:, :], axis=-2)
    # Sums of products with constant tables, as matmuls: TensorFlow's einsum over "..." crashed
    # (memory corruption) in graph mode once the batch size was unknown.
    table = value_table(op)
    return sum(first[..., a:a + 1] * ops.matmul(second, table[a]) for a in range(NUM_DIGITS))


def _carry_step(carry, values, table):
    """(digit, carry out) probabilities of one column, at d + 10k, from its carry in and values."""
    import keras

    return sum(carry[..., c:c + 1] * keras.ops.matmul(values, table[c]) for c in range(CARRIES))


def _no_carry(values):
    import keras

    ones = keras.ops.ones_like(values[..., 0, :1])
    return keras.ops.concatenate([ones, 0 * ones], axis=-1)


def answer_marginals(values, op: str):
    """(..., N, 19) column values -> (..., N+1, 10): each answer digit's probability, units first.

    The last column is the final carry (add) or borrow (sub, meaning the answer is negative),
    as digit 0 or 1.
    """
    import keras

    ops, table = keras.ops, carry_table(op)
    carry, columns = _no_carry(values), []
    for column in range(values.shape[-2]):
        joint = _carry_step(carry, values[..., column, :], table)
        columns.append(joint[..., :NUM_DIGITS] + joint[..., NUM_DIGITS:])
        carry = ops.stack([ops.sum(joint[..., :NUM_DIGITS], axis=-1), ops.sum(joint[..., NUM_DIGITS:], axis=-1)],
                          axis=-1)
    columns.append(ops.concatenate([carry, ops.zeros_like(columns[-1][..., CARRIES:])], axis=-1))
    return ops.stack(columns, axis=-2)


def answer_log_likelihood(values, answer, op: str):
    """log P(answer) from (..., N, 19) column values and (..., N+1) answer digits, units first.

    The forward pass of the carry chain, kept to the answer's digits and rescaled every column
    so that 30 small probabilities never underflow.
    """
    import keras

    ops, table = keras.ops, carry_table(op)
    carry, log_likelihood = _no_carry(values), 0.0
    for column in range(values.shape[-2]):
        joint = _carry_step(carry, values[..., column, :], table)
        chosen = ops.one_hot(answer[..., column], NUM_DIGITS)
        carry = ops.stack([ops.sum(joint[..., :NUM_DIGITS] * chosen, axis=-1),
                           ops.sum(joint[..., NUM_DIGITS:] * chosen, axis=-1)], axis=-1)
        total = ops.sum(carry, axis=-1, keepdims=True) + EPSILON
        log_likelihood = log_likelihood + ops.log(total[..., 0])
        carry = carry / total
    final = ops.one_hot(answer[..., -1], CARRIES)
    return log_likelihood + ops.log(ops.sum(carry * final, axis=-1) + EPSILON)


def answer_loss(op: str):
    """(loss, accuracy) of a `column_trainer` against (batch, N+1) answer digits, units first.

    The loss is each member's negative log-probability of the whole answer, averaged over the
    members (each reader learns on its own, as the sum model's do); accuracy counts answers a
    member gives more than half its probability, which makes them its most probable answer.
    """
    import keras

    ops = keras.ops

    def loss(answer, values):
        answer = ops.expand_dims(ops.cast(answer, "int32"), 1)
        return -ops.mean(answer_log_likelihood(values, answer, op), axis=-1)

    def accuracy(answer, values):
        answer = ops.expand_dims(ops.cast(answer, "int32"), 1)
        likely = answer_log_likelihood(values, answer, op) > math.log(0.5)
        return ops.mean(ops.cast(likely, "float32"), axis=-1)

    return loss, accuracy


def custom_objects() -> dict:
    """The layers a saved calculator holds, by their registered names, for `load_model`
    (ColumnValues serves only the training view, `column_trainer`, which is never saved)."""
    layers = calc_layers()
    return {f"mlkit>{name}": layers[name] for name in ("SlotReadings", "CarryMarginals")}


@functools.cache
def calc_layers() -> dict:
    """The calculator's custom layers, registered for safe-mode loading (see custom_objects)."""
    import keras

    ops = keras.ops

    @keras.saving.register_keras_serializable(package="mlkit")
    class SlotReadings(keras.layers.Layer):
        """Stack the members' digit probabilities to (batch, members, slots, 10), blank slots as 0.

        A blank slot is the all-zero image of the padding (symbols.symbol_image); no MNIST digit
        is all zeros, so it is told apart exactly instead of being learned.
        """

        def call(self, inputs):
            images, votes = inputs[0], ops.stack(inputs[1:], axis=1)
            blank = ops.max(ops.cast(images, "float32"), axis=(-2, -1)) == 0
            zero = ops.one_hot(ops.zeros_like(blank, dtype="int32"), NUM_DIGITS)
            return ops.where(blank[:, None, :, None], zero[:, None], votes)

        def compute_output_shape(self, input_shapes):
            return (input_shapes[0][0], len(input_shapes) - 1, input_shapes[0][1], NUM_DIGITS)

    class _ColumnLayer(keras.layers.Layer):
        def __init__(self, op: str, **kwargs):
            super().__init__(**kwargs)
            self.op = op

        def get_config(self):
            return super().get_config() | {"op": self.op}

    @keras.saving.register_keras_serializable(package="mlkit")
    class CarryMarginals(_ColumnLayer):
        """(batch, members, 2N+1, 10) readings -> (batch, N+1, 10) answer digits, units first.

        The members' digit probabilities are averaged first, then carried exactly."""

        def call(self, readings):
            return answer_marginals(column_values(ops.mean(readings, axis=1), self.op), self.op)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], (input_shape[2] - 1) // 2 + 1, NUM_DIGITS)

    class ColumnValues(_ColumnLayer):
        """(batch, members, 2N+1, 10) readings -> (batch, members, N, 19), for training."""

        def call(self, readings):
            return column_values(readings, self.op)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:2], (input_shape[2] - 1) // 2, COLUMN_VALUES)

    return {"SlotReadings": SlotReadings, "CarryMarginals": CarryMarginals, "ColumnValues": ColumnValues}


def build_digit_reader(config: EncoderConfig | None = None, members: int = 1):
    """(batch, slots, 28, 28) images -> (batch, members, slots, 10) digit probabilities."""
    import keras

    inputs = keras.Input((None, *IMAGE_SHAPE), name="slots")
    votes = member_digit_probabilities(inputs, config or EncoderConfig(), members)
    return keras.Model(inputs, calc_layers()["SlotReadings"]()([inputs, *votes]), name=READER_NAME)


def build_calc_model(digits: int, op: str, reader):
    """Calculator: (batch, 2N+1, 28, 28) question -> (batch, N+1, 10) answer digits, units first.

    `reader` is a `build_digit_reader` model; calculators of any N may share one.
    """
    import keras

    inputs = keras.Input((2 * digits + 1, *IMAGE_SHAPE), name="question")
    answer = calc_layers()["CarryMarginals"](op, name=ANSWER_LAYER)(reader(inputs))
    return keras.Model(inputs, answer, name=CALC_MODEL_NAMES[op])


def calc_op(model) -> str | None:
    """"add" or "sub" for a calculator model, None for any other model."""
    return next((op for op, name in CALC_MODEL_NAMES.items() if name == model.name), None)


def calc_model_for(model, digits: int):
    """The same reader and operation as calculator `model`, for questions of `digits` digits."""
    return build_calc_model(digits, calc_op(model), model.get_layer(READER_NAME))


def column_trainer(model):
    """A view of calculator `model` giving each member's column values (see `answer_loss`)."""
    import keras

    op, question = calc_op(model), model.inputs[0]
    readings = model.get_layer(READER_NAME)(question)
    return keras.Model(question, calc_layers()["ColumnValues"](op)(readings))


def reading_view(model):
    """A view of calculator `model` giving its answer columns and each member's slot readings."""
    import keras

    question = keras.Input(model.inputs[0].shape[1:], name="question")
    readings = model.get_layer(READER_NAME)(question)
    return keras.Model(question, [model.get_layer(ANSWER_LAYER)(readings), readings])
