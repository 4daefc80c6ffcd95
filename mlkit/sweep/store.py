"""A folder of finished runs: one JSON record (and optionally one model file) per run."""

import hashlib
import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..files import atomic_path, write_text
from ..results import to_jsonable

RECORD_VERSION = 1


def run_key(settings: dict) -> str:
    """A short stable id for a run: SHA-256 of its settings as sorted JSON, first 12 digits."""
    text = json.dumps(to_jsonable(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class RunStore:
    """Finished runs under `folder/runs/`: `<name>.json` (the record) and `<name>.keras`.

    A record is written only when its run has finished, atomically, so a sweep killed at
    any moment leaves only complete runs behind, and a later sweep reuses exactly those.
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

    def load(self, name: str, settings: dict) -> dict | None:
        """The finished record for `name`, or None if absent, unreadable or from other settings."""
        path = self.record_path(name)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if record.get("version") != RECORD_VERSION or record.get("settings") != to_jsonable(settings):
            return None
        return record

    def save(self, name: str, settings: dict, result: dict, model_bytes: bytes | None = None) -> dict:
        """Write a finished run: the model first, then the record that marks the run done."""
        if model_bytes is not None:
            with atomic_path(self.model_path(name)) as temp:
                temp.write_bytes(model_bytes)
        record = {"version": RECORD_VERSION, "name": name, "settings": to_jsonable(settings),
                  "result": to_jsonable(result)}
        write_text(self.record_path(name), json.dumps(record, indent=1) + "\n")
        return record

    def __repr__(self) -> str:
        count = len(list(self.runs.glob("*.json"))) if self.runs.is_dir() else 0
        return f"RunStore({str(self.folder)!r}, runs={count})"
