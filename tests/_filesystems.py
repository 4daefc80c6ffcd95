"""Tiny and read-only filesystems for write-failure tests, and folder snapshots to prove that a
failed command lost nothing. Mounting needs privileges; tests skip (saying why) without them."""

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

TINY_SIZE = "256k"


def mount_tmpfs(mount_point: Path, options: str) -> Path:
    """Mount a tmpfs at `mount_point`, or skip the calling test with the reason."""
    mount_point.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    return mount_point


def unmount(mount_point: Path) -> None:
    subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=30)


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 256 KiB tmpfs, too small for any real dataset: writes to it run out of space."""
    mount_point = mount_tmpfs(tmp_path / "tiny", f"size={TINY_SIZE}")
    yield mount_point
    unmount(mount_point)


def fill(folder: Path) -> None:
    """Use up the free space of the filesystem holding `folder` (unbuffered, so no late flush fails)."""
    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(handle, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(handle)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only filesystem (permission bits alone do not stop root)."""
    mount_point = mount_tmpfs(tmp_path / "read_only", "ro,size=64k")
    yield mount_point
    unmount(mount_point)


def snapshot(*folders: Path) -> dict[str, tuple]:
    """Every entry under `folders`: its kind, permission bits and content hash (links: target).

    Never opens anything but regular files, so links to /dev/zero and named pipes are safe.
    """
    entries = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(root) / name
                info = path.lstat()
                if stat.S_ISREG(info.st_mode):
                    content = hashlib.sha256(path.read_bytes()).hexdigest()
                elif stat.S_ISLNK(info.st_mode):
                    content = os.readlink(path)
                else:
                    content = None
                entries[str(path)] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), content)
    return entries
