"""mnist-sum on the real MNIST: the targets of issues 6 and 20 with the default settings (minutes each)."""

import pytest

from mlkit.experiments.mnist_sum import CalcConfig, SumConfig, run_calc, run_sum

from .conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, needs_shared_data]


def test_sum_of_ten_digits_is_exact_and_holds_at_other_lengths():
    result = run_sum(SumConfig(data_dir=SHARED_DATA, quiet=True))
    by_length = {evaluation["length"]: evaluation for evaluation in result.evaluations}
    assert by_length[10]["exact_match"] >= 0.90 and by_length[10]["mae"] <= 0.15
    assert set(by_length) == {5, 10, 20}
    assert result.record().metrics["exact_match"] == by_length[10]["exact_match"]
    # Sum pooling: shorter sequences are easier, longer ones only lose what single digits lose.
    assert by_length[5]["exact_match"] >= by_length[10]["exact_match"] >= by_length[20]["exact_match"]


@pytest.mark.parametrize("digits, target", [(4, 0.945), (15, 0.81)])
def test_calculator_adds_long_numbers(digits, target):
    # Issue 20's targets, on test questions of 1 to N digits per operand.
    result = run_calc(CalcConfig(data_dir=SHARED_DATA, digits=digits, quiet=True))
    assert result.evaluations[0]["exact_match"] >= target
