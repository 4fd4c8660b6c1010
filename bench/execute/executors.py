"""Executors behind concurrent.futures: serial, a local process pool, Dask distributed."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
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


@contextlib.contextmanager
def _dask_executor(n: int, address: str | None, threads: int) -> Iterator[tuple[Executor, int]]:
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address:
            client = Client(address, timeout="20s")
        else:
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                env={"OMP_NUM_THREADS": str(threads)},
            )
            client = Client(cluster)
    except OSError as exc:
        raise BenchError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
    try:
        n_workers = len(client.scheduler_info().get("workers", {})) or n
        yield client.get_executor(pure=False), n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
