"""Run a grid of independent training runs in parallel (local processes or Ray) and resume it.

`RunStore` keeps each finished run under a folder, keyed by the settings that produced it;
`run_tasks` executes the missing runs and hands back each result as soon as it finishes.
"""

from .executors import EXECUTORS, apply_thread_budget, available_cpus, run_tasks
from .store import RunStore, run_key

__all__ = ["EXECUTORS", "RunStore", "apply_thread_budget", "available_cpus", "run_key", "run_tasks"]
