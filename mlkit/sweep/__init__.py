"""Run a grid of independent training runs in parallel (local processes or Ray) and resume it.

`RunStore` keeps each finished run under a folder, keyed by the settings that produced it, and
reuses a run only while its record still matches its model file; a lock lets one sweep at a time
use a folder. `run_tasks` executes the missing runs and hands back each result as soon as it
finishes. `fashion_run` is the run fashion-sweep executes.
"""

from .executors import EXECUTORS, apply_thread_budget, available_cpus, run_tasks
from .store import RunStore, run_key

__all__ = ["EXECUTORS", "RunStore", "apply_thread_budget", "available_cpus", "run_key", "run_tasks"]
