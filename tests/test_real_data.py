"""Quick checks of the real datasets in ../shared/data (seconds; skipped where it is absent)."""

from mlkit.data import load_data

from .conftest import SHARED_DATA, needs_shared_data

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@needs_shared_data
def test_mnist_shapes_and_class_counts():
    mnist = load_data("mnist", SHARED_DATA)
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.class_counts("train") == MNIST_TRAIN_COUNTS

@needs_shared_data
def test_fashion_mnist_is_balanced():
    fashion = load_data("fashion-mnist", SHARED_DATA)
    assert fashion.class_counts("train") == [6000] * 10 and fashion.class_counts("test") == [1000] * 10

@needs_shared_data
def test_cifar10_shapes_and_class_counts():
    cifar = load_data("cifar10", SHARED_DATA)
    assert cifar.x_train.shape == (50000, 32, 32, 3) and str(cifar.x_train.dtype) == "uint8"
    assert cifar.class_counts("train") == [5000] * 10 and cifar.class_counts("test") == [1000] * 10
