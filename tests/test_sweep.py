"""The sweep machinery: run keys, the run store, and the local and Ray executors."""

import os

import pytest

from mlkit.errors import ConfigError, DataError, MlkitError
from mlkit.sweep import RunStore, run_key, run_tasks


def report_threads(task):
    """A run stand-in: what it was given, where it ran and its TensorFlow thread budget."""
    import tensorflow as tf

    if task == "bad":
        raise DataError("task 'bad' has no data.")
    return {"task": task, "pid": os.getpid(),
            "threads": tf.config.threading.get_intra_op_parallelism_threads()}


def double(task):
    if task == "bad":
        raise DataError("task 'bad' has no data.")
    return task * 2


def test_run_key_depends_on_every_setting_but_not_their_order():
    assert run_key({"a": 1, "b": 2.0}) == run_key({"b": 2.0, "a": 1})
    assert run_key({"a": 1, "b": 2.0}) != run_key({"a": 1, "b": 2.5})
    assert len(run_key({})) == 12


def test_store_round_trip_and_rejects_other_settings_or_broken_records(tmp_path):
    store = RunStore(tmp_path / "sweep")
    settings = {"batch_size": 8}
    assert store.load("run", settings) is None
    store.save("run", settings, {"val_accuracy": 0.9}, model_bytes=b"model")
    assert store.load("run", settings)["result"] == {"val_accuracy": 0.9}
    assert store.model_path("run").read_bytes() == b"model"
    assert store.load("run", {"batch_size": 16}) is None
    store.record_path("run").write_text("{ half a record")
    assert store.load("run", settings) is None
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        RunStore(tmp_path / "file")


def has_val_accuracy(result) -> bool:
    return isinstance(result, dict) and isinstance(result.get("val_accuracy"), float)


def test_store_reuses_a_run_only_with_its_model_file_and_a_complete_result(tmp_path):
    store = RunStore(tmp_path / "sweep")
    settings = {"batch_size": 8}
    store.save("run", settings, {"val_accuracy": 0.9}, model_bytes=b"model")
    assert store.load("run", settings, has_val_accuracy, needs_model=True)["model_sha256"] is not None
    assert store.load("run", settings, lambda result: False) is None
    store.model_path("run").write_bytes(b"other model")
    assert store.load("run", settings, needs_model=True) is None  # not the file it was saved with
    store.model_path("run").unlink()
    assert store.load("run", settings, needs_model=True) is None
    assert store.load("run", settings)["result"] == {"val_accuracy": 0.9}  # a run without a model


def test_store_lock_lets_one_sweep_in_at_a_time(tmp_path):
    store = RunStore(tmp_path / "sweep")
    with store.lock():
        with pytest.raises(MlkitError, match="busy"):
            with RunStore(tmp_path / "sweep").lock():
                pass
    with RunStore(tmp_path / "sweep").lock() as again:  # released when the first sweep ends
        assert again.runs.is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(MlkitError, match="cannot use"):
        with RunStore(tmp_path / "file" / "sweep").lock():
            pass


def test_local_executor_in_process_reports_each_result_as_it_finishes():
    seen = []
    with pytest.raises(DataError, match="no data"):
        run_tasks(double, [1, 2, "bad", 4], on_result=lambda index, result: seen.append((index, result)))
    assert seen == [(0, 2), (1, 4)]  # finished runs were handed out before the failure
    assert run_tasks(double, [3, 1]) == [6, 2]


def test_local_executor_runs_jobs_in_separate_processes_with_a_thread_budget():
    seen = {}
    results = run_tasks(report_threads, ["a", "b", "c"], jobs=2, threads=1,
                        on_result=lambda index, result: seen.update({index: result["task"]}))
    assert [result["task"] for result in results] == ["a", "b", "c"]
    assert seen == {0: "a", 1: "b", 2: "c"}
    assert {result["threads"] for result in results} == {1}
    assert os.getpid() not in {result["pid"] for result in results}


@pytest.mark.parametrize("options, message", [
    ({"executor": "slurm"}, "unknown executor"),
    ({"jobs": 0}, "at least 1"),
    ({"address": "ray://head:10001"}, "--address"),
])
def test_executor_options_are_checked(options, message):
    with pytest.raises(ConfigError, match=message):
        run_tasks(double, [1], **options)


@pytest.mark.slow  # starting Ray and TensorFlow in its workers takes 15-40 s on 2 cores
def test_ray_executor_runs_tasks_on_a_local_instance():
    ray = pytest.importorskip("ray")
    seen = []
    ray.init(num_cpus=2, include_dashboard=False)  # one instance for both calls below
    try:
        results = run_tasks(report_threads, ["a", "b"], executor="ray", jobs=2, threads=1,
                            on_result=lambda index, result: seen.append(index))
        with pytest.raises(DataError, match="no data"):  # a run's MlkitError comes back as itself
            run_tasks(report_threads, ["bad"], executor="ray")
    finally:
        ray.shutdown()
    assert [result["task"] for result in results] == ["a", "b"] and sorted(seen) == [0, 1]
    assert {result["threads"] for result in results} == {1}
    assert os.getpid() not in {result["pid"] for result in results}
