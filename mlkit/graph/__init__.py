"""A scalar computational-graph engine: forward values, back-propagated gradients, the chain rule.

One idea per module: `node` (the `Node` base: topological order, forward, backward), `leaves`
(constants, variables), `arithmetic` (add, multiply), `activations`, `losses`, `spec` (network
shape, symbols and weight order), `network` (a dense net as a graph, SGD steps), `explain`
(chain-rule expressions), `dot` (Graphviz), `reference` (TensorFlow and finite differences),
`points` (HDF5 data points). TensorFlow is imported only inside `reference.KerasReference`.
"""

from .activations import ACTIVATIONS, Identity, ReLU, Sigmoid, Tanh
from .arithmetic import Add, Multiply
from .dot import to_dot
from .explain import explain_parameters
from .leaves import Constant, Variable
from .losses import LOSSES, MSE, HalfMSE
from .network import Network
from .node import Node
from .points import load_points, save_points
from .spec import INITS, NetworkSpec

__all__ = [
    "ACTIVATIONS", "Add", "Constant", "HalfMSE", "INITS", "Identity", "LOSSES", "MSE", "Multiply",
    "Network", "NetworkSpec", "Node", "ReLU", "Sigmoid", "Tanh", "Variable", "explain_parameters",
    "load_points", "save_points", "to_dot",
]
