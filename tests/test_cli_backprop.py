"""`mlkit backprop` through the real app: JSON, tables, DOT, points files, errors and exit codes."""

import json

import pytest

from mlkit.experiments.backprop import MAX_PARAMETER_UPDATES, METRICS
from mlkit.graph import save_points
from mlkit.graph.reference import KerasReference
from mlkit.record import file_sha256
from tests.conftest import validate_envelope


def test_preset_chain_json_reproduces_seed_000(mlkit):
    result = mlkit.json("backprop", "--preset", "chain")
    assert result["final_weights"] == pytest.approx({"w0": 0.6, "w1": 1.8}, rel=1e-12)
    first, second = result["updates"]
    assert first["loss"] == 0.0 and [p["gradient"] for p in first["parameters"]] == [0.0, 0.0]
    assert {p["name"]: p["gradient"] for p in second["parameters"]} == {"w0": 4.0, "w1": 2.0}
    assert result["check"] is None and result["network"]["points_source"] == "options"
    assert (result["command"], result["seed"], result["data"], result["files"]) == ("backprop", 0, None, [])
    metrics = result["metrics"]
    assert set(metrics) == set(METRICS) and metrics["max_difference"] is None and metrics["updates"] == 2
    # o = w1*relu(w0*x): at w = (1, 2) the points (1, 2) and (2, 3) lose 0 and (4 - 3)^2 / 2.
    assert metrics["initial_loss"] == pytest.approx(0.25) and metrics["final_loss"] == pytest.approx(
        ((0.6 * 1.8 * 1 - 2) ** 2 / 2 + (0.6 * 1.8 * 2 - 3) ** 2 / 2) / 2)
    config = result["config"]
    assert (config["preset"], config["layers"], config["weights"], config["learning_rate"]) == (
        "chain", [1, 1, 1], [1.0, 2.0], 0.1)


def test_preset_1_2_1_check_agrees_with_tensorflow(mlkit):
    result = mlkit.json("backprop", "--preset", "1-2-1", "--check", "--expect", "max_difference<=1e-6")
    check = result["check"]
    assert check["passed"] and check["max_difference"] < 1e-6
    assert result["metrics"]["max_difference"] == check["max_difference"] and result["expectations"][0]["passed"]
    assert result["final_weights"] == pytest.approx(check["tensorflow_final_weights"], rel=1e-12)
    assert result["final_weights"] == pytest.approx({"w1": -23.2, "w2": -32.6, "w3": -6.4, "w4": -4.4, "w5": -15.8})
    update = result["updates"][0]
    assert update["loss"] == 220.5
    assert {n["symbol"]: n["value"] for n in update["nodes"]}["o"] == 24.0
    assert {p["name"]: p["gradient"] for p in update["parameters"]} == pytest.approx(update["check"]["finite_difference"], rel=1e-6)
    expressions = {row["parameter"]: row["expression"] for row in result["expressions"]}
    assert expressions["w4"] == "dL/dw4 = (o - y)*relu'(q3)*h2_1"


def test_check_on_a_random_3_4_2_1_network_with_sigmoid_and_tanh(mlkit):
    result = mlkit.json("backprop", "--layers", "3,4,2,1", "--activation", "sigmoid,tanh,sigmoid", "--bias",
                        "--init", "uniform", "--seed", "5", "--loss", "mse", "--steps", "2", "--check")
    assert result["network"]["points_source"] == "random" and len(result["updates"]) == 2
    assert result["check"]["passed"]
    assert result["final_weights"] == pytest.approx(result["check"]["tensorflow_final_weights"], rel=1e-9)
    again = mlkit.json("backprop", "--layers", "3,4,2,1", "--activation", "sigmoid,tanh,sigmoid", "--bias",
                       "--init", "uniform", "--seed", "5", "--loss", "mse", "--steps", "2")
    assert again["final_weights"] == result["final_weights"]  # --seed repeats the run


