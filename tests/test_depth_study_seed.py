"""depth-study --models --recipe seed: seed 004's setups as they ran (epochs per model, initialisers,
no clipping), and a diverging run flagged rather than hidden."""

import json
import math

import numpy as np
import pytest

from mlkit.depth_plans import DEFAULT_EPOCHS, SEED_EPOCHS, SEED_MODELS, comparison_plans
from mlkit.divergence import divergence_watch
from mlkit.experiments.depth_study import DepthStudyConfig, run
from mlkit.models.mnist_cnn import build_mnist_cnn
from mlkit.training import FitOptions, fit, set_seed


def plans_by_model(recipe: str, **given) -> dict:
    return {plan.model: plan for plan in comparison_plans(SEED_MODELS, recipe, **given)}


def test_seed_recipe_trains_each_model_as_seed_004_did():
    plans = plans_by_model("seed")
    assert {name: plan.epochs for name, plan in plans.items()} == {
        "linear": 17, "mlp": 34, "mlp-dropout": 34, "cnn": 34} == SEED_EPOCHS
    linear = plans["linear"]
    assert (linear.optimizer_name, linear.learning_rate, linear.clipnorm, linear.batch_size) == ("sgd", 0.5, None, 100)
    assert linear.optimizer().clipnorm is None
    for name in ("mlp", "mlp-dropout", "cnn"):
        optimizer = plans[name].optimizer()
        assert (optimizer.epsilon, plans[name].to_dict()["adam_epsilon"]) == (1e-8, 1e-8)
        assert plans[name].kernel_initializer == "truncated-normal"


def test_default_recipe_is_unchanged_and_epochs_given_apply_to_every_model():
    plans = plans_by_model("default")
    assert {plan.epochs for plan in plans.values()} == {DEFAULT_EPOCHS}
    assert plans["linear"].optimizer().clipnorm == 1.0 and plans["cnn"].kernel_initializer == "he_uniform"
    assert plans["mlp"].to_dict()["adam_epsilon"] == 1e-7  # Keras' default
    assert {plan.epochs for plan in plans_by_model("seed", epochs=2).values()} == {2}


def test_seed_cnn_starts_like_the_seeds_convolutions():
    set_seed(0)
    seed = build_mnist_cnn((28, 28), 10, initializer="truncated-normal")
    default = build_mnist_cnn((28, 28), 10)
    for name in ("conv_1", "conv_2"):
        kernel, bias = seed.get_layer(name).get_weights()
        np.testing.assert_allclose(bias, 0.1)
        assert np.abs(kernel).max() <= 0.02 + 1e-7 and 0.008 < kernel.std() < 0.0095  # truncated at 2 stddev
        assert not default.get_layer(name).get_weights()[1].any()
    assert seed.count_params() == default.count_params()


def test_divergence_watch_stops_at_the_first_nan_batch():
    import keras

    set_seed(0)
    x, y = np.ones((40, 3), dtype="float32"), np.arange(40) % 2
    x[25] = np.nan  # in the third batch of 10
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    found = []
    outcome = fit(model, x, y, options=FitOptions(epochs=4, batch_size=10, shuffle=False, quiet=True),
                  callbacks=[divergence_watch(found)])
    assert [(d.batch, d.epoch) for d in found] == [(3, 1)] and found[0].largest_loss > 0
    assert outcome.epochs_run == 1  # stopped, not carried on through three more NaN epochs


def test_seed_linear_model_diverges_and_is_reported(data_dir):
    # 30 random-pixel images in batches of 10 at SGD 0.5, unclipped: the loss overflows within a few epochs.
    config = DepthStudyConfig(data_dir=data_dir, models=("linear",), recipe="seed", batch_size=10,
                              gradient_samples=8, quiet=True)
    result = run(config)
    linear = result.runs[0]
    assert linear.diverged and linear.outcome.epochs_run < 17 and math.isnan(linear.test_loss)
    # Here the weights end NaN, and argmax makes class 0 of a NaN row.
    assert linear.test_accuracy == np.mean(result_labels(data_dir) == 0)
    assert f"was {linear.divergence.loss} at batch" in linear.note and "stacked linear layers" in linear.note
    assert linear.divergence.loss in ("nan", "inf")
    document = result.record().to_dict()
    assert document["metrics"]["diverged_runs"] == 1 and document["metrics"]["loss"] is None
    entry = document["runs"][0]
    assert entry["diverged"] and entry["divergence"]["batch"] == linear.divergence.batch
    assert entry["test_loss"] is None and entry["note"] == linear.note
    json.dumps(document, allow_nan=False)


def result_labels(data_dir) -> np.ndarray:
    from mlkit.data import load_data

    return load_data("mnist", data_dir).y_test


@pytest.mark.traced  # 17 epochs of small steps: faster traced than eagerly
def test_default_recipe_keeps_the_linear_model_finite(data_dir):
    result = run(DepthStudyConfig(data_dir=data_dir, models=("linear",), batch_size=10, epochs=17,
                                  gradient_samples=8, quiet=True))
    assert not result.runs[0].diverged and math.isfinite(result.runs[0].test_loss)
    assert result.record().metrics["diverged_runs"] == 0


def test_cli_seed_recipe_json_states_every_models_settings(mlkit, data_dir):
    document = mlkit.json("depth-study", "--data-dir", data_dir, "--models", "linear,cnn", "--recipe", "seed",
                          "--epochs", "1", "--gradient-samples", "8", "--quiet")
    config = document["config"]
    assert config["recipe"] == "seed" and config["epochs"] == {"linear": 1, "cnn": 1}
    plans = {plan["model"]: plan for plan in config["plans"]}
    assert (plans["linear"]["clipnorm"], plans["linear"]["kernel_initializer"]) == (None, "zeros")
    assert (plans["cnn"]["kernel_initializer"], plans["cnn"]["adam_epsilon"]) == ("truncated-normal", 1e-8)
    assert [run["epochs_run"] for run in document["runs"]] == [1, 1]


def test_cli_table_shows_the_divergence(mlkit, data_dir):
    result = mlkit("depth-study", "--data-dir", data_dir, "--models", "linear", "--recipe", "seed",
                   "--batch-size", "10", "--gradient-samples", "8", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Diverged runs" in result.stdout and "seed recipe" in result.stdout
    assert "of 17 (nan)" in result.stdout or "of 17 (inf)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("--recipe", "seed"), "--recipe seed applies to --models"),
    (("--models", "cnn", "--recipe", "keras2"), "--recipe takes default, seed"),
])
def test_bad_recipes_are_usage_errors(mlkit, data_dir, args, message):
    result = mlkit("depth-study", "--data-dir", data_dir, *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
