"""Independent tasks (a suite's studies, an audit's seeds) on ``dask.distributed`` or in this process.

:func:`run_tasks` runs ``fn(*args)`` for every ``(key, args)`` and returns the outcomes in the order
given. Where it runs is the ``scheduler``:

``"serial"``
    in this process, one task after another, no Dask at all;
``"local"``
    on a ``LocalCluster`` started for the call: ``jobs`` worker processes (default: the cores this
    process may use), one thread each, each under a nanny that restarts it if it dies;
any other string
    the address of a running Dask scheduler (``tcp://host:8786``); the workers must be able to
    import ``piadm_verify`` and whatever module ``fn`` lives in. An address that does not answer
    within ``connect_timeout`` seconds (default :data:`CONNECT_TIMEOUT` = 20 s) raises
    :class:`SchedulerError`.

Results do not depend on the scheduler or the number of workers: every task sets the torch threads
and reseeds torch's global generator from ``(seed, key)`` (:func:`task_seed`) before it starts, so
a task sees the same state whether it runs first, last or alone (the project's samplers take
explicit seeded generators anyway; the reseeding covers code that falls back on the global one).

A worker that dies in the middle of a task (killed, out of memory) costs only that attempt: the
scheduler gives the task to another worker, up to Dask's ``distributed.scheduler.allowed-failures``
times (3 by default), and the outcome records ``retried=True``; the callers print which tasks were
retried. A task that raises is not retried: the exception is re-raised here, as it would be in serial.
A cluster left with no worker at all (every worker and its nanny gone, or a remote cluster scaled to
zero) is noticed: after ``worker_timeout`` seconds (default :data:`WORKER_TIMEOUT`) without a worker
the call raises :class:`SchedulerError` naming the tasks still unfinished.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from .environment import torch_threads

__all__ = ["CONNECT_TIMEOUT", "WORKER_TIMEOUT", "SCHEDULERS", "SchedulerError", "TaskOutcome", "run_tasks",
           "task_seed", "default_jobs", "check_scheduler", "add_scheduler_arguments", "positive_integer"]

CONNECT_TIMEOUT = 20.0
"""Seconds :func:`run_tasks` waits for a scheduler address to answer before it gives up."""

WORKER_TIMEOUT = 300.0
"""Seconds :func:`run_tasks` lets unfinished tasks wait on a cluster with no worker at all (every worker
gone and none restarted) before it gives up with :class:`SchedulerError`, instead of waiting forever."""

_POLL_SECONDS = 5.0  # how often the cluster's workers are counted while no task completes

SCHEDULERS = ("local", "serial")
"""The named schedulers; any other ``scheduler`` string is a scheduler address."""


class SchedulerError(Exception):
    """The tasks could not be scheduled: an address that does not answer, a cluster that will not start,
    or a task whose workers kept dying."""


@dataclass(frozen=True)
class TaskOutcome:
    """One task's result: its key, the value ``fn`` returned, the seconds the (last) attempt took on
    its worker, and whether an earlier attempt was lost with its worker."""

    key: str
    value: Any
    seconds: float
    retried: bool = False


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity where the platform reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def task_seed(seed: int, key: str) -> int:
    """The torch seed of task ``key`` under master seed ``seed``: a 63-bit hash of both, the same on
    every machine and in every process (Python's own ``hash`` of a string is salted per process)."""
    digest = hashlib.blake2b(f"{int(seed)}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def check_scheduler(scheduler: str, jobs: int | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                    worker_timeout: float = WORKER_TIMEOUT) -> None:
    """Validate the scheduling arguments (``ValueError``/``TypeError`` naming the parameter)."""
    if not isinstance(scheduler, str) or not scheduler:
        raise TypeError(f"scheduler must be 'serial', 'local' or a scheduler address, got {scheduler!r}")
    if jobs is not None:
        if isinstance(jobs, bool) or not isinstance(jobs, int):
            raise TypeError(f"jobs must be an int >= 1 or None, got {type(jobs).__name__}")
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1 (or None: one per core), got {jobs}")
    if not (isinstance(connect_timeout, (int, float)) and connect_timeout > 0):
        raise ValueError(f"connect_timeout must be a number of seconds > 0, got {connect_timeout!r}")
    if not (isinstance(worker_timeout, (int, float)) and worker_timeout > 0):
        raise ValueError(f"worker_timeout must be a number of seconds > 0, got {worker_timeout!r}")
    if scheduler not in ("serial", "local") and not _ADDRESS.fullmatch(scheduler):
        raise SchedulerError(f"scheduler must be 'serial', 'local' or a scheduler address such as tcp://host:8786 "
                             f"or host:8786, got {scheduler!r}")


# a Dask address: [protocol://]host:port (host a name, an IPv4 address or a bracketed IPv6 address), or
# the in-process inproc://host/pid/n of a cluster started with processes=False in this process
_ADDRESS = re.compile(r"(?:(?:tcp|tls|ucx|ws|wss)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}/?"
                      r"|inproc://[A-Za-z0-9_.-]+/[0-9]+/[0-9]+")


def positive_integer(text: str) -> int:
    """argparse type: an integer >= 1 (``--jobs``, the audit's ``--seeds``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def add_scheduler_arguments(parser: argparse.ArgumentParser, what: str = "the tasks") -> None:
    """Add ``--scheduler`` (default ``local``), ``--jobs`` and ``--connect-timeout`` to a command line;
    argparse rejects a ``--jobs`` below 1 or a timeout that is not a positive number (exit 2)."""
    parser.add_argument("--scheduler", default="local", metavar="local|serial|ADDRESS",
                        help=f"where {what} run: 'local' (default) a Dask cluster on this machine, 'serial' this "
                             "process without Dask, or the address of a running Dask scheduler (tcp://host:8786)")
    parser.add_argument("--jobs", type=positive_integer, metavar="N",
                        help="workers of the local cluster (default: one per core; one torch thread each)")
    parser.add_argument("--connect-timeout", type=_seconds, default=CONNECT_TIMEOUT, metavar="SECONDS",
                        help=f"how long a scheduler address may take to answer (default {CONNECT_TIMEOUT:g})")


def _run_one(fn: Callable, args: tuple, key: str, seed: int, threads: int | None) -> tuple[Any, float]:
    """One attempt of one task, wherever it runs: threads and global seed set first, then ``fn``."""
    with torch_threads(threads):
        torch.manual_seed(task_seed(seed, key))
        start = time.perf_counter()
        value = fn(*args)
        return value, time.perf_counter() - start


def run_tasks(fn: Callable, tasks: Sequence[tuple[Hashable, tuple]], *, seed: int = 0, scheduler: str = "serial",
              jobs: int | None = None, threads: int | None = 1, connect_timeout: float = CONNECT_TIMEOUT,
              worker_timeout: float = WORKER_TIMEOUT, progress: str | None = None,
              quiet: bool = False) -> list[TaskOutcome]:
    """Run ``fn(*args)`` for each ``(key, args)`` of ``tasks``; the outcomes in the order of ``tasks``.

    ``scheduler``: ``"serial"``, ``"local"`` or an address (module docstring); ``jobs``: workers of the
    local cluster (default :func:`default_jobs`; ignored otherwise); ``threads``: torch threads per task
    (:func:`~piadm_verify.reporting.environment.torch_threads`); ``worker_timeout``: seconds to wait on a
    cluster that has no worker left before giving up (:data:`WORKER_TIMEOUT`); ``progress``: the label of a progress
    bar on stderr that advances as tasks complete (none when ``quiet`` or ``None``). Keys must be
    unique; ``fn`` and the arguments must pickle unless ``scheduler`` is ``"serial"``. Raises what a
    task raised, or :class:`SchedulerError` when the cluster cannot be reached or started.
    """
    check_scheduler(scheduler, jobs, connect_timeout, worker_timeout)
    keys = [str(key) for key, _ in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"task keys must be unique, got {keys}")
    bar = tqdm(total=len(keys), desc=progress, unit="task", disable=quiet or progress is None, file=sys.stderr,
               leave=False)
    try:
        if scheduler == "serial":
            outcomes = []
            for key, (_, args) in zip(keys, tasks):
                bar.set_postfix_str(key)
                value, seconds = _run_one(fn, tuple(args), key, seed, threads)
                outcomes.append(TaskOutcome(key, value, seconds))
                bar.update()
            return outcomes
        return _run_distributed(fn, keys, [tuple(args) for _, args in tasks], seed, scheduler, jobs, threads,
                                connect_timeout, worker_timeout, bar)
    finally:
        bar.close()


def _attempts(keys: list[str], dask_scheduler=None) -> dict[str, int]:
    """On the scheduler: how many attempts of each task were lost with a worker (``suspicious``)."""
    return {key: dask_scheduler.tasks[key].suspicious for key in keys if key in dask_scheduler.tasks}


def _run_distributed(fn, keys, args_list, seed, scheduler, jobs, threads, connect_timeout, worker_timeout,
                     bar) -> list[TaskOutcome]:
    from distributed import Client, LocalCluster, wait
    from distributed.scheduler import KilledWorker

    cluster = None
    try:
        if scheduler == "local":
            try:
                cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
            except Exception as error:  # noqa: BLE001 - any failure to start is reported the same way
                raise SchedulerError(f"could not start a local Dask cluster: {error}") from error
            client = Client(cluster, timeout=connect_timeout)
        else:
            try:
                client = Client(scheduler, timeout=connect_timeout)
            except ValueError as error:
                raise SchedulerError(f"scheduler must be 'serial', 'local' or a scheduler address such as "
                                     f"tcp://host:8786, got {scheduler!r} ({error})") from error
            except (OSError, TimeoutError) as error:
                raise SchedulerError(f"no Dask scheduler answered at {scheduler!r} within {connect_timeout:g} s "
                                     f"(scheduler must be 'serial', 'local' or the address of a running "
                                     f"scheduler, e.g. tcp://host:8786): {error}") from error
        with client:
            tag = f"piadm-{task_seed(seed, '/'.join(keys)) & 0xFFFFFFFF:08x}-{time.time_ns() & 0xFFFFFF:06x}"
            dask_keys = [f"{tag}-{i}-{key}" for i, key in enumerate(keys)]
            futures = [client.submit(_run_one, fn, args, key, seed, threads, key=dask_key, pure=False)
                       for key, args, dask_key in zip(keys, args_list, dask_keys)]
            index = {future.key: i for i, future in enumerate(futures)}
            results: list = [None] * len(futures)
            pending, workerless_since = list(futures), None
            while pending:
                try:
                    done, not_done = wait(pending, timeout=min(_POLL_SECONDS, worker_timeout / 2),
                                          return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done, not_done = (), pending
                for future in done:
                    i = index[future.key]
                    try:
                        results[i] = future.result()
                    except KilledWorker as error:
                        raise SchedulerError(f"task {keys[i]!r} was lost with its worker too many times "
                                             f"(Dask's distributed.scheduler.allowed-failures): {error}") from error
                    bar.set_postfix_str(keys[i])
                    bar.update()
                pending = list(not_done)
                if done or not pending or client.nthreads():
                    workerless_since = None
                    continue
                workerless_since = workerless_since or time.monotonic()
                if time.monotonic() - workerless_since > worker_timeout:
                    left = [keys[index[future.key]] for future in pending]
                    raise SchedulerError(f"the cluster has had no worker for {worker_timeout:g} s (worker_timeout) "
                                         f"with {len(left)} task(s) unfinished: {', '.join(left[:5])}"
                                         f"{', …' if len(left) > 5 else ''}")
            lost = client.run_on_scheduler(_attempts, dask_keys)
            del futures
        return [TaskOutcome(key, value, seconds, retried=lost.get(dask_key, 0) > 0)
                for key, dask_key, (value, seconds) in zip(keys, dask_keys, results)]
    finally:
        if cluster is not None:
            cluster.close()
