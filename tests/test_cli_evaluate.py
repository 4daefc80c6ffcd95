"""`mlkit evaluate` end to end: tiny models built here, tiny data from conftest."""

import json

import numpy as np
import pytest

from mlkit.data import Dataset, load_data, save_dataset
from mlkit.training import save_model

# Large random biases make a model's answers depend on the pixel scale (without biases a linear
# model's argmax would not change when every pixel is divided by 255).
BIASES = {"class_name": "RandomNormal", "config": {"stddev": 1.0, "seed": 3}}


def mlkit_style_model(input_shape=(28, 28), num_classes=10, seed=0):
    """Like mlkit's own: raw 0-255 pixels in, Rescaling(1/255) inside, softmax out."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", bias_initializer=BIASES)(x)
    return keras.Model(inputs, outputs)


def unit_scale_model(input_shape=(28, 28, 1), activation="softmax", seed=1):
    """Like a student's: expects pixels already divided by 255, no Rescaling layer."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(10, activation=activation, bias_initializer=BIASES)(x)
    return keras.Model(inputs, outputs)


def saved(model, path):
    save_model(model, path)
    return path


def own_answers_dataset(model, folder, divide: bool):
    """The tiny MNIST test images labelled with the model's own answers (fed correctly), so the
    right pixel scale scores exactly 1.0 and a wrong one less."""
    data = load_data("mnist", folder)
    images = data.x_test.astype("float32") / (255 if divide else 1)
    labels = np.argmax(model.predict(images.reshape(len(images), *model.input_shape[1:]), verbose=0), axis=1)
    path = folder.parent / "own_answers.h5"
    save_dataset(Dataset("own-answers", data.x_train, data.y_train, data.x_test, labels, data.class_names), path)
    return path


def test_mlkit_style_model_is_fed_raw_pixels_and_scores_as_computed_directly(mlkit, data_dir, tmp_path):
    model = mlkit_style_model()
    data = own_answers_dataset(model, data_dir, divide=False)
    out = mlkit.json("evaluate", saved(model, tmp_path / "own.keras"), "--data", data, "--quiet")
    assert out["command"] == "evaluate" and out["config"]["scale"] == 255
    assert "Rescaling layer 'scale'" in out["config"]["scale_from"]
    assert out["metrics"]["test_accuracy"] == 1.0 and out["metrics"]["train_accuracy"] is None
    assert out["metrics"]["images"] == 20 and out["metrics"]["images_per_second"] > 0
    assert out["data"]["fingerprint"] == load_data(str(data)).fingerprint()
    wrong = mlkit.json("evaluate", tmp_path / "own.keras", "--data", data, "--scale", "1", "--quiet")
    assert wrong["config"]["scale_from"] == "--scale" and wrong["metrics"]["test_accuracy"] < 1.0


def test_loss_matches_keras_for_probabilities(mlkit, data_dir, tmp_path):
    model = mlkit_style_model()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = load_data("mnist", data_dir)
    loss, accuracy = model.evaluate(data.x_test.astype("float32"), data.y_test, verbose=0)
    out = mlkit.json("evaluate", saved(model, tmp_path / "m.keras"), "--data", "mnist", "--data-dir", data_dir)
    assert out["config"]["outputs"] == "probabilities"
    assert out["metrics"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert out["metrics"]["test_accuracy"] == pytest.approx(accuracy, abs=1e-7)
    evaluation = out["evaluation"]
    assert sum(map(sum, evaluation["confusion_matrix"])) == 20 and evaluation["class_counts"] == [2] * 10


def test_unit_scale_model_with_logits(mlkit, data_dir, tmp_path):
    model = unit_scale_model(activation=None)
    data = own_answers_dataset(model, data_dir, divide=True)
    out = mlkit.json("evaluate", saved(model, tmp_path / "student.keras"), "--data", data, "--scale", "1")
    assert out["metrics"]["test_accuracy"] == 1.0 and out["config"]["outputs"] == "logits"
    logits = model.predict(load_data(str(data)).x_test[..., None].astype("float32") / 255, verbose=0)
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(
        1, keepdims=True)
    assert out["metrics"]["loss"] == pytest.approx(-np.mean(log_softmax[np.arange(20), np.argmax(logits, 1)]), rel=1e-5)
    default = mlkit.json("evaluate", tmp_path / "student.keras", "--data", data)
    assert default["config"]["scale"] == 1 and default["metrics"]["test_accuracy"] == 1.0
    raw = mlkit.json("evaluate", tmp_path / "student.keras", "--data", data, "--scale", "255")
    assert raw["metrics"]["test_accuracy"] < 1.0


def test_grey_images_fit_models_with_a_channel_or_flat_input(mlkit, data_dir, tmp_path):
    for name, shape in (("channel", (28, 28, 1)), ("flat", (784,))):
        out = mlkit.json("evaluate", saved(unit_scale_model(shape), tmp_path / f"{name}.keras"),
                         "--data", "fashion-mnist", "--data-dir", data_dir, "--split", "train")
        assert out["model"]["input_shape"] == list(shape) and out["metrics"]["images"] == 30
        assert out["metrics"]["test_accuracy"] is None and 0 <= out["metrics"]["train_accuracy"] <= 1


def one_error_line(result, code: int, *fragments: str):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    assert "Traceback" not in result.output


def test_models_that_do_not_fit_the_data_are_one_error_line(mlkit, data_dir, tmp_path):
    cifar_model = saved(mlkit_style_model((32, 32, 3)), tmp_path / "cifar.keras")
    one_error_line(mlkit("evaluate", cifar_model, "--data", "mnist", "--data-dir", data_dir), 1,
                   "(32, 32, 3)", "(28, 28)")
    five = saved(mlkit_style_model(num_classes=5), tmp_path / "five.keras")
    one_error_line(mlkit("evaluate", five, "--data", "mnist", "--data-dir", data_dir), 1, "predicts 5 classes", "10")


def test_mlkit_s_sequence_models_are_pointed_to_the_command_that_scores_them(mlkit, data_dir, tmp_path):
    from mlkit.arithmetic import Task
    from mlkit.models.mnist_calc import build_calc_model, build_digit_reader
    from mlkit.models.mnist_sum import EncoderConfig, build_sum_model
    from mlkit.models.seq2seq import Seq2SeqSpec, build_core, build_string_model

    args = ("--data", "mnist", "--data-dir", data_dir)
    tiny = EncoderConfig(filters=(2, 2), units=4)
    for name, model in (("sum", build_sum_model(tiny)), ("calc", build_calc_model(1, "add", build_digit_reader(tiny)))):
        path = saved(model, tmp_path / f"{name}.keras")
        one_error_line(mlkit("evaluate", path, *args), 1, f"mlkit mnist-sum {name}` model",
                       f"mlkit mnist-sum predict --model {path}")
    spec = Seq2SeqSpec(Task("add", 2), "rnn", "msb")
    path = saved(build_string_model(build_core(spec, {"units": 4}), spec), tmp_path / "add.keras")
    one_error_line(mlkit("evaluate", path, *args), 1, "mlkit seq2seq` model", f"mlkit seq2seq predict --model {path}")


def test_missing_damaged_and_unsafe_model_files_exit_1(mlkit, data_dir, tmp_path):
    import keras

    args = ("--data", "mnist", "--data-dir", data_dir)
    one_error_line(mlkit("evaluate", tmp_path / "missing.keras", *args), 1, "does not exist")
    whole = saved(mlkit_style_model(), tmp_path / "whole.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(whole[: len(whole) // 2])
    one_error_line(mlkit("evaluate", tmp_path / "cut.keras", *args), 1, "cannot load")
    inputs = keras.Input((28, 28))
    lambda_model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Lambda(lambda x: x / 255)(
        keras.layers.Flatten()(inputs))))
    one_error_line(mlkit("evaluate", saved(lambda_model, tmp_path / "lambda.keras"), *args), 1, "cannot load", "Lambda")
    document = mlkit.json("evaluate", tmp_path / "missing.keras", *args, exit_code=1)
    assert document["error"]["exit_code"] == 1 and "does not exist" in document["error"]["message"]


