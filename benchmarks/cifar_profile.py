"""Where one training step of a CIFAR-10 network spends its time, by op class, and what changes it.

For each variant (network, precision, batch size, XLA, layout, batch-norm form) it times
`--steps` training steps on real CIFAR-10 batches already in memory, then traces a few more with
TensorFlow's profiler and sums the host time of every op by class (convolution, batch norm,
activation, pooling, optimizer, other). The input pipeline is timed on its own (batches per
second of mlkit.augmentation.TrainingBatches). Run it under the CPU lock:

    MLKIT_DATA_DIR=../shared/data flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/cifar_profile.py
"""

import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlkit.augmentation import Augmentation, TrainingBatches  # noqa: E402
from mlkit.files import write_text  # noqa: E402
from mlkit.fused_batch_norm import use_fused_batch_norm  # noqa: E402
from mlkit.image_training import load_images  # noqa: E402
from mlkit.network_start import new_network  # noqa: E402
from mlkit.recipes import RECIPES, compile_classifier  # noqa: E402

OP_CLASSES = (  # first match wins; matched against "op path:OpType", lower case
    ("batch norm", ("_bn", "batch_norm", "batchnorm", "moments")),
    ("convolution", ("conv2d", "convolution")),
    ("optimizer", ("resourceapply", "assignsub", "assignadd", "assignvariable", "/optimizer", "adamw/", "sgd/")),
    ("activation", ("relu", "gelu", "erf", "tanh", "softmax")),
    ("pooling", ("maxpool",)),
)
# Variants: (name, arch, precision, batch size, options)
VARIANTS = {
    "d": [("d f32", "d", "float32", 256, {}), ("d bf16", "d", "bfloat16", 256, {}),
          ("d f32 xla", "d", "float32", 256, {"jit": True}), ("d bf16 xla", "d", "bfloat16", 256, {"jit": True}),
          ("d bf16 b512", "d", "bfloat16", 512, {}),
          ("d f32 nchw", "d", "float32", 256, {"channels_first": True}),
          ("d f32 fused", "d", "float32", 256, {"fused": True}), ("d bf16 fused", "d", "bfloat16", 256, {"fused": True}),
          ("d bf16 fused b512", "d", "bfloat16", 512, {"fused": True})],
    "airbench": [("air f32", "airbench", "float32", 512, {}), ("air bf16", "airbench", "bfloat16", 512, {}),
                 ("air bf16 xla", "airbench", "bfloat16", 512, {"jit": True}),
                 ("air f32 fused", "airbench", "float32", 512, {"fused": True}),
                 ("air bf16 fused", "airbench", "bfloat16", 512, {"fused": True}),
                 ("air bf16 fused b1024", "airbench", "bfloat16", 1024, {"fused": True})],
}
PIPELINES = {"none": Augmentation(), "fast (flip)": RECIPES["fast"].augmentation,
             "augment (flip, translate 0.1)": Augmentation(flip="horizontal", translate=0.1),
             "airbench (alternate, crop 2)": RECIPES["airbench"].augmentation}


def op_class(name: str) -> str:
    lowered = name.lower()
    return next((label for label, keys in OP_CLASSES if any(key in lowered for key in keys)), "other")


def traced_ms(trace_dir: str, steps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds per step of each op class, and of the 25 slowest ops by name, from the host
    plane of the profiler's trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True))[-1]
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(path).read_bytes())
    totals, by_name = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                by_name[name] += event.duration_ps / 1e9 / steps
                if ":" in name and not name.startswith(("__inference", "Iterator")) and "/" in name:
                    totals[op_class(name)] += event.duration_ps / 1e9 / steps
    return dict(totals), dict(by_name.most_common(25))


def build(arch: str, precision: str, data, options: dict):
    """A compiled network as `mlkit cifar` trains it, or the variant `options` asks for."""
    import keras

    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    if options.get("channels_first"):
        model = variant_of_d(policy, data)
    else:
        model = new_network(arch, data, RECIPES["airbench" if arch == "airbench" else "fast"], policy).model
    if options.get("fused"):
        use_fused_batch_norm(model)
    recipe = RECIPES["airbench" if arch == "airbench" else "fast"]
    compile_classifier(model, recipe, steps_per_epoch=100, epochs=10)
    if options.get("jit"):
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
    return model, keras


