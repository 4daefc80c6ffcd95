"""mnist-sum benchmarks: the models' images per second on this CPU, and the calculator beside
the published MNIST-addition figures.

Throughput (the default) compares the per-image CNN wrapped in Keras' own TimeDistributed (which
loops over time steps in Keras 3) with mlkit's ImagewiseTimeDistributed (which folds time into
the batch), on random uint8 sequences, so it needs no dataset. Run it alone, under the CPU lock:
    flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/mnist_sum.py > mnist-sum-bench.json

`--calc-records` turns the JSON records of `mlkit mnist-sum calc --benchmark-digits 1,2,4,15
--json` into a table of exact matches on questions of exactly N digits per operand (the
benchmark's questions), beside the published figures; each record's reader answers every N:
    .venv/bin/python benchmarks/mnist_sum.py --calc-records calc4.json calc15.json
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


# Exact match on two N-digit operands (issue 20's anchors): DeepProofLog (AAAI 2026), A-NeSI,
# and the bound a digit classifier of 99.07% accuracy reaches (every one of 2N digits right).
PUBLISHED = {
    1: {},
    2: {},
    4: {"DeepProofLog": 0.940, "A-NeSI": 0.9256, "bound 99.07%": 0.929},
    15: {"DeepProofLog": 0.808, "A-NeSI": 0.7684, "bound 99.07%": 0.758},
}


def calc_table(paths: list[str]) -> list[dict]:
    """One row per benchmark N per record: our exact match and digit accuracy, the published figures."""
    rows = []
    for path in paths:
        with open(path) as handle:
            record = json.load(handle)
        config = record["config"]
        for evaluation in record["evaluations"]:
            if evaluation.get("operands") != "N digits":
                continue
            digits = evaluation["digits"]
            rows.append({"trained_digits": config["digits"], "digits": digits,
                         "questions": evaluation["questions"], "exact_match": evaluation["exact_match"],
                         "digit_accuracy": evaluation["digit_accuracy"],
                         "bound_of_our_digits": evaluation["digit_accuracy"] ** (2 * digits),
                         "wall_seconds": record["metrics"]["wall_seconds"]} | PUBLISHED.get(digits, {}))
    return rows


def throughput(args) -> dict:
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
    return {"sequences": args.sequences, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--batch-sizes", default="32,64")
    parser.add_argument("--calc-records", nargs="+", help="JSON records of `mnist-sum calc --json` to tabulate")
    args = parser.parse_args()
    if args.calc_records:
        document = {"calc": calc_table(args.calc_records)}
    else:
        document = throughput(args)
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
