"""Loss nodes over the outputs o_k and targets y_k of one data point.

half-mse: L = 1/2 * sum_k (o_k - y_k)^2, so dL/do_k = (o_k - y_k)   (the textbook choice);
mse:      L = 1/K * sum_k (o_k - y_k)^2, so dL/do_k = 2/K * (o_k - y_k) (Keras' mean squared error).
With one output these are 1/2 (o - y)^2 and (o - y)^2.
"""

from abc import ABC, abstractmethod

from .node import Node


class Loss(Node, ABC):
    """Base of the losses; inputs are the K outputs followed by the K targets."""

    name = "loss"

    def __init__(self, outputs: tuple[Node, ...], targets: tuple[Node, ...], symbol: str = "L"):
        if len(outputs) != len(targets):
            raise ValueError(f"{len(outputs)} outputs but {len(targets)} targets.")
        super().__init__((*outputs, *targets), symbol)
        self.count = len(outputs)

    def pairs(self) -> list[tuple[Node, Node]]:
        return list(zip(self.inputs[: self.count], self.inputs[self.count :]))

    def errors(self) -> list[float]:
        return [output.value - target.value for output, target in self.pairs()]

    @abstractmethod
    def scale(self) -> float:
        """dL/do_k = scale * (o_k - y_k)."""

    @abstractmethod
    def scale_symbol(self) -> str:
        """`scale` written as a prefix of (o - y), e.g. "2/K*"."""

    def local_gradients(self) -> tuple[float, ...]:
        outputs = [self.scale() * error for error in self.errors()]
        return (*outputs, *(-gradient for gradient in outputs))

    def local_symbols(self) -> tuple[str, ...]:
        prefix = self.scale_symbol()
        outputs = [f"{prefix}({o.symbol} - {y.symbol})" for o, y in self.pairs()]
        return (*outputs, *(f"-{symbol}" for symbol in outputs))

    def squared_errors(self) -> str:
        return " + ".join(f"({o.symbol} - {y.symbol})^2" for o, y in self.pairs())


class HalfMSE(Loss):
    """1/2 * sum_k (o_k - y_k)^2."""

    op = name = "half-mse"

    def compute(self) -> float:
        return 0.5 * sum(error * error for error in self.errors())

    def scale(self) -> float:
        return 1.0

    def scale_symbol(self) -> str:
        return ""

    def formula(self) -> str:
        return f"1/2*({self.squared_errors()})" if self.count > 1 else f"1/2*{self.squared_errors()}"


class MSE(Loss):
    """1/K * sum_k (o_k - y_k)^2."""

    op = name = "mse"

    def compute(self) -> float:
        return sum(error * error for error in self.errors()) / self.count

    def scale(self) -> float:
        return 2.0 / self.count

    def scale_symbol(self) -> str:
        return "2*" if self.count == 1 else f"2/{self.count}*"

    def formula(self) -> str:
        return f"1/{self.count}*({self.squared_errors()})" if self.count > 1 else self.squared_errors()


LOSSES = {"half-mse": HalfMSE, "mse": MSE}
