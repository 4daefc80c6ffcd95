"""Models for arithmetic strings: the encoder-decoder RNN (the Keras "addition RNN" design)
and, in models/transformer.py, a small decoder-only transformer.

Two models share their layers: the core (`build_seq2seq` or `build_transformer`) maps token ids
to per-position probabilities and is what trains (XLA-compilable); `build_string_model` puts a
TextVectorization layer in front. The saved file then carries all predict needs, in built-in
layers only (it loads in safe mode; a seed-recipe LSTM also names Keras 2's gate activation,
registered by mlkit): the vocabulary (hence the operator), the input and output
lengths (hence the digits), the architecture (transformer blocks or an RNN encoder), whether questions
are read reversed (the encoder's `go_backwards`) and the answer order (the output layer's name).
`answer_ids` is the one decoding that scoring and predict both use.
"""

import functools
from dataclasses import dataclass

import numpy as np

from ..arithmetic import MAX_DIGITS, Task
from ..errors import ConfigError, ModelError
from .keras2_gates import keras2_hard_sigmoid
from .transformer import BLOCK_PREFIX, build_transformer, greedy_answers, sequence_length

CELLS = ("lstm", "gru", "simple")
# How the LSTM and GRU gates open: Keras 3's logistic sigmoid, or Keras 2's hard sigmoid, which
# seed 001 trained with (models/keras2_gates.py).
GATES = ("sigmoid", "keras2")
ARCHS = ("transformer", "rnn")
ANSWER_ORDERS = ("lsb", "msb")
TOKENIZER_NAME = "question_tokens"
CORE_NAME = "seq2seq"
ENCODER_NAME = "encoder_1"
ANSWER_NAMES = {"msb": "answer", "lsb": "answer_lsb_first"}  # the output layer's name records the order


@dataclass(frozen=True)
class Seq2SeqSpec:
    """How a model reads questions and writes answers; read back from a saved model's layers."""

    task: Task
    arch: str = "rnn"
    answer_order: str = "msb"
    reverse: bool = False

    def __repr__(self) -> str:
        return (f"Seq2SeqSpec(op={self.task.op!r}, digits={self.task.digits}, arch={self.arch!r}, "
                f"answer_order={self.answer_order!r}, reverse={self.reverse})")

    @property
    def padded(self) -> bool:
        """Operands zero-padded to a fixed width: the transformer's question format."""
        return self.arch == "transformer"

    @property
    def blocks(self) -> int:
        """Numbers the model writes: the transformer multiplies a*b by writing a*(b mod 10),
        a*(b mod 100), ... up to a*b (its working, one digit of b more each time); else 1."""
        return self.task.digits if self.arch == "transformer" and self.task.op == "mul" else 1

    @property
    def answer_tokens(self) -> int:
        return self.blocks * self.task.answer_length

    @property
    def input_length(self) -> int:
        if self.arch == "transformer":
            return sequence_length(self.task, self.answer_tokens)
        return self.task.question_length


def _cell(name: str):
    import keras

    return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}[name]


def build_seq2seq(task: Task, cell: str = "gru", units: int = 128, layers: int = 1,
                  reverse: bool = True, embedding_dim: int | None = 32, answer_order: str = "msb",
                  gates: str = "sigmoid"):
    """Token ids (batch, question_length) -> probabilities (batch, answer_length, tokens).

    Args:
        task: operator and digits, fixing the sequence lengths and vocabulary.
        cell: "lstm", "gru" or "simple".
        units: hidden units of every recurrent layer.
        layers: recurrent layers in the encoder and again in the decoder.
        reverse: the encoder reads the question backwards (Sutskever et al. 2014), which
            puts the last digits, where arithmetic starts, next to the answer.
        embedding_dim: size of the learned character vectors; None: one-hot characters (a
            frozen identity embedding), as the Keras example and seed 001 fed them.
        answer_order: "msb" or "lsb" (least-significant digit first); names the output layer.
        gates: the LSTM or GRU gate activation, one of GATES (a simple RNN has no gates).
    """
    import keras

    if cell not in CELLS:
        raise ModelError(f"unknown cell {cell!r}; use one of {', '.join(CELLS)}.")
    if gates not in GATES:
        raise ModelError(f"unknown gates {gates!r}; use one of {', '.join(GATES)}.")
    recurrent = _cell(cell)
    if gates == "keras2" and cell != "simple":
        recurrent = functools.partial(recurrent, recurrent_activation=keras2_hard_sigmoid())
    inputs = keras.Input((task.question_length,), dtype="int32", name="question_ids")
    tokens = len(task.tokens)
    if embedding_dim is None:
        x = keras.layers.Embedding(tokens, tokens, embeddings_initializer="identity", trainable=False,
                                   name="one_hot")(inputs)
    else:
        x = keras.layers.Embedding(tokens, embedding_dim, name="embedding")(inputs)
    for index in range(layers):
        x = recurrent(units, return_sequences=index < layers - 1,
                      go_backwards=reverse and index == 0, name=f"encoder_{index + 1}")(x)
    x = keras.layers.RepeatVector(task.answer_length, name="repeat")(x)
    for index in range(layers):
        x = recurrent(units, return_sequences=True, name=f"decoder_{index + 1}")(x)
    outputs = keras.layers.Dense(tokens, activation="softmax", name=ANSWER_NAMES[answer_order])(x)
    return keras.Model(inputs, outputs, name=CORE_NAME)


