"""`mlkit backprop`: forward, backward and SGD updates of a tiny network, explained and checked."""

import math
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree

from mlkit.experiments.backprop import MAX_STEPS, METRICS, BackpropConfig

from ._options import ExpectOption, JsonOption, LearningRateOption, QuietOption, SeedOption
from ._output import expectations, finish, make_table, print_tables, stdout

D = BackpropConfig()  # the defaults live in the config dataclass (a preset may replace some)


class Preset(str, Enum):
    chain = "chain"
    one_two_one = "1-2-1"


class Init(str, Enum):
    normal = "normal"
    uniform = "uniform"


class Loss(str, Enum):
    half_mse = "half-mse"
    mse = "mse"


def _numbers(kind: type, text: str | None):
    if text is None:
        return None
    try:
        values = tuple(kind(part) for part in text.split(","))
    except ValueError:
        values = (math.nan,)
    if not all(math.isfinite(value) for value in values):
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of finite {kind.__name__} values, e.g. 1,2,1.")
    return values


def _words(text: str | None):
    return None if text is None else tuple(part.strip() for part in text.split(","))


def _points(texts: list[str] | None):
    return tuple(_numbers(float, text) for text in texts) if texts else None


def backprop(
    preset: Annotated[Preset | None, typer.Option(help="A seed exercise: chain (seed 000) or 1-2-1 (seed 002); other options override it.")] = None,
    layers: Annotated[str | None, typer.Option(metavar="N,N,..", help="Units per layer, the input size first, e.g. 1,1,2,1 (default 1,1,1).", callback=lambda v: _numbers(int, v))] = None,
    weights: Annotated[str | None, typer.Option(metavar="W,W,..", help="Initial weights, layer by layer; in a layer for each input, for each unit (Keras kernel order), then biases.", callback=lambda v: _numbers(float, v))] = None,
    init: Annotated[Init | None, typer.Option(help="Random initial weights when --weights is not given: normal N(0,1) or uniform U(-1,1); biases 0 (default normal).")] = None,
    seed: SeedOption = D.seed,
    bias: Annotated[bool | None, typer.Option("--bias/--no-bias", help="Give every unit a bias (default: no bias).")] = None,
    activation: Annotated[str | None, typer.Option(metavar="NAME,..", help="relu, sigmoid, tanh or linear; one for all layers or one per weight layer, e.g. relu,relu,linear (default relu).", callback=_words)] = None,
    loss: Annotated[Loss | None, typer.Option(help="half-mse: 1/2 sum (o-y)^2; mse: mean (o-y)^2 (default half-mse).")] = None,
    learning_rate: LearningRateOption = None,
    point: Annotated[list[str] | None, typer.Option(metavar="X,..,Y,..", help="A data point: inputs then targets, e.g. 2,3; repeat for more, one update each, in order.", callback=_points)] = None,
    data: Annotated[Path | None, typer.Option(dir_okay=False, help="HDF5 points file (x, y arrays; see docs/formats.md) instead of --point.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, max=MAX_STEPS, help=f"Passes over the points (default {D.steps}).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Recompute every gradient with TensorFlow (float64) and central differences; exit 3 if any differs by more than 1e-6 (relative).")] = False,
    dot: Annotated[Path | None, typer.Option(dir_okay=False, help="Write the compute graph as Graphviz DOT (values at the first point).")] = None,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Run gradient descent on a tiny network node by node and explain every derivative.

    Shows the compute graph, each node's value and gradient per point, dL/dw for every weight
    written out by the chain rule, each update w <- w - lr*g and the final weights. With no
    point given, one random point is drawn from --seed; the learning rate is the preset's, else
    0.1. At a ReLU kink (q = 0) the derivative is 0, as in TensorFlow.

    Example: mlkit backprop --preset 1-2-1 --check
    """
    from mlkit.experiments.backprop import make_config, run

    targets = expectations(expect, METRICS)
    config = make_config(
        preset.value if preset else None, layers=layers, weights=weights, init=init.value if init else None,
        seed=seed, bias=bias, activations=activation, loss=loss.value if loss else None,
        learning_rate=learning_rate, points=point, data=data, steps=steps, check=True if check else None, dot=dot)
    result = run(config)
    failed = result.check is not None and not result.check["passed"]
    if failed:  # exit 3 below, after the results (and any --expect verdict) are printed
        typer.echo(f"Error: check failed: largest difference {result.check['max_difference']:.3g} > "
                   f"{result.check['tolerance']:g}", err=True)
    finish(result.record(), json=json, expect=targets, render=lambda: _render(result), quiet=quiet)
    if failed:
        raise typer.Exit(3)


def _render(result) -> None:
    net = result.network
    stdout().print(f"layers {net['layers']}, activations {net['activations']}, {'bias' if net['bias'] else 'no bias'}, "
                   f"loss {net['loss']}, lr {net['learning_rate']:g}\nweight order: {net['weight_order']}", highlight=False)
    stdout().print(_tree(result.graph))
    note = " (relu'(q) is 1 where q > 0, else 0, also at q = 0)" if "relu" in net["activations"] else ""
    stdout().print(f"Chain rule{note}:", highlight=False)
    for row in result.expressions:
        stdout().print(f"  {row['chain_rule']}\n    = {row['expression'].split(' = ', 1)[1]}", highlight=False)
    tables = []
    lr = net["learning_rate"]
    for update in result.updates:
        where = f"step {update['step']}, point {update['point']}: x={update['x']} y={update['y']} loss={update['loss']:.6g}"
        tables.append(make_table(f"Forward and backward, {where}", ["node", "op", "value", "dL/dnode"],
                                 [[n["symbol"], n["op"], f"{n['value'] + 0.0:.6g}", f"{n['grad'] + 0.0:.6g}"] for n in update["nodes"]]))
        tables.append(make_table(f"Updates, {where}", ["parameter", "dL/dw", "= in numbers", "update"], [
            [p["name"], f"{p['gradient']:.6g}", p["substituted"], f"{p['name']} <- {p['old']:.6g} - {lr:g}*{p['gradient']:.6g} = {p['new']:.6g}"]
            for p in update["parameters"]]))
    tables.append(make_table(f"Final weights (mean loss over the points after training: {result.final_loss:.6g})", ["parameter", "initial", "final"], [
        [name, f"{net['initial_weights'][name]:.6g}", f"{value:.6g}"] for name, value in result.final_weights.items()]))
    if result.check is not None:
        check = result.check
        tables.append(make_table("Check (relative difference, tolerance 1e-6)", ["against", "largest difference"], [
            ["TensorFlow gradients and losses", f"{check['max_difference_tensorflow']:.3g}"],
            [f"central differences ({check['skipped_by_finite_differences']} left to TensorFlow: kinks, rounding)",
             f"{check['max_difference_finite_difference']:.3g}"],
            ["TensorFlow SGD final weights", f"{check['max_difference_final_weights']:.3g}"],
            ["all", f"{check['max_difference']:.3g} ({'passed' if check['passed'] else 'FAILED'})"]]))
    for table in tables:  # long expressions wrap instead of being cut
        for column in table.columns:
            column.overflow = "fold"
    print_tables(*tables)


def _tree(graph: list[dict]) -> Tree:
    """The graph as a tree from the loss down; a node already shown is not expanded again."""
    by_symbol = {node["symbol"]: node for node in graph}
    shown: set[str] = set()

    def label(node: dict) -> str:
        text = node["symbol"] if node["formula"] == node["symbol"] else f"{node['symbol']} = {node['formula']}"
        return f"{text}  [{node['op']}]"

    def add(parent: Tree, node: dict) -> None:
        if node["symbol"] in shown and node["inputs"]:
            parent.add(f"{node['symbol']}  (shown above)")
            return
        shown.add(node["symbol"])
        branch = parent.add(label(node))
        for child in node["inputs"]:
            add(branch, by_symbol[child])

    root = graph[-1]
    tree = Tree(f"Compute graph: {label(root)}")
    shown.add(root["symbol"])
    for child in root["inputs"]:
        add(tree, by_symbol[child])
    return tree
