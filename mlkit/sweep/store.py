"""A folder of finished runs: one JSON record (and optionally one model file) per run."""

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigError, MlkitError
from ..files import atomic_path, write_text
from ..record import file_sha256
from ..results import to_jsonable

# 2: records name their model file's SHA-256, checked before a run is reused.
RECORD_VERSION = 2
LOCK_NAME = "sweep.lock"


def run_key(settings: dict) -> str:
    """A short stable id for a run: SHA-256 of its settings as sorted JSON, first 12 digits."""
    text = json.dumps(to_jsonable(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class RunStore:
    """Finished runs under `folder/runs/`: `<name>.json` (the record) and `<name>.keras`.

    A record is written only when its run has finished, atomically and after its model, so a
    sweep killed at any moment leaves only complete runs behind. A record is reused only when
    it still matches its files (see `load`), and one sweep at a time works in a folder (`lock`).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"--out {self.folder} is a file; give a folder for the sweep's runs.")

    def record_path(self, name: str) -> Path:
        return self.runs / f"{name}.json"

    def model_path(self, name: str) -> Path:
        return self.runs / f"{name}.keras"

    @contextlib.contextmanager
    def lock(self) -> Iterator["RunStore"]:
        """Hold the folder's lock file while a sweep works in it.

        Raises:
            MlkitError: another sweep holds it (this one is refused at once, not queued, so a
                script learns about the clash instead of hanging).
        """
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / LOCK_NAME, "a")
        except OSError as error:
            raise MlkitError(f"cannot use {self.folder} for the sweep's runs: {error.strerror or error}.") from error
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MlkitError(f"{self.folder} is busy: another sweep is using it; wait until it "
                                 "finishes, or give another --out folder.") from None
            try:
                yield self
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, name: str, settings: dict, is_complete: Callable[[object], bool] = lambda result: True,
             needs_model: bool = False) -> dict | None:
        """The finished record for `name`, or None when it must be (re)trained: absent,
        unreadable, from other settings, its result incomplete (`is_complete`), or its model
        file missing or not the one the record was written with."""
        try:
            record = json.loads(self.record_path(name).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION or record.get("name") != name:
            return None
        if record.get("settings") != to_jsonable(settings) or not is_complete(record.get("result")):
            return None
        if needs_model and not self._model_matches(name, record.get("model_sha256")):
            return None
        return record

    def _model_matches(self, name: str, sha256) -> bool:
        path = self.model_path(name)
        try:
            return isinstance(sha256, str) and path.is_file() and file_sha256(path) == sha256
        except OSError:
            return False

    def save(self, name: str, settings: dict, result: dict, model_bytes: bytes | None = None) -> dict:
        """Write a finished run: the model first, then the record that marks the run done."""
        record = {"version": RECORD_VERSION, "name": name, "settings": to_jsonable(settings),
                  "result": to_jsonable(result), "model_sha256": None}
        if model_bytes is not None:
            with atomic_path(self.model_path(name)) as temp:
                temp.write_bytes(model_bytes)
            record["model_sha256"] = hashlib.sha256(model_bytes).hexdigest()
        write_text(self.record_path(name), json.dumps(record, indent=1) + "\n")
        return record

    def __repr__(self) -> str:
        count = len(list(self.runs.glob("*.json"))) if self.runs.is_dir() else 0
        return f"RunStore({str(self.folder)!r}, runs={count})"