def test_kinks_are_left_to_tensorflow(mlkit):
    # w1 = 0 puts q1 exactly on the ReLU kink: central differences see half the right-hand slope.
    result = mlkit.json("backprop", "--layers", "1,1,1", "--weights", "0,1", "--point", "1,2", "--check")
    update = result["updates"][0]
    assert update["check"]["kinks"] == ["w1"]
    assert update["parameters"][0]["gradient"] == update["check"]["tensorflow"]["w1"] == 0.0
    assert update["check"]["finite_difference"]["w1"] == pytest.approx(-1.0, rel=1e-4)
    assert result["check"]["passed"] and result["check"]["skipped_by_finite_differences"] == 1


def test_check_failure_exits_3(mlkit, monkeypatch):
    honest = KerasReference.gradients

    def off_by_a_little(self, x, y):
        loss, gradients = honest(self, x, y)
        return loss, {name: value * (1 + 1e-5) + 1e-5 for name, value in gradients.items()}

    monkeypatch.setattr(KerasReference, "gradients", off_by_a_little)
    document = mlkit.json("backprop", "--preset", "1-2-1", "--check", exit_code=3)
    assert document["check"]["passed"] is False and document["metrics"]["max_difference"] > 1e-6
    result = mlkit("backprop", "--preset", "1-2-1", "--check")
    assert result.exit_code == 3 and result.stderr.startswith("Error: check failed: largest difference")


def test_missed_expectation_exits_3_and_unknown_metric_exits_2(mlkit):
    document = mlkit.json("backprop", "--preset", "1-2-1", "--expect", "final_loss<=1", exit_code=3)
    assert document["expectations"] == [{"metric": "final_loss", "op": "<=", "value": 1.0,
                                         "actual": document["metrics"]["final_loss"], "passed": False}]
    assert document["metrics"]["final_loss"] > 1
    unknown = mlkit("backprop", "--expect", "accuracy>=1")
    assert unknown.exit_code == 2 and "initial_loss, final_loss, max_difference" in unknown.stderr


def test_seed_repeats_random_weights_and_another_seed_changes_them(mlkit):
    args = ("backprop", "--layers", "2,3,1", "--init", "uniform", "--steps", "3")
    first, again, other = (mlkit.json(*args, "--seed", seed) for seed in ("7", "7", "8"))
    assert first["final_weights"] == again["final_weights"] and first["metrics"]["final_loss"] == again["metrics"]["final_loss"]
    assert other["final_weights"] != first["final_weights"] and other["seed"] == 8