def variant_of_d(policy: str, data):
    """Network d of the fast recipe computing channels first (NCHW) after its first layer."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=data.input_shape)
    x = layers.Permute((3, 1, 2), dtype=policy)(layers.Rescaling(1 / 255, dtype=policy)(inputs))
    for filters_list in ((32, 32), (64, 64), (128, 128, 128)):
        for filters in filters_list:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, data_format="channels_first",
                              dtype=policy)(x)
            x = layers.ReLU(dtype=policy)(layers.BatchNormalization(axis=1, dtype=policy)(x))
        x = layers.MaxPooling2D(data_format="channels_first", dtype=policy)(x)
    x = layers.Flatten(dtype=policy)(x)
    x = layers.Dropout(0.2, dtype=policy)(layers.Dense(100, activation="relu", dtype=policy)(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax", dtype="float32")(x))


def measure(variant, data, steps: int) -> dict:
    import tensorflow as tf

    name, arch, precision, batch_size, options = variant
    model, _ = build(arch, precision, data, options)
    pipeline = TrainingBatches(data.x_train, data.y_train, data.num_classes, batch_size, seed=0)
    batches = [batch for _, batch in zip(range(4), pipeline.dataset)]
    for images, labels in batches[:3]:  # traces the step function and warms oneDNN's caches
        model.train_on_batch(images, labels)
    started = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(*batches[step % len(batches)])
    step_ms = (time.perf_counter() - started) / steps * 1000
    traced = 3
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        for step in range(traced):
            model.train_on_batch(*batches[step % len(batches)])
        tf.profiler.experimental.stop()
        by_class, slowest = traced_ms(trace_dir, traced)
    row = {"variant": name, "arch": arch, "precision": precision, "batch_size": batch_size, **options,
           "step_ms": step_ms, "images_per_second": batch_size / step_ms * 1000, "op_ms": by_class,
           "slowest_ops_ms": slowest}
    print(format_row(row), flush=True)
    return row


def pipeline_ms(data, batch_size: int, batches: int = 10) -> dict[str, float]:
    """Milliseconds per batch of each input pipeline, on its own."""
    timings = {}
    for name, augmentation in PIPELINES.items():
        pipeline = TrainingBatches(data.x_train, data.y_train, data.num_classes, batch_size,
                                   augmentation=augmentation, seed=0)
        iterator = iter(pipeline.dataset)
        next(iterator)
        started = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        timings[name] = (time.perf_counter() - started) / batches * 1000
        print(f"pipeline {name:32} {timings[name]:8.1f} ms per batch of {batch_size}", flush=True)
    return timings


def format_row(row: dict) -> str:
    ops = row["op_ms"]
    classes = [label for label, _ in OP_CLASSES] + ["other"]
    return f"{row['variant']:16}{row['step_ms']:9.0f}{row['images_per_second']:8.0f}" + "".join(
        f"{ops.get(label, 0.0):10.0f}" for label in classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="d,airbench", help="comma-separated: d, airbench")
    parser.add_argument("--only", default=None, help="comma-separated variant names to run (default: all)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per variant")
    parser.add_argument("--images", type=int, default=5000, help="training images the batches come from")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    data = load_images("cifar10", os.environ.get("MLKIT_DATA_DIR"), args.images, 0)
    only = set(args.only.split(",")) if args.only else None
    classes = [label for label, _ in OP_CLASSES] + ["other"]
    print(f"{'variant':16}{'step ms':>9}{'img/s':>8}" + "".join(f"{label[:9]:>10}" for label in classes))
    rows = [measure(variant, data, args.steps) for arch in args.arch.split(",") for variant in VARIANTS[arch]
            if only is None or variant[0] in only]
    timings = pipeline_ms(data, 256)
    if args.out:
        write_text(args.out, json.dumps({"steps": rows, "pipeline_ms": timings}, indent=2) + "\n")


if __name__ == "__main__":
    main()
