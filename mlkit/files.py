"""Atomic file writing: a reader never sees half a file, and a failed write loses nothing."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import MlkitError


def check_output_path(path: str | os.PathLike, option: str = "output") -> Path:
    """Refuse, before any work starts, a file path that cannot be written: a folder, a missing or
    unwritable parent folder. Commands call this for --save, --out, --export-data.

    Raises:
        MlkitError: naming the option and what to fix.
    """
    target = Path(path)
    if target.is_dir():
        raise MlkitError(f"{option} {target} is a folder; give a file name to write to.")
    parent = target.parent
    if not parent.is_dir():
        raise MlkitError(f"{option} {target}: folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MlkitError(f"{option} {target}: folder {parent} is not writable.")
    if target.exists() and not os.access(target, os.W_OK):
        raise MlkitError(f"{option} {target} exists and is not writable.")
    return target


def check_output_folder(path: str | os.PathLike, option: str = "output folder") -> Path:
    """Refuse a folder that cannot be created or written (--plot-dir, --out DIR)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise MlkitError(f"{option} {folder} is a file; give a folder.")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MlkitError(f"{option} {folder}: {existing} is not writable.")
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary file keeps the target's suffix because some writers (Keras' `.keras`,
    matplotlib's format guess) look at it. An existing target's permissions carry over to the
    new file (a private 0600 index stays private); a new file gets what open() would give it.
    A failed write (no space, read-only, permission) is one MlkitError, and the old file stays.
    """
    target = Path(path)
    if target.is_dir():
        raise MlkitError(f"{target} is a directory; give a file name to write to.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
        os.close(handle)
    except OSError as error:
        raise MlkitError(f"cannot write {target}: {error.strerror or error}.") from error
    temp = Path(temp_name)
    try:
        temp.chmod(_mode_for(target))
        yield temp
        os.replace(temp, target)
    except OSError as error:
        raise MlkitError(f"cannot write {target}: {error.strerror or error}; "
                         f"{'the existing file is unchanged' if target.exists() else 'nothing was written'}.") from error
    finally:
        temp.unlink(missing_ok=True)


def _mode_for(target: Path) -> int:
    """The existing file's permission bits, or the umask's default for a new file."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically and return the path."""
    with atomic_path(path) as temp:
        temp.write_text(text)
    return Path(path)
