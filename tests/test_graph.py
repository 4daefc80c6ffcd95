"""The graph engine against central finite differences: every gradient is compared with a reference."""

import math

import numpy as np
import pytest

from mlkit.errors import ConfigError, DataError
from mlkit.graph import (ACTIVATIONS, Add, Constant, HalfMSE, MSE, Multiply, Network, NetworkSpec, Variable,
                         explain_parameters, load_points, save_points, to_dot)
from mlkit.graph.reference import finite_difference_gradients, relative_difference

TOLERANCE = 1e-6


def numeric_gradient(loss, leaf, step=1e-6):
    """d(loss)/d(leaf) by central differences on the engine's forward pass only."""
    old = leaf.value
    leaf.value = old + step
    plus = loss.forward()
    leaf.value = old - step
    minus = loss.forward()
    leaf.value = old
    loss.forward()
    return (plus - minus) / (2 * step)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
@pytest.mark.parametrize("q", [-1.3, 0.7, 2.5])
def test_each_activation_matches_its_definition_and_finite_differences(activation, q):
    pre = Variable(q, "q")
    node = ACTIVATIONS[activation](pre, "h")
    expected = {"relu": max(q, 0), "sigmoid": 1 / (1 + math.exp(-q)), "tanh": math.tanh(q), "linear": q}
    assert node.forward() == pytest.approx(expected[activation], rel=1e-15)
    node.backward()
    assert pre.grad == pytest.approx(numeric_gradient(node, pre), rel=1e-7, abs=1e-9)


def test_relu_derivative_at_the_kink_is_zero_like_tensorflow():
    pre = Variable(0.0, "q")
    node = ACTIVATIONS["relu"](pre, "h")
    node.forward()
    node.backward()
    assert pre.grad == 0.0
    assert node.local_symbols() == ("relu'(q)",)


@pytest.mark.parametrize("loss_class, scale", [(HalfMSE, 1.0), (MSE, 1.0)])
def test_losses_match_their_formulas_and_finite_differences(loss_class, scale):
    outputs = (Variable(1.5, "o1"), Variable(-0.5, "o2"))
    targets = (Constant(0.5, "y1"), Constant(1.0, "y2"))
    loss = loss_class(outputs, targets)
    squared = (1.5 - 0.5) ** 2 + (-0.5 - 1.0) ** 2
    assert loss.forward() == pytest.approx(squared / 2 * scale)  # half: /2, mean over 2 outputs: /2
    loss.backward()
    for output in outputs:
        assert output.grad == pytest.approx(numeric_gradient(loss, output), rel=1e-7)


def test_single_output_losses_are_half_squared_error_and_squared_error():
    half = HalfMSE((Variable(5.0, "o"),), (Constant(3.0, "y"),))
    full = MSE((Variable(5.0, "o"),), (Constant(3.0, "y"),))
    assert (half.forward(), full.forward()) == (2.0, 4.0)
    assert half.local_symbols()[0] == "(o - y)" and full.local_symbols()[0] == "2*(o - y)"


def test_gradient_accumulates_where_a_node_feeds_several_others():
    a, b = Variable(3.0, "a"), Variable(-2.0, "b")
    product = Multiply(a, b)
    total = Add((product, Multiply(product, a), a), "s")  # a feeds three nodes, product two
    total.forward()
    total.backward()
    assert a.grad == pytest.approx(numeric_gradient(total, a), rel=1e-8)
    assert b.grad == pytest.approx(numeric_gradient(total, b), rel=1e-8)
    assert a.grad == pytest.approx(b.value + 2 * a.value * b.value + 1)


def test_backward_accumulates_across_calls_until_zero_grad():
    a = Variable(2.0, "a")
    square = Multiply(a, a)
    square.forward()
    square.backward()
    square.backward()
    assert a.grad == pytest.approx(2 * numeric_gradient(square, a))  # leaves accumulate
    assert square.grad == 1.0  # other nodes hold the last pass's gradient
    square.zero_grad()
    assert (a.grad, square.grad) == (0.0, 0.0)


