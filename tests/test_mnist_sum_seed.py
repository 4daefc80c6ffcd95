"""`mnist-sum sum|calc --recipe seed`: seed 002's and seed 000's setups, run tiny (docs/seeds.md)."""

import numpy as np
import pytest

from mlkit.experiments.mnist_sum import CALC_METRICS, SUM_METRICS, CalcConfig, SumConfig, calc_config, sum_config
from mlkit.mnist_sum.sampling import ImagePool
from mlkit.mnist_sum.seed_data import grouped_sums, seed_question_codes, seed_questions
from mlkit.mnist_sum.symbols import BLANK, CHARS, PLUS, decode_answers
from mlkit.training import load_model

TINY = ["--epochs", "1", "--quiet"]


def test_grouped_sums_cut_the_images_into_disjoint_consecutive_groups():
    images = np.arange(25 * 28 * 28, dtype=np.uint32).reshape(25, 28, 28).astype(np.uint8)
    labels = np.arange(25) % 10
    groups = grouped_sums(ImagePool(images, labels), 10)
    assert len(groups) == 2 and groups.length == 10  # the last 5 images make no group
    assert np.array_equal(groups.x[1], images[10:20])
    assert groups.target.tolist() == [45, 45]
    assert len(grouped_sums(ImagePool(images, labels), 10, count=1)) == 1


def test_seed_questions_are_left_aligned_with_noise_for_plus_and_padding():
    questions, answer = seed_question_codes(48, 194, 3)
    assert "".join(CHARS[code] for code in questions) == "48+194 "
    assert decode_answers(np.array([answer])) == ["242"] and len(answer) == 4
    pool = ImagePool(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10)
    made = seed_questions(pool, 50, 3, np.random.default_rng(0))
    assert made.x.shape == (50, 7, 28, 28) and made.target.shape == (50, 4)
    noise = (made.slots == PLUS) | (made.slots == BLANK)
    assert (made.slots == PLUS).sum(axis=1).tolist() == [1] * 50
    # Digit images of this pool are black; every + and padding image is noise.
    assert made.x[noise].reshape(int(noise.sum()), -1).std(axis=1).min() > 50
    assert made.x[~noise].max() == 0


@pytest.mark.traced  # the Keras 2 gates and batch normalisation, as a user's run traces them
def test_sum_seed_record_shows_the_seed_settings_and_predict_reads_its_model(mlkit, data_dir, tmp_path):
    # data_dir's tiny MNIST has 30 training and 20 test images: 3 and 2 groups of 10.
    model = tmp_path / "sum.keras"
    document = mlkit.json("mnist-sum", "sum", "--recipe", "seed", "--data-dir", data_dir, *TINY, "--save", model)
    config, metrics = document["config"], document["metrics"]
    assert config["recipe"] == "seed" and config["length"] == 10 and config["batch_size"] == 128
    assert config["train_sequences"] == 3 and config["test_sequences"] == 2 and config["epochs"] == 1
    assert config["grouping"].startswith("disjoint consecutive groups of 10")
    assert config["loss"] == "mean squared error" and config["reported_epoch"] == "last"
    assert config["optimizer"] == {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}
    assert "LSTM 128" in config["model"]["sequence"] and config["model"]["gates"] == "keras2"
    assert set(metrics) == set(SUM_METRICS) and metrics["mae"] >= 0 and metrics["digit_accuracy"] is None
    # The last epoch is the model reported: its validation figures are the test sequences'.
    assert metrics["mae"] == pytest.approx(document["training"]["history"]["epochs"]["val_mae"][-1], rel=1e-4)
    assert load_model(model).name == "mnist_sum_seed"
    images = [str(tmp_path / f"{index}.png") for index in range(10)]
    from PIL import Image

    for path in images:
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
    predicted = mlkit.json("mnist-sum", "predict", "--model", model, *images)
    assert predicted["config"]["task"] == "sum" and "digits" not in predicted["predictions"][0]
    too_few = mlkit("mnist-sum", "predict", "--model", model, *images[:3])
    assert too_few.exit_code == 1 and "exactly 10 images" in too_few.stderr


