"""`mlkit cifar` end to end on the tiny fake CIFAR-10 of conftest."""

import json

from .test_cifar import SEED_PARAMETERS


def test_cifar_trains_saves_plots_and_resumes(mlkit, data_dir, tmp_path):
    model_file, plots = tmp_path / "b.keras", tmp_path / "plots"
    out = mlkit.json("cifar", "--arch", "b", "--epochs", "1", "--data-dir", data_dir, "--save", model_file,
                     "--plot-dir", plots, "--quiet")
    run = out["runs"][0]
    assert out["data"]["train_images"] == 100 and out["recipe"]["name"] == "fast"
    assert run["arch"] == "b" and run["epochs"] == 1 and run["images_per_second"] > 0
    assert 0.0 <= run["val_accuracy"] <= 1.0 and len(run["history"]["epochs"]["val_accuracy"]) == 1
    evaluation = run["evaluation"]
    assert sum(map(sum, evaluation["confusion_matrix"])) == 20
    assert len(evaluation["per_class_accuracy"]) == 10
    assert model_file.is_file() and sorted(p.name for p in plots.iterdir()) == [
        "cifar_b_fast_confusion.png", "cifar_b_fast_curves.png"]

    resumed = mlkit.json("cifar", "--arch", "b", "--epochs", "2", "--data-dir", data_dir, "--resume", model_file,
                         "--save", model_file, "--quiet")["runs"][0]
    assert resumed["initial_epoch"] == 1 and resumed["epochs"] == 2
    assert len(resumed["history"]["epochs"]["accuracy"]) == 1


def test_cifar_all_with_the_seed_recipe(mlkit, data_dir):
    result = mlkit("cifar", "--arch", "all", "--recipe", "seed", "--epochs", "1", "--subset", "30",
                   "--data-dir", data_dir, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [run["arch"] for run in out["runs"]] == ["a", "b", "c", "d"]
    assert {run["arch"]: run["parameters"] for run in out["runs"]} == SEED_PARAMETERS
    assert out["data"]["train_images"] == 30 and out["recipe"]["optimizer"] == "adadelta"
    assert "[a/seed] epoch 1/1" in result.stderr


def test_cifar_table_output(mlkit, data_dir):
    result = mlkit("cifar", "--arch", "a", "--epochs", "1", "--subset", "20", "--data-dir", data_dir, "--quiet")
    assert result.exit_code == 0, result.output
    assert "CIFAR-10 (20 training images)" in result.stdout and "Per-class val accuracy" in result.stdout
    assert "images/s" in result.stdout and "│ a    │ fast" in result.stdout and "truck" in result.stdout


def test_cifar_bad_input_is_one_error_line(mlkit, data_dir, tmp_path):
    (tmp_path / "notes.keras").write_text("not a model")
    cases = [
        (["--arch", "e"], "--arch must be one of"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--resume", tmp_path / "missing.keras"], "does not exist"),
        (["--resume", tmp_path / "notes.keras"], "cannot load model"),
        (["--save", tmp_path / "model.txt"], "must end in .keras"),
        (["--recipe", "slow"], "unknown recipe"),
        (["--data", tmp_path / "none.h5"], "does not exist"),
    ]
    for args, message in cases:
        result = mlkit("cifar", *args, "--data-dir", data_dir)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error:") and message in result.stderr, result.stderr
        assert "Traceback" not in result.output