def test_expectations_and_usage_errors(mlkit, data_dir, tmp_path):
    model = saved(mlkit_style_model(), tmp_path / "m.keras")
    args = ("evaluate", model, "--data", "mnist", "--data-dir", data_dir, "--quiet")
    passed = mlkit.json(*args, "--expect", "test_accuracy>=0", "--expect", "images>=20")
    assert [check["passed"] for check in passed["expectations"]] == [True, True]
    failed = mlkit(*args, "--expect", "test_accuracy>=1.01", "--json")
    assert failed.exit_code == 3 and "expectation failed: test_accuracy >= 1.01" in failed.stderr
    assert json.loads(failed.stdout)["expectations"][0]["passed"] is False
    one_error_line(mlkit(*args, "--expect", "accuracy>=0.5"), 2, "unknown metric 'accuracy'", "test_accuracy")
    usage = mlkit.json(*args, "--split", "valid", exit_code=2)
    assert usage["error"]["exit_code"] == 2
    one_error_line(mlkit(*args, "--scale", "10"), 2, "--scale")


def test_plot_dir_and_tables(mlkit, data_dir, tmp_path):
    model, plots = saved(mlkit_style_model(), tmp_path / "m.keras"), tmp_path / "plots"
    out = mlkit.json("evaluate", model, "--data", "mnist", "--data-dir", data_dir, "--plot-dir", plots, "--quiet")
    assert {entry["kind"] for entry in out["files"]} == {"plot"}
    assert (plots / "evaluate_m_test_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in plots.iterdir()) == sorted(p.rsplit("/", 1)[-1] for p in
                                                            (entry["path"] for entry in out["files"]))
    (tmp_path / "taken").write_text("")  # a file where the folder should go
    one_error_line(mlkit("evaluate", model, "--data", "mnist", "--data-dir", data_dir, "--plot-dir",
                         tmp_path / "taken"), 2, "--plot-dir")
    table = mlkit("evaluate", model, "--data", "mnist", "--data-dir", data_dir, "--quiet")
    assert table.exit_code == 0 and table.stderr == ""
    for title in ("m.keras on mnist test", "Per-class accuracy", "Confusion matrix", "Most confused pairs"):
        assert title in table.stdout
    assert max(map(len, table.stdout.splitlines())) <= 80


def test_evaluate_repeats_the_accuracy_cifar_reported(mlkit, data_dir, tmp_path):
    model = tmp_path / "m.keras"
    trained = mlkit.json("cifar", "--data-dir", data_dir, "--arch", "b", "--epochs", "1", "--subset", "40",
                         "--save", model, "--quiet")
    scored = mlkit.json("evaluate", model, "--data", "cifar10", "--data-dir", data_dir, "--quiet")
    assert scored["config"]["scale"] == 255 and scored["metrics"]["images"] == 20
    assert scored["metrics"]["test_accuracy"] == trained["metrics"]["test_accuracy"]
