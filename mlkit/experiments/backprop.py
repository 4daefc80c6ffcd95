"""`mlkit backprop`: forward, backward and SGD updates of a tiny network, explained and checked."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..files import write_text
from ..graph import Network, NetworkSpec, explain_parameters, load_points, to_dot

# The seeds' exercises. Seed 000 numbers its weights from w0; seed 002 from w1.
PRESETS = {
    "chain": {"layers": (1, 1, 1), "weights": (1.0, 2.0), "activations": ("relu",), "bias": False,
              "loss": "half-mse", "learning_rate": 0.1, "points": ((1.0, 2.0), (2.0, 3.0)), "first_index": 0},
    "1-2-1": {"layers": (1, 1, 2, 1), "weights": (2.0, 1.0, 2.0, 4.0, 1.0), "activations": ("relu",),
              "bias": False, "loss": "half-mse", "learning_rate": 0.1, "points": ((2.0, 3.0),), "first_index": 1},
}


@dataclass(frozen=True)
class BackpropConfig:
    """Every setting of a run; `points` are flat tuples, the inputs then the targets."""

    layers: tuple[int, ...] = (1, 1, 1)
    weights: tuple[float, ...] | None = None
    init: str = "normal"
    seed: int = 0
    bias: bool = False
    activations: tuple[str, ...] = ("relu",)
    loss: str = "half-mse"
    learning_rate: float = 0.1
    points: tuple[tuple[float, ...], ...] = ()
    data: Path | None = None
    steps: int = 1
    check: bool = False
    tolerance: float = 1e-6
    dot: Path | None = None
    first_index: int = 1
    preset: str | None = None


def make_config(preset: str | None = None, **options) -> BackpropConfig:
    """A config from a preset (if any) overridden by the options given (None means not given)."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    given = {name: value for name, value in options.items() if value is not None}
    if preset is not None and "init" in given and "weights" not in given:
        given["weights"] = None  # --init replaces the preset's weights
    if preset is not None and "data" in given and "points" not in given:
        given["points"] = ()  # --data replaces the preset's points
    return BackpropConfig(**(PRESETS.get(preset, {}) | given | {"preset": preset}))


@dataclass
class BackpropResult:
    """What the run did: the network, its graph, every update explained, the final weights, the check."""

    network: dict
    graph: list[dict]
    expressions: list[dict]
    updates: list[dict] = field(default_factory=list)
    final_weights: dict = field(default_factory=dict)
    final_loss: float | None = None
    check: dict | None = None
    dot: str | None = None


def make_spec(config: BackpropConfig) -> NetworkSpec:
    activations = config.activations
    if len(activations) == 1:
        activations = activations * (len(config.layers) - 1)
    return NetworkSpec(tuple(config.layers), tuple(activations), config.bias, config.loss, config.first_index)


def make_points(config: BackpropConfig, spec: NetworkSpec) -> tuple[list, str]:
    """The (x, y) points in order and where they came from: options, a file, or drawn from the seed."""
    if config.points and config.data is not None:
        raise ConfigError("give data points either with --point or with --data, not both.")
    if config.data is not None:
        return load_points(config.data, spec.input_size, spec.output_size), str(config.data)
    width = spec.input_size + spec.output_size
    if not config.points:
        rng = np.random.default_rng(config.seed)
        drawn = rng.normal(0.0, 1.0, width)
        return [(tuple(drawn[:spec.input_size].tolist()), tuple(drawn[spec.input_size:].tolist()))], "random"
    for point in config.points:
        if len(point) != width:
            raise ConfigError(f"point {','.join(f'{v:g}' for v in point)} has {len(point)} values; layers "
                              f"{','.join(map(str, spec.layers))} need {spec.input_size} input(s) then "
                              f"{spec.output_size} target(s), e.g. --point {','.join(['1'] * width)}.")
    return [(tuple(p[:spec.input_size]), tuple(p[spec.input_size:])) for p in config.points], "options"


def _validate(config: BackpropConfig) -> None:
    if not config.learning_rate > 0:
        raise ConfigError(f"learning rate {config.learning_rate} must be positive, e.g. --lr 0.1.")
    if config.steps < 1:
        raise ConfigError(f"steps {config.steps} must be at least 1 (passes over the points).")
    if not config.tolerance > 0:
        raise ConfigError(f"tolerance {config.tolerance} must be positive.")
    values = [*(config.weights or ()), *(v for point in config.points for v in point), config.learning_rate]
    if not np.isfinite(values).all():
        raise ConfigError("weights, points and the learning rate must be finite numbers (no nan or inf).")


