"""`mlkit data` through the real Typer app: exit codes, parsed JSON, exact error lines."""

import json

from .conftest import write_mnist_idx


def test_list_shows_where_each_dataset_resolves(mlkit, data_dir):
    rows = {row["name"]: row for row in mlkit.json("data", "list", "--data-dir", data_dir)["datasets"]}
    assert set(rows) == {"mnist", "fashion-mnist", "cifar10"}
    assert rows["cifar10"]["where"] == "data dir" and rows["cifar10"]["path"].endswith(".tar.gz")


def test_list_reads_data_dir_from_environment(mlkit, tmp_path):
    write_mnist_idx(tmp_path / "mnist")
    rows = mlkit.json("data", "list", env={"MLKIT_DATA_DIR": str(tmp_path)})["datasets"]
    assert [row["found"] for row in rows] == [True, False, False]


def test_export_then_info(mlkit, data_dir, tmp_path):
    out = tmp_path / "c.h5"
    exported = mlkit.json("data", "export", "cifar10", "--out", out, "--data-dir", data_dir)
    assert exported["out"] == str(out)
    info = mlkit.json("data", "info", out)
    assert info["train"] == {"images": 100, "shape": [32, 32, 3], "dtype": "uint8",
                             "class_counts": {name: 10 for name in info["class_names"]}}
    assert info["class_names"][3] == "cat"


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


def test_unknown_dataset_name(mlkit, tmp_path):
    result = mlkit("data", "export", "svhn", "--out", tmp_path / "s.h5")
    assert result.exit_code == 1 and "unknown dataset 'svhn'" in result.stderr


def test_json_is_the_only_thing_on_stdout(mlkit, data_dir):
    result = mlkit("data", "list", "--data-dir", data_dir, "--json")
    json.loads(result.stdout)
