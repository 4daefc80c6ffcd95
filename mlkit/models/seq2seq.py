"""Encoder-decoder RNNs for arithmetic strings (the Keras "addition RNN" design).

Two models share their layers: `build_seq2seq` maps token ids to per-position probabilities
and is what trains (XLA-compilable); `build_string_model` puts a TextVectorization layer in
front so the saved file reads raw question strings. That file then carries all predict needs,
in built-in layers only (it loads in safe mode): the vocabulary and question length (the
TextVectorization config, hence the operator and the digits), whether questions are read
reversed (the encoder's `go_backwards`) and the answer length (the RepeatVector).
"""

from dataclasses import dataclass

from ..arithmetic import Task
from ..errors import ConfigError, ModelError

CELLS = ("lstm", "gru", "simple")
TOKENIZER_NAME = "question_tokens"
ENCODER_NAME = "encoder_1"


@dataclass(frozen=True)
class Seq2SeqSpec:
    """What a saved model was trained on, read back from its layers."""

    task: Task
    reverse: bool

    def __repr__(self) -> str:
        return f"Seq2SeqSpec(op={self.task.op!r}, digits={self.task.digits}, reverse={self.reverse})"


def _cell(name: str):
    import keras

    return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}[name]


def build_seq2seq(task: Task, cell: str = "gru", units: int = 128, layers: int = 1,
                  reverse: bool = True, embedding_dim: int = 32):
    """Token ids (batch, question_length) -> probabilities (batch, answer_length, tokens).

    Args:
        task: operator and digits, fixing the sequence lengths and vocabulary.
        cell: "lstm", "gru" or "simple".
        units: hidden units of every recurrent layer.
        layers: recurrent layers in the encoder and again in the decoder.
        reverse: the encoder reads the question backwards (Sutskever et al. 2014), which
            puts the last digits, where arithmetic starts, next to the answer.
        embedding_dim: size of the learned character vectors.
    """
    import keras

    if cell not in CELLS:
        raise ModelError(f"unknown cell {cell!r}; use one of {', '.join(CELLS)}.")
    recurrent = _cell(cell)
    inputs = keras.Input((task.question_length,), dtype="int32", name="question_ids")
    x = keras.layers.Embedding(len(task.tokens), embedding_dim, name="embedding")(inputs)
    for index in range(layers):
        x = recurrent(units, return_sequences=index < layers - 1,
                      go_backwards=reverse and index == 0, name=f"encoder_{index + 1}")(x)
    x = keras.layers.RepeatVector(task.answer_length, name="repeat")(x)
    for index in range(layers):
        x = recurrent(units, return_sequences=True, name=f"decoder_{index + 1}")(x)
    outputs = keras.layers.Dense(len(task.tokens), activation="softmax", name="answer")(x)
    return keras.Model(inputs, outputs, name="seq2seq")


def build_string_model(core, task: Task):
    """Wrap `core` so it takes question strings (batch,) such as "123-45"."""
    import keras

    inputs = keras.Input((), dtype="string", name="question")
    tokenizer = keras.layers.TextVectorization(
        standardize=None, split="character", output_mode="int",
        output_sequence_length=task.question_length, vocabulary=task.characters,
        name=TOKENIZER_NAME)
    return keras.Model(inputs, core(tokenizer(inputs)), name="seq2seq_strings")


def read_spec(model) -> Seq2SeqSpec:
    """What the string model from `build_string_model` was trained on."""
    try:
        tokenizer = model.get_layer(TOKENIZER_NAME)
        encoder = model.get_layer("seq2seq").get_layer(ENCODER_NAME)
    except (ValueError, AttributeError) as error:
        raise ModelError("this model was not saved by `mlkit seq2seq --save`; "
                         "train one with it first.") from error
    length = tokenizer.get_config().get("output_sequence_length")
    try:  # a damaged or altered file is a problem with the model, not with the command line
        task = Task.from_tokens(tokenizer.get_vocabulary(), length if isinstance(length, int) else 0)
    except ConfigError as error:
        raise ModelError(f"this model's question tokenizer does not describe an arithmetic task: {error}") from error
    if tuple(model.output_shape[1:]) != (task.answer_length, len(task.tokens)):
        raise ModelError(f"this model answers in shape {model.output_shape[1:]}, not the "
                         f"{(task.answer_length, len(task.tokens))} its tokenizer implies; it is damaged or altered.")
    return Seq2SeqSpec(task, bool(getattr(encoder, "go_backwards", False)))
