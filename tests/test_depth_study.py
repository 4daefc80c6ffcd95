"""depth-study library: the seed models, gradient norms against a hand computation, and run()."""

import json

import numpy as np
import pytest

from mlkit.errors import ConfigError
from mlkit.experiments.depth_study import DepthStudyConfig, parse_list, run
from mlkit.experiments.depth_study_plans import comparison_plans
from mlkit.gradients import kernel_gradient_norms, kernel_layers
from mlkit.models.mlp import VARIANTS, build_depth_mlp, build_linear, build_wide_mlp
from mlkit.models.mnist_cnn import build_mnist_cnn
from mlkit.results import to_jsonable
from mlkit.training import set_seed


def dense_parameters(*sizes: int) -> int:
    return sum(inputs * outputs + outputs for inputs, outputs in zip(sizes, sizes[1:]))


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


def test_seed_004_models_have_the_expected_sizes():
    assert build_linear((28, 28), 10).count_params() == dense_parameters(784, 10, 10)
    assert build_wide_mlp((28, 28), 10).count_params() == dense_parameters(784, 1500, 1500, 1500, 10)
    dropout = build_wide_mlp((28, 28), 10, dropout_rate=0.5)
    assert sum(layer.__class__.__name__ == "Dropout" for layer in dropout.layers) == 3
    convolutions = (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64)
    assert build_mnist_cnn((28, 28), 10).count_params() == convolutions + 7 * 7 * 64 * 10 + 10
    assert build_mnist_cnn((32, 32, 3), 10).output_shape == (None, 10)


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
    rng = np.random.default_rng(1)
    x, y = rng.random((256, 28, 28), dtype=np.float32), rng.integers(0, 10, 256)
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
    x = np.random.default_rng(2).random((64, 28, 28), dtype=np.float32) * 5
    kernel_gradient_norms(model, x, np.zeros(64, dtype=np.int64))
    for old, new in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(old, new.numpy())


def test_run_depth_grid_records_history_and_norms_per_epoch(data_dir, tmp_path):
    config = DepthStudyConfig(data_dir=data_dir, activations=("relu",), depths=(1, 2), epochs=2,
                              gradient_samples=16, plot_dir=tmp_path, quiet=True)
    result = run(config)
    assert [run.label for run in result.runs] == ["relu d1", "relu d2"]
    assert (result.mode, result.batch_size, result.train_images, result.test_images) == ("depth", 128, 30, 20)
    for depth, trained in zip((1, 2), result.runs):
        assert trained.layers == [f"dense_{i}" for i in range(1, depth + 1)] + ["output"]
        assert np.asarray(trained.gradient_norms).shape == (3, depth + 1)  # start + 2 epochs
        assert trained.history.num_epochs == 2 and trained.history.batch_steps == []
        assert 0.0 <= trained.test_accuracy <= 1.0
        assert trained.test_accuracy == pytest.approx(trained.history.epochs["val_accuracy"][-1])
    assert sorted(path.name for path in result.plots) == [
        "depth_study_depth_curves.png", "depth_study_depth_gradients.png"]
    assert all(path.stat().st_size > 1000 for path in result.plots)
    json.dumps(to_jsonable(result))


def test_run_is_repeatable_with_the_same_seed(data_dir):
    config = DepthStudyConfig(data_dir=data_dir, activations=("sigmoid",), depths=(10,), epochs=1,
                              variants=("residual",), gradient_samples=8, quiet=True)
    first, second = run(config).runs[0], run(config).runs[0]
    assert first.test_loss == second.test_loss
    assert first.gradient_norms == second.gradient_norms


def test_run_model_comparison_logs_every_n_batches(data_dir, tmp_path):
    config = DepthStudyConfig(data_dir=data_dir, models=("linear", "cnn"), epochs=2, batch_size=10,
                              every_batches=2, gradient_samples=8, plot_dir=tmp_path, quiet=True)
    result = run(config)
    assert [(run.label, run.model, run.depth) for run in result.runs] == [("linear", "linear", None), ("cnn", "cnn", None)]
    # 30 images in batches of 10 = 3 batches an epoch, 6 in all, logged every 2.
    assert all(run.history.batch_steps == [2, 4, 6] for run in result.runs)
    assert len(result.runs[1].history.batches["loss"]) == 3
    assert result.runs[1].layers == ["conv_1", "conv_2", "output"]
    assert "depth_study_models_batches.png" in [path.name for path in result.plots]


@pytest.mark.parametrize("changes", [
    {"depths": (0,)}, {"depths": (31,)}, {"activations": ("softsign",)}, {"variants": ("wide",)},
    {"models": ("resnet",)}, {"epochs": 0}, {"batch_size": 0}, {"depths": ()},
])
def test_bad_config_values_are_config_errors(changes, data_dir):
    with pytest.raises(ConfigError, match="mlkit depth-study --help"):
        run(DepthStudyConfig(data_dir=data_dir, **changes))


def test_parse_list():
    assert parse_list(" 1, 2,3 ", int) == (1, 2, 3)
    assert parse_list("sigmoid,relu") == ("sigmoid", "relu")
    with pytest.raises(ConfigError, match="--depths"):
        parse_list("1,two", int, "--depths")


def test_linear_model_is_clipped_the_others_are_not():
    plans = {plan.model: plan for plan in comparison_plans(("linear", "mlp", "cnn"))}
    assert plans["linear"].optimizer().clipnorm == 1.0 and plans["linear"].learning_rate == 0.5
    assert plans["cnn"].optimizer().clipnorm is None and plans["cnn"].optimizer_name == "adam"
