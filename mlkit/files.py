"""Atomic file writing: a reader never sees half a file, and a failed write loses nothing."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import MlkitError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary file keeps the target's suffix because some writers (Keras' `.keras`,
    matplotlib's format guess) look at it.

    Args:
        path: the file to write.
    Returns:
        A context manager yielding the temporary path to write to.
    """
    target = Path(path)
    if target.is_dir():
        raise MlkitError(f"{target} is a directory; give a file name to write to.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MlkitError(f"cannot create folder {target.parent}: {error.strerror}.") from error
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    temp.chmod(0o666 & ~umask)
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically and return the path."""
    with atomic_path(path) as temp:
        temp.write_text(text)
    return Path(path)
