"""Activation nodes: one input q, one output h = f(q), local derivative f'(q).

At the ReLU kink (q = 0) the derivative used is 0, the same choice as TensorFlow's
`tf.nn.relu` gradient, so the engine and `--check` agree there exactly.
"""

import math

from .node import Node


class Activation(Node):
    """Base of the one-input activation nodes; `name` is the activation's Keras name."""

    name = "activation"

    def __init__(self, pre_activation: Node, symbol: str):
        super().__init__((pre_activation,), symbol)

    @property
    def pre_activation(self) -> Node:
        return self.inputs[0]

    def formula(self) -> str:
        return f"{self.name}({self.pre_activation.symbol})"


class ReLU(Activation):
    """max(q, 0); derivative 1 where q > 0 and 0 where q <= 0 (0 at the kink, as TensorFlow)."""

    op = name = "relu"

    def compute(self) -> float:
        return max(self.pre_activation.value, 0.0)

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0 if self.pre_activation.value > 0 else 0.0,)

    def local_symbols(self) -> tuple[str, ...]:
        return (f"relu'({self.pre_activation.symbol})",)


class Sigmoid(Activation):
    """1 / (1 + exp(-q)); derivative h*(1 - h)."""

    op = name = "sigmoid"

    def compute(self) -> float:
        q = self.pre_activation.value
        # Two forms so that exp never overflows for large |q|.
        if q >= 0:
            return 1.0 / (1.0 + math.exp(-q))
        return math.exp(q) / (1.0 + math.exp(q))

    def local_gradients(self) -> tuple[float, ...]:
        return (self.value * (1.0 - self.value),)

    def local_symbols(self) -> tuple[str, ...]:
        return (f"{self.symbol}*(1 - {self.symbol})",)


class Tanh(Activation):
    """tanh(q); derivative 1 - h^2."""

    op = name = "tanh"

    def compute(self) -> float:
        return math.tanh(self.pre_activation.value)

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0 - self.value**2,)

    def local_symbols(self) -> tuple[str, ...]:
        return (f"(1 - {self.symbol}^2)",)


class Identity(Activation):
    """q unchanged (Keras' "linear" activation); derivative 1."""

    op = "identity"
    name = "linear"

    def compute(self) -> float:
        return self.pre_activation.value

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0,)

    def local_symbols(self) -> tuple[str, ...]:
        return ("1",)

    def formula(self) -> str:
        return self.pre_activation.symbol


# Keras' activation names; "identity" is accepted as another name for "linear".
ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "linear": Identity, "identity": Identity}
