"""Progress for runs: a bar on a terminal, plain lines elsewhere, and an ETA from job times.

`announce` prints the first line as soon as a spec is loaded (planning can take seconds).
`Progress` prints a line when execution starts, then one per finished job (or updates a
bar). Its ETA sums, over the jobs still to run, the measured time of finished jobs of
the same codec and rate point (else of the same codec, else of any job), divided by the
number of workers, with each worker's first job corrected for its start-up: jobs of
different codecs cost very differently, so the plan runs them interleaved
(bench.execute.plan.execution_order) and every codec is measured early.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, TextIO


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def announce(what: str, stream: TextIO | None = None) -> None:
    """One line, at once (e.g. "planning run demo: 5 codecs, synthetic-coco ...")."""
    print(what, file=stream or sys.stderr, flush=True)


def job_group(job: Any) -> tuple[str, str]:
    """(codec label, rate point) of a Job, the unit whose jobs cost about the same."""
    point = getattr(job, "point", None) or {}
    return str(getattr(job, "label", "")), f"{point.get('kind')}={point.get('value')}"


class EtaModel:
    """Remaining seconds from the measured times of finished jobs, per codec and point.

    The first job a worker runs also pays for starting it (imports, building codecs and
    datasets, loading task networks): such "cold" times are corrected by the set-up
    time they show against warm jobs of the same codec, and used raw only when nothing
    better is known.
    """

    def __init__(self, groups: Sequence[tuple[str, str]], workers: int = 1):
        self.workers = max(1, workers)
        self.remaining: dict[tuple[str, str], int] = defaultdict(int)
        for g in groups:
            self.remaining[g] += 1
        self.samples: list[tuple[tuple[str, str], float, bool]] = []

    def finished(self, group: tuple[str, str], seconds: float | None, cold: bool = False) -> None:
        """A job of `group` finished after `seconds` of its own time (None: unknown);
        `cold`: it was the first job of its worker."""
        if self.remaining.get(group, 0) > 0:
            self.remaining[group] -= 1
        if seconds is not None and seconds >= 0:
            self.samples.append((group, float(seconds), cold))

    @staticmethod
    def _matches(key: Hashable, group: tuple[str, str]) -> bool:
        return key is None or key == group or key == group[0]

    def _warm_mean(self, key: Hashable) -> float | None:
        vals = [s for g, s, cold in self.samples if not cold and self._matches(key, g)]
        return sum(vals) / len(vals) if vals else None

    def setup_s(self) -> float | None:
        """Median excess of cold jobs over warm jobs of their codec (None: not yet known)."""
        excess = []
        for g, s, cold in self.samples:
            warm = self._warm_mean(g[0]) if cold else None
            if warm is not None:
                excess.append(s - warm)
        if not excess:
            return None
        excess.sort()
        mid = len(excess) // 2
        median = excess[mid] if len(excess) % 2 else (excess[mid - 1] + excess[mid]) / 2
        return max(0.0, median)

    def estimate(self, group: tuple[str, str]) -> float | None:
        """Expected seconds of one job of `group` (None before any job was measured)."""
        setup = self.setup_s()
        for key in (group, group[0], None):
            vals = [s if not cold else max(0.0, s - setup) for g, s, cold in self.samples
                    if self._matches(key, g) and (not cold or setup is not None)]
            if vals:
                return sum(vals) / len(vals)
        for key in (group, group[0], None):  # only cold jobs and no set-up estimate yet
            vals = [s for g, s, _ in self.samples if self._matches(key, g)]
            if vals:
                return sum(vals) / len(vals)
        return None

    def eta_s(self) -> float | None:
        """Seconds until every remaining job is done (None before any measurement)."""
        if not self.samples:
            return None
        work = sum(n * (self.estimate(g) or 0.0) for g, n in self.remaining.items() if n > 0)
        return work / self.workers


class Progress:
    """Jobs done / total with an ETA. `enabled=False` silences it.

    Args:
        total: the number of jobs to run.
        stream: where lines go (default stderr).
        enabled: print anything at all.
        jobs: the jobs (plan.Job) to run, for per-codec ETAs; without them the ETA is
            the mean rate so far.
        workers: jobs running at once (`set_workers` once the executor is up).
        stored: jobs of the plan already stored (said in the first line).
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True,
                 jobs: Sequence[Any] | None = None, workers: int = 1, stored: int = 0):
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.t0 = time.perf_counter()
        self.model = EtaModel([job_group(j) for j in jobs], workers) if jobs else None
        self.first_result_s: float | None = None
        self._workers_seen: set[str] = set()
        self._bar = None
        if not self.enabled:
            return
        already = f" ({stored} already stored)" if stored else ""
        self._line(f"running {total} job(s){already}; starting workers ...")
        if self.stream.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("jobs", total=total, eta="?")

    def set_workers(self, workers: int) -> None:
        """How many jobs run at once (known once the executor has started)."""
        if self.model is not None:
            self.model.workers = max(1, workers)

    def eta_s(self) -> float | None:
        """Seconds still to go, as now estimated (None when nothing is known yet)."""
        if self.done >= self.total:
            return 0.0
        if self.model is not None:
            return self.model.eta_s()
        if not self.done:
            return None
        return (time.perf_counter() - self.t0) / self.done * (self.total - self.done)

    def advance(self, what: str, ok: bool = True, job: Any = None,
                seconds: float | None = None, worker: str | None = None) -> None:
        """One job finished: `job` (its codec and point), `seconds` (its own run time) and
        `worker` (JobResult.worker: its first job is a cold start) feed the ETA."""
        self.done += 1
        self.failed += 0 if ok else 1
        if self.first_result_s is None:
            self.first_result_s = time.perf_counter() - self.t0
        if self.model is not None and job is not None:
            cold = worker is not None and worker not in self._workers_seen
            if worker is not None:
                self._workers_seen.add(worker)
            self.model.finished(job_group(job), seconds, cold)
        if not self.enabled:
            return
        eta = self.eta_s()
        eta_text = "?" if eta is None else _fmt_s(eta)
        if self._bar is not None:
            desc = f"jobs ({self.failed} failed)" if self.failed else "jobs"
            self._bar.update(self._task, advance=1, description=desc, eta=eta_text)
            return
        elapsed = time.perf_counter() - self.t0
        status = "ok" if ok else "FAILED"
        self._line(f"[{self.done}/{self.total}] {what} {status}  elapsed {_fmt_s(elapsed)}  "
                   f"ETA {eta_text}")

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
