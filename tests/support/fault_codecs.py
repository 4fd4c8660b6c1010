"""Test-only codecs that misbehave on purpose (tests/faults): slow, hanging with children,
killing their own worker process."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from fake_codecs import QuantZlibCodec

from bench.codecs.base import CodecConfig, ExternalCodec
from bench.types import Bitstream, RatePoint


class SlowConfig(CodecConfig):
    sleep_s: float = 0.05


class SlowCodec(QuantZlibCodec):
    """QuantZlibCodec that sleeps before each encode (room to kill a run mid-way)."""

    Config = SlowConfig

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        time.sleep(self.config.sleep_s)
        return super().encode(payload, point)


# A wrapper that starts two grandchildren and then hangs; it writes their pids first.
HANG_SCRIPT = """
import subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"]) for _ in range(2)]
with open(sys.argv[1], "w") as f:
    f.write(" ".join(str(k.pid) for k in kids))
time.sleep(300)
"""


class HangConfig(CodecConfig):
    pid_file: str
    timeout_s: float = 1.0


class HangingCodec(ExternalCodec):
    """Runs a wrapper whose children outlive it unless the whole process group is killed."""

    Config = HangConfig
    point_kind = "step"

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        self.run([sys.executable, "-c", HANG_SCRIPT, self.config.pid_file], what="hanging encoder")
        raise AssertionError("the hanging encoder returned")

    def decode(self, bitstream, layers=None, target=None):
        raise AssertionError("never decoded")

    def version(self, point: RatePoint | None = None) -> str:
        return "hang-1"


class KillConfig(CodecConfig):
    die_at: list[int] = []
    marker_dir: str = ""  # die only the first time (a marker file per point), or always


class WorkerKillerCodec(QuantZlibCodec):
    """Kills its own worker process (SIGKILL) when coding a point in `die_at`: once per
    point when `marker_dir` is given, else every time."""

    Config = KillConfig

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        if int(point.value) in self.config.die_at:
            marker = Path(self.config.marker_dir or ".") / f"died-{int(point.value)}"
            if not self.config.marker_dir or not marker.exists():
                if self.config.marker_dir:
                    marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return super().encode(payload, point)
