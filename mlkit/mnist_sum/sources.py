"""Where a run's sequences come from: a sequence file given as --data, or fresh draws from a
digit dataset (mnist, or an mlkit HDF5 image dataset), split so no test digit is seen in training."""

from pathlib import Path

import numpy as np

from ..data import is_hdf5_path, load_data, load_dataset_file
from ..record import data_block, file_sha256
from .sampling import ImagePool, split_pool
from .storage import SequenceData, is_sequence_file, load_sequences


def prepare_sequences(options, task: str, make) -> tuple[SequenceData, ImagePool, dict]:
    """Read a sequence file given as --data, or sample fresh splits from a digit dataset.

    Args:
        options: the run's settings (mlkit.experiments.mnist_sum.SequenceOptions): data,
            data_dir, the three sequence counts, validation_fraction and seed.
        task: "sum" or "calc"; a sequence file must hold this task's sequences.
        make: (pool, count, rng) -> SequenceSet for this task.
    Returns:
        The sequences, the pool of test images further test sets can be drawn from, and the
        record's `data` block (name, source, fingerprint, sequences per split and length).
    """
    if is_hdf5_path(options.data) and is_sequence_file(options.data):
        data = load_sequences(options.data, task)
        block = data_block(Path(options.data).name, options.data, file_sha256(options.data), **_counts(data))
        return data, ImagePool.from_sequences(data.test), block
    if is_hdf5_path(options.data):
        dataset = load_dataset_file(options.data)
    else:
        dataset = load_data(options.data, options.data_dir)
    train_pool, validation_pool = split_pool(ImagePool(dataset.x_train, dataset.y_train),
                                             options.validation_fraction, options.seed)
    test_pool = ImagePool(dataset.x_test, dataset.y_test)
    rng = np.random.default_rng(options.seed)
    data = SequenceData(make(train_pool, options.train_sequences, rng),
                        make(validation_pool, options.validation_sequences, rng),
                        make(test_pool, options.test_sequences, rng), source=dataset.source or dataset.name)
    block = data_block(dataset.name, dataset.source or None, dataset.fingerprint(), **_counts(data))
    return data, test_pool, block


def _counts(data: SequenceData) -> dict:
    """Sequences per split and their length: the `data` block's details."""
    return {key: value for key, value in data.summary().items() if key not in ("source", "op", "digits")}
