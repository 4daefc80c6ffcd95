"""The in-memory dataset every command trains on."""

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, DataError
from .checks import check_class_names, check_images, check_label_range, check_labels
from .fingerprint import checksum

ARRAYS = ("x_train", "y_train", "x_test", "y_test")  # the four arrays of a dataset, in file order


@dataclass
class Dataset:
    """Train and test arrays with integer labels, as the official files hold them.

    Images keep their original dtype and shape (uint8, (N, 28, 28) or (N, 32, 32, 3));
    labels are int64 vectors. Scaling to [0, 1] is the model's job, not the loader's.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str = ""
    attrs: dict = field(default_factory=dict)
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check shapes, dtypes, labels and pixels (mlkit/data/checks.py) and normalise labels to
        int64 vectors; every loader's Dataset passes here before any command sees it.

        Raises:
            DataError: one line naming the file and what to fix.
        """
        where = self.source or f"dataset {self.name!r}"
        self.x_train = check_images(self.x_train, "x_train", where)
        self.x_test = check_images(self.x_test, "x_test", where)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(f"{where}: train images have shape {self.x_train.shape[1:]} but test images "
                            f"{self.x_test.shape[1:]}; both splits need the same image shape.")
        self.y_train = check_labels(self.y_train, len(self.x_train), "y_train", where)
        self.y_test = check_labels(self.y_test, len(self.x_test), "y_test", where)
        self.class_names = check_class_names(self.class_names, where)
        for split in ("y_train", "y_test"):
            check_label_range(getattr(self, split), self.num_classes, split, where)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def subset(self, train_size: int | None, seed: int = 0) -> "Dataset":
        """Return a copy whose training split is `train_size` images drawn at random.

        The test split is kept whole so quick runs are still scored on the real test set.
        """
        if train_size is None or train_size >= len(self.x_train):
            return self
        if train_size < 1:
            raise ConfigError(f"--subset must be at least 1, got {train_size}.")
        rows = np.random.default_rng(seed).choice(len(self.x_train), train_size, replace=False)
        rows.sort()
        return Dataset(
            self.name, self.x_train[rows], self.y_train[rows], self.x_test, self.y_test,
            self.class_names, self.source, dict(self.attrs, subset=train_size),
        )

    def class_counts(self, split: str = "train") -> list[int]:
        """Number of images per class in `split` ("train" or "test")."""
        labels = self.y_train if split == "train" else self.y_test
        return np.bincount(labels, minlength=self.num_classes).tolist()

    def fingerprint(self) -> str:
        """SHA-256 of the four arrays (as an mlkit HDF5 file's checksum), cached: it reads them all."""
        if self._fingerprint is None:
            self._fingerprint = checksum({name: getattr(self, name) for name in ARRAYS})
        return self._fingerprint

    def summary(self) -> dict:
        """Shapes, dtypes and per-class counts of both splits, JSON-ready."""
        splits = {}
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            splits[split] = {
                "images": len(x), "shape": list(x.shape[1:]), "dtype": str(x.dtype),
                "class_counts": dict(zip(self.class_names, self.class_counts(split))),
            }
        return {"name": self.name, "source": self.source, "num_classes": self.num_classes,
                "class_names": list(self.class_names), **splits}

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.x_train.shape} {self.x_train.dtype}, "
            f"test={self.x_test.shape}, classes={self.num_classes}, source={self.source!r})"
        )
