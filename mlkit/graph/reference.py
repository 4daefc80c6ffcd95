"""Independent references for the engine's gradients: TensorFlow autodiff and central differences.

`KerasReference` builds the same network from Keras `Dense` layers in float64 (so the documented
weight order is checked against Keras' own kernel layout too) and differentiates it with
`tf.GradientTape`. `finite_difference_gradients` perturbs each weight by +-h and +-2h on the engine's
forward pass. Central differences are wrong where a ReLU switches on or off inside [w-2h, w+2h]
(a kink), and cannot resolve 1e-6 when the loss is so large (a diverging run) that its rounding
error, eps*|L|/h, is larger; such parameters are reported and judged by TensorFlow alone.
`GradientChecker` holds a training run to both, point by point, and its final weights to
TensorFlow's SGD.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .network import Network
from .spec import NetworkSpec

# Step for the differences, relative to the weight's size. The five-point stencil's error is
# ~h^4 (Taylor) + eps*|L|/h (rounding), so a fairly large h keeps rounding small even when the
# loss is in the thousands, while h^4 stays far below 1e-6.
RELATIVE_STEP = 1e-4
STENCIL = ((-2, 1 / 12), (-1, -8 / 12), (1, 8 / 12), (2, -1 / 12))


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(1, |a|, |b|): relative for large values, absolute near zero."""
    return abs(a - b) / max(1.0, abs(a), abs(b))


@dataclass
class FiniteDifferences:
    """Gradients by central differences, the parameters whose stencil crossed a ReLU kink, and
    per parameter a bound on the rounding error (large when the loss is large: eps*|L|/h)."""

    gradients: dict[str, float]
    kinks: list[str]
    rounding: dict[str, float]

    def conclusive(self, name: str, tolerance: float) -> bool:
        """Whether this parameter's difference can be judged at `tolerance` (no kink, little rounding)."""
        return name not in self.kinks and self.rounding[name] <= tolerance * max(1.0, abs(self.gradients[name])) / 10


def finite_difference_gradients(network: Network, x: Sequence[float], y: Sequence[float]) -> FiniteDifferences:
    """dL/dw by central differences for every parameter, at the network's current weights.

    Uses the five-point stencil (L(w-2h) - 8 L(w-h) + 8 L(w+h) - L(w+2h)) / 12h on the
    engine's forward pass only, so it is independent of the backward pass it checks.
    """
    network.forward(x, y)
    pattern = network.relu_pattern()
    result = FiniteDifferences({}, [], {})
    for parameter in network.parameters():
        old = parameter.value
        step = RELATIVE_STEP * max(1.0, abs(old))
        total, largest, crossed = 0.0, 0.0, False
        for offset, weight in STENCIL:
            parameter.value = old + offset * step
            loss = network.forward(x, y)
            total += weight * loss
            largest = max(largest, abs(loss))
            crossed = crossed or network.relu_pattern() != pattern
        parameter.value = old
        result.gradients[parameter.symbol] = total / step
        # Each loss is off by a few ulps; the stencil's weights add up to 1.5/h.
        result.rounding[parameter.symbol] = 16 * np.finfo(np.float64).eps * largest * 1.5 / step
        if crossed:
            result.kinks.append(parameter.symbol)
    network.forward(x, y)  # leave the node values as they were
    return result


