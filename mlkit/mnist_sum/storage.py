"""Sequence datasets in memory and in mlkit's checksummed HDF5 format (docs/formats.md)."""

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..data import load_arrays, save_arrays
from ..errors import DataError
from .checks import check_calc_settings, check_sequence_arrays

KIND = "digit-sequences"
SPLITS = ("train", "validation", "test")
TASKS = ("sum", "calc")


@dataclass
class SequenceSet:
    """Sequences of images with the code of each slot and the target of each sequence.

    Attributes:
        task: "sum" (target: the digit sum, shape (N,)) or "calc" (target: answer character
            codes, shape (N, answer_length)).
        x: (N, slots, 28, 28) uint8 images.
        slots: (N, slots) int64 codes of what each image shows (see `symbols.CHARS`).
        target: what the model must predict.
        attrs: task settings, e.g. {"op": "add", "digits": 3} for calc.
    """

    task: str
    x: np.ndarray
    slots: np.ndarray
    target: np.ndarray
    attrs: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        return self.x.shape[1]

    @property
    def image_count(self) -> int:
        """Images in all the sequences (slots included)."""
        return self.x.shape[0] * self.x.shape[1]

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        return f"SequenceSet({self.task!r}, sequences={len(self)}, length={self.length})"


@dataclass
class SequenceData:
    """The train, validation and test sequences of one run, as exported with --export-data."""

    train: SequenceSet
    validation: SequenceSet
    test: SequenceSet
    source: str = ""

    @property
    def task(self) -> str:
        return self.train.task

    def summary(self) -> dict:
        return {"task": self.task, "source": self.source, "length": self.train.length,
                **{split: len(getattr(self, split)) for split in SPLITS}, **self.train.attrs}

    def __repr__(self) -> str:
        return (f"SequenceData({self.task!r}, train={len(self.train)}, validation={len(self.validation)}, "
                f"test={len(self.test)}, length={self.train.length})")


def save_sequences(data: SequenceData, path: str | Path) -> Path:
    """Write the three splits to one HDF5 file (atomically, with a checksum)."""
    arrays = {}
    for split in SPLITS:
        part = getattr(data, split)
        arrays |= {f"x_{split}": part.x, f"slots_{split}": part.slots, f"y_{split}": part.target}
    attrs = {"kind": KIND, "task": data.task, "source": data.source, **data.train.attrs}
    return save_arrays(path, arrays, attrs)


def is_sequence_file(path: str | Path) -> bool:
    """True when `path` is an HDF5 file of kind digit-sequences (only its attributes are read).

    Anything unreadable answers False; the full loader then says what is wrong with it.
    """
    try:
        with h5py.File(path, "r") as handle:
            kind = handle.attrs.get("kind")
    except (OSError, ValueError):
        return False
    return (kind.decode() if isinstance(kind, bytes) else kind) == KIND


def load_sequences(path: str | Path, task: str | None = None) -> SequenceData:
    """Read a file written by `save_sequences`, checking its checksum, kind and task, and every
    array's shape, dtype and codes (see checks.py) before anything uses them.

    Args:
        path: the HDF5 file.
        task: "sum" or "calc" to insist on, or None for either.
    """
    arrays, attrs = load_arrays(path)
    if attrs.get("kind") != KIND:
        raise DataError(f"{path} holds {attrs.get('kind', 'unknown data')!r}, not digit sequences; "
                        "write one with `mlkit mnist-sum sum --export-data FILE.h5`.")
    stored = attrs.get("task")
    if stored not in TASKS:
        raise DataError(f"{path} holds sequences of task {stored!r}; expected one of {', '.join(TASKS)}.")
    if task is not None and stored != task:
        raise DataError(f"{path} holds {stored!r} sequences but this command needs {task!r} ones.")
    if stored == "calc":
        check_calc_settings(str(path), attrs)
    settings = {key: attrs[key] for key in ("op", "digits") if key in attrs}
    missing = [f"{name}_{split}" for split in SPLITS for name in ("x", "slots", "y") if f"{name}_{split}" not in arrays]
    if missing:
        raise DataError(f"{path} lacks the arrays {', '.join(missing)}; it is not a complete sequence file.")
    for split in SPLITS:
        check_sequence_arrays(str(path), split, stored, arrays[f"x_{split}"], arrays[f"slots_{split}"],
                              arrays[f"y_{split}"], settings)
    lengths = {arrays[f"x_{split}"].shape[1] for split in SPLITS}
    if len(lengths) > 1:
        raise DataError(f"{path} mixes sequences of {sorted(lengths)} images; one run's splits share one length.")
    parts = [SequenceSet(stored, arrays[f"x_{s}"], np.asarray(arrays[f"slots_{s}"], dtype=np.int64),
                         np.asarray(arrays[f"y_{s}"], dtype=np.int64), settings) for s in SPLITS]
    return SequenceData(*parts, source=str(attrs.get("source", path)))
