"""mlkit: the library behind the `mlkit` command-line tools.

Importing this package is cheap: Keras and TensorFlow are imported lazily by the modules
that train or load models, so `mlkit --help` stays fast.
"""

__version__ = "0.1.0"
