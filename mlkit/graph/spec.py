"""`NetworkSpec`: the shape of a small dense network, its symbols and the order of its weights.

Weight order (what `--weights` lists): layer by layer, from the input side; within a layer the
kernel in Keras' layout, i.e. for each input i, for each unit j, the weight from input i to
unit j (`Dense.kernel[i, j]`, row-major), then, with biases, that layer's biases unit by unit.
So `model.get_weights()` of a Keras model of the same shape, flattened, is a valid list.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .activations import ACTIVATIONS
from .losses import LOSSES

INITS = ("normal", "uniform")
SHOWN_NAMES = 8  # per layer, in the weight order that messages and tables show


@dataclass(frozen=True)
class NetworkSpec:
    """Units per layer (the first is the input size), one activation per weight layer, the loss.

    `first_index` is the number of the first weight (the seed 000 exercise counts from w0).
    """

    layers: tuple[int, ...]
    activations: tuple[str, ...]
    bias: bool = False
    loss: str = "half-mse"
    first_index: int = 1

    def __post_init__(self):
        if len(self.layers) < 2 or any(units < 1 for units in self.layers):
            raise ConfigError(f"layers {_join(self.layers)} must list at least two positive unit "
                              "counts, the input size first, e.g. --layers 1,2,1.")
        if len(self.activations) != len(self.layers) - 1:
            raise ConfigError(f"{len(self.activations)} activations for {len(self.layers) - 1} weight "
                              f"layers; give one activation, or one per weight layer (e.g. relu,relu,linear).")
        unknown = [name for name in self.activations if name not in ACTIVATIONS]
        if unknown:
            raise ConfigError(f"unknown activation {unknown[0]!r}; use one of {', '.join(ACTIVATIONS)}.")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; use one of {', '.join(LOSSES)}.")

    @property
    def input_size(self) -> int:
        return self.layers[0]

    @property
    def output_size(self) -> int:
        return self.layers[-1]

    def input_symbols(self) -> list[str]:
        return _numbered("x", self.input_size)

    def target_symbols(self) -> list[str]:
        return _numbered("y", self.output_size)

    def unit_symbols(self, layer: int) -> tuple[list[str], list[str]]:
        """(pre-activation, activation) symbols of weight layer `layer` (1-based); the last is o."""
        units = self.layers[layer]
        pre = _numbered(f"q{layer}", units, separator="_")
        if layer == len(self.layers) - 1:
            return pre, _numbered("o", units)
        return pre, _numbered(f"h{layer}", units, separator="_")

    def layer_parameters(self) -> list[tuple[list[list[str]], list[str]]]:
        """Per weight layer: kernel names as [input][unit], and the bias names (empty without bias)."""
        layers, number = [], self.first_index
        for layer in range(1, len(self.layers)):
            kernel = []
            for _ in range(self.layers[layer - 1]):
                kernel.append([f"w{number + unit}" for unit in range(self.layers[layer])])
                number += self.layers[layer]
            biases = _numbered(f"b{layer}", self.layers[layer], separator="_") if self.bias else []
            layers.append((kernel, biases))
        return layers

    def parameter_names(self) -> list[str]:
        """Every parameter name in the documented flat order."""
        return [name for kernel, biases in self.layer_parameters() for name in _flatten(kernel) + biases]

    def describe_order(self) -> str:
        """The weight order, layer by layer; a long layer shows its first and last names only."""
        parts = []
        for layer, (kernel, biases) in enumerate(self.layer_parameters(), start=1):
            names = _flatten(kernel) + biases
            if len(names) > SHOWN_NAMES:
                names = names[:SHOWN_NAMES - 1] + [f"... {names[-1]} ({len(names)} in all)"]
            parts.append(f"layer {layer} ({self.layers[layer - 1]} in x {self.layers[layer]} units"
                         f"{' + biases' if biases else ''}): {', '.join(names)}")
        return "; ".join(parts)

    def check_weights(self, weights: tuple[float, ...]) -> tuple[float, ...]:
        """Return `weights` if their count fits the layers; otherwise say the count and order."""
        expected = len(self.parameter_names())
        if len(weights) != expected:
            raise ConfigError(
                f"{len(weights)} weights given but layers {_join(self.layers)} "
                f"{'with' if self.bias else 'without'} bias need {expected}, in this order: "
                f"{self.describe_order()} (within a layer: for each input, for each unit, then biases)."
            )
        return tuple(float(weight) for weight in weights)

    def initial_weights(self, init: str, seed: int) -> tuple[float, ...]:
        """Random weights: `normal` draws N(0, 1), `uniform` draws U(-1, 1), biases start at 0."""
        if init not in INITS:
            raise ConfigError(f"unknown init {init!r}; use one of {', '.join(INITS)}.")
        rng = np.random.default_rng(seed)
        weights = []
        for kernel, biases in self.layer_parameters():
            count = len(_flatten(kernel))
            draw = rng.normal(0.0, 1.0, count) if init == "normal" else rng.uniform(-1.0, 1.0, count)
            weights += [float(value) for value in draw] + [0.0] * len(biases)
        return tuple(weights)


def _numbered(stem: str, count: int, separator: str = "") -> list[str]:
    """x for one unit, x1..xn for several (q2 or q2_1..q2_n with a separator)."""
    if count == 1:
        return [stem]
    return [f"{stem}{separator}{index}" for index in range(1, count + 1)]


def _flatten(rows: list[list[str]]) -> list[str]:
    return [name for row in rows for name in row]


def _join(values) -> str:
    return ",".join(str(value) for value in values)
