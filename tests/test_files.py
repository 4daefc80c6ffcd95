"""mlkit.files: input paths named for what they are, output paths checked before work starts,
atomic writes that lose nothing."""

import os
import stat

import pytest

from mlkit.errors import DataError, MlkitError
from mlkit.files import atomic_path, check_input_file, check_output_folder, check_output_path, write_text

from ._filesystems import read_only_folder  # noqa: F401 (fixture)


@pytest.fixture
def odd_paths(tmp_path):
    """A file, a folder, a named pipe and links to /dev/null and to nowhere."""
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "null").symlink_to("/dev/null")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("folder", "is a folder, not a model"),
    ("pipe", "is a named pipe \\(FIFO\\), not a model"),
    ("null", "is a character device, not a model"),
    ("dangling", "is a broken link \\(to .*gone\\); expected a model"),
    ("missing", "does not exist"),
])
def test_input_paths_that_are_not_files_are_named_for_what_they_are(odd_paths, name, message):
    with pytest.raises(DataError, match=message):
        check_input_file(odd_paths / name, "a model")
    assert check_input_file(odd_paths / "file.txt") == odd_paths / "file.txt"


@pytest.mark.parametrize("target, message", [
    ("folder", "--save .*folder is a folder"),
    ("null", "--save .*null is a character device"),
    ("file.txt/model.keras", "--save .*: .*file.txt is a file, not a folder"),
    ("missing/model.keras", "folder .*missing does not exist; create it first"),
    ("/proc/model.keras", "cannot create files in /proc"),
])
def test_output_paths_are_refused_before_work_starts(odd_paths, target, message):
    with pytest.raises(MlkitError, match=message):
        check_output_path(odd_paths / target, "--save")
    assert check_output_path(odd_paths / "new.keras", "--save") == odd_paths / "new.keras"
    assert sorted(p.name for p in odd_paths.iterdir()) == ["dangling", "file.txt", "folder", "null", "pipe"]


@pytest.mark.parametrize("target, message", [
    ("file.txt", "--plot-dir .*file.txt is a file; give a folder"),
    ("pipe", "is a named pipe"),
    ("file.txt/plots", "file.txt is a file, not a folder"),
    ("/proc/plots/deeper", "cannot create files in /proc"),
])
def test_output_folders_are_refused_before_work_starts(odd_paths, target, message):
    with pytest.raises(MlkitError, match=message):
        check_output_folder(odd_paths / target, "--plot-dir")
    assert check_output_folder(odd_paths / "new" / "plots", "--plot-dir") == odd_paths / "new" / "plots"


def test_read_only_places_are_refused_even_for_root(read_only_folder):
    with pytest.raises(MlkitError, match="is not writable|cannot create files in .*Read-only file system"):
        check_output_path(read_only_folder / "m.keras", "--save")
    with pytest.raises(MlkitError, match="is not writable|cannot create files in .*Read-only file system"):
        check_output_folder(read_only_folder / "plots", "--plot-dir")


def test_atomic_writes_never_replace_a_device_or_pipe(odd_paths):
    for name in ("null", "pipe"):
        with pytest.raises(MlkitError, match=f"cannot write .*{name}: it is a (character device|named pipe)"):
            write_text(odd_paths / name, "text")
    assert (odd_paths / "null").is_symlink() and stat.S_ISFIFO((odd_paths / "pipe").lstat().st_mode)


@pytest.mark.parametrize("target", ["/proc/x.txt", "/proc/new/x.txt"])
def test_atomic_writes_under_proc_are_one_error(target):
    with pytest.raises(MlkitError, match=f"cannot write {target}: cannot create a file in"):
        write_text(target, "text")


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    path = write_text(tmp_path / "a.txt", "old")
    path.chmod(0o640)
    with pytest.raises(ZeroDivisionError):
        with atomic_path(path) as temp:
            temp.write_text("half")
            1 / 0
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640
