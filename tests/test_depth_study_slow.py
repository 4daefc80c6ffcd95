"""depth-study on the real MNIST: the seeds' finding, a fix, and the CNN target (make test-slow)."""

import pytest

from mlkit.experiments.depth_study import DepthStudyConfig, run

from .conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, needs_shared_data]


def by_label(result) -> dict:
    return {trained.label: trained for trained in result.runs}


def test_seed_grid_sigmoid_falls_with_depth_relu_does_not():
    runs = by_label(run(DepthStudyConfig(data_dir=SHARED_DATA, quiet=True)))
    accuracy = {label: trained.test_accuracy for label, trained in runs.items()}
    assert accuracy["sigmoid d3"] < accuracy["sigmoid d1"] - 0.3  # seeds: 0.88 -> 0.26
    assert accuracy["relu d3"] >= accuracy["relu d1"] - 0.01  # seeds: 0.93 -> 0.95
    assert min(accuracy[f"relu d{depth}"] for depth in (1, 2, 3)) > 0.9
    # The cause: before training, sigmoid d3's first layer gets far less gradient than ReLU d3's.
    sigmoid, relu = runs["sigmoid d3"].gradient_norms[0], runs["relu d3"].gradient_norms[0]
    assert sigmoid[0] / sigmoid[-1] < 0.1 * relu[0] / relu[-1]


def test_batchnorm_makes_sigmoid_depth_3_train():
    result = run(DepthStudyConfig(data_dir=SHARED_DATA, activations=("sigmoid",), depths=(3,),
                                  variants=("batchnorm",), quiet=True))
    assert result.runs[0].test_accuracy > 0.85  # measured 0.907 (seed variant: 0.256)


def test_seed_002s_sigmoid_first_model_trains_at_depth_3():
    result = run(DepthStudyConfig(data_dir=SHARED_DATA, activations=("relu",), depths=(3,),
                                  variants=("sigmoid-first",), quiet=True))
    assert result.runs[0].test_accuracy > 0.85  # the seed saw 0.891 (all-sigmoid depth 3: 0.26)


def test_cnn_reaches_99_percent():
    result = run(DepthStudyConfig(data_dir=SHARED_DATA, models=("cnn",), epochs=8, quiet=True))
    assert result.runs[0].test_accuracy >= 0.99


def test_linear_model_trains_at_the_seeds_learning_rate():
    result = run(DepthStudyConfig(data_dir=SHARED_DATA, models=("linear",), epochs=8, quiet=True))
    assert result.runs[0].test_accuracy > 0.9  # the seed saw 0.916; unclipped it can go NaN
