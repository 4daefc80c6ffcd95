"""Exact match and seconds of `mlkit seq2seq` setups side by side: RNN vs transformer, answers
most- vs least-significant digit first (and seed 001's setup with --setups seed).

Every setup trains on the same questions (the same seed) for the same epochs, stopping early at
--target if given; the table gives the kept epoch's validation exact match, the training
seconds (steps only), the wall seconds of the run and the seconds to target.

Run it alone, under the CPU lock (about 4 minutes with the defaults):
    flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/seq2seq.py --op add --epochs 5 > seq2seq-bench.json
"""

import argparse
import json
import sys

from mlkit.experiments.seq2seq import run, seq2seq_config
from mlkit.results import to_jsonable

SETUPS = {"rnn-msb": {"arch": "rnn", "answer_order": "msb"}, "rnn-lsb": {"arch": "rnn", "answer_order": "lsb"},
          "transformer-msb": {"arch": "transformer", "answer_order": "msb"},
          "transformer-lsb": {"arch": "transformer", "answer_order": "lsb"}}


def measure(label: str, config) -> dict:
    """One run: its settings, scores and seconds, and the exact-match curve."""
    sys.stderr.write(f"== {label}\n")
    record = run(config).record()
    metrics = record.metrics
    return {"setup": label, "arch": config.arch, "answer_order": config.answer_order,
            "epochs": record.sections["epochs_run"], "exact_match": metrics["exact_match"],
            "training_seconds": metrics["seconds"], "wall_seconds": metrics["wall_seconds"],
            "seconds_to_target": metrics["seconds_to_target"],
            "val_exact_match": record.sections["history"]["epochs"]["val_exact_match"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default="add", choices=["add", "sub", "mul"])
    parser.add_argument("--digits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of every setup")
    parser.add_argument("--target", type=float, help="stop a setup once validation exact match reaches it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of {', '.join(SETUPS)}, seed")
    args = parser.parse_args()
    rows = []
    for label in args.setups.split(","):
        if label == "seed":  # seed 001's setup has its own epochs and no early stop
            config = seq2seq_config("seed", op=args.op, epochs=args.epochs, seed=args.seed, samples=0, quiet=True)
        else:
            config = seq2seq_config(op=args.op, digits=args.digits, epochs=args.epochs, seed=args.seed, samples=0,
                                    quiet=True, target_exact_match=args.target, **SETUPS[label])
        rows.append(measure(label, config))
    sys.stderr.write(f"{'setup':<16} {'epochs':>6} {'exact':>7} {'train s':>8} {'wall s':>7}\n")
    for row in rows:
        sys.stderr.write(f"{row['setup']:<16} {row['epochs']:>6} {row['exact_match']:>7.4f} "
                         f"{row['training_seconds']:>8.1f} {row['wall_seconds']:>7.1f}\n")
    print(json.dumps(to_jsonable({"op": args.op, "digits": args.digits, "epochs": args.epochs,
                                  "target": args.target, "setups": rows}), indent=2))


if __name__ == "__main__":
    main()
