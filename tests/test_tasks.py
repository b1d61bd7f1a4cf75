"""Tasks on Dask (reporting/tasks.py): the same results whatever the scheduler and the number of
workers, a worker that dies mid-task costs one retry and is reported, bad scheduling input fails
clearly and in time.

Three tests start a two-worker ``LocalCluster`` (a few seconds each, most of it the workers
importing torch); the rest run serially.
"""

import importlib.util
import os
import time
from pathlib import Path

import pytest
import torch

from piadm_verify.reporting import report
from piadm_verify.reporting.tasks import SchedulerError, check_scheduler, run_tasks, task_seed
from piadm_verify.studies import study

ROOT = Path(__file__).resolve().parent.parent


def _global_draws(n: int) -> list[float]:
    """A task that uses torch's global generator, which run_tasks reseeds from (seed, key)."""
    return torch.rand(n, dtype=torch.float64).tolist()


def _die_once(marker: str, value: int) -> tuple[int, list[float]]:
    """Kill the worker process on the first attempt (the marker file records it); then return the
    value and two draws of the global generator (reseeded from the task's key)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("attempted")
        os._exit(1)
    return value, _global_draws(2)


def _raise(message: str):
    raise RuntimeError(message)


def _studies():
    """Two small studies: one exact (eps, oracle) and one Monte Carlo (path, seeded draws)."""
    return [study("eps").configured(steps=(5, 10, 20)),
            study("path").configured(deltas=(0.04, 0.08, 0.16), replicates=2, n=64, T=2.0, blocks=2, steps=4, K=2)]


# -- seeding ------------------------------------------------------------------------------------------------
def test_task_seed_depends_on_seed_and_key_only():
    assert task_seed(0, "a") == task_seed(0, "a")
    assert len({task_seed(0, "a"), task_seed(1, "a"), task_seed(0, "b"), task_seed(0, "a/")}) == 4
    assert all(0 <= task_seed(s, k) < 2 ** 63 for s in range(5) for k in "abc")


def test_each_task_sees_the_same_global_generator_whatever_its_position():
    forward = run_tasks(_global_draws, [("a", (3,)), ("b", (3,))], seed=7)
    backward = run_tasks(_global_draws, [("b", (3,)), ("a", (3,))], seed=7)
    assert [o.key for o in forward] == ["a", "b"] and [o.key for o in backward] == ["b", "a"]
    assert forward[0].value == backward[1].value and forward[1].value == backward[0].value
    assert forward[0].value != forward[1].value
    assert run_tasks(_global_draws, [("a", (3,))], seed=8)[0].value != forward[0].value
    assert not any(o.retried for o in forward + backward)


# -- the local cluster ------------------------------------------------------------------------------------
def test_a_two_worker_cluster_gives_the_serial_tables():
    serial_tables, _, serial_retried = report.run_studies(_studies(), seed=3, quiet=True, scheduler="serial")
    tables, seconds, retried = report.run_studies(_studies(), seed=3, quiet=True, scheduler="local", jobs=2)
    assert list(tables) == list(serial_tables) == ["eps", "path"]
    for name in tables:
        assert tables[name].to_json() == serial_tables[name].to_json(), name
    assert retried == serial_retried == [] and all(s > 0 for s in seconds.values())
    # the Monte Carlo table does depend on the seed (the comparison above could not pass by accident)
    other, _, _ = report.run_studies(_studies()[1:], seed=4, quiet=True, scheduler="serial")
    assert other["path"].to_json() != serial_tables["path"].to_json()


def test_a_worker_that_dies_mid_task_gets_the_task_retried_and_reported(tmp_path):
    marker = tmp_path / "attempt"
    tasks = [("first", (str(tmp_path / "never"), 1)), ("dies", (str(marker), 2)), ("last", (str(tmp_path / "nope"), 3))]
    for _, (path, _) in tasks:
        if path != str(marker):
            Path(path).write_text("no need to die")
    outcomes = run_tasks(_die_once, tasks, seed=5, scheduler="local", jobs=2)
    assert [o.value[0] for o in outcomes] == [1, 2, 3]
    assert [o.retried for o in outcomes] == [False, True, False]
    assert marker.read_text() == "attempted"
    # the workers (the restarted one included) drew what this process draws for the same keys
    assert [o.value for o in outcomes] == [o.value for o in run_tasks(_die_once, tasks, seed=5)]


def test_a_task_that_raises_raises_on_the_cluster_as_in_serial():
    with pytest.raises(RuntimeError, match="sweep exploded"):
        run_tasks(_raise, [("boom", ("sweep exploded",))])
    with pytest.raises(RuntimeError, match="sweep exploded"):
        run_tasks(_raise, [("boom", ("sweep exploded",))], scheduler="local", jobs=1)


def test_a_cluster_with_no_worker_left_is_an_error_not_a_hang():
    # a scheduler with no worker at all: the tasks can never run, and run_tasks must say so after
    # worker_timeout seconds instead of waiting forever (the state a cluster is in once every worker
    # and its nanny are gone)
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        start = time.perf_counter()
        with pytest.raises(SchedulerError, match=r"no worker for 2 s \(worker_timeout\) with 2 task\(s\) "
                                                 r"unfinished: first, second"):
            run_tasks(_raise, [("first", ("ran",)), ("second", ("ran",))], scheduler=cluster.scheduler_address,
                      worker_timeout=2)
        assert time.perf_counter() - start < 2 + 10


# -- bad input ----------------------------------------------------------------------------------------------
def test_an_unreachable_address_fails_within_the_timeout():
    start = time.perf_counter()
    with pytest.raises(SchedulerError, match=r"no Dask scheduler answered at 'tcp://127.0.0.1:1' within 1 s"):
        run_tasks(_raise, [("never", ("ran",))], scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert time.perf_counter() - start < 1 + 10


@pytest.mark.parametrize("scheduler", ["nonsense", "host:port", "Local", "tcp://host", "tcp://host:8786:1"])
def test_a_malformed_address_is_a_scheduler_error(scheduler):
    with pytest.raises(SchedulerError, match="scheduler must be 'serial', 'local' or a scheduler address"):
        run_tasks(_raise, [("never", ("ran",))], scheduler=scheduler, connect_timeout=1)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(jobs=0), ValueError, "jobs must be >= 1"),
    (dict(jobs=-2), ValueError, "jobs must be >= 1"),
    (dict(jobs=1.5), TypeError, "jobs must be an int"),
    (dict(jobs=True), TypeError, "jobs must be an int"),
    (dict(scheduler=None), TypeError, "scheduler must be"),
    (dict(scheduler=""), TypeError, "scheduler must be"),
    (dict(worker_timeout=0), ValueError, "worker_timeout must be a number of seconds > 0"),
    (dict(connect_timeout=0), ValueError, "connect_timeout must be"),
    (dict(connect_timeout=float("nan")), ValueError, "connect_timeout must be"),
])
def test_bad_scheduling_arguments_name_the_parameter(kwargs, error, message):
    arguments = dict(scheduler="serial", jobs=None, connect_timeout=20.0) | kwargs
    with pytest.raises(error, match=message):
        check_scheduler(**arguments)
    with pytest.raises(error, match=message):
        run_tasks(_raise, [("never", ("ran",))], **kwargs)


def test_task_keys_must_be_unique():
    with pytest.raises(ValueError, match="task keys must be unique"):
        run_tasks(_raise, [("same", ("a",)), ("same", ("b",))])


def test_the_audit_exits_2_on_an_unreachable_scheduler_and_on_zero_jobs(capsys):
    spec = importlib.util.spec_from_file_location("audit_mixture", ROOT / "benchmarks" / "audit_mixture.py")
    audit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(audit)
    assert audit.main(["--seeds", "1", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "--quiet"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        audit.main(["--jobs", "0"])
    assert exit_.value.code == 2
