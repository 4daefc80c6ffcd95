"""`Node`: one scalar in a computational graph, with its value, its gradient and back-propagation.

Every operation (constant, variable, add, multiply, activation, loss) is a subclass that says
three things: how its value follows from its inputs (`compute`), the partial derivative of
its value with respect to each input (`local_gradients`) and that derivative written in the
network's symbols (`local_symbols`), so the chain rule can be printed as well as evaluated.
"""


class Node:
    """A scalar in the graph. Subclasses set `op` and override `compute` and the local derivatives."""

    op = "node"

    def __init__(self, inputs: tuple["Node", ...] = (), symbol: str = ""):
        self.inputs = tuple(inputs)
        self.symbol = symbol
        self.value = 0.0
        self.grad = 0.0

    def compute(self) -> float:
        """This node's value from its inputs' current values."""
        return self.value

    def local_gradients(self) -> tuple[float, ...]:
        """d(self)/d(input) for each input, at the current values."""
        return ()

    def local_symbols(self) -> tuple[str, ...]:
        """The same partial derivatives written in symbols ("1" when the derivative is one)."""
        return ()

    def formula(self) -> str:
        """How this node is computed from its inputs, in symbols (a leaf is its own symbol)."""
        return self.symbol

    def nodes(self) -> list["Node"]:
        """Every node this one depends on, itself last, in topological order (inputs first)."""
        order, seen = [], set()

        def visit(node: Node) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for child in node.inputs:
                visit(child)
            order.append(node)

        visit(self)
        return order

    def forward(self) -> float:
        """Recompute every node below this one, inputs first, and return this node's value."""
        for node in self.nodes():
            node.value = float(node.compute())
        return self.value

    def backward(self) -> None:
        """Back-propagate d(self)/d(node) to every node below, in reverse topological order.

        Within one pass a node feeding several others sums their contributions. Across passes
        the leaves (variables, constants) accumulate, as in PyTorch, while every other node
        holds this pass's gradient: call `zero_grad()` between steps, as `Network.backward` does.
        """
        order = self.nodes()
        fresh = {id(node): 0.0 for node in order}
        fresh[id(self)] = 1.0
        for node in reversed(order):
            for child, local in zip(node.inputs, node.local_gradients()):
                fresh[id(child)] += fresh[id(node)] * local
        for node in order:
            node.grad = node.grad + fresh[id(node)] if not node.inputs else fresh[id(node)]

    def zero_grad(self) -> None:
        """Reset the gradient of every node below this one (and this one) to zero."""
        for node in self.nodes():
            node.grad = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.symbol!r}, value={self.value:.6g}, grad={self.grad:.6g})"
