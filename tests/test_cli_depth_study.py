"""`mlkit depth-study` through the real Typer app: JSON, tables, files and errors."""

import json


def test_json_is_one_document_with_runs_norms_and_history(mlkit, data_dir):
    result = mlkit("depth-study", "--data-dir", data_dir, "--activations", "sigmoid,relu", "--depths", "1",
                   "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    assert set(document) == {"mode", "data", "train_images", "test_images", "epochs", "batch_size", "runs",
                             "plots", "seconds"}
    assert [run["label"] for run in document["runs"]] == ["sigmoid d1", "relu d1"]
    run = document["runs"][0]
    assert (run["activation"], run["depth"], run["variant"], run["parameters"]) == ("sigmoid", 1, "seed", 407050)
    assert len(run["gradient_norms"]) == 2 and all(len(row) == 2 for row in run["gradient_norms"])
    assert run["history"]["epochs"]["val_accuracy"] == [run["test_accuracy"]]
    assert "sigmoid d1 epoch 1/1" in result.stderr


def test_tables_and_plots(mlkit, data_dir, tmp_path):
    result = mlkit("depth-study", "--data-dir", data_dir, "--activations", "sigmoid", "--depths", "3",
                   "--variant", "seed,he", "--epochs", "1", "--plot-dir", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    assert "sigmoid d3 he" in result.stdout and "residual" not in result.stdout and "Mean |dL/dW|" in result.stdout
    assert "L3" in result.stdout and "L1/out" in result.stdout and "after epoch 1" in result.stdout
    for name in ("depth_study_depth_curves.png", "depth_study_depth_gradients.png"):
        assert (tmp_path / "plots" / name).is_file() and name in result.stderr.replace("\n", "")


def test_models_comparison_json(mlkit, data_dir):
    document = mlkit.json("depth-study", "--data-dir", data_dir, "--models", "linear,mlp-dropout",
                          "--epochs", "1", "--every-batches", "1", "--quiet")
    assert document["mode"] == "models" and document["batch_size"] == 100
    assert [run["model"] for run in document["runs"]] == ["linear", "mlp-dropout"]
    assert document["runs"][0]["history"]["batch_steps"] == [1]  # 30 images fit one batch of 100


def test_bad_values_exit_1_with_one_line(mlkit, data_dir):
    for option, value in (("--depths", "0"), ("--depths", "1,x"), ("--models", "vgg"), ("--variant", "deep")):
        result = mlkit("depth-study", "--data-dir", data_dir, option, value)
        assert result.exit_code == 1, (option, result.output)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
        assert result.stdout == ""


def test_missing_data_is_an_error_not_a_traceback(mlkit, tmp_path):
    result = mlkit("depth-study", "--data-dir", tmp_path, "--epochs", "1")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_hdf5_data_file_and_models_table(mlkit, data_dir, tmp_path):
    exported = mlkit("data", "export", "mnist", "--out", tmp_path / "mnist.h5", "--data-dir", data_dir)
    assert exported.exit_code == 0, exported.output
    result = mlkit("depth-study", "--data", tmp_path / "mnist.h5", "--models", "linear", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "linear" in result.stdout and "30 training images" in result.stdout
