"""Named upper limits on every mnist-sum size, so a typo is a usage error and never a
MemoryError, a graph that takes hours to build, or an integer overflow.

Each limit is far above what the exercises use; the reason for each is beside it.
"""

from ..errors import ConfigError

# The sum model's distribution over sums is built as a chain of `length` convolutions in the
# graph (see models/mnist_sum.sum_distribution_model); 100 images already make 1,000 ops.
MAX_LENGTH = 100
# Sequences per split; the image budget below bounds what they hold.
MAX_SEQUENCES = 1_000_000
# Images one split may hold in memory: 4 million 28x28 uint8 images are 3.1 GB (the default
# test set, 50,000 sequences of 20 images, is 1 million).
MAX_SET_IMAGES = 4_000_000
# CNNs in the sum model's ensemble: each costs a whole CNN's time and memory.
MAX_MEMBERS = 8
# Images one training step passes through a CNN (batch size x images per sequence x CNNs):
# each keeps about 0.4 MB of float32 activations for the backward pass (counted from the
# layer shapes), so 16,384 of them take about 6.5 GB.
MAX_STEP_IMAGES = 16_384
# Operands are drawn as 64-bit integers: 18 digits is the most whose sum still fits one.
MAX_DIGITS = 18


def check_range(option: str, value: int, low: int, high: int) -> None:
    """Refuse an integer option outside [low, high] (a usage error naming the option)."""
    if not low <= value <= high:
        raise ConfigError(f"{option} must be {low} to {high:,}, got {value:,}.")


def check_set_size(option: str, sequences: int, length: int) -> None:
    """Refuse a split of `sequences` x `length` images larger than MAX_SET_IMAGES."""
    check_range(option, sequences, 1, MAX_SEQUENCES)
    if sequences * length > MAX_SET_IMAGES:
        raise ConfigError(f"{option} {sequences:,} of {length} images each is {sequences * length:,} images, "
                          f"more than the {MAX_SET_IMAGES:,} a split may hold; use fewer sequences.")


def check_batch_size(batch_size: int, length: int, cnns: int = 1) -> None:
    """Refuse a batch whose images, through `cnns` CNNs each, exceed MAX_STEP_IMAGES."""
    check_range("--batch-size", batch_size, 1, MAX_STEP_IMAGES)
    if batch_size * length * cnns > MAX_STEP_IMAGES:
        raise ConfigError(f"--batch-size {batch_size:,} of {length} images each through {cnns} CNN(s) is "
                          f"{batch_size * length * cnns:,} images a step, more than {MAX_STEP_IMAGES:,}; "
                          "use a smaller batch.")
