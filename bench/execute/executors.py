"""Executors behind concurrent.futures: serial, a local process pool, Dask distributed."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from bench.errors import BenchError

EXECUTORS = ("serial", "process", "dask")


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


def _init_worker(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


@contextlib.contextmanager
def make_executor(
    kind: str, workers: int | None = None, address: str | None = None, threads: int = 1
) -> Iterator[tuple[Executor, int]]:
    """Yield (executor, number of workers) and shut it down afterwards."""
    n = workers or default_workers()
    if kind == "serial":
        yield SerialExecutor(), 1
    elif kind == "process":
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(threads,))
        try:
            yield pool, n
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    elif kind == "dask":
        with _dask_executor(n, address, threads) as (ex, n_dask):
            yield ex, n_dask
    else:
        raise BenchError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")


@dataclass
class Lane:
    """Where jobs run: an executor with `slots` workers; `device` names the accelerator its
    jobs are given (None: the CPU lane, one worker per core)."""

    executor: Executor
    slots: int
    device: str | None = None


@contextlib.contextmanager
def make_lanes(kind: str, workers: int | None = None, address: str | None = None,
               threads: int = 1, devices: list[str] | tuple[str, ...] = ()) -> Iterator[list[Lane]]:
    """The CPU lane and one single-worker lane per accelerator in `devices`.

    With the process executor each device gets its own worker process; with Dask, jobs
    for a device ask for one unit of the "GPU" worker resource (start GPU workers with
    `--resources GPU=1`; each sees its GPU as the device named in `devices`).
    """
    with contextlib.ExitStack() as stack:
        if kind == "dask":
            client, n = stack.enter_context(_dask_client(workers or default_workers(), address,
                                                         threads, gpu=bool(devices)))
            lanes = [Lane(client.get_executor(pure=False), n)]
            lanes += [Lane(client.get_executor(pure=False, resources={"GPU": 1}), 1, d)
                      for d in devices]
        else:
            ex, n = stack.enter_context(make_executor(kind, workers, address, threads))
            lanes = [Lane(ex, n)]
            for d in devices:
                dev_ex, _ = stack.enter_context(make_executor(kind, 1, None, threads))
                lanes.append(Lane(dev_ex, 1, d))
        yield lanes


@contextlib.contextmanager
def _dask_executor(n: int, address: str | None, threads: int) -> Iterator[tuple[Executor, int]]:
    with _dask_client(n, address, threads) as (client, n_workers):
        yield client.get_executor(pure=False), n_workers


@contextlib.contextmanager
def _dask_client(n: int, address: str | None, threads: int, gpu: bool = False
                 ) -> Iterator[tuple[Any, int]]:
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address:
            client = Client(address, timeout="20s")
        else:
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                env={"OMP_NUM_THREADS": str(threads)}, resources={"GPU": 1} if gpu else None,
            )
            client = Client(cluster)
    except OSError as exc:
        raise BenchError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
    try:
        n_workers = len(client.scheduler_info().get("workers", {})) or n
        yield client, n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
