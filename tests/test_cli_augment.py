"""`mlkit augment` end to end on the tiny fake CIFAR-10 of conftest."""

from PIL import Image


def test_augment_compare_preview_and_error_analysis(mlkit, data_dir, tmp_path):
    plots = tmp_path / "plots"
    out = mlkit.json("augment", "--arch", "b", "--epochs", "1", "--subset", "40", "--compare", "--preview", "8",
                     "--flip", "vertical", "--rotate", "0.05", "--cutout", "0.5", "--data-dir", data_dir,
                     "--plot-dir", plots, "--quiet")
    assert out["config"]["augmentation"] == {"flip": "vertical", "translate": 0.1, "rotate": 0.05, "zoom": 0.0,
                                             "contrast": 0.0, "cutout": 0.5}
    augmented, plain = out["augmented"], out["plain"]
    assert (augmented["recipe"], plain["recipe"]) == ("augmented", "plain")
    assert augmented["epochs"] == plain["epochs"] == 1 and augmented["arch"] == "b"
    evaluation = augmented["evaluation"]
    assert sum(map(sum, evaluation["confusion_matrix"])) == 20
    errors = sum(pair["count"] for pair in evaluation["confused_pairs"])
    assert 0 < errors <= 20 - round(20 * evaluation["accuracy"])
    assert sorted(p.name for p in plots.iterdir()) == [
        "augment_confusion.png", "augment_curves.png", "augment_misclassified.png", "augment_preview.png"]
    assert Image.open(plots / "augment_preview.png").size[0] > 400


def test_augment_starts_from_a_cifar_model(mlkit, data_dir, tmp_path):
    model_file = tmp_path / "a.keras"
    mlkit.json("cifar", "--arch", "a", "--epochs", "1", "--subset", "20", "--data-dir", data_dir,
               "--save", model_file, "--quiet")
    out = mlkit.json("augment", "--model", model_file, "--epochs", "1", "--subset", "20", "--flip", "none",
                     "--translate", "0", "--data-dir", data_dir, "--quiet")
    assert out["augmented"]["arch"] == "a" and out["augmented"]["parameters"] == 924_910
    assert out["augmented"]["recipe"] == "plain" and out["plain"] is None


def test_augment_bad_input_is_one_error_line(mlkit, data_dir, tmp_path):
    cases = [
        (["--flip", "diagonal"], "flip must be one of"),
        (["--translate", "2"], "--translate must be between 0 and 1"),
        (["--preview", "8"], "give --plot-dir"),
        (["--model", tmp_path / "none.keras"], "does not exist"),
        (["--model", tmp_path / "a.keras", "--resume", tmp_path / "b.keras"], "not both"),
        (["--arch", "all"], "--arch must be one of"),
    ]
    for args, message in cases:
        result = mlkit("augment", *args, "--data-dir", data_dir)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error:") and message in result.stderr, result.stderr
