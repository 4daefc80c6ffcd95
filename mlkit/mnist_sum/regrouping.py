"""Training batches of sum sequences that are dealt anew every epoch.

With sums as the only labels, a CNN can fit a fixed set of sequences without reading every
image right (an error in one image offset by another in the same sequence). Regrouping the same
training images into new sequences every epoch takes that shortcut away, and costs nothing: the
images and their count stay those of the training set (and of its --export-data file).
"""

import keras
import numpy as np

from .storage import SequenceSet


class RegroupedSums(keras.utils.PyDataset):
    """(images, sum) batches: the first epoch in the stored order, later ones regrouped.

    Args:
        sequences: a "sum" SequenceSet; its images are dealt into sequences of the same length.
        batch_size: sequences per batch.
        seed: seeds the regrouping, so a run repeats exactly.
    """

    def __init__(self, sequences: SequenceSet, batch_size: int, seed: int = 0):
        super().__init__()
        count, self.length = sequences.slots.shape
        self.images = sequences.x.reshape(count * self.length, *sequences.x.shape[2:])
        self.digits = sequences.slots.reshape(-1)
        self.count, self.batch_size = count, batch_size
        self.order = np.arange(len(self.digits))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-self.count // self.batch_size)

    def __getitem__(self, index: int):
        start = index * self.batch_size * self.length
        rows = self.order[start:start + self.batch_size * self.length]
        images = self.images[rows].reshape(-1, self.length, *self.images.shape[1:])
        sums = self.digits[rows].reshape(-1, self.length).sum(axis=1).astype("int32")
        return images, sums

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.digits))
