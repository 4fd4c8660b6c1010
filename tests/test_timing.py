"""The Timer: wall and CPU always; CUDA events and synchronisation on a CUDA device."""

from __future__ import annotations

import sys
import types

from bench.timing import Timer, timing_env


def test_cpu_timer_measures_wall_and_cpu():
    with Timer("cpu") as t:
        sum(i * i for i in range(200_000))
    assert t.wall > 0 and t.cpu > 0 and t.gpu_ms is None


def test_cuda_timer_synchronises_and_reads_events(monkeypatch):
    calls = []

    class Event:
        def __init__(self, enable_timing):
            assert enable_timing
            self.t = None

        def record(self):
            calls.append("record")
            self.t = len(calls)

        def elapsed_time(self, other):
            return 12.5

    fake_cuda = types.SimpleNamespace(
        synchronize=lambda device=None: calls.append(f"sync {device}"), Event=Event)
    fake = types.SimpleNamespace(cuda=fake_cuda)
    monkeypatch.setitem(sys.modules, "torch", fake)
    with Timer("cuda:1") as t:
        calls.append("work")
    assert calls == ["sync cuda:1", "record", "work", "record", "sync cuda:1"]
    assert t.gpu_ms == 12.5 and t.wall >= 0


def test_env_describes_the_device_without_importing_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert timing_env("cpu") == {"device": "cpu"}
    assert "torch" not in sys.modules
