"""Images/s, GFLOP/s and time-to-accuracy of `mlkit cifar`'s recipes side by side, on one machine.

Trains, one after the other on the same data: network d with the seed's recipe, network d with
the fast recipe in float32 and in mixed bfloat16, and airbench94's network with its recipe. It
first measures this machine's convolution peak (one 3x3 convolution, batch 128, 32x32, 64
channels, forward and backward, in float32 and bfloat16), then reports per run: training
images per second, the training GFLOP/s that implies (3 x the forward multiply-adds x 2 of the
convolutions and dense layers) and its share of the peak, and the wall seconds at which the
test-split accuracy first reached each target: the end of the first epoch whose model reached it,
or the run's end when only the final score did (airbench's curve is of its network without the
test-time views, which only its final score has). Nothing is chosen by these accuracies. Run it
under the CPU lock:

    MLKIT_DATA_DIR=../shared/data flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/cifar.py \
        --epochs 1 --subset 10000 --out cifar-benchmark.json
"""

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlkit.files import write_text  # noqa: E402
from mlkit.image_training import TrainPlan, load_images, train_network  # noqa: E402
from mlkit.network_start import new_network  # noqa: E402
from mlkit.precision import dtype_policy  # noqa: E402
from mlkit.recipes import RECIPES  # noqa: E402
from mlkit.results import to_jsonable  # noqa: E402
from mlkit.training import set_seed  # noqa: E402

TARGETS = (0.80, 0.85, 0.90, 0.93, 0.94)
RUNS = {  # name: (network, recipe, precision)
    "d-seed": ("d", "seed", "float32"),
    "d-fast-f32": ("d", "fast", "float32"),
    "d-fast-bf16": ("d", "fast", "bfloat16"),
    "airbench": ("airbench", "airbench", "auto"),
}
PEAK_SHAPE = (128, 32, 32, 64)  # batch, height, width, channels in and out


def convolution_peak(precision: str, repeats: int = 10) -> float:
    """GFLOP/s of one 3x3 convolution, forward and backward (input and filter gradients)."""
    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    batch, height, width, channels = PEAK_SHAPE
    images = tf.random.normal(PEAK_SHAPE, dtype=tf.float32)
    kernel = tf.Variable(tf.random.normal((3, 3, channels, channels)) * 0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(images)
            out = tf.nn.conv2d(tf.cast(images, dtype), tf.cast(kernel, dtype), 1, "SAME")
            loss = tf.reduce_sum(tf.cast(out, tf.float32))
        return tape.gradient(loss, [images, kernel])

    step()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    seconds = (time.perf_counter() - started) / repeats
    return 3 * 2 * batch * height * width * 9 * channels * channels / seconds / 1e9


def training_flops_per_image(model) -> float:
    """3 x the forward FLOPs (2 per multiply-add) of every Conv2D and Dense layer, nested ones too."""
    total = 0.0
    for layer in model.layers:
        if hasattr(layer, "layers"):
            total += training_flops_per_image(layer) / 3
        elif layer.__class__.__name__ == "Conv2D":
            height, width, filters = layer.output.shape[1:]
            kernel_height, kernel_width = layer.kernel_size
            total += 2 * height * width * kernel_height * kernel_width * layer.input.shape[-1] * filters
        elif layer.__class__.__name__ == "Dense":
            total += 2 * layer.input.shape[-1] * layer.units
    return 3 * total


def seconds_to_reach(target: float, accuracies: list[float], elapsed: list[float],
                     final_accuracy: float, final_seconds: float) -> float | None:
    """Seconds at the end of the first epoch whose test-split accuracy reached `target`, else
    the run's end when only its final score did (airbench's test-time views are in that score
    only), else None."""
    scores = zip([*accuracies, final_accuracy], [*elapsed, final_seconds])
    return next((seconds for accuracy, seconds in scores if accuracy >= target), None)


def measure(name: str, data, args, peaks: dict[str, float]) -> dict:
    arch, recipe_name, precision = RUNS[name]
    recipe = RECIPES[recipe_name]
    set_seed(args.seed)
    start = new_network(arch, data, recipe, dtype_policy(precision))
    epochs = args.epochs or recipe.epochs
    plan = TrainPlan(label=name, epochs=epochs, batch_size=recipe.batch_size, patience=0, seed=args.seed,
                     augmentation=recipe.augmentation, quiet=args.quiet, budget_seconds=args.budget_seconds,
                     test_curves=True)  # the time to each accuracy needs every epoch's test score
    run = train_network(start, data, recipe, plan)
    outcome = run.outcome
    accuracies = outcome.history.epochs["val_accuracy"]  # Keras' name: here the test split
    elapsed = list(itertools.accumulate(outcome.epoch_seconds))
    gflops = training_flops_per_image(start.model) * outcome.images_per_second / 1e9
    row = {"run": name, "arch": run.arch, "recipe": recipe_name, "precision": run.precision,
           "epochs": outcome.epochs_run, "images_per_second": outcome.images_per_second, "gflops": gflops,
           "peak_share": gflops / peaks[run.precision], "train_seconds": outcome.train_seconds,
           "seconds": run.wall_seconds, "final_test_accuracy": run.test_accuracy, "test_accuracy": accuracies,
           "elapsed": elapsed,
           "seconds_to": {str(t): seconds_to_reach(t, accuracies, elapsed, run.test_accuracy, run.wall_seconds)
                          for t in TARGETS}}
    print(format_row(row), flush=True)
    return row


def format_row(row: dict) -> str:
    reached = "".join(f"{row['seconds_to'][str(t)] or float('nan'):>7.0f}" for t in TARGETS)
    return (f"{row['run']:12}{row['precision']:>9}{row['epochs']:>4}{row['images_per_second']:>8.0f}"
            f"{row['gflops']:>8.0f}{row['peak_share']:>6.0%}{row['final_test_accuracy']:>8.4f}"
            f"{row['seconds']:>8.0f}{reached}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {', '.join(RUNS)}")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every run (default: each recipe's)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="end each run after the first epoch past this many training seconds")
    parser.add_argument("--subset", type=int, default=None, help="train on this many images (quick check)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    peaks = {precision: convolution_peak(precision) for precision in ("float32", "bfloat16")}
    print("convolution peak (3x3, 128x32x32x64, forward + backward): "
          + ", ".join(f"{precision} {gflops:.0f} GFLOP/s" for precision, gflops in peaks.items()), flush=True)
    data = load_images("cifar10", os.environ.get("MLKIT_DATA_DIR"), args.subset, args.seed)
    print(f"{'run':12}{'prec':>9}{'ep':>4}{'img/s':>8}{'GFLOP/s':>8}{'peak':>6}{'test':>8}{'seconds':>8}"
          + "".join(f"{'t@' + str(t):>7}" for t in TARGETS))
    rows = [measure(name, data, args, peaks) for name in args.runs.split(",")]
    if args.out:
        write_text(args.out, json.dumps(to_jsonable({"peak_gflops": peaks, "runs": rows}), indent=2) + "\n")


if __name__ == "__main__":
    main()
