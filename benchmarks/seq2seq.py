"""Time to 99% exact match on subtraction: mlkit's default seq2seq setup vs seed 001's.

Both train on the same 45,000/5,000 questions and stop at the first epoch whose validation
exact match reaches the target; the seconds include XLA compilation where it is on. The seed
setup is the Keras "addition RNN" recipe seed 001 adapted: LSTM 128, batch 128, Adam 1e-3,
constant rate, no XLA (the Keras default on a CPU).

Run it alone, under the CPU lock:
    flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/seq2seq.py --op sub > seq2seq-bench.json
"""

import argparse
import json
import sys
from dataclasses import replace

from mlkit.experiments.seq2seq import Seq2SeqConfig, run
from mlkit.results import to_jsonable

SEED_SETUP = {"cell": "lstm", "batch_size": 128, "learning_rate": 1e-3, "lr_decay": 1.0, "jit_compile": False}


def measure(label: str, config: Seq2SeqConfig) -> dict:
    """Train until the target or the epoch limit; report the time to target and the curve.

    seconds_to_target is the wall time of the epochs up to the one that reached it, scoring
    included; training_seconds counts training steps only (docs/json.md).
    """
    sys.stderr.write(f"== {label}: {config}\n")
    record = run(config).record()
    metrics = record.metrics
    return {
        "setup": label, "cell": config.cell, "batch_size": config.batch_size,
        "learning_rate": config.learning_rate, "lr_decay": config.lr_decay,
        "jit_compile": config.jit_compile,
        "epochs": record.sections["epochs_run"], "seconds_to_target": metrics["seconds_to_target"],
        "best_exact_match": metrics["exact_match"], "training_seconds": metrics["seconds"],
        "wall_seconds": metrics["wall_seconds"],
        "val_exact_match": record.sections["history"]["epochs"]["val_exact_match"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default="sub", choices=["add", "sub", "mul"])
    parser.add_argument("--digits", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.99, help="validation exact match to reach")
    parser.add_argument("--max-epochs", type=int, default=80, help="give up after this many epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["default", "seed"], help="measure one setup only")
    args = parser.parse_args()
    base = Seq2SeqConfig(op=args.op, digits=args.digits, epochs=args.max_epochs, seed=args.seed,
                         target_exact_match=args.target, samples=0)
    setups = {"default": base, "seed": replace(base, **SEED_SETUP)}
    rows = [measure(label, config) for label, config in setups.items() if args.only in (None, label)]
    for row in rows:
        reached = row["seconds_to_target"]
        sys.stderr.write(f"{row['setup']:>8}: {row['cell']} batch {row['batch_size']} lr "
                         f"{row['learning_rate']} jit {row['jit_compile']}: "
                         + (f"{args.target} after {row['epochs']} epochs, {reached:.1f} s\n" if reached
                            else f"not reached in {row['epochs']} epochs (best {row['best_exact_match']:.4f})\n"))
    print(json.dumps(to_jsonable({"op": args.op, "digits": args.digits, "target": args.target,
                                  "setups": rows}), indent=2))


if __name__ == "__main__":
    main()
