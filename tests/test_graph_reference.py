"""The graph engine against TensorFlow autodiff (float64 Keras Dense layers) on many random networks."""

import numpy as np
import pytest

from mlkit.experiments.backprop import PRESETS, make_config, make_spec, run
from mlkit.graph import Network, NetworkSpec
from mlkit.graph.reference import KerasReference, relative_difference

TOLERANCE = 1e-9  # the engine and TensorFlow do the same float64 arithmetic, nearly to the bit
ACTIVATIONS = ["relu", "sigmoid", "tanh", "linear"]


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    layers = tuple(int(units) for units in rng.integers(1, 5, size=rng.integers(2, 5)))
    activations = tuple(rng.choice(ACTIVATIONS, size=len(layers) - 1))
    spec = NetworkSpec(layers, activations, bias=bool(seed % 2), loss=["half-mse", "mse"][seed % 3 == 0])
    weights = spec.initial_weights("normal", seed)
    if spec.bias:  # non-zero biases, so the bias order is exercised too
        weights = tuple(w if name.startswith("w") else float(rng.normal())
                        for w, name in zip(weights, spec.parameter_names()))
    return spec, weights, rng.normal(size=layers[0]), rng.normal(size=layers[-1])


@pytest.mark.parametrize("seed", range(40))
def test_engine_gradients_equal_tensorflow_on_random_networks(seed):
    spec, weights, x, y = random_case(seed)
    network = Network(spec, weights)
    loss = network.forward(x, y)
    gradients = network.backward()
    reference = KerasReference(spec)
    reference.set_weights(weights)
    tf_loss, tf_gradients = reference.gradients(x, y)
    assert relative_difference(loss, tf_loss) < TOLERANCE
    assert set(tf_gradients) == set(gradients)
    for name in gradients:
        assert relative_difference(gradients[name], tf_gradients[name]) < TOLERANCE, (spec, name)


def test_weight_order_is_keras_kernel_layout():
    spec = NetworkSpec((2, 3, 1), ("relu", "linear"), bias=True)
    reference = KerasReference(spec)
    reference.set_weights(range(1, 14))
    kernel = reference.layers[0].kernel.numpy()
    assert kernel[0].tolist() == [1, 2, 3] and kernel[1].tolist() == [4, 5, 6]  # input 1 -> units, then input 2
    assert reference.layers[0].bias.numpy().tolist() == [7, 8, 9]
    assert reference.get_weights() == list(map(float, range(1, 14)))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_final_weights_equal_tensorflow_sgd(preset):
    config = make_config(preset)
    result = run(config)
    spec = make_spec(config)
    points = [(p[:1], p[1:]) for p in config.points]
    tf_final = KerasReference(spec).train(config.weights, points, config.learning_rate, config.steps)
    assert result.final_weights == pytest.approx(tf_final, rel=1e-12)
    expected = {"chain": {"w0": 0.6, "w1": 1.8}, "1-2-1": {"w1": -23.2, "w2": -32.6, "w3": -6.4, "w4": -4.4, "w5": -15.8}}
    assert result.final_weights == pytest.approx(expected[preset], rel=1e-12)


@pytest.mark.parametrize("activations", [("sigmoid", "tanh", "linear"), ("tanh", "sigmoid", "sigmoid"), ("relu", "relu", "linear")])
def test_check_passes_on_3_4_2_1_networks_over_several_steps(activations):
    points = ((0.5, -1.0, 2.0, 0.3), (1.0, 0.0, -0.5, -0.2), (-1.5, 0.7, 0.1, 1.1))
    result = run(make_config(layers=(3, 4, 2, 1), activations=activations, bias=True, steps=3, points=points,
                             seed=7, check=True, learning_rate=0.05))
    assert result.check["passed"] and result.check["max_difference"] < 1e-6
    assert result.final_weights == pytest.approx(result.check["tensorflow_final_weights"], rel=1e-9)
    for update in result.updates:
        engine = {p["name"]: p["gradient"] for p in update["parameters"]}
        assert engine == pytest.approx(update["check"]["tensorflow"], rel=1e-9, abs=1e-12)
