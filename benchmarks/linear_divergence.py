"""Why seed 004's linear model diverges on today's Keras: the evidence behind the note that
`mlkit depth-study --models linear --recipe seed` prints.

Trains the seed's setup (Dense 10 from zeros, then Dense 10 softmax; SGD 0.5, batch 100, no
clipping) on MNIST once per seed, with two cross-entropies: today's Keras one, which takes a
softmax output's logits, and Keras 2.2's, which renormalised the probabilities and clipped them
to [1e-7, 1 - 1e-7] before the log (so a saturated example gives no gradient). With
`--raw-pixels` the model sees 0-255 pixels instead of the seed's pixels / 255. Reports per run
the batch where the loss first overflowed (inf or NaN) and the highest loss before it (or, for a run that stayed
finite, its last epoch's loss) and the last epoch's test accuracy. Run it under the CPU lock:

    MLKIT_DATA_DIR=../shared/data flock /tmp/mlkit-cpu.lock .venv/bin/python \\
        benchmarks/linear_divergence.py --seeds 0,1 --out linear-divergence.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlkit.data import load_data  # noqa: E402
from mlkit.depth_plans import LINEAR_LEARNING_RATE, SEED_EPOCHS  # noqa: E402
from mlkit.divergence import divergence_watch  # noqa: E402
from mlkit.files import write_text  # noqa: E402
from mlkit.models.mlp import build_linear  # noqa: E402
from mlkit.models.pixels import PIXEL_MAX  # noqa: E402
from mlkit.training import FitOptions, fit, set_seed  # noqa: E402

BATCH_SIZE = 100
KERAS2_EPSILON = 1e-7  # Keras 2's backend epsilon, the clip bound of its cross-entropy
LOSSES = ("keras3", "keras2")


def keras2_crossentropy(labels, probabilities):
    """Keras 2.2's cross-entropy of integer labels under softmax outputs: renormalised, clipped, -log."""
    from keras import ops

    probabilities = probabilities / ops.sum(probabilities, axis=-1, keepdims=True)
    probabilities = ops.clip(probabilities, KERAS2_EPSILON, 1 - KERAS2_EPSILON)
    one_hot = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), ops.shape(probabilities)[-1])
    return -ops.sum(one_hot * ops.log(probabilities), axis=-1)


def train_once(dataset, seed: int, loss: str, raw_pixels: bool, epochs: int) -> dict:
    """One run of the seed's linear model; the figures this benchmark reports."""
    import keras

    set_seed(seed)
    model = build_linear(dataset.input_shape, dataset.num_classes)
    model.compile(optimizer=keras.optimizers.SGD(LINEAR_LEARNING_RATE),
                  loss=keras2_crossentropy if loss == "keras2" else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # The model divides by 255 itself, so feeding pixels x 255 hands its Dense layer raw 0-255 values.
    scale = PIXEL_MAX if raw_pixels else 1.0
    x_train, x_test = dataset.x_train * scale, dataset.x_test * scale
    found = []
    outcome = fit(model, x_train.astype("float32"), dataset.y_train,
                  options=FitOptions(epochs=epochs, batch_size=BATCH_SIZE, quiet=True),
                  validation=(x_test.astype("float32"), dataset.y_test), callbacks=[divergence_watch(found)])
    divergence = found[0] if found else None
    return {"seed": seed, "loss": loss, "raw_pixels": raw_pixels,
            "diverged": divergence.to_dict() if divergence else None,
            "last_epoch_loss": None if divergence else outcome.last("loss"), "epochs_run": outcome.epochs_run,
            "test_accuracy": outcome.last("val_accuracy"), "train_seconds": outcome.train_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated --seed values")
    parser.add_argument("--losses", default=",".join(LOSSES), help="keras3 (today's), keras2 (clipped) or both")
    parser.add_argument("--raw-pixels", action="store_true", help="train on 0-255 pixels, not pixels / 255")
    parser.add_argument("--epochs", type=int, default=SEED_EPOCHS["linear"])
    parser.add_argument("--out", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    dataset = load_data("mnist")
    rows = []
    for loss in args.losses.split(","):
        for seed in map(int, args.seeds.split(",")):
            rows.append(train_once(dataset, seed, loss, args.raw_pixels, args.epochs))
            print(json.dumps(rows[-1]), flush=True)
    if args.out:
        write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
