"""Images/s and time-to-accuracy of `mlkit cifar`'s fast recipe against the seed's, side by side.

Trains network d (or --arch) with both recipes on the same data and prints, per recipe: training
images per second (training steps only), the best test-split accuracy (the split each epoch is
validated on, as in seed 001), and the wall seconds at which it first reached each target. Run
it under the CPU lock:

    MLKIT_DATA_DIR=../shared/data flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/cifar.py \
        --seed-epochs 10 --fast-epochs 8 --out cifar-benchmark.json
"""

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlkit.experiments.cifar import CifarConfig, run  # noqa: E402
from mlkit.files import write_text  # noqa: E402
from mlkit.results import to_jsonable  # noqa: E402

TARGETS = (0.6, 0.7, 0.8, 0.85)


def seconds_to_reach(target: float, accuracies: list[float], elapsed: list[float]) -> float | None:
    """Wall seconds at the end of the first epoch whose test-split accuracy reached `target`."""
    return next((seconds for accuracy, seconds in zip(accuracies, elapsed) if accuracy >= target), None)


def measure(recipe: str, args) -> dict:
    config = CifarConfig(arch=args.arch, recipe=recipe, data_dir=os.environ.get("MLKIT_DATA_DIR"),
                         epochs=getattr(args, f"{recipe}_epochs"), subset=args.subset, patience=0,
                         seed=args.seed, quiet=args.quiet)
    result = run(config).runs[0]
    outcome = result.outcome
    accuracies = outcome.history.epochs["val_accuracy"]  # Keras' name: here the test split
    elapsed = list(itertools.accumulate(outcome.epoch_seconds))
    return {"recipe": recipe, "arch": result.arch, "epochs": outcome.epochs,
            "images_per_second": outcome.images_per_second, "train_seconds": outcome.train_seconds,
            "seconds": result.wall_seconds, "best_test_accuracy": result.test_accuracy,
            "test_accuracy": accuracies, "elapsed": elapsed,
            "seconds_to": {str(t): seconds_to_reach(t, accuracies, elapsed) for t in TARGETS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="d")
    parser.add_argument("--seed-epochs", type=int, default=10)
    parser.add_argument("--fast-epochs", type=int, default=8)
    parser.add_argument("--subset", type=int, default=None, help="train on this many images (quick check)")
    parser.add_argument("--recipes", default="fast,seed", help="comma-separated recipes to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    rows = [measure(recipe, args) for recipe in args.recipes.split(",")]
    header = f"{'recipe':8}{'epochs':>8}{'images/s':>10}{'best test':>10}{'seconds':>9}" + "".join(
        f"{'t@' + str(t):>9}" for t in TARGETS)
    print(header)
    for row in rows:
        reached = "".join(f"{row['seconds_to'][str(t)] or float('nan'):>9.0f}" for t in TARGETS)
        print(f"{row['recipe']:8}{row['epochs']:>8}{row['images_per_second']:>10.0f}"
              f"{row['best_test_accuracy']:>10.4f}{row['seconds']:>9.0f}{reached}")
    if args.out:
        write_text(args.out, json.dumps(to_jsonable(rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
