"""Silence TensorFlow's C++ start-up lines on stderr (oneDNN and CUDA notices).

TensorFlow writes them through absl before its logging is initialised, so neither
TF_CPP_MIN_LOG_LEVEL nor any other setting hides them, and they would stand before every
`Error: ...` line that grading scripts read. TensorFlow's warning about retraced functions
is dropped as well (see below). While (and only while) the `tensorflow` package
is first imported and its devices are discovered, file descriptor 2 points at /dev/null;
Python exceptions raised by the import still surface normally afterwards.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_to_devnull():
            self.loader.exec_module(module)
            # Device discovery logs its own notices (cuInit on machines without a GPU).
            module.config.list_physical_devices()
        # Scoring one model on several sequence lengths or a last short batch retraces its
        # predict function; TensorFlow then warns about "excessive" retracing, which is expected.
        module.get_logger().addFilter(lambda record: "triggered tf.function retracing" not in record.getMessage())


class _QuietTensorflowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once is enough, and lets find_spec below see the real one
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quiet the first import of tensorflow in this process (no-op if already imported)."""
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietTensorflowFinder) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietTensorflowFinder())
