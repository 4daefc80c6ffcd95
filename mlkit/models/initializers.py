"""Seed 004's way of starting weights: kernels from a truncated normal of standard deviation
0.01 and every bias at 0.1 (so ReLU units start active), for its MLPs and its CNN."""

SEED_KERNEL_STDDEV = 0.01
SEED_BIAS = 0.1
SEED_INITIALIZER = "truncated-normal"  # how the record names it


def truncated_normal_start() -> dict:
    """Keyword arguments for a Dense or Conv2D layer: fresh initializers, one pair per layer
    (Keras 3 warns when one unseeded initializer instance starts several layers)."""
    import keras

    return {"kernel_initializer": keras.initializers.TruncatedNormal(mean=0.0, stddev=SEED_KERNEL_STDDEV),
            "bias_initializer": keras.initializers.Constant(SEED_BIAS)}