class KerasReference:
    """The network as float64 Keras Dense layers; gradients with tf.GradientTape."""

    def __init__(self, spec: NetworkSpec):
        import keras

        self.spec = spec
        self.names = spec.parameter_names()
        self.layers = []
        for units, activation, fan_in in zip(spec.layers[1:], spec.activations, spec.layers[:-1]):
            layer = keras.layers.Dense(units, activation=_keras_activation(activation),
                                       use_bias=spec.bias, dtype="float64")
            layer.build((None, fan_in))
            self.layers.append(layer)

    def variables(self) -> list:
        """The Keras variables in the documented order: per layer the kernel, then the bias."""
        return [variable for layer in self.layers for variable in ([layer.kernel] + ([layer.bias] if layer.use_bias else []))]

    def set_weights(self, weights: Sequence[float]) -> None:
        flat, start = np.asarray(weights, dtype=np.float64), 0
        for variable in self.variables():
            size = int(np.prod(variable.shape))
            # Row-major reshape: kernel[i, j] is input i to unit j, the documented order.
            variable.assign(flat[start:start + size].reshape(variable.shape))
            start += size

    def get_weights(self) -> list[float]:
        return [float(value) for variable in self.variables() for value in np.ravel(variable.numpy())]

    def loss(self, x: Sequence[float], y: Sequence[float]):
        import keras
        import tensorflow as tf

        outputs = tf.constant([x], dtype=tf.float64)
        for layer in self.layers:
            outputs = layer(outputs)
        targets = tf.constant([y], dtype=tf.float64)
        if self.spec.loss == "mse":
            return keras.losses.mean_squared_error(targets, outputs)[0]
        return 0.5 * tf.reduce_sum(tf.square(outputs - targets))

    def gradients(self, x: Sequence[float], y: Sequence[float]) -> tuple[float, dict[str, float]]:
        """(loss, dL/dw by name) at the current weights."""
        import tensorflow as tf

        variables = self.variables()
        with tf.GradientTape() as tape:
            loss = self.loss(x, y)
        grads = tape.gradient(loss, variables)
        flat = [float(value) for grad in grads for value in np.ravel(grad.numpy())]
        return float(loss.numpy()), dict(zip(self.names, flat))

    def train(self, weights: Sequence[float], points: Sequence, learning_rate: float, steps: int) -> dict[str, float]:
        """Plain SGD, one update per point, `steps` passes; returns the final weights by name.

        The update is w.assign_sub(lr * g) in float64 rather than keras.optimizers.SGD, whose
        learning rate is a float32 variable (0.1 becomes 0.10000000149), so the reference
        follows exactly the same arithmetic as the engine.
        """
        self.set_weights(weights)
        for _ in range(steps):
            for x, y in points:
                _, gradients = self.gradients(x, y)
                for variable, gradient in zip(self.variables(), self._split(gradients)):
                    variable.assign(variable.numpy() - learning_rate * gradient)
        return dict(zip(self.names, self.get_weights()))

    def _split(self, gradients: dict[str, float]) -> list[np.ndarray]:
        flat, start, parts = np.array([gradients[name] for name in self.names]), 0, []
        for variable in self.variables():
            size = int(np.prod(variable.shape))
            parts.append(flat[start:start + size].reshape(variable.shape))
            start += size
        return parts

    def __repr__(self) -> str:
        return f"KerasReference(layers={list(self.spec.layers)}, activations={list(self.spec.activations)})"


class GradientChecker:
    """Compares every gradient with TensorFlow and central differences, and the final weights with TF."""

    def __init__(self, spec: NetworkSpec, tolerance: float):
        self.reference = KerasReference(spec)
        self.tolerance = tolerance
        self.worst = {"tensorflow": 0.0, "finite_difference": 0.0, "final_weights": 0.0}
        self.skipped = 0

    def __repr__(self) -> str:
        return f"GradientChecker(tolerance={self.tolerance:g}, worst={max(self.worst.values()):.3g})"

    def compare(self, network: Network, x, y, loss: float) -> dict:
        """This point's gradients beside TensorFlow's and central differences' (after `backward`)."""
        engine = {parameter.symbol: parameter.grad for parameter in network.parameters()}
        self.reference.set_weights([parameter.value for parameter in network.parameters()])
        tf_loss, tf_gradients = self.reference.gradients(x, y)
        differences = finite_difference_gradients(network, x, y)
        judged = [name for name in engine if differences.conclusive(name, self.tolerance)]
        tf_diff = max([relative_difference(loss, tf_loss)] + [relative_difference(engine[n], tf_gradients[n]) for n in engine])
        fd_diff = max([relative_difference(engine[n], differences.gradients[n]) for n in judged], default=0.0)
        self.worst["tensorflow"] = max(self.worst["tensorflow"], tf_diff)
        self.worst["finite_difference"] = max(self.worst["finite_difference"], fd_diff)
        self.skipped += len(engine) - len(judged)
        return {"tensorflow": tf_gradients, "finite_difference": differences.gradients, "kinks": differences.kinks,
                "finite_difference_skipped": [n for n in engine if n not in judged],
                "max_difference_tensorflow": tf_diff, "max_difference_finite_difference": fd_diff}

    def finish(self, weights: tuple, points: list, learning_rate: float, steps: int, final: dict) -> dict:
        """The verdict: the largest difference seen, and the final weights against TensorFlow's SGD."""
        tf_final = self.reference.train(weights, points, learning_rate, steps)
        self.worst["final_weights"] = max(relative_difference(final[n], tf_final[n]) for n in final)
        largest = max(self.worst.values())
        return {"max_difference": largest, "tolerance": self.tolerance, "passed": largest <= self.tolerance,
                "max_difference_tensorflow": self.worst["tensorflow"],
                "max_difference_finite_difference": self.worst["finite_difference"],
                "max_difference_final_weights": self.worst["final_weights"],
                "skipped_by_finite_differences": self.skipped, "tensorflow_final_weights": tf_final,
                "relu_derivative_at_zero": 0.0}


def _keras_activation(name: str) -> str:
    return "linear" if name == "identity" else name