def build_core(spec: Seq2SeqSpec, settings: dict):
    """The trainable model for `spec`: `settings` are build_seq2seq's or build_transformer's own."""
    answer_name = ANSWER_NAMES[spec.answer_order]
    if spec.arch == "transformer":
        return build_transformer(spec.task, spec.answer_tokens, answer_name=answer_name, **settings)
    if spec.arch != "rnn":
        raise ModelError(f"unknown architecture {spec.arch!r}; use one of {', '.join(ARCHS)}.")
    return build_seq2seq(spec.task, reverse=spec.reverse, answer_order=spec.answer_order, **settings)


def build_string_model(core, spec: Seq2SeqSpec):
    """Wrap `core` so it takes question strings (batch,) such as "123-45" (transformer: "123-045").

    The RNN's output is its answer; the transformer's is one step of `answer_ids` (the answer
    tokens given those before, here none), so predict decodes through `answer_ids`.
    """
    import keras

    inputs = keras.Input((), dtype="string", name="question")
    tokenizer = keras.layers.TextVectorization(
        standardize=None, split="character", output_mode="int",
        output_sequence_length=spec.input_length, vocabulary=spec.task.characters,
        name=TOKENIZER_NAME)
    return keras.Model(inputs, core(tokenizer(inputs)), name="seq2seq_strings")


def answer_ids(core, spec: Seq2SeqSpec, question_ids: np.ndarray) -> np.ndarray:
    """The model's answers as token ids (count, answer_length) in its own order, its working
    left out: what scoring and predict both decode."""
    if spec.arch == "transformer":
        written = greedy_answers(core, spec.task, question_ids, spec.answer_tokens)
    else:
        written = core.predict(question_ids, batch_size=1024, verbose=0).argmax(axis=-1)
    return written[:, -spec.task.answer_length:]


def read_spec(model) -> Seq2SeqSpec:
    """How the string model from `build_string_model` reads questions and writes answers."""
    try:
        tokenizer = model.get_layer(TOKENIZER_NAME)
        core = model.get_layer(CORE_NAME)
        vocabulary = tokenizer.get_vocabulary()
    except (ValueError, AttributeError) as error:
        raise ModelError("this model was not saved by `mlkit seq2seq --save`; "
                         "train one with it first.") from error
    names = [layer.name for layer in core.layers]
    arch = "transformer" if any(name.startswith(BLOCK_PREFIX) for name in names) else "rnn"
    order = next((key for key, name in ANSWER_NAMES.items() if name in names), None)
    encoder = next((layer for layer in core.layers if layer.name == ENCODER_NAME), None)
    reverse = bool(getattr(encoder, "go_backwards", False))
    length = tokenizer.get_config().get("output_sequence_length")
    shape = tuple(model.output_shape[1:])
    for digits in range(1, MAX_DIGITS + 1):
        try:  # a damaged or altered file is a problem with the model, not with the command line
            spec = Seq2SeqSpec(Task.from_tokens(vocabulary, digits), arch, order or "msb", reverse)
        except ConfigError as error:
            raise ModelError(f"this model's question tokenizer does not describe an arithmetic task: {error}") from error
        if order and (encoder or arch == "transformer") and length == spec.input_length and \
                shape == (spec.answer_tokens, len(spec.task.tokens)):
            return spec
    raise ModelError(f"this model reads {length} tokens and writes {shape}: no {arch} that "
                     f"`mlkit seq2seq --save` writes does; it is damaged or altered.")
