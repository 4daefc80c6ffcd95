"""Graphviz DOT text for a graph: one box per node, edges from inputs to the nodes that use them."""

from .node import Node

SHAPES = {"constant": "ellipse", "variable": "box"}


def to_dot(loss: Node, title: str = "backprop") -> str:
    """DOT source of the graph below `loss`, each node labelled with symbol, operation, value, grad.

    Render it with Graphviz: `dot -Tpng graph.dot -o graph.png`.
    """
    order = loss.nodes()
    ids = {id(node): f"n{index}" for index, node in enumerate(order)}
    lines = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in order:
        label = node.symbol if node.formula() == node.symbol else f"{node.symbol} = {node.formula()}"
        label += f"\\n{node.op}\\nvalue={node.value:.6g}  grad={node.grad:.6g}"
        label = label.replace('"', '\\"')
        lines.append(f'  {ids[id(node)]} [label="{label}", shape={SHAPES.get(node.op, "oval")}];')
    for node in order:
        for child in node.inputs:
            lines.append(f"  {ids[id(child)]} -> {ids[id(node)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
