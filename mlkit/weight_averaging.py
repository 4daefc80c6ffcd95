"""Lookahead weight averaging, as airbench94 trains: every few steps, an average of the weights
moves toward the current ones and the network restarts from that average.

The average's decay grows with the cube of the share of training done (0 at the start, so the
network is left alone early; 0.95^5 at the end), and the run ends on the average. Batch
norm's moving statistics are averaged too, as the reference averages every float tensor.
"""

LOOKAHEAD_DECAY = 0.95 ** 5


def lookahead_decay(step: int, total_steps: int) -> float:
    """How much of the old average is kept at `step` of `total_steps`."""
    return LOOKAHEAD_DECAY * min(1.0, step / total_steps) ** 3


def lookahead(model, every: int, total_steps: int):
    """A Keras callback averaging `model`'s weights every `every` training steps.

    Args:
        every: steps between updates (the reference uses 5).
        total_steps: the steps of the whole run, which the decay's schedule spans.
    """
    import keras

    class Lookahead(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step = 0
            self.weights = [weight for weight in model.weights if "float" in str(weight.dtype)]
            # From a NumPy copy: a Variable made from another's value can share its storage.
            self.average = [keras.Variable(keras.ops.convert_to_numpy(weight), trainable=False)
                            for weight in self.weights]

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every == 0:
                self._update(lookahead_decay(self.step, total_steps))

        def on_train_end(self, logs=None):
            # The steps since the last update count too (the reference drops them), so a run
            # shorter than `every` steps does not end where it started.
            if self.step % every:
                self._update(lookahead_decay(self.step, total_steps))

        def _update(self, decay: float) -> None:
            for weight, average in zip(self.weights, self.average):
                average.assign(average.value + (1 - decay) * (weight.value - average.value))
                weight.assign(average.value)

    return Lookahead()
