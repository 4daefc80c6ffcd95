"""Leaves of the graph: constants (inputs, targets) and variables (the trainable parameters)."""

from .node import Node


class Constant(Node):
    """A value set from outside (an input x or a target y); gradient flows into it but is not used."""

    op = "constant"

    def __init__(self, value: float, symbol: str):
        super().__init__((), symbol)
        self.value = float(value)


class Variable(Node):
    """A trainable parameter (a weight or a bias); gradient descent updates its value."""

    op = "variable"

    def __init__(self, value: float, symbol: str):
        super().__init__((), symbol)
        self.value = float(value)
