"""Sequence datasets in memory and in mlkit's checksummed HDF5 format (docs/formats.md)."""

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..data import load_arrays, save_arrays
from ..errors import DataError

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
    """Read a file written by `save_sequences`, checking its checksum, kind and task.

    Args:
        path: the HDF5 file.
        task: "sum" or "calc" to insist on, or None for either.
    """
    arrays, attrs = load_arrays(path)
    if attrs.get("kind") != KIND:
        raise DataError(f"{path} holds {attrs.get('kind', 'unknown data')!r}, not digit sequences; "
                        "write one with `mlkit mnist-sum sum --export-data FILE.h5`.")
    stored = attrs.get("task")
    if task is not None and stored != task:
        raise DataError(f"{path} holds {stored!r} sequences but this command needs {task!r} ones.")
    settings = {key: attrs[key] for key in ("op", "digits") if key in attrs}
    try:
        parts = [SequenceSet(stored, arrays[f"x_{s}"], arrays[f"slots_{s}"], arrays[f"y_{s}"], settings)
                 for s in SPLITS]
    except KeyError as error:
        raise DataError(f"{path} lacks the array {error.args[0]}; it is not a complete sequence file.") from error
    for part in parts:
        if part.x.ndim != 4 or part.x.shape[2:] != (28, 28) or part.slots.shape != part.x.shape[:2]:
            raise DataError(f"{path} has sequences of shape {part.x.shape}; expected (N, slots, 28, 28).")
    return SequenceData(*parts, source=str(attrs.get("source", path)))
