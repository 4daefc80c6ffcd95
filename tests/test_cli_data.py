"""`mlkit data` through the real Typer app: exit codes, parsed JSON, exact error lines."""

import json
import os

import pytest

from mlkit.record import file_sha256

from .conftest import validate_envelope, write_mnist_idx


def test_list_shows_where_each_dataset_resolves(mlkit, data_dir):
    document = mlkit.json("data", "list", "--data-dir", data_dir)
    rows = {row["name"]: row for row in document["datasets"]}
    assert set(rows) == {"mnist", "fashion-mnist", "cifar10"}
    assert rows["cifar10"]["where"] == "data dir" and rows["cifar10"]["path"].endswith(".tar.gz")
    assert document["command"] == "data list" and document["metrics"] == {"datasets": 3, "found": 3}
    assert document["config"] == {"data_dir": str(data_dir)} and document["data"] is None


def test_list_reads_data_dir_from_environment(mlkit, tmp_path):
    write_mnist_idx(tmp_path / "mnist")
    document = mlkit.json("data", "list", env={"MLKIT_DATA_DIR": str(tmp_path)})
    assert [row["found"] for row in document["datasets"]] == [True, False, False]
    assert document["metrics"]["found"] == 1


def test_export_then_info(mlkit, data_dir, tmp_path):
    out = tmp_path / "c.h5"
    exported = mlkit.json("data", "export", "cifar10", "--out", out, "--data-dir", data_dir)
    assert exported["command"] == "data export" and exported["files"] == [{"path": str(out), "kind": "dataset"}]
    assert exported["metrics"] == {"images": 120, "train_images": 100, "test_images": 20, "classes": 10}
    assert exported["data"]["name"] == "cifar10" and exported["data"]["source"].endswith(".tar.gz")
    info = mlkit.json("data", "info", out)
    summary = info["summary"]
    assert summary["train"] == {"images": 100, "shape": [32, 32, 3], "dtype": "uint8",
                                "class_counts": {name: 10 for name in summary["class_names"]}}
    assert summary["class_names"][3] == "cat" and info["metrics"] == exported["metrics"]
    # The arrays' fingerprint is the file's checksum: the same from the export and from the file.
    assert info["data"]["fingerprint"] == exported["data"]["fingerprint"]
    assert info["data"]["source"] == str(out) and info["data"]["file_sha256"] == file_sha256(out)


def test_table_output_goes_to_stdout_and_file_note_to_stderr(mlkit, data_dir, tmp_path):
    result = mlkit("data", "export", "mnist", "--out", tmp_path / "m.h5", "--data-dir", data_dir)
    assert result.exit_code == 0
    assert "Images per class" in result.stdout and "wrote" in result.stderr


def test_export_without_data_is_one_error_line(mlkit, tmp_path):
    result = mlkit("data", "export", "mnist", "--out", tmp_path / "m.h5")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: mnist not found") and result.stderr.count("\n") == 1
    assert result.stdout == "" and not (tmp_path / "m.h5").exists()


def test_info_on_truncated_and_missing_files(mlkit, data_dir, tmp_path):
    out = tmp_path / "m.h5"
    mlkit("data", "export", "mnist", "--out", out, "--data-dir", data_dir)
    out.write_bytes(out.read_bytes()[:3000])
    result = mlkit("data", "info", out)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {out} is not a readable HDF5 file")
    assert result.stderr.count("\n") == 1
    missing = mlkit("data", "info", tmp_path / "none.h5")
    assert missing.exit_code == 1 and missing.stderr == f"Error: {tmp_path / 'none.h5'} does not exist.\n"


def test_usage_errors_exit_2(mlkit):
    assert mlkit("data", "export", "mnist").exit_code == 2  # --out missing
    assert mlkit("no-such-command").exit_code == 2


@pytest.mark.parametrize("args, code", [(["export", "mnist"], 2), (["info", "none.h5"], 1)])
def test_failures_with_json_print_an_error_document(mlkit, tmp_path, args, code):
    result = mlkit("data", *args, "--json")
    assert result.exit_code == code and len(result.stderr.splitlines()) == 1
    document = json.loads(result.stdout)
    validate_envelope(document)
    assert document["command"] == f"data {args[0]}" and document["error"]["exit_code"] == code


def test_export_checks_the_output_path_before_reading_the_data(mlkit, data_dir, tmp_path):
    result = mlkit("data", "export", "mnist", "--out", tmp_path / "missing" / "m.h5", "--data-dir", data_dir)
    assert result.exit_code == 1 and "folder" in result.stderr and "does not exist" in result.stderr


def test_export_over_a_private_file_keeps_it_private(mlkit, data_dir, tmp_path):
    out = tmp_path / "m.h5"
    out.write_bytes(b"old")
    os.chmod(out, 0o600)
    assert mlkit("data", "export", "mnist", "--out", out, "--data-dir", data_dir, "--quiet").exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600 and out.read_bytes() != b"old"


def test_unknown_dataset_name(mlkit, tmp_path):
    result = mlkit("data", "export", "svhn", "--out", tmp_path / "s.h5")
    assert result.exit_code == 1 and "unknown dataset 'svhn'" in result.stderr


def test_json_is_the_only_thing_on_stdout(mlkit, data_dir):
    result = mlkit("data", "list", "--data-dir", data_dir, "--json")
    validate_envelope(json.loads(result.stdout))
