"""tf.data pipelines that run without tf.data's autotuning.

With autotuning on, freeing each epoch's iterator waits for tf.data's autotune thread to leave
a timed wait, and on this project's 2-core machine that froze training for 20-25 s at about
every other epoch start (gdb: the main thread in ~RootDataset::Iterator, the autotune thread in
Model::OptimizeLoop): a third of network d's 45 s epoch, a fifth of seq2seq's. Keras' own
pipeline for arrays autotunes, so `fit` hands Keras `array_batches` instead, and the image
pipelines (mlkit.augmentation) end in `without_autotuning`.

Keras' array pipeline has a second fault that `array_batches` avoids: once a run is seeded
(`keras.utils.set_random_seed`, as every mlkit run is), its shuffle restarts from the same
seed each epoch, so every epoch deals the batches in one order. Fashion-MNIST's seed preset
(batch 16, 20 epochs) ended at val 0.879 and 0.871 (seeds 0, 1) fed so, and at 0.890 and
0.887 reshuffled each epoch, the seed notebook's Keras 2 figure being 0.894.
"""

# Batches prepared in parallel and ahead, fixed rather than autotuned: two map workers and two
# batches ahead keep the 2 cores fed.
PARALLEL_BATCHES = 2


def without_autotuning(dataset):
    """`dataset` prefetching PARALLEL_BATCHES batches, with tf.data's autotuning off."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(PARALLEL_BATCHES).with_options(options)


def array_batches(x, y, batch_size: int, shuffle: bool):
    """Arrays (or a dict, list or tuple of them, as Keras takes them) as a tf.data pipeline of
    (x, y) batches, what Keras' array adapter builds but without autotuning: each pass gathers
    the batches from one permutation of the rows (a new one every pass when `shuffle`), and
    floating arrays are cast to Keras' float type as Keras casts them."""
    import keras
    import numpy as np
    import tensorflow as tf

    def tensor(array):
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.dtype != keras.backend.floatx():
            array = array.astype(keras.backend.floatx())
        return tf.constant(array)

    data = tf.nest.map_structure(tensor, x if y is None else (x, y))
    rows = int(tf.nest.flatten(data)[0].shape[0])
    order = tf.data.Dataset.range(rows)
    if shuffle:
        order = order.shuffle(rows, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(lambda rows: tf.nest.map_structure(lambda a: tf.gather(a, rows), data),
                                          num_parallel_calls=PARALLEL_BATCHES)
    options = tf.data.Options()  # graph rewrites would serialize the captured arrays each pass, as Keras notes
    options.experimental_optimization.apply_default_optimizations = False
    return without_autotuning(batches.with_options(options))


def is_arrays(data) -> bool:
    """Whether `data` is what `array_batches` takes: an array, or a dict, list or tuple of them."""
    import numpy as np

    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, (list, tuple)):
        return bool(data) and all(isinstance(item, np.ndarray) for item in data)
    return isinstance(data, np.ndarray)
