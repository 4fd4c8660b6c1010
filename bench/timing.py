"""One timer for every coding path: wall and CPU seconds, and CUDA events on a GPU.

On a CUDA device `Timer` synchronises before the block, records a CUDA event at each
end and synchronises after, so `gpu_ms` is the device time of everything queued in the
block (LEARNED.md: timing without synchronisation measures only the launch). torch is
imported only when the device is a CUDA one.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def cpu_seconds() -> float:
    """User + system seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def is_cuda(device: str | None) -> bool:
    return str(device or "").startswith("cuda")


class Timer:
    """Times one block: `wall` and `cpu` seconds; `gpu_ms` on a CUDA device (else None)."""

    def __init__(self, device: str | None = "cpu"):
        self.device = str(device or "cpu")
        self.wall = 0.0
        self.cpu = 0.0
        self.gpu_ms: float | None = None
        self._events: Any = None

    def __enter__(self) -> Timer:
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(self.device)
            start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            start.record()
            self._events = (torch, start, end)
        self._wall0 = time.perf_counter()
        self._cpu0 = cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._events is not None:
            torch, start, end = self._events
            end.record()
            torch.cuda.synchronize(self.device)
            self.gpu_ms = float(start.elapsed_time(end))
        self.wall = time.perf_counter() - self._wall0
        self.cpu = cpu_seconds() - self._cpu0


# The name the first version of the harness used.
Stopwatch = Timer


def timing_env(device: str | None = "cpu") -> dict[str, Any]:
    """Where and how an item was timed: device name, dtype, threads, cudnn flags."""
    env: dict[str, Any] = {"device": str(device or "cpu")}
    torch = sys.modules.get("torch")  # never import torch only to describe the CPU
    if torch is None:
        return env
    env["threads"] = int(torch.get_num_threads())
    env["dtype"] = str(torch.get_default_dtype()).removeprefix("torch.")
    if is_cuda(device):
        env["device_name"] = torch.cuda.get_device_name(torch.device(device))
        env["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
        env["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
        env["tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    return env
