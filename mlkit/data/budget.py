"""The memory budget: how many bytes a file may declare before mlkit refuses to read it.

A header or an HDF5 dataset states its array's shape before any of it is read, so a file that
lies (an IDX header claiming billions of images, an HDF5 file declaring a 9 TiB array) is
refused with one line instead of ending in MemoryError or the kernel's out-of-memory killer.
"""

import os
from pathlib import Path

from ..errors import ConfigError, DataError

BUDGET_VARIABLE = "MLKIT_MAX_BYTES"
# A loaded dataset is copied at least once more (scaling to float32 is 4x for uint8 images),
# so one file may claim at most half of the memory there is.
MEMORY_FRACTION = 0.5
# Where the system reports no memory size (no sysconf), assume a small laptop's.
FALLBACK_MEMORY_BYTES = 8 * 2**30
CGROUP_LIMIT_FILE = Path("/sys/fs/cgroup/memory.max")
BYTE_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def memory_budget() -> int:
    """Bytes one file may declare: $MLKIT_MAX_BYTES if set, else half of the usable memory.

    Raises:
        ConfigError: MLKIT_MAX_BYTES is set but is not a positive whole number of bytes.
    """
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not text:
        return int(usable_memory() * MEMORY_FRACTION)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{BUDGET_VARIABLE}={text!r} is not a positive number of bytes; "
                          "set it to e.g. 4000000000 or unset it.")
    return value


def usable_memory() -> int:
    """Physical memory, or the container's limit (cgroup v2 memory.max) when that is lower."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        physical = FALLBACK_MEMORY_BYTES
    try:
        limit = CGROUP_LIMIT_FILE.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def check_declared_size(path: str | os.PathLike, nbytes: int, what: str) -> None:
    """Refuse a file whose declared arrays need more than the memory budget, before reading them.

    Args:
        path: the file, named in the message.
        nbytes: bytes its arrays would take in memory.
        what: the subject of "... need N GiB", e.g. "the (60000, 28, 28) uint8 items its header declares".
    Raises:
        DataError: one line with the size, the budget and how to raise it.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise DataError(f"{path}: {what} need {format_bytes(nbytes)} of memory, more than the "
                        f"{format_bytes(budget)} budget; the file is damaged or too large "
                        f"(set {BUDGET_VARIABLE} to allow more).")


def format_bytes(count: int) -> str:
    """1536 -> '1.5 KiB'; 9 * 2**40 -> '9.0 TiB'."""
    power = 0
    while power < len(BYTE_UNITS) - 1 and count >= 1024 ** (power + 1):
        power += 1
    return f"{count} bytes" if power == 0 else f"{count / 1024 ** power:.1f} {BYTE_UNITS[power]}"
