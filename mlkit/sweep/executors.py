"""Where a sweep's runs execute: this process, a pool of local processes, or Ray tasks.

Every run gets a fixed TensorFlow thread budget, so `--jobs N` parallel runs share the
machine's cores instead of each one grabbing all of them.
"""

import multiprocessing
import os
from collections.abc import Callable, Sequence

from ..errors import ConfigError, MlkitError, first_line

EXECUTORS = ("local", "ray")

OnResult = Callable[[int, object], None]


def available_cpus() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def apply_thread_budget(threads: int) -> bool:
    """Limit TensorFlow to `threads` threads per op pool; call before the first TF op.

    Returns:
        True if the budget was applied, False if TensorFlow had already started in this
        process (its thread pools are fixed from then on, so the earlier setting stays).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        return False
    return True


def _call(job: tuple) -> tuple[int, object]:
    function, index, task = job
    return index, function(task)


def run_tasks(function: Callable, tasks: Sequence, *, executor: str = "local", jobs: int = 1,
              threads: int = 1, address: str | None = None, on_result: OnResult | None = None) -> list:
    """Run `function(task)` for every task and return the results in task order.

    Args:
        function: a module-level function (it is sent to other processes by reference).
        tasks: picklable arguments, one per run.
        executor: "local" (this process when jobs is 1, else spawned processes) or "ray".
        jobs: runs at the same time.
        threads: TensorFlow threads each run may use.
        address: Ray cluster address (`ray://host:10001` or `auto`); None starts a local Ray.
        on_result: called as `on_result(index, result)` the moment each run finishes, so a
            caller can save it before the others are done.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")
    if jobs < 1 or threads < 1:
        raise ConfigError(f"--jobs and --threads must be at least 1, got {jobs} and {threads}.")
    if address and executor != "ray":
        raise ConfigError("--address only applies to --executor ray.")
    results = [None] * len(tasks)

    def finished(index: int, result) -> None:
        results[index] = result
        if on_result:
            on_result(index, result)

    if not tasks:
        return results
    if executor == "ray":
        _run_ray(function, tasks, jobs, threads, address, finished)
    elif jobs == 1:
        apply_thread_budget(threads)
        for index, task in enumerate(tasks):
            finished(index, function(task))
    else:
        _run_pool(function, tasks, jobs, threads, finished)
    return results


def _run_pool(function, tasks, jobs, threads, finished) -> None:
    # "spawn": forking a process that may already hold TensorFlow's threads is unsafe.
    context = multiprocessing.get_context("spawn")
    jobs_list = [(function, index, task) for index, task in enumerate(tasks)]
    # Leaving the block terminates the workers, also on Ctrl-C: finished runs are kept by
    # `finished`, unfinished ones are simply redone next time.
    with context.Pool(min(jobs, len(tasks)), initializer=apply_thread_budget, initargs=(threads,)) as pool:
        for index, result in pool.imap_unordered(_call, jobs_list):
            finished(index, result)


def _ray_task(function, threads: int, task):
    apply_thread_budget(threads)
    return function(task)


def _run_ray(function, tasks, jobs, threads, address, finished) -> None:
    try:
        import ray
    except ImportError as error:
        raise ConfigError("--executor ray needs the ray package; install it with `pip install ray`.") from error
    started_here = not ray.is_initialized()
    if started_here:
        _start_ray(ray, address, jobs * threads)
    try:
        remote = ray.remote(num_cpus=threads)(_ray_task)
        pending = {remote.remote(function, threads, task): index for index, task in enumerate(tasks)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for reference in done:
                index = pending.pop(reference)
                finished(index, _ray_result(ray, reference))
    finally:
        if started_here:
            ray.shutdown()


def _start_ray(ray, address: str | None, num_cpus: int) -> None:
    try:
        if address:
            ray.init(address=address, logging_level="warning")
        else:
            # A private local instance sized to the sweep, so Ray runs `jobs` tasks at a time.
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="warning")
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ConfigError(f"cannot start or reach {where}: {first_line(error)}; "
                          "check --address (e.g. ray://head:10001) or run `ray start --head`.") from error


def _ray_result(ray, reference):
    try:
        return ray.get(reference)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, MlkitError):
            raise error.cause from None
        raise
