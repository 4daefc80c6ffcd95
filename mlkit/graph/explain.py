"""The chain rule written out: dL/dw for every parameter, in the network's symbols and in numbers.

dL/dv is the sum, over every node p that uses v, of dL/dp times the local derivative dp/dv.
Walking from the loss down, each node's gradient becomes a product of local derivatives; where a
node feeds several others (h1 of a 1-2-1 net feeds two neurons) the products share the factors
above the fork, which are pulled out, so the sum appears in brackets at the fork, as by hand:
dL/dw1 = (o - y)*relu'(q3)*(w4*relu'(q2_1)*w2 + w5*relu'(q2_2)*w3)*relu'(q1)*x.
"""

from dataclasses import dataclass

from .arithmetic import Add, Multiply
from .node import Node

# Past this many characters an expression is cut at the node: dL/dh1*relu'(q1)*x, say.
MAX_EXPRESSION_CHARS = 400


@dataclass(frozen=True)
class Factor:
    """One local derivative: its symbols ("1" when trivial), its value, its d(parent)/d(child) name."""

    symbol: str
    value: float
    partial: str | None

    def __repr__(self) -> str:
        return f"Factor({self.symbol!r}, {self.value:.6g})"


@dataclass(frozen=True)
class Sum:
    """Products added at a fork; each product is a list of Factor and Sum terms."""

    products: tuple[tuple, ...]

    def __repr__(self) -> str:
        return f"Sum({len(self.products)} products)"


def render(product, style: str = "symbols") -> str:
    """Write a product of terms as symbols ("symbols"), numbers ("values") or partials ("partials")."""
    parts = []
    for term in product:
        if isinstance(term, Sum):
            parts.append("(" + " + ".join(render(inner, style) for inner in term.products) + ")")
        elif style == "partials" and term.partial is not None:
            parts.append(term.partial)
        elif style == "symbols" and term.symbol != "1":
            parts.append(term.symbol)
        elif style == "values" and term.symbol != "1":
            parts.append(f"{term.value:.6g}" if term.value >= 0 else f"({term.value:.6g})")
    return "*".join(parts) or "1"


def gradient_products(loss: Node) -> dict[int, tuple]:
    """For every node (by id) below `loss`, dL/d(node) as a product of local-derivative terms."""
    order = loss.nodes()
    users: dict[int, list[tuple[Node, Factor]]] = {id(node): [] for node in order}
    consumers: dict[int, list[Node]] = {id(node): [] for node in order}
    for node in order:
        for child in node.inputs:
            consumers[id(child)].append(node)
    for node in order:
        for child, symbol, value in zip(node.inputs, node.local_symbols(), node.local_gradients()):
            users[id(child)].append((node, Factor(symbol, value, _partial(node, child, consumers))))
    products: dict[int, tuple] = {id(loss): ()}
    for node in reversed(order[:-1]):
        branches = [products[id(user)] + (factor,) for user, factor in users[id(node)]]
        product = branches[0] if len(branches) == 1 else _factor_out(branches)
        if len(render(product)) > MAX_EXPRESSION_CHARS:
            product = (Factor(f"dL/d{_name(node)}", node.grad, f"dL/d{_name(node)}"),)
        products[id(node)] = product
    return products


def _factor_out(branches: list[tuple]) -> tuple:
    """Pull the leading terms shared by every branch out of their sum."""
    shared = 0
    shortest = min(len(branch) for branch in branches)
    while shared < shortest and all(branch[shared] is branches[0][shared] for branch in branches):
        shared += 1
    return branches[0][:shared] + (Sum(tuple(branch[shared:] for branch in branches)),)


def _partial(user: Node, child: Node, consumers: dict[int, list[Node]]) -> str | None:
    """d(user)/d(child) in Leibniz notation; a product w*h inside a sum q is named dq/dh directly."""
    if isinstance(user, Add) and isinstance(child, Multiply):
        return None
    if isinstance(user, Multiply) and len(consumers[id(user)]) == 1:
        return f"d{_name(consumers[id(user)][0])}/d{_name(child)}"
    return f"d{_name(user)}/d{_name(child)}"


def _name(node: Node) -> str:
    return f"({node.symbol})" if isinstance(node, Multiply) else node.symbol


def explain_parameters(loss: Node, parameters: list[Node]) -> list[dict]:
    """Per parameter: the chain rule in partials, in symbols, in numbers, and the gradient value.

    Call after a forward and backward pass so the values are those of the current point.
    """
    products = gradient_products(loss)
    rows = []
    for parameter in parameters:
        product = products[id(parameter)]
        rows.append({
            "parameter": parameter.symbol,
            "chain_rule": f"dL/d{parameter.symbol} = {render(product, 'partials')}",
            "expression": f"dL/d{parameter.symbol} = {render(product, 'symbols')}",
            "substituted": render(product, "values"),
            "gradient": parameter.grad,
        })
    return rows
