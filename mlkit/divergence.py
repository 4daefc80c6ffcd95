"""Divergence: a run whose training loss left the finite numbers (NaN or infinity).

Such a model's weights have overflowed, so its predictions are whatever `argmax` makes of
infinite or NaN outputs (class 0 for a NaN row): about chance. A command shows this rather than
hiding it: the run is stopped at the first non-finite batch, flagged, and described in a note.
"""

import math
from dataclasses import dataclass


@dataclass
class Divergence:
    """Where a run's loss first stopped being finite, and how high it had climbed before."""

    loss: str  # "nan", "inf" or "-inf" (JSON has no spelling for the values themselves)
    batch: int  # training batches run, counted from 1 across epochs
    epoch: int  # the epoch it happened in, from 1
    largest_loss: float  # the highest finite running loss before it (Keras' mean over the epoch so far)

    def __repr__(self) -> str:
        return f"Divergence(loss={self.loss}, batch={self.batch}, epoch={self.epoch})"

    def describe(self) -> str:
        return (f"diverged: the training loss was {self.loss} at batch {self.batch} (epoch {self.epoch}) "
                f"after climbing to {self.largest_loss:.3g}; training stopped there")

    def to_dict(self) -> dict:
        return {"loss": self.loss, "batch": self.batch, "epoch": self.epoch, "largest_loss": self.largest_loss}


def divergence_watch(found: list[Divergence]):
    """A Keras callback that stops training at the first batch whose loss is not finite and
    appends a Divergence to `found` (training on would only carry the NaN through every weight)."""
    import keras

    class DivergenceWatch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.batch, self.epoch, self.largest = 0, 0, 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            self.batch += 1
            loss = (logs or {}).get("loss")
            if loss is None:
                return
            loss = float(loss)
            if math.isfinite(loss):
                self.largest = max(self.largest, loss)
            elif not found:
                found.append(Divergence(str(loss), self.batch, self.epoch, self.largest))
                self.model.stop_training = True

    return DivergenceWatch()