def run(config: BackpropConfig) -> BackpropResult:
    """Train `config.steps` passes of one-point SGD updates on the graph engine, explaining each."""
    _validate(config)
    spec = make_spec(config)
    weights = spec.check_weights(config.weights) if config.weights is not None else spec.initial_weights(config.init, config.seed)
    points, source = make_points(config, spec)
    network = Network(spec, weights)
    result = BackpropResult(network=_describe(config, spec, weights, source), graph=_graph(network), expressions=[])
    checker = _Checker(spec, config.tolerance) if config.check else None
    for step in range(1, config.steps + 1):
        for index, (x, y) in enumerate(points, start=1):
            loss = network.forward(x, y)
            network.backward()
            explained = explain_parameters(network.loss, network.parameters())
            if not result.expressions:
                result.expressions = [{k: row[k] for k in ("parameter", "chain_rule", "expression")} for row in explained]
                if config.dot is not None:
                    result.dot = str(write_text(config.dot, to_dot(network.loss, "mlkit backprop")))
            update = _update(step, index, x, y, loss, network, explained)
            if checker is not None:
                update["check"] = checker.compare(network, x, y, loss)
            network.step(config.learning_rate)
            if not all(np.isfinite(list(network.weights().values()))):
                raise ConfigError(f"the weights overflowed to infinity or NaN at step {step}, point {index}; "
                                  "lower --lr or start from smaller weights.")
            update["parameters"] = [row | {"new": value} for row, value in zip(update["parameters"], network.weights().values())]
            result.updates.append(update)
    result.final_weights = network.weights()
    result.final_loss = float(np.mean([network.forward(x, y) for x, y in points]))
    if checker is not None:
        result.check = checker.finish(weights, points, config, result.final_weights)
    return result


def _describe(config: BackpropConfig, spec: NetworkSpec, weights: tuple, source: str) -> dict:
    return {"preset": config.preset, "layers": list(spec.layers), "activations": list(spec.activations),
            "bias": spec.bias, "loss": spec.loss, "learning_rate": config.learning_rate, "steps": config.steps,
            "points_source": source, "weight_order": spec.describe_order(),
            "initial_weights": dict(zip(spec.parameter_names(), weights)),
            "init": None if config.weights is not None else config.init, "seed": config.seed}


def _graph(network: Network) -> list[dict]:
    return [{"symbol": node.symbol, "op": node.op, "formula": node.formula(),
             "inputs": [child.symbol for child in node.inputs]} for node in network.nodes()]


def _update(step: int, index: int, x, y, loss: float, network: Network, explained: list[dict]) -> dict:
    nodes = [{"symbol": node.symbol, "op": node.op, "value": node.value, "grad": node.grad} for node in network.nodes()]
    parameters = [{"name": row["parameter"], "old": parameter.value, "gradient": row["gradient"],
                   "substituted": row["substituted"]} for row, parameter in zip(explained, network.parameters())]
    return {"step": step, "point": index, "x": list(x), "y": list(y), "loss": loss, "nodes": nodes,
            "parameters": parameters}


class _Checker:
    """Compares every gradient with TensorFlow and central differences, and the final weights with TF."""

    def __init__(self, spec: NetworkSpec, tolerance: float):
        from ..graph.reference import KerasReference

        self.reference = KerasReference(spec)
        self.tolerance = tolerance
        self.worst = {"tensorflow": 0.0, "finite_difference": 0.0, "final_weights": 0.0}
        self.skipped = 0

    def compare(self, network: Network, x, y, loss: float) -> dict:
        from ..graph.reference import finite_difference_gradients, relative_difference

        engine = {parameter.symbol: parameter.grad for parameter in network.parameters()}
        self.reference.set_weights([parameter.value for parameter in network.parameters()])
        tf_loss, tf_gradients = self.reference.gradients(x, y)
        differences = finite_difference_gradients(network, x, y)
        judged = [name for name in engine if differences.conclusive(name, self.tolerance)]
        tf_diff = max([relative_difference(loss, tf_loss)] + [relative_difference(engine[n], tf_gradients[n]) for n in engine])
        fd_diff = max([relative_difference(engine[n], differences.gradients[n]) for n in judged], default=0.0)
        self.worst["tensorflow"] = max(self.worst["tensorflow"], tf_diff)
        self.worst["finite_difference"] = max(self.worst["finite_difference"], fd_diff)
        self.skipped += len(engine) - len(judged)
        return {"tensorflow": tf_gradients, "finite_difference": differences.gradients, "kinks": differences.kinks,
                "finite_difference_skipped": [n for n in engine if n not in judged],
                "max_difference_tensorflow": tf_diff, "max_difference_finite_difference": fd_diff}

    def finish(self, weights: tuple, points: list, config: BackpropConfig, final: dict) -> dict:
        from ..graph.reference import relative_difference

        tf_final = self.reference.train(weights, points, config.learning_rate, config.steps)
        self.worst["final_weights"] = max(relative_difference(final[n], tf_final[n]) for n in final)
        largest = max(self.worst.values())
        return {"max_difference": largest, "tolerance": self.tolerance, "passed": largest <= self.tolerance,
                "max_difference_tensorflow": self.worst["tensorflow"],
                "max_difference_finite_difference": self.worst["finite_difference"],
                "max_difference_final_weights": self.worst["final_weights"],
                "skipped_by_finite_differences": self.skipped, "tensorflow_final_weights": tf_final,
                "relu_derivative_at_zero": 0.0}
