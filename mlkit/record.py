"""The result record every command returns, and the JSON envelope it is printed in.

One shape for every command (docs/json.md, schema in docs/result.schema.json): a script reads
`metrics.test_accuracy` the same way from `cifar`, `fashion-sweep` or `evaluate`.
"""

import hashlib
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import __version__
from .results import to_jsonable

SCHEMA = "mlkit.result/1"

FILE_KINDS = ("model", "plot", "dataset", "index", "record", "image", "graph", "folder")


@dataclass
class Record:
    """What one command run did, in the shared shape.

    Args:
        command: the command as typed, e.g. "cifar" or "faces match".
        config: every effective setting (after defaults and recipes), one value each.
        metrics: headline numbers; None where a run produced no such number.
        data: name, source and fingerprint of the data read, or None.
        files: {"path", "kind"} of every file written.
        seed: the run's --seed, or None for commands without one.
        sections: the command's own sections (runs, history, tables), after the shared ones.
    """

    command: str
    config: dict
    metrics: dict
    data: dict | None = None
    files: list[dict] = field(default_factory=list)
    seed: int | None = None
    sections: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Record({self.command!r}, metrics={sorted(self.metrics)})"

    def to_dict(self) -> dict:
        """The envelope: schema and versions first, then the shared blocks, then the command's own."""
        document = {"schema": SCHEMA, "command": self.command, "mlkit_version": __version__,
                    "versions": versions(dlib=self.command.startswith("faces"))}
        if self.seed is not None:
            document["seed"] = self.seed
        document |= {"config": self.config, "data": self.data, "metrics": self.metrics, "files": self.files}
        return to_jsonable(document | {key: value for key, value in self.sections.items() if key not in document})


def file_entry(path: str | os.PathLike, kind: str) -> dict:
    """One entry of a record's `files` list."""
    if kind not in FILE_KINDS:
        raise ValueError(f"file kind {kind!r} is not one of {FILE_KINDS}")
    return {"path": str(path), "kind": kind}


def error_document(command: str, message: str, exit_code: int) -> dict:
    """What `--json` prints on stdout when a command fails (beside the `Error:` line on stderr)."""
    return {"schema": SCHEMA, "command": command, "mlkit_version": __version__,
            "versions": versions(), "error": {"message": message, "exit_code": exit_code}}


def versions(dlib: bool = False) -> dict:
    """Versions of Python and of the packages that decide a run's numbers.

    Read from the installed packages' metadata, so nothing heavy is imported to answer.
    """
    found = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy") + (("dlib-bin",) if dlib else ()):
        try:
            found[package.removesuffix("-bin")] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package.removesuffix("-bin")] = None
    return found


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in chunks (data files can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_block(name: str, source: str | Path | None, fingerprint: str, **details) -> dict:
    """The record's `data` block: what was read, from where, and its fingerprint."""
    return {"name": name, "source": str(source) if source else None, "fingerprint": fingerprint, **details}
