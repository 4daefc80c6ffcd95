"""`mlkit backprop`: forward, backward and SGD updates of a tiny network, explained and checked."""

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, MlkitError
from ..files import check_output_path, write_text
from ..graph import Network, NetworkSpec, explain_parameters, load_points, to_dot
from ..graph.reference import GradientChecker
from ..record import Record, data_block, file_entry, file_sha256

METRICS = ("initial_loss", "final_loss", "max_difference", "updates", "wall_seconds")

# Upper limits of the size options. Every update of every parameter is explained and recorded
# (about 1.5 KB and 0.25 ms each on the graph engine), so the network and the run stay small.
MAX_LAYERS = 10  # entries of --layers, the input size included
MAX_UNITS = 64
MAX_PARAMETERS = 1000
MAX_STEPS = 10_000
MAX_POINTS = 10_000
MAX_PARAMETER_UPDATES = 100_000  # steps x points x parameters
MAX_SEED = 2**32 - 1  # what NumPy's generators accept

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

    config: BackpropConfig
    network: dict
    graph: list[dict]
    expressions: list[dict]
    updates: list[dict] = field(default_factory=list)
    initial_loss: float | None = None
    final_weights: dict = field(default_factory=dict)
    final_loss: float | None = None
    check: dict | None = None
    dot: str | None = None
    wall_seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"BackpropResult(layers={self.network['layers']}, updates={len(self.updates)}, "
                f"final_loss={self.final_loss:.6g})")

    def metrics(self) -> dict:
        return {"initial_loss": self.initial_loss, "final_loss": self.final_loss,
                "max_difference": self.check["max_difference"] if self.check else None,
                "updates": len(self.updates), "wall_seconds": self.wall_seconds}

    def record(self) -> Record:
        config = self.config
        data = None
        if config.data is not None:
            data = data_block("backprop points", config.data, file_sha256(config.data), points=self.network["points"])
        settings = {key: value for key, value in asdict(config).items() if key != "seed"}
        settings |= {"layers": self.network["layers"], "activations": self.network["activations"],
                     "weights": list(self.network["initial_weights"].values())}
        return Record("backprop", settings, self.metrics(), data=data,
                      files=[file_entry(self.dot, "graph")] if self.dot else [], seed=config.seed,
                      sections={"network": self.network, "graph": self.graph, "expressions": self.expressions,
                                "updates": self.updates, "final_weights": self.final_weights, "check": self.check})


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
        points = load_points(config.data, spec.input_size, spec.output_size)
        _check_updates(len(points), config.steps, len(spec.parameter_names()), str(config.data))
        return points, str(config.data)
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
    """Refuse settings no run can use, before anything is built (sizes are checked by arithmetic)."""
    values = [*(config.weights or ()), *(v for point in config.points for v in point), config.learning_rate,
              config.tolerance]
    if not np.isfinite(values).all():
        raise ConfigError("weights, points, the learning rate and the tolerance must be finite numbers (no nan or inf).")
    if not config.learning_rate > 0:
        raise ConfigError(f"learning rate {config.learning_rate} must be positive, e.g. --lr 0.1.")
    if not 1 <= config.steps <= MAX_STEPS:
        raise ConfigError(f"--steps must be between 1 and {MAX_STEPS:,} (passes over the points), not {config.steps:,}.")
    if not config.tolerance > 0:
        raise ConfigError(f"tolerance {config.tolerance} must be positive.")
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be between 0 and {MAX_SEED:,}, not {config.seed:,}.")
    layers = config.layers
    if not 2 <= len(layers) <= MAX_LAYERS or not all(1 <= units <= MAX_UNITS for units in layers):
        raise ConfigError(f"--layers {_shown(layers)} must list 2 to {MAX_LAYERS} unit counts, each from 1 to "
                          f"{MAX_UNITS}, the input size first, e.g. --layers 1,2,1.")
    parameters = count_parameters(layers, config.bias)
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"--layers {_shown(layers)} {'with' if config.bias else 'without'} bias has {parameters:,} "
                          f"parameters; at most {MAX_PARAMETERS:,} are explained. Use fewer or narrower layers.")
    _check_updates(len(config.points) or 1, config.steps, parameters, "--point")


def count_parameters(layers: tuple[int, ...], bias: bool) -> int:
    """Weights (and biases) of a dense network with these units per layer."""
    return sum(inputs * units + (units if bias else 0) for inputs, units in zip(layers, layers[1:]))


def _check_updates(points: int, steps: int, parameters: int, where: str) -> None:
    """Refuse more points, or more parameter updates to record, than the named limits allow."""
    error = ConfigError if where == "--point" else DataError
    if points > MAX_POINTS:
        raise error(f"{points:,} points given by {where}; at most {MAX_POINTS:,} are trained on.")
    if points * steps * parameters > MAX_PARAMETER_UPDATES:
        raise error(f"{steps:,} steps over {points:,} point(s) of {parameters:,} parameters are "
                    f"{points * steps * parameters:,} parameter updates to explain; at most "
                    f"{MAX_PARAMETER_UPDATES:,}. Lower --steps or use fewer points.")


def _shown(values: tuple, most: int = 12) -> str:
    """A list of numbers for a message, cut after `most` entries."""
    text = ",".join(str(value) for value in values[:most])
    return text + (f",... ({len(values)} entries)" if len(values) > most else "")


def run(config: BackpropConfig) -> BackpropResult:
    """Train `config.steps` passes of one-point SGD updates on the graph engine, explaining each."""
    started = time.perf_counter()
    _validate(config)
    if config.dot is not None:
        check_output_path(config.dot, "--dot")
    spec = make_spec(config)
    weights = spec.check_weights(config.weights) if config.weights is not None else spec.initial_weights(config.init, config.seed)
    points, source = make_points(config, spec)
    network = Network(spec, weights)
    result = BackpropResult(config, network=_describe(config, spec, weights, source, len(points)), graph=_graph(network),
                            expressions=[], initial_loss=_mean_loss(network, points))
    checker = GradientChecker(spec, config.tolerance) if config.check else None
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
                raise MlkitError(f"the weights overflowed to infinity or NaN at step {step}, point {index}; "
                                  "lower --lr or start from smaller weights.")
            update["parameters"] = [row | {"new": value} for row, value in zip(update["parameters"], network.weights().values())]
            result.updates.append(update)
    result.final_weights = network.weights()
    result.final_loss = _mean_loss(network, points)
    if checker is not None:
        result.check = checker.finish(weights, points, config.learning_rate, config.steps, result.final_weights)
    result.wall_seconds = time.perf_counter() - started
    return result


def _mean_loss(network: Network, points: list) -> float:
    """The loss averaged over the points at the network's current weights."""
    return float(np.mean([network.forward(x, y) for x, y in points]))


def _describe(config: BackpropConfig, spec: NetworkSpec, weights: tuple, source: str, points: int) -> dict:
    return {"points": points, "preset": config.preset, "layers": list(spec.layers), "activations": list(spec.activations),
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
