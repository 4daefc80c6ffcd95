"""`Network`: a dense network written out as a scalar graph, trained one point at a time by SGD."""

from collections.abc import Sequence

from ..errors import ConfigError
from .activations import ACTIVATIONS, ReLU
from .arithmetic import Add, Multiply
from .leaves import Constant, Variable
from .losses import LOSSES
from .node import Node
from .spec import NetworkSpec


class Network:
    """One graph for the whole run: inputs and targets are constants whose values change per point."""

    def __init__(self, spec: NetworkSpec, weights: Sequence[float]):
        weights = spec.check_weights(tuple(weights))
        self.spec = spec
        self.inputs = [Constant(0.0, symbol) for symbol in spec.input_symbols()]
        self.targets = [Constant(0.0, symbol) for symbol in spec.target_symbols()]
        values = iter(weights)
        self._parameters: list[Variable] = []
        previous: list[Node] = list(self.inputs)
        for layer, (kernel_names, bias_names) in enumerate(spec.layer_parameters(), start=1):
            kernel = [[self._variable(next(values), name) for name in row] for row in kernel_names]
            biases = [self._variable(next(values), name) for name in bias_names]
            previous = self._dense(layer, previous, kernel, biases)
        self.outputs = previous
        self.loss = LOSSES[spec.loss](tuple(self.outputs), tuple(self.targets))
        self._order = self.loss.nodes()  # the graph never changes, so sort it once
        self._relus = [node for node in self._order if isinstance(node, ReLU)]

    def _variable(self, value: float, name: str) -> Variable:
        variable = Variable(value, name)
        self._parameters.append(variable)
        return variable

    def _dense(self, layer: int, previous: list[Node], kernel, biases) -> list[Node]:
        pre_symbols, symbols = self.spec.unit_symbols(layer)
        activation = ACTIVATIONS[self.spec.activations[layer - 1]]
        units = []
        for unit, (pre_symbol, symbol) in enumerate(zip(pre_symbols, symbols)):
            terms: list[Node] = [Multiply(row[unit], node) for row, node in zip(kernel, previous)]
            terms += [biases[unit]] if biases else []
            units.append(activation(Add(tuple(terms), pre_symbol), symbol))
        return units

    def parameters(self) -> list[Variable]:
        """The trainable variables in the documented weight order."""
        return list(self._parameters)

    def weights(self) -> dict[str, float]:
        return {parameter.symbol: parameter.value for parameter in self._parameters}

    def set_weights(self, values: Sequence[float]) -> None:
        for parameter, value in zip(self._parameters, self.spec.check_weights(tuple(values))):
            parameter.value = value

    def nodes(self) -> list[Node]:
        """Every node in layer order: each leaf just before its first use, the loss last.

        Still a topological order (every node after its inputs), but reads like the network:
        x, w1, w1*x, q1, h1, w2, ... rather than depth-first from the loss.
        """
        order = self._order
        depth: dict[int, int] = {}
        for node in order:
            depth[id(node)] = 1 + max((depth[id(child)] for child in node.inputs), default=-1)
        first_use: dict[int, int] = {}
        for node in order:
            for child in node.inputs:
                first_use[id(child)] = min(first_use.get(id(child), depth[id(node)]), depth[id(node)])
        for node in order:
            if not node.inputs and id(node) in first_use:
                depth[id(node)] = first_use[id(node)] - 1
        position = {id(node): index for index, node in enumerate(order)}
        position |= {id(parameter): index for index, parameter in enumerate(self._parameters)}
        kind = {id(node): 1 if isinstance(node, Constant) else 2 if isinstance(node, Variable) else 0 for node in order}
        return sorted(order, key=lambda node: (depth[id(node)], kind[id(node)], position[id(node)]))

    def forward(self, x: Sequence[float], y: Sequence[float]) -> float:
        """Set the point's inputs and targets, evaluate the graph and return the loss."""
        if len(x) != len(self.inputs) or len(y) != len(self.targets):
            raise ConfigError(f"a point needs {len(self.inputs)} input(s) and {len(self.targets)} "
                              f"target(s), got {len(x)} and {len(y)}.")
        for node, value in zip(self.inputs + self.targets, [*x, *y]):
            node.value = float(value)
        for node in self._order:
            node.value = float(node.compute())
        return self.loss.value

    def backward(self) -> dict[str, float]:
        """Reset every gradient, back-propagate from the loss, return dL/d(parameter)."""
        self.loss.zero_grad()
        self.loss.backward()
        return {parameter.symbol: parameter.grad for parameter in self._parameters}

    def step(self, learning_rate: float) -> list[tuple[str, float, float, float]]:
        """Apply w <- w - learning_rate * dL/dw to every parameter (after `backward`).

        Returns:
            (name, old value, gradient, new value) per parameter.
        """
        updates = []
        for parameter in self._parameters:
            old = parameter.value
            parameter.value = old - learning_rate * parameter.grad
            updates.append((parameter.symbol, old, parameter.grad, parameter.value))
        return updates

    def relu_pattern(self) -> tuple[bool, ...]:
        """Which ReLUs are active (q > 0) at the current values: a change means a kink was crossed."""
        return tuple(node.pre_activation.value > 0 for node in self._relus)

    def __repr__(self) -> str:
        spec = self.spec
        return (f"Network(layers={list(spec.layers)}, activations={list(spec.activations)}, "
                f"bias={spec.bias}, loss={spec.loss!r}, parameters={len(self._parameters)})")