def test_network_resets_gradients_between_steps():
    network = Network(NetworkSpec((1, 1, 2, 1), ("relu",) * 3), [2, 1, 2, 4, 1])
    network.forward([2], [3])
    first = network.backward()
    second = network.backward()
    assert first == second
    differences = finite_difference_gradients(network, [2], [3])
    reference = differences.gradients
    assert not differences.kinks
    assert all(relative_difference(first[name], reference[name]) < TOLERANCE for name in first)


def test_seed_002_network_gradients_final_weights_and_chain_rule():
    network = Network(NetworkSpec((1, 1, 2, 1), ("relu",) * 3), [2, 1, 2, 4, 1])
    assert network.forward([2], [3]) == 220.5  # o = 4*4 + 1*8 = 24
    gradients = network.backward()
    reference = finite_difference_gradients(network, [2], [3]).gradients
    assert max(relative_difference(gradients[n], reference[n]) for n in gradients) < TOLERANCE
    rows = {row["parameter"]: row for row in explain_parameters(network.loss, network.parameters())}
    assert rows["w1"]["expression"] == "dL/dw1 = (o - y)*relu'(q3)*(w4*relu'(q2_1)*w2 + w5*relu'(q2_2)*w3)*relu'(q1)*x"
    assert rows["w1"]["chain_rule"].startswith("dL/dw1 = dL/do*do/dq3*(dq3/dh2_1*")
    assert rows["w1"]["substituted"] == "21*1*(4*1*1 + 1*1*2)*1*2"
    network.step(0.1)
    new = network.weights()
    assert all(new[n] == pytest.approx(old - 0.1 * reference[n]) for n, old in zip(new, [2, 1, 2, 4, 1]))


RANDOM_CASES = [((2, 3, 1), ("tanh", "linear"), True, "mse"), ((3, 4, 2, 1), ("sigmoid", "tanh", "linear"), True, "half-mse"),
                ((1, 2, 2, 2), ("relu", "sigmoid", "tanh"), False, "mse"), ((4, 3, 3), ("tanh", "sigmoid"), False, "half-mse"),
                ((2, 5, 1), ("relu", "relu"), True, "half-mse"), ((1, 1, 1, 1, 1), ("sigmoid",) * 4, True, "mse")]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("layers, activations, bias, loss", RANDOM_CASES)
def test_random_networks_match_finite_differences(layers, activations, bias, loss, seed):
    spec = NetworkSpec(layers, activations, bias, loss)
    network = Network(spec, spec.initial_weights("normal", seed))
    rng = np.random.default_rng(100 + seed)
    x, y = rng.normal(size=layers[0]), rng.normal(size=layers[-1])
    network.forward(x, y)
    gradients = network.backward()
    rows = explain_parameters(network.loss, network.parameters())
    differences = finite_difference_gradients(network, x, y)
    for name, row in zip(gradients, rows):
        if differences.conclusive(name, TOLERANCE):
            assert relative_difference(gradients[name], differences.gradients[name]) < TOLERANCE, name
        # The chain rule written in numbers evaluates to the gradient (6 significant digits each).
        assert eval(row["substituted"]) == pytest.approx(gradients[name], rel=1e-4, abs=1e-6)


def test_weight_order_is_per_layer_for_each_input_for_each_unit_then_biases():
    spec = NetworkSpec((2, 3, 1), ("relu", "linear"), bias=True)
    assert spec.parameter_names() == ["w1", "w2", "w3", "w4", "w5", "w6", "b1_1", "b1_2", "b1_3", "w7", "w8", "w9", "b2"]
    network = Network(spec, range(1, 14))
    assert [node.symbol for node in network.nodes() if node.op == "multiply"][:3] == ["w1*x1", "w4*x2", "w2*x1"]


def test_wrong_weight_count_names_the_expected_count_and_order():
    with pytest.raises(ConfigError, match=r"3 weights given but layers 1,1,2,1 without bias need 5.*w2, w3"):
        NetworkSpec((1, 1, 2, 1), ("relu",) * 3).check_weights((1.0, 2.0, 3.0))


