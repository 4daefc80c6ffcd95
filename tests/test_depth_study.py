"""depth-study library: the seed models, gradient norms against a hand computation, and run()."""

import json

import numpy as np
import pytest

from mlkit.data import Dataset, load_data, save_dataset
from mlkit.depth_plans import comparison_plans, depth_plans
from mlkit.errors import ConfigError, DataError
from mlkit.evaluation import evaluate_classifier
from mlkit.experiments.depth_study import METRICS, DepthStudyConfig, run
from mlkit.gradients import kernel_gradient_norms, kernel_layers
from mlkit.models.mlp import VARIANTS, build_depth_mlp, build_linear, build_wide_mlp
from mlkit.models.mnist_cnn import build_mnist_cnn
from mlkit.models.pixels import pixel_scaling
from mlkit.training import load_model, set_seed

from .conftest import make_images, validate_envelope


def dense_parameters(*sizes: int) -> int:
    return sum(inputs * outputs + outputs for inputs, outputs in zip(sizes, sizes[1:]))


def pixels(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28), dtype=np.uint8)


def test_seed_mlp_has_the_seeds_parameter_counts():
    # The seed notebook prints 407,050 / 669,706 / 932,362 parameters for depths 1-3.
    counts = [build_depth_mlp((28, 28), 10, depth).count_params() for depth in (1, 2, 3)]
    assert counts == [407050, 669706, 932362]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_builds_ten_hidden_layers(variant):
    model = build_depth_mlp((28, 28), 10, 10, "sigmoid", variant)
    assert [layer.name for layer in kernel_layers(model)] == [f"dense_{i}" for i in range(1, 11)] + ["output"]
    names = [layer.__class__.__name__ for layer in model.layers]
    assert names.count("BatchNormalization") == (10 if variant == "batchnorm" else 0)
    assert names.count("Add") == (9 if variant == "residual" else 0)
    assert model.output_shape == (None, 10)


def test_sigmoid_first_is_seed_002s_mixed_model():
    model = build_depth_mlp((28, 28), 10, 3, "relu", "sigmoid-first")
    activations = [layer.get_config()["activation"] for layer in model.layers
                   if layer.__class__.__name__ == "Activation"]
    assert activations == ["sigmoid", "relu", "relu"]  # the seed's lines 530-535
    assert model.count_params() == 932362  # the seed's summary for its three-layer model
    labels = [plan.label for plan in depth_plans(("relu",), (1, 3, 1), ("sigmoid-first",))]
    assert labels == ["relu d1 sigmoid-first", "relu d3 sigmoid-first"]  # a repeated depth runs once


def test_seed_004_models_have_the_expected_sizes():
    assert build_linear((28, 28), 10).count_params() == dense_parameters(784, 10, 10)
    assert build_wide_mlp((28, 28), 10).count_params() == dense_parameters(784, 1500, 1500, 1500, 10)
    dropout = build_wide_mlp((28, 28), 10, dropout_rate=0.5)
    assert sum(layer.__class__.__name__ == "Dropout" for layer in dropout.layers) == 3
    convolutions = (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64)
    assert build_mnist_cnn((28, 28), 10).count_params() == convolutions + 7 * 7 * 64 * 10 + 10
    assert build_mnist_cnn((32, 32, 3), 10).output_shape == (None, 10)


def test_pixel_scaling_equals_dividing_in_float64_for_every_pixel_value():
    import keras

    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    inputs = keras.Input((16, 16))
    scaled = keras.Model(inputs, pixel_scaling()(inputs)).predict(values, verbose=0)
    # The inputs the seeds' models were trained on; Rescaling(1/255) misses 126 of them by 1 ulp.
    np.testing.assert_array_equal(scaled, (values / 255.0).astype(np.float32))


def test_gradient_norm_matches_the_softmax_regression_formula():
    import keras

    set_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)).astype("float32"), rng.integers(0, 3, 50)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    weights, bias = model.layers[0].get_weights()
    logits = x @ weights + bias
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # d(mean cross-entropy)/dW = X^T (softmax - one_hot) / N
    expected = np.abs(x.T @ (probabilities - np.eye(3)[y]) / len(x)).mean()
    assert kernel_gradient_norms(model, x, y) == pytest.approx([expected], rel=1e-4)


def test_sigmoid_gradients_vanish_towards_the_input_and_batchnorm_fixes_it():
    x, y = pixels(256), np.random.default_rng(1).integers(0, 10, 256)
    set_seed(0)
    sigmoid = kernel_gradient_norms(build_depth_mlp((28, 28), 10, 5, "sigmoid"), x, y)
    assert all(a < b for a, b in zip(sigmoid[:-1], sigmoid[1:-1]))  # each layer lower than the next
    assert sigmoid[0] / sigmoid[4] < 0.01
    set_seed(0)
    fixed = kernel_gradient_norms(build_depth_mlp((28, 28), 10, 5, "sigmoid", "batchnorm"), x, y)
    assert fixed[0] / fixed[4] > 10 * sigmoid[0] / sigmoid[4]


def test_gradient_norms_leave_batchnorm_statistics_untouched():
    model = build_depth_mlp((28, 28), 10, 2, "relu", "batchnorm")
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    kernel_gradient_norms(model, pixels(64, seed=2), np.zeros(64, dtype=np.int64))
    for old, new in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(old, new.numpy())