def test_table_output_explains_the_chain_rule_and_updates(mlkit, tmp_path):
    dot = tmp_path / "graph.dot"
    result = mlkit("backprop", "--preset", "1-2-1", "--dot", dot, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "\n    = (o - y)*relu'(q3)*(w4*relu'(q2_1)*w2 + w5*relu'(q2_2)*w3)*relu'(q1)*x\n" in result.stdout
    assert "w1 <- 2 - 0.1*252 = -23.2" in result.stdout
    assert "h1  (shown above)" in result.stdout
    assert f"wrote {dot}" in result.stderr
    text = dot.read_text()
    assert text.startswith('digraph "mlkit backprop"') and "value=220.5  grad=1" in text
    assert mlkit.json("backprop", "--preset", "1-2-1", "--dot", dot)["files"] == [{"path": str(dot), "kind": "graph"}]


def test_points_file(mlkit, tmp_path):
    path = save_points(tmp_path / "points.h5", [[1.0], [2.0]], [[2.0], [3.0]])
    result = mlkit.json("backprop", "--layers", "1,1,1", "--weights", "1,2", "--data", path, "--lr", "0.1")
    assert result["final_weights"] == pytest.approx({"w1": 0.6, "w2": 1.8})
    assert result["network"]["points_source"] == str(path)
    assert result["data"]["source"] == str(path) and result["data"]["points"] == 2
    assert result["data"]["fingerprint"] == file_sha256(path)
    assert mlkit.json("backprop", "--layers", "1,1,1", "--weights", "1,2", "--data", path,
                      "--learning-rate", "0.1")["final_weights"] == result["final_weights"]  # --lr is its alias
    preset = mlkit.json("backprop", "--preset", "chain", "--data", path)  # the file replaces the preset's points
    assert preset["final_weights"] == pytest.approx({"w0": 0.6, "w1": 1.8})


@pytest.mark.parametrize("args, message", [
    (["--layers", "1,1,2,1", "--weights", "1,2,3"], "need 5, in this order: layer 1 (1 in x 1 units): w1; layer 2"),
    (["--point", "1,2,3"], "need 1 input(s) then 1 target(s)"),
    (["--activation", "softmax"], "unknown activation"),
    (["--lr", "0"], "must be above 0"),
    (["--lr", "nan"], "not a finite number"),
    (["--learning-rate", "inf"], "not a finite number"),
    (["--point", "1,2", "--data", "missing.h5"], "either with --point or with --data"),
    (["--layers", "99999999999999999999999,1"], "must list 2 to 10 unit counts, each from 1 to 64"),
    (["--layers", ",".join(["1"] * 11)], "must list 2 to 10 unit counts"),
    (["--layers", "1"], "must list 2 to 10 unit counts"),
    (["--layers", "64,64,1"], "has 4,160 parameters; at most 1,000"),
    (["--steps", "0"], "--steps"),
    (["--steps", "99999999999999999999"], "--steps"),
    (["--layers", "30,30,1", "--steps", "10000"], f"at most {MAX_PARAMETER_UPDATES:,}"),
    (["--seed", "-1"], "--seed"),
    (["--weights", "1e400,1"], "finite"),
    (["--layers", "1,x"], "--layers"), (["--weights", "1,,2"], "--weights"), (["--point", "nan,1"], "--point"),
    (["--preset", "2-2"], "--preset"), (["--loss", "l1"], "--loss"), (["--steps", "two"], "--steps"),
])
def test_bad_values_are_usage_errors_on_one_line(mlkit, args, message):
    result = mlkit("backprop", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--layers", "1,1", "--activation", "linear", "--weights", "1", "--point", "10,1", "--lr", "10", "--steps", "200"], "overflowed"),
    (["--data", "missing.h5"], "does not exist"),
    (["--preset", "chain", "--dot", "no/such/folder/graph.dot"], "does not exist; create it first"),
])
def test_problems_found_while_running_exit_1(mlkit, args, message):
    result = mlkit("backprop", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_too_many_points_in_a_file_exit_1_before_training(mlkit, tmp_path):
    path = save_points(tmp_path / "many.h5", [[1.0]] * 20_000, [[2.0]] * 20_000)
    result = mlkit("backprop", "--layers", "1,1", "--data", path)
    assert result.exit_code == 1 and "20,000 points given by" in result.stderr and "at most 10,000" in result.stderr


def test_failures_with_json_print_an_error_document(mlkit):
    for args, code in ((["--layers", "99999999999999999999999,1"], 2), (["--data", "missing.h5"], 1)):
        result = mlkit("backprop", *args, "--json")
        assert result.exit_code == code
        document = json.loads(result.stdout)
        validate_envelope(document)
        assert document["command"] == "backprop" and document["error"]["exit_code"] == code


def test_help_states_the_config_defaults(mlkit):
    from mlkit.experiments.backprop import BackpropConfig

    defaults = BackpropConfig()
    text = " ".join(mlkit("backprop", "--help", env={"COLUMNS": "300"}).stdout.split())
    for stated in [f"default {','.join(map(str, defaults.layers))}", f"default {defaults.init}",
                   f"default {defaults.activations[0]}", f"default {defaults.loss}", f"default {defaults.steps}"]:
        assert f"({stated})" in text, stated
    assert f"[default: {defaults.seed}]" in text and f"the preset's, else {defaults.learning_rate}." in text
    assert not defaults.bias and "(default: no bias)" in text
