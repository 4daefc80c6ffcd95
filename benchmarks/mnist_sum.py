"""Images per second of the mnist-sum models on this CPU: training and prediction.

Compares the per-image CNN wrapped in Keras' own TimeDistributed (which loops over time steps
in Keras 3) with mlkit's ImagewiseTimeDistributed (which folds time into the batch), on random
uint8 sequences, so it needs no dataset. Run it alone, under the CPU lock:
    flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/mnist_sum.py > mnist-sum-bench.json
"""

import argparse
import json
import sys
import time

import numpy as np


def sum_model(wrapper: str, length: int):
    """The sum model, with Keras' TimeDistributed swapped in when `wrapper` is "keras"."""
    import keras

    from mlkit.models import mnist_sum

    model = mnist_sum.build_sum_model()
    if wrapper == "mlkit":
        return model
    encoder = model.get_layer("per_image_cnn").layer
    inputs = keras.Input((length, 28, 28))
    x = keras.layers.TimeDistributed(encoder)(inputs)
    for name in ("digit_probabilities", "sum_pooling", "digit_values"):
        x = model.get_layer(name)(x)
    return keras.Model(inputs, x)


def measure(model, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
    """Images per second of one training epoch and one prediction pass, after a warm-up.

    Training goes through mlkit.training.fit, so its images/s are the commands' own figure:
    training images per second of training steps.
    """
    from mlkit.training import FitOptions, fit

    model.compile("adam", "mse")
    images_per_sequence = x.shape[1]
    options = FitOptions(epochs=1, batch_size=batch_size, monitor="loss", quiet=True)
    fit(model, x[:batch_size * 2], y[:batch_size * 2], options=options)
    trained = fit(model, x, y, options=options, examples_per_epoch=len(x) * images_per_sequence)
    model.predict(x[:256], batch_size=256, verbose=0)
    started = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    predict = time.perf_counter() - started
    return {"train_images_per_second": trained.images_per_second,
            "predict_images_per_second": len(x) * images_per_sequence / predict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--batch-sizes", default="32,64")
    args = parser.parse_args()
    import keras

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.sequences, args.length, 28, 28), dtype=np.uint8)
    y = rng.uniform(0, 9 * args.length, args.sequences).astype("float32")
    rows = []
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        for wrapper in ("mlkit", "keras"):
            keras.utils.set_random_seed(0)
            row = {"wrapper": wrapper, "batch_size": batch_size, "length": args.length}
            row |= measure(sum_model(wrapper, args.length), x, y, batch_size)
            sys.stderr.write(f"{row}\n")
            rows.append(row)
    json.dump({"sequences": args.sequences, "results": rows}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
