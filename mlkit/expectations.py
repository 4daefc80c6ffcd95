"""`--expect 'METRIC>=VALUE'`: targets a grading script sets on a result's `metrics` block.

Checked in two steps: `parse_expectation` and `check_metric_names` before any work starts (a
typo must not cost a training run), `evaluate_expectations` once the metrics exist.
See docs/grading.md.
"""

import math
import operator
import re
from dataclasses import dataclass

from .errors import ConfigError

OPERATORS = {">=": operator.ge, "<=": operator.le}
_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Expectation:
    """One target: `metric op value`, e.g. test_accuracy >= 0.9."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def check(self, metrics: dict) -> dict:
        """{metric, op, value, actual, passed}; a metric the run left empty (None) fails."""
        actual = metrics.get(self.metric)
        passed = actual is not None and math.isfinite(actual) and OPERATORS[self.op](actual, self.value)
        return {"metric": self.metric, "op": self.op, "value": self.value, "actual": actual, "passed": passed}


def parse_expectation(text: str) -> Expectation:
    """'test_accuracy>=0.9' -> Expectation; anything else is a ConfigError (a usage error)."""
    match = _PATTERN.match(text)
    value = _finite_float(match.group(3)) if match else None
    if value is None:
        raise ConfigError(f"--expect takes METRIC>=VALUE or METRIC<=VALUE with a finite number, got {text!r}.")
    return Expectation(match.group(1), match.group(2), value)


def _finite_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_metric_names(expectations: list[Expectation], available: tuple[str, ...]) -> None:
    """Refuse a metric the command does not report, listing the ones it does."""
    for expectation in expectations:
        if expectation.metric not in available:
            raise ConfigError(f"--expect: unknown metric {expectation.metric!r}; this command reports "
                              f"{', '.join(available)}.")


def evaluate_expectations(expectations: list[Expectation], metrics: dict) -> list[dict]:
    """Each expectation checked against `metrics`, in the order given."""
    return [expectation.check(metrics) for expectation in expectations]