def test_run_depth_grid_records_history_norms_and_the_best_run(data_dir, tmp_path):
    config = DepthStudyConfig(data_dir=data_dir, activations=("relu",), depths=(1, 2), epochs=2,
                              gradient_samples=16, plot_dir=tmp_path / "plots", quiet=True)
    result = run(config)
    assert [run.label for run in result.runs] == ["relu d1", "relu d2"]
    assert (result.settings["batch_size"], result.data["train_images"], result.data["test_images"]) == (128, 30, 20)
    for depth, trained in zip((1, 2), result.runs):
        assert trained.layers == [f"dense_{i}" for i in range(1, depth + 1)] + ["output"]
        assert np.asarray(trained.gradient_norms).shape == (3, depth + 1)  # start + 2 epochs
        assert trained.outcome.epochs_run == 2 and trained.outcome.history.batch_steps == []
        # Scored on the test images after every epoch; the last epoch's weights are kept.
        assert trained.test_accuracy == pytest.approx(trained.outcome.last("val_accuracy"))
        assert trained.test_accuracy * 20 == round(trained.test_accuracy * 20)  # a share of 20 images
    best = max(result.runs, key=lambda trained: trained.test_accuracy)
    record = result.record()
    assert record.metrics["test_accuracy"] == best.test_accuracy and set(record.metrics) == set(METRICS)
    assert record.sections["best"] == best.label and record.config["selection_split"] == "test"
    assert sorted(path.name for path in result.plots) == [
        "depth_study_depth_curves.png", "depth_study_depth_gradients.png"]
    assert all(path.stat().st_size > 1000 for path in result.plots)
    document = record.to_dict()
    validate_envelope(document)
    assert "test_accuracy" in document["runs"][0]["history"]["epochs"]  # Keras' val_ named for its split
    json.dumps(document)


@pytest.mark.traced
def test_run_is_repeatable_with_the_same_seed(data_dir):
    config = DepthStudyConfig(data_dir=data_dir, activations=("sigmoid",), depths=(10,), epochs=1,
                              variants=("residual",), gradient_samples=8, quiet=True)
    first, second = run(config).runs[0], run(config).runs[0]
    assert first.test_loss == second.test_loss
    assert first.gradient_norms == second.gradient_norms


def test_saved_model_takes_stored_pixels_and_scores_the_reported_accuracy(data_dir, tmp_path):
    save = tmp_path / "best.keras"
    result = run(DepthStudyConfig(data_dir=data_dir, activations=("sigmoid", "relu"), depths=(1,), epochs=2,
                                  gradient_samples=8, save=save, quiet=True))
    model = load_model(save)
    assert model.name == f"mlp_{result.best.plan.activation}_seed_1"
    dataset = load_data("mnist", data_dir)  # the 0-255 images as stored, nothing scaled
    evaluation = evaluate_classifier(model, dataset.x_test, dataset.y_test, dataset.class_names)
    assert evaluation.accuracy == result.record().metrics["test_accuracy"] == result.best.test_accuracy
    assert result.record().files == [{"path": str(save), "kind": "model"}]


def test_run_model_comparison_logs_every_n_batches(data_dir, tmp_path):
    config = DepthStudyConfig(data_dir=data_dir, models=("linear", "cnn"), epochs=2, batch_size=10,
                              every_batches=2, gradient_samples=8, plot_dir=tmp_path, quiet=True)
    result = run(config)
    assert [(run.label, run.plan.model, run.plan.depth) for run in result.runs] == [
        ("linear", "linear", None), ("cnn", "cnn", None)]
    # 30 images in batches of 10 = 3 batches an epoch, 6 in all, logged every 2.
    assert all(run.outcome.history.batch_steps == [2, 4, 6] for run in result.runs)
    assert len(result.runs[1].outcome.history.batches["loss"]) == 3
    assert result.runs[1].layers == ["conv_1", "conv_2", "output"]
    assert "depth_study_models_batches.png" in [path.name for path in result.plots]
    assert result.settings["models"] == ["linear", "cnn"] and result.settings["depths"] is None


@pytest.mark.parametrize("changes", [
    {"depths": (0,)}, {"depths": (31,)}, {"activations": ("softsign",)}, {"variants": ("wide",)},
    {"models": ("resnet",)}, {"epochs": 0}, {"epochs": 1001}, {"batch_size": 0}, {"batch_size": 10 ** 20},
    {"depths": ()}, {"gradient_samples": 0}, {"gradient_samples": 10_001}, {"save": "best.h5"},
])
def test_bad_config_values_are_config_errors(changes, data_dir):
    with pytest.raises(ConfigError, match="mlkit depth-study --help"):
        run(DepthStudyConfig(data_dir=data_dir, **changes))


def test_images_that_are_not_stored_pixels_are_refused(tmp_path):
    scaled = make_images(30, (28, 28))[0] / 255.0
    dataset = Dataset("scaled", scaled, np.arange(30) % 10, scaled[:10], np.arange(10), [str(i) for i in range(10)])
    path = save_dataset(dataset, tmp_path / "scaled.h5")
    with pytest.raises(DataError, match="uint8"):
        run(DepthStudyConfig(data=str(path), depths=(1,), quiet=True))


def test_linear_model_is_clipped_the_others_are_not():
    plans = {plan.model: plan for plan in comparison_plans(("linear", "mlp", "cnn"))}
    assert plans["linear"].optimizer().clipnorm == 1.0 and plans["linear"].learning_rate == 0.5
    assert plans["cnn"].optimizer().clipnorm is None and plans["cnn"].optimizer_name == "adam"