def test_weight_order_of_a_wide_layer_shows_its_first_and_last_names():
    order = NetworkSpec((10, 32, 1), ("relu", "linear"), bias=True).describe_order()
    assert order == ("layer 1 (10 in x 32 units + biases): w1, w2, w3, w4, w5, w6, w7, ... b1_32 (352 in all); "
                     "layer 2 (32 in x 1 units + biases): w321, w322, w323, w324, w325, w326, w327, ... b2 (33 in all)")


@pytest.mark.parametrize("layers, activations, message", [((1,), ("relu",), "at least two"), ((1, 0, 1), ("relu",) * 2, "positive"),
                                                          ((1, 2, 1), ("relu",), "1 activations for 2"), ((1, 1), ("softmax",), "unknown activation")])
def test_bad_specs_are_config_errors(layers, activations, message):
    with pytest.raises(ConfigError, match=message):
        NetworkSpec(layers, activations)


def test_initial_weights_are_seeded_and_biases_start_at_zero():
    spec = NetworkSpec((2, 2, 1), ("tanh", "linear"), bias=True)
    first, again = spec.initial_weights("normal", 3), spec.initial_weights("normal", 3)
    assert first == again and first != spec.initial_weights("normal", 4)
    assert first[4:6] == (0.0, 0.0) and first[-1] == 0.0
    assert all(-1 <= value <= 1 for value in spec.initial_weights("uniform", 3))


def test_dot_lists_every_node_and_edge():
    network = Network(NetworkSpec((1, 1, 2, 1), ("relu",) * 3), [2, 1, 2, 4, 1])
    network.forward([2], [3])
    network.backward()
    text = to_dot(network.loss)
    nodes = network.nodes()
    assert text.startswith('digraph "backprop" {') and text.rstrip().endswith("}")
    assert text.count("->") == sum(len(node.inputs) for node in nodes)
    assert text.count("[label=") == len(nodes)
    assert "q3 = w4*h2_1 + w5*h2_2\\nadd\\nvalue=24  grad=21" in text


def test_points_round_trip_and_bad_files(tmp_path):
    path = save_points(tmp_path / "points.h5", [[1, 2], [3, 4]], [5, 6])
    assert load_points(path, 2, 1) == [((1.0, 2.0), (5.0,)), ((3.0, 4.0), (6.0,))]
    with pytest.raises(DataError, match="N x 3 inputs"):
        load_points(path, 3, 1)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError):
        load_points(tmp_path / "junk.h5", 2, 1)


def test_repr_names_the_node_and_the_network():
    network = Network(NetworkSpec((1, 1), ("linear",)), [0.5])
    assert repr(network.loss) == "HalfMSE('L', value=0, grad=0)"
    assert "layers=[1, 1]" in repr(network)


def test_finite_differences_are_not_judged_at_kinks_or_below_their_rounding_error():
    from mlkit.graph.reference import FiniteDifferences

    differences = FiniteDifferences({"w1": 0.5, "w2": 2e-5, "w3": 100.0}, ["w1"], {"w1": 0.0, "w2": 3e-5, "w3": 1e-6})
    assert [differences.conclusive(name, 1e-6) for name in ("w1", "w2", "w3")] == [False, False, True]
    # The rounding bound grows with the loss: 1e14 times the loss, 1e14 times the bound.
    small = finite_difference_gradients(Network(NetworkSpec((1, 1, 1), ("relu", "linear")), [1.0, 1.0]), [1.0], [0.0])
    large = finite_difference_gradients(Network(NetworkSpec((1, 1, 1), ("relu", "linear")), [1.0, 1e7]), [1.0], [0.0])
    assert large.rounding["w1"] / small.rounding["w1"] == pytest.approx(1e14, rel=1e-3)
    assert small.conclusive("w1", 1e-6) and large.gradients["w2"] == pytest.approx(1e7, rel=1e-6)


def test_importing_the_engine_pulls_in_no_cli_and_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, mlkit.graph, mlkit.experiments.backprop; print(' '.join(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not {"typer", "rich", "cli", "tensorflow", "keras"} & {name.split(".")[0] for name in modules}
