"""A small decoder-only transformer for arithmetic strings, in built-in Keras layers only.

The model reads one sequence: the question (operands zero-padded to a fixed width, so each
digit has a fixed position) followed by the answer so far, and predicts every answer token
from the tokens before it (causal attention). Training feeds the true answer (teacher
forcing); answering runs it once per answer token, greedily (`greedy_answers`).

Safe-mode loading rules out custom layers, so two built-ins stand in for the usual pieces:
a frozen identity `Embedding` gives one-hot tokens, and one `EinsumDense` whose bias spans
(position, feature) is the token embedding plus a learned absolute position embedding.
`Cropping1D` keeps the positions that predict answer tokens, from the last block's
feed-forward layers on: the output is (batch, answer_tokens, tokens), the RNN's shape when the
model writes the answer alone.
"""

import numpy as np

from ..arithmetic import Task

BLOCK_PREFIX = "block_"  # layer names of the transformer blocks: how a saved model is recognised


def sequence_length(task: Task, answer_tokens: int) -> int:
    """Question tokens, then every answer token but the last (which nothing reads)."""
    return task.question_length + answer_tokens - 1


def build_transformer(task: Task, answer_tokens: int, d_model: int = 128, layers: int = 3, heads: int = 4,
                      answer_name: str = "answer"):
    """Token ids (batch, sequence_length) -> probabilities (batch, answer_tokens, tokens).

    Args:
        task: operator and digits, fixing the question length and the vocabulary.
        answer_tokens: tokens the model writes (the answer, after any working: models/seq2seq.py).
        d_model: width of every token's vector; the feed-forward layers are four times wider.
        layers: transformer blocks (pre-layer-norm: attention, then feed-forward).
        heads: attention heads; d_model must be a multiple of it.
        answer_name: name of the output layer (it records the answer order, see models/seq2seq.py).
    """
    import keras

    tokens, length = len(task.tokens), sequence_length(task, answer_tokens)
    inputs = keras.Input((length,), dtype="int32", name="sequence_ids")
    one_hot = keras.layers.Embedding(tokens, tokens, embeddings_initializer="identity", trainable=False,
                                     name="one_hot")(inputs)
    x = keras.layers.EinsumDense("btv,vd->btd", output_shape=(length, d_model), bias_axes="td",
                                 name="token_and_position")(one_hot)
    for index in range(1, layers + 1):
        answers_from = task.question_length - 1 if index == layers else None
        x = _block(x, d_model, heads, f"{BLOCK_PREFIX}{index}", answers_from)
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    outputs = keras.layers.Dense(tokens, activation="softmax", name=answer_name)(x)
    return keras.Model(inputs, outputs, name="seq2seq")


def _block(x, d_model: int, heads: int, name: str, answers_from: int | None = None):
    """One pre-layer-norm block; with `answers_from`, only positions from there on leave it.

    Nothing reads the last block's other positions, so cropping them before its feed-forward
    layers computes the same function for less work: its two feed-forward matmuls, two thirds
    of a block's, run on 4 of subtraction's 10 positions. The default `seq2seq --op sub` trained
    in 64 s instead of 72 s on average over seeds 0-3, run back to back (docs/seeds.md, row 7).
    """
    import keras

    h = keras.layers.LayerNormalization(name=f"{name}_attention_norm")(x)
    h = keras.layers.MultiHeadAttention(heads, d_model // heads, name=f"{name}_attention")(
        h, h, use_causal_mask=True)
    x = keras.layers.Add(name=f"{name}_attention_add")([x, h])
    if answers_from is not None:
        x = keras.layers.Cropping1D((answers_from, 0), name="answer_positions")(x)
    h = keras.layers.LayerNormalization(name=f"{name}_mlp_norm")(x)
    h = keras.layers.Dense(4 * d_model, activation="gelu", name=f"{name}_mlp_in")(h)
    h = keras.layers.Dense(d_model, name=f"{name}_mlp_out")(h)
    return keras.layers.Add(name=f"{name}_mlp_add")([x, h])


def teacher_forced(task: Task, question_ids: np.ndarray, answer_ids: np.ndarray) -> np.ndarray:
    """The training input: each question followed by its answer but the last token."""
    return np.concatenate([question_ids, answer_ids[:, :-1]], axis=1).astype(np.int32)


def greedy_answers(core, task: Task, question_ids: np.ndarray, answer_tokens: int,
                   batch_size: int = 2048) -> np.ndarray:
    """Answer token ids (count, answer_tokens), each token the most likely given those before.

    One forward pass per answer token; the causal mask means the not-yet-written positions
    (zeros here) cannot change the tokens already chosen.
    """
    count, start = len(question_ids), task.question_length
    sequence = np.zeros((count, sequence_length(task, answer_tokens)), dtype=np.int32)
    sequence[:, :start] = question_ids
    answers = np.zeros((count, answer_tokens), dtype=np.int32)
    for position in range(answer_tokens):
        probabilities = core.predict(sequence, batch_size=batch_size, verbose=0)
        answers[:, position] = probabilities[:, position].argmax(axis=-1)
        if position < answer_tokens - 1:
            sequence[:, start + position] = answers[:, position]
    return answers
