"""Sum and product nodes: a neuron's pre-activation is a sum of weight-times-input products."""

from .node import Node


class Add(Node):
    """The sum of any number of inputs; each partial derivative is 1."""

    op = "add"

    def __init__(self, inputs: tuple[Node, ...], symbol: str):
        super().__init__(inputs, symbol)

    def compute(self) -> float:
        return sum(child.value for child in self.inputs)

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0,) * len(self.inputs)

    def local_symbols(self) -> tuple[str, ...]:
        return ("1",) * len(self.inputs)

    def formula(self) -> str:
        return " + ".join(child.symbol for child in self.inputs)


class Multiply(Node):
    """The product a*b of two inputs; d/da = b and d/db = a."""

    op = "multiply"

    def __init__(self, left: Node, right: Node, symbol: str | None = None):
        super().__init__((left, right), symbol or f"{left.symbol}*{right.symbol}")

    def compute(self) -> float:
        left, right = self.inputs
        return left.value * right.value

    def local_gradients(self) -> tuple[float, ...]:
        left, right = self.inputs
        return (right.value, left.value)

    def local_symbols(self) -> tuple[str, ...]:
        left, right = self.inputs
        return (right.symbol, left.symbol)

    def formula(self) -> str:
        left, right = self.inputs
        return f"{left.symbol}*{right.symbol}"
