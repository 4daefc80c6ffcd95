"""The `mlkit` command line: a thin Typer layer over the mlkit library."""

import os

# TensorFlow's C++ start-up chatter (oneDNN notices, CPU feature lines) is noise for users;
# real warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