def test_sum_seed_refuses_the_default_models_options(mlkit, data_dir):
    result = mlkit("mnist-sum", "sum", "--recipe", "seed", "--members", "2", "--data-dir", data_dir)
    assert result.exit_code == 2 and "--members: not used by --recipe seed" in result.stderr
    result = mlkit("mnist-sum", "sum", "--recipe", "seed", "--eval-lengths", "5,10", "--data-dir", data_dir)
    assert result.exit_code == 2 and "--eval-lengths" in result.stderr
    result = mlkit("mnist-sum", "sum", "--recipe", "fast", "--data-dir", data_dir)
    assert result.exit_code == 2 and "--recipe must be one of default, seed" in result.stderr


def test_calc_seed_record_shows_the_seed_settings_and_predict_refuses_its_model(mlkit, data_dir, tmp_path):
    model = tmp_path / "calc.keras"
    document = mlkit.json("mnist-sum", "calc", "--recipe", "seed", "--data-dir", data_dir, *TINY,
                          "--train-sequences", "16", "--validation-sequences", "8", "--test-sequences", "8",
                          "--save", model)
    config, metrics = document["config"], document["metrics"]
    assert config["recipe"] == "seed" and config["digits"] == 3 and config["length"] == 7
    assert config["batch_size"] == 512 and config["epochs"] == 1 and config["questions"] == 24
    assert config["optimizer"] == {"name": "adam", "learning_rate": 1e-3} and config["model"]["units"] == 256
    assert config["model"]["gates"] == "keras2"
    assert "noise" in config["symbol_images"] and config["reported_epoch"] == "last"
    assert set(metrics) == set(CALC_METRICS) and 0 <= metrics["char_accuracy"] <= 1
    assert metrics["val_accuracy"] == document["training"]["history"]["epochs"]["val_accuracy"][-1]
    assert len(document["examples"]) == 8 and "+" in document["examples"][0]["question"]
    assert load_model(model).name == "mnist_calc_seed"
    refused = mlkit("mnist-sum", "predict", "--model", model, "1.png", "+", "2.png")
    assert refused.exit_code == 1 and "--recipe seed" in refused.stderr and "left-aligned" in refused.stderr



def test_default_recipe_keeps_todays_settings_and_seed_takes_the_seeds():
    assert sum_config() == SumConfig() and calc_config() == CalcConfig()
    assert sum_config(epochs=None, shift=0.2).encoder.shift == 0.2
    seed_sum = sum_config("seed")
    assert (seed_sum.length, seed_sum.eval_lengths, seed_sum.epochs, seed_sum.batch_size) == (10, (10,), 12, 128)
    assert seed_sum.learning_rate == 1.0
    seed_calc = calc_config("seed", epochs=3)
    assert (seed_calc.epochs, seed_calc.batch_size, seed_calc.units) == (3, 512, 256)
    assert seed_calc.train_sequences + seed_calc.validation_sequences == 50000


def test_seed_models_gate_and_normalise_as_keras2():
    from mlkit.models.keras2_batch_norm import keras2_batch_normalization
    from mlkit.models.mnist_sum_seed import build_seed_calc_model, build_seed_sum_model

    sum_model = build_seed_sum_model(10)
    x = np.array([-3.0, -2.5, 0.0, 1.0, 2.5, 3.0], dtype="float32")
    for model in (sum_model, build_seed_calc_model(7, 4, len(CHARS), units=4)):
        gates = [layer.cell.recurrent_activation for layer in model.layers if hasattr(layer, "cell")]
        assert len(gates) == (1 if model.name == "mnist_sum_seed" else 3)
        for gate in gates:  # clip(0.2 x + 0.5, 0, 1), Keras 2's hard sigmoid
            np.testing.assert_allclose(np.asarray(gate(x)), [0.0, 0.0, 0.5, 0.7, 1.0, 1.0], atol=1e-6)
    kinds = [type(layer) for layer in sum_model.layers if "normalization" in layer.name]
    assert kinds == [keras2_batch_normalization()]
