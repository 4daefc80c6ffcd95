"""`mlkit augment` end to end on the tiny fake CIFAR-10 of conftest (100 training, 20 test images)."""

import pytest
from PIL import Image

from mlkit.data import load_data
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.augment import METRICS
from mlkit.training import load_model

from .test_cli_cifar import same_weights, untimed

EVERY_TRANSFORMATION = ("--flip", "both", "--translate", "0.1", "--rotate", "0.05", "--zoom", "0.1",
                        "--contrast", "0.2", "--cutout", "0.5")


def test_augment_compare_preview_and_error_analysis(mlkit, data_dir, tmp_path):
    plots = tmp_path / "plots"
    out = mlkit.json("augment", "--arch", "b", "--epochs", "1", "--subset", "40", "--compare", "--preview", "8",
                     "--flip", "vertical", "--rotate", "0.05", "--cutout", "0.5", "--data-dir", data_dir,
                     "--plot-dir", plots, "--quiet")
    assert out["config"]["augmentation"] == {"flip": "vertical", "translate": 0.1, "rotate": 0.05, "zoom": 0.0,
                                             "contrast": 0.0, "cutout": 0.5, "crop": 0}
    assert out["config"]["selection_split"] is None and out["config"]["batch_size"] == 256
    augmented, plain = out["runs"]
    assert (augmented["label"], plain["label"]) == ("b/augmented", "b/plain")
    assert augmented["epochs"] == plain["epochs"] == 1 and augmented["arch"] == "b"
    assert set(out["metrics"]) == set(METRICS) and out["metrics"]["test_accuracy"] == augmented["test_accuracy"]
    assert out["metrics"]["plain_test_accuracy"] == plain["test_accuracy"]
    evaluation = augmented["evaluation"]
    assert sum(map(sum, evaluation["confusion_matrix"])) == 20
    errors = sum(pair["count"] for pair in evaluation["confused_pairs"])
    assert 0 < errors <= 20 - round(20 * evaluation["accuracy"])
    assert sorted(p.name for p in plots.iterdir()) == [
        "augment_confusion.png", "augment_curves.png", "augment_misclassified.png", "augment_preview.png"]
    assert sorted(entry["path"] for entry in out["files"]) == sorted(str(p) for p in plots.iterdir())
    assert Image.open(plots / "augment_preview.png").size[0] > 400


@pytest.mark.traced
def test_augment_repeats_with_the_same_seed_and_saves_the_model_it_scores(mlkit, data_dir, tmp_path):
    def run(seed: int, name: str) -> dict:
        return mlkit.json("augment", "--arch", "b", "--epochs", "2", "--patience", "0", "--batch-size", "32",
                          *EVERY_TRANSFORMATION, "--seed", seed, "--data-dir", data_dir, "--save", tmp_path / name,
                          "--quiet")

    first, again, other = run(3, "first.keras"), run(3, "again.keras"), run(4, "other.keras")
    assert untimed(first["metrics"]) == untimed(again["metrics"])
    assert first["runs"][0]["history"]["epochs"] == again["runs"][0]["history"]["epochs"]
    assert same_weights(tmp_path / "first.keras", tmp_path / "again.keras")
    assert first["runs"][0]["history"]["epochs"] != other["runs"][0]["history"]["epochs"]
    assert not same_weights(tmp_path / "first.keras", tmp_path / "other.keras")
    data = load_data("cifar10", data_dir)
    saved = evaluate_classifier(load_model(tmp_path / "first.keras"), data.x_test, data.y_test, data.class_names)
    assert saved.accuracy == first["metrics"]["test_accuracy"]


def test_augment_starts_from_a_cifar_model_file(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "a.keras"
    mlkit.json("cifar", "--arch", "a", "--epochs", "1", "--subset", "20", "--data-dir", data_dir,
               "--save", model_file, "--quiet")
    out = mlkit.json("augment", "--model", model_file, "--epochs", "1", "--subset", "20", "--flip", "none",
                     "--translate", "0", "--data-dir", data_dir, "--quiet")
    run = out["runs"][0]
    assert run["arch"] == "a" and run["parameters"] == 924_910 and run["initial_epoch"] == 0
    assert run["label"] == "a/plain" and len(out["runs"]) == 1 and out["metrics"]["plain_test_accuracy"] is None
    assert out["config"]["model"] == str(model_file)


def test_augment_expect_and_json_error_documents(mlkit, data_dir, tmp_path):
    out = mlkit.json("augment", "--arch", "b", "--epochs", "1", "--subset", "20", "--data-dir", data_dir, "--quiet",
                     "--expect", "test_accuracy>=1.01", exit_code=3)
    assert out["expectations"][0]["passed"] is False and out["metrics"]["test_accuracy"] is not None
    unknown = mlkit("augment", "--expect", "accuracy>=0.5", "--data-dir", data_dir)
    assert unknown.exit_code == 2 and "plain_test_accuracy" in unknown.stderr
    usage = mlkit.json("augment", "--translate", "2", "--data-dir", data_dir, exit_code=2)
    assert "--translate" in usage["error"]["message"]
    missing = mlkit.json("augment", "--model", tmp_path / "none.keras", "--data-dir", data_dir, exit_code=1)
    assert "does not exist" in missing["error"]["message"]


def test_augment_bad_input_is_one_error_line(mlkit, data_dir, tmp_path):
    cases = [
        (["--flip", "diagonal"], 2, "flip must be one of"),
        (["--translate", "2"], 2, "--translate"),
        (["--zoom", "nan"], 2, "--zoom"),
        (["--preview", "8"], 2, "give --plot-dir"),
        (["--model", tmp_path / "a.keras", "--resume", tmp_path / "b.keras"], 2, "not both"),
        (["--arch", "all"], 2, "--arch must be one of"),
        (["--model", tmp_path / "none.keras"], 1, "does not exist"),
        (["--save", tmp_path / "no" / "m.keras"], 1, "does not exist"),
    ]
    for args, code, message in cases:
        result = mlkit("augment", *args, "--data-dir", data_dir)
        assert result.exit_code == code, (args, result.output)
        assert result.stderr.startswith("Error:") and message in result.stderr, (args, result.stderr)
        assert result.stderr.count("Error:") == 1 and "Traceback" not in result.output


def test_epochs_default_by_recipe():
    from mlkit.experiments.augment import AugmentConfig
    from mlkit.recipes import get_recipe

    assert [AugmentConfig().epochs_for(get_recipe(name)) for name in ("fast", "seed", "airbench")] == [22, 20, 12]
    assert AugmentConfig(epochs=3).epochs_for(get_recipe("seed")) == 3
