"""Executors behind concurrent.futures: serial, a local process pool, Dask distributed."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError

EXECUTORS = ("serial", "process", "dask")

# Dask settings for the LocalCluster this harness starts (not for a user's scheduler).
# Distributed's defaults sample every worker's stack every 10 ms (the dashboard's profile),
# its system monitor every 500 ms, each nanny the worker's memory every 100 ms and every
# event loop's health every 20 ms. Measured here: an idle 2-worker cluster used 2.5-2.9 CPU
# seconds per 20 s with the defaults, 0.37 s with these; on a 2-core machine that is CPU
# the codec jobs lose (docs/performance.md, Dask). No dashboard is served, so nothing shown
# is lost; memory limits are still enforced, once a second.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "500ms",
}


class SerialExecutor(Executor):
    """Runs each call at submit time in this process (for debugging and tests)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# ---------------------------------------------------------------- worker processes

_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def _init_worker(threads: int, parent_pid: int | None = None) -> None:
    """Initializer of every pool worker.

    Threads for numpy/torch; Ctrl-C is left to the driver (it stops the workers, so a
    terminal's SIGINT prints no worker tracebacks); SIGTERM kills the worker's codec
    subprocess groups before exiting; and the worker exits when the driver dies
    (PR_SET_PDEATHSIG on Linux, and a watchdog thread polling the parent pid).
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if parent_pid is None:
        return
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the driver died before the signal was armed
        exit_now(1)
    watch = threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                             name="icm-bench-parent-watch")
    watch.start()


def _set_parent_death_signal(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # the watchdog thread still covers it
        pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent_pid:
            exit_now(1)


def _on_sigterm(signum: int, frame: Any) -> None:
    exit_now(128 + signum)


def child_pids(pid: int | None = None) -> list[int]:
    """Pids of the direct children of `pid` (default: this process); Linux /proc only."""
    pid = os.getpid() if pid is None else pid
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(name))
    return out


def kill_children() -> None:
    """SIGKILL this process's children; a child leading its own process group (codec
    binaries run so) is killed with its whole group, wrappers' children included."""
    own = os.getpgrp()
    for pid in child_pids():
        try:
            pgid = os.getpgid(pid)
            if pgid == pid and pgid != own:
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def exit_now(code: int) -> None:
    """Kill the codec subprocesses, then leave at once (no cleanup that could hang)."""
    kill_children()
    os._exit(code)


def new_process_pool(n: int, threads: int) -> ProcessPoolExecutor:
    """A spawn pool whose workers die with the driver (see _init_worker)."""
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, os.getpid()))


def stop_pool(pool: ProcessPoolExecutor, graceful: bool) -> None:
    """Shut a pool down: wait for its jobs (graceful), or stop its workers now.

    Stopping sends SIGTERM (a worker then kills its codec subprocess groups and exits)
    and SIGKILL to any worker still alive after a few seconds.
    """
    if graceful:
        pool.shutdown(wait=True, cancel_futures=True)
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + 5.0
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def make_executor(
    kind: str, workers: int | None = None, address: str | None = None, threads: int = 1
) -> Iterator[tuple[Executor, int]]:
    """Yield (executor, number of workers) and shut it down afterwards."""
    n = workers or default_workers()
    if kind == "serial":
        yield SerialExecutor(), 1
    elif kind == "process":
        pool = new_process_pool(n, threads)
        ok = False
        try:
            yield pool, n
            ok = True
        finally:
            stop_pool(pool, graceful=ok)
    elif kind == "dask":
        with _dask_executor(n, address, threads) as (ex, n_dask):
            yield ex, n_dask
    else:
        raise BenchError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")


@dataclass
class Lane:
    """Where jobs run: an executor with `slots` workers; `device` names the accelerator its
    jobs are given (None: the CPU lane, one worker per core). A process-pool lane can be
    restarted after a worker died (`restart`)."""

    executor: Executor
    slots: int
    device: str | None = None
    factory: Callable[[], Executor] | None = None
    restarts: int = 0

    @property
    def restartable(self) -> bool:
        return self.factory is not None

    def restart(self) -> None:
        """Replace a broken pool by a fresh one (the old one's workers are stopped)."""
        if self.factory is None:
            raise BenchError("this executor cannot be restarted")
        old = self.executor
        if isinstance(old, ProcessPoolExecutor):
            stop_pool(old, graceful=False)
        self.executor = self.factory()
        self.restarts += 1

    def close(self, graceful: bool) -> None:
        if isinstance(self.executor, ProcessPoolExecutor):
            stop_pool(self.executor, graceful)


@contextlib.contextmanager
def make_lanes(kind: str, workers: int | None = None, address: str | None = None,
               threads: int = 1, devices: list[str] | tuple[str, ...] = ()) -> Iterator[list[Lane]]:
    """The CPU lane and one single-worker lane per accelerator in `devices`.

    With the process executor each device gets its own worker process; with Dask, jobs
    for a device ask for one unit of the "GPU" worker resource (start GPU workers with
    `--resources GPU=1`; each sees its GPU as the device named in `devices`). Leaving
    with an exception (Ctrl-C, SIGTERM, an error) stops the workers at once instead of
    waiting for their jobs.
    """
    if kind == "dask":
        with _dask_client(workers or default_workers(), address, threads,
                          gpu=bool(devices)) as (client, n):
            lanes = [Lane(client.get_executor(pure=False), n)]
            lanes += [Lane(client.get_executor(pure=False, resources={"GPU": 1}), 1, d)
                      for d in devices]
            yield lanes
        return
    if kind not in EXECUTORS:
        raise BenchError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
    n = workers or default_workers()
    if kind == "serial":
        yield [Lane(SerialExecutor(), 1)] + [Lane(SerialExecutor(), 1, d) for d in devices]
        return
    lanes: list[Lane] = []
    ok = False
    try:
        for size, device in [(n, None)] + [(1, d) for d in devices]:
            factory = functools.partial(new_process_pool, size, threads)
            lanes.append(Lane(factory(), size, device, factory))
        yield lanes
        ok = True
    finally:
        for lane in lanes:
            lane.close(graceful=ok)


@contextlib.contextmanager
def _dask_executor(n: int, address: str | None, threads: int) -> Iterator[tuple[Executor, int]]:
    with _dask_client(n, address, threads) as (client, n_workers):
        yield client.get_executor(pure=False), n_workers


@contextlib.contextmanager
def _dask_client(n: int, address: str | None, threads: int, gpu: bool = False
                 ) -> Iterator[tuple[Any, int]]:
    from distributed import Client

    cluster = None
    try:
        if address:
            client = Client(address, timeout="20s")
        else:
            cluster, client = _local_cluster(n, threads, gpu)
    except OSError as exc:
        raise BenchError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
    try:
        n_workers = len(client.scheduler_info().get("workers", {})) or n
        yield client, n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _local_cluster(n: int, threads: int, gpu: bool) -> tuple[Any, Any]:
    """A LocalCluster of `n` single-threaded worker processes and its client, built under
    LOCAL_CLUSTER_CONFIG (the nannies hand it to their workers; the scheduler and the
    client read it when they start)."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
            env={"OMP_NUM_THREADS": str(threads)}, resources={"GPU": 1} if gpu else None,
        )
        return cluster, Client(cluster)
