"""Atomic file writing: a reader never sees half a file, and a failed write loses nothing."""

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DataError, MlkitError


def check_input_file(path: str | os.PathLike, expected: str = "a file") -> Path:
    """Refuse, before anything opens it, a path that is not a readable regular file, saying what
    it is instead (a folder, a device like /dev/zero, a named pipe, a broken link), since opening
    a pipe waits forever and reading a device never ends.

    Args:
        expected: what should be there, for the message, e.g. "an mlkit HDF5 file".
    Raises:
        DataError: one line naming the path, what it is and what was expected.
    """
    target = Path(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        if target.is_symlink():
            raise DataError(f"{target} is a broken link (to {os.readlink(target)}); expected {expected}.") from None
        raise DataError(f"{target} does not exist.") from None
    except OSError as error:
        raise DataError(f"cannot read {target}: {error.strerror or error}.") from error
    if not stat.S_ISREG(mode):
        raise DataError(f"{target} is {describe_mode(mode)}, not {expected}.")
    if not os.access(target, os.R_OK):
        raise DataError(f"{target} is not readable (permission denied); expected {expected}.")
    return target


def describe_mode(mode: int) -> str:
    """What a stat mode is, in words: 'a folder', 'a character device', ..."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a file"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def check_output_path(path: str | os.PathLike, option: str = "output") -> Path:
    """Refuse, before any work starts, a file path that cannot be written: a folder, a missing or
    unwritable parent folder. Commands call this for --save, --out, --export-data.

    Raises:
        MlkitError: naming the option and what to fix.
    """
    target = Path(path)
    if target.is_dir():
        raise MlkitError(f"{option} {target} is a folder; give a file name to write to.")
    if target.exists() and not target.is_file():
        raise MlkitError(f"{option} {target} is {describe_mode(target.stat().st_mode)}; give a file name to write to.")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise MlkitError(f"{option} {target}: {parent} is a file, not a folder.")
    if not parent.is_dir():
        raise MlkitError(f"{option} {target}: folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MlkitError(f"{option} {target}: folder {parent} is not writable.")
    if target.exists() and not os.access(target, os.W_OK):
        raise MlkitError(f"{option} {target} exists and is not writable.")
    _check_can_create_in(parent, f"{option} {target}")
    return target


def check_output_folder(path: str | os.PathLike, option: str = "output folder") -> Path:
    """Refuse a folder that cannot be created or written (--plot-dir, --out DIR)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise MlkitError(f"{option} {folder} is {describe_mode(folder.stat().st_mode)}; give a folder.")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise MlkitError(f"{option} {folder}: {existing} is {describe_mode(existing.stat().st_mode)}, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MlkitError(f"{option} {folder}: {existing} is not writable.")
    _check_can_create_in(existing, f"{option} {folder}")
    return folder


def _check_can_create_in(folder: Path, subject: str) -> None:
    """Create and remove an empty file in `folder`: permission bits alone miss read-only mounts,
    /proc and root (for whom os.access says yes to everything)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".mlkit-probe.", dir=folder)
    except OSError as error:
        raise MlkitError(f"{subject}: cannot create files in {folder} ({error.strerror or error}).") from error
    os.close(handle)
    os.unlink(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary file keeps the target's suffix because some writers (Keras' `.keras`,
    matplotlib's format guess) look at it. An existing target's permissions carry over to the
    new file (a private 0600 index stays private); a new file gets what open() would give it.
    A failed write (no space, read-only, permission) is one MlkitError, and the old file stays.
    """
    target = Path(path)
    if target.exists() and not target.is_file():
        # Renaming over /dev/null or a pipe would replace it; a folder cannot be replaced at all.
        raise MlkitError(f"cannot write {target}: it is {describe_mode(target.stat().st_mode)}; "
                         "give a file name to write to.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
        os.close(handle)
    except OSError as error:
        raise MlkitError(f"cannot write {target}: cannot create a file in {target.parent} "
                         f"({error.strerror or error}).") from error
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
