"""The codec contract and the one base that runs external binaries."""

from __future__ import annotations

import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from bench.errors import CodecError
from bench.registry import CODECS
from bench.types import Bitstream, RatePoint


class Codec(ABC):
    """An image codec (H x W x 3 uint8 RGB in and out) or a feature codec
    (dict of named float32 arrays in, the same dict out).

    Subclasses take their options as keyword arguments in ``__init__``; a spec's
    ``params`` are passed straight through, and `params()` must return them so that
    they enter the job key.
    """

    domain: ClassVar[str] = "image"  # "image" or "feature"
    point_kind: ClassVar[str] = "qp"  # what a rate point of this codec sets
    stereo: ClassVar[bool] = False  # True: takes both views jointly (a tuple)

    @abstractmethod
    def encode(self, payload: Any, point: RatePoint) -> Bitstream:
        """Code one payload at one rate point."""

    @abstractmethod
    def decode(self, bitstream: Bitstream) -> Any:
        """Reconstruct the payload from what `encode` returned."""

    @abstractmethod
    def version(self) -> str:
        """Binary version, or package version plus weights hash."""

    def check(self) -> None:
        """Raise CodecError saying what is missing if this codec cannot run here."""

    def params(self) -> dict[str, Any]:
        """The options that determine the output (they enter the job key)."""
        return {}


def build_codec(type_name: str, params: dict[str, Any] | None = None) -> Codec:
    """Instantiate a registered codec; unknown params give a SpecError naming them."""
    return CODECS.build(type_name, params)


def run_tool(
    args: list[str],
    timeout: float,
    what: str,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess:
    """Run an argument list (never a shell string); CodecError on failure or timeout."""
    try:
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CodecError(f"{what}: executable not found: {args[0]}", command=args) from exc
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode(errors="replace")
        raise CodecError(f"{what}: timed out after {timeout:g} s", command=args, stderr=err) from exc
    if proc.returncode != 0:
        raise CodecError(
            f"{what}: exited with code {proc.returncode}",
            command=args,
            stderr=proc.stderr.decode(errors="replace"),
        )
    return proc


class ExternalCodec(Codec):
    """Base for codecs that call binaries: subclasses build argument lists only.

    Running, timeouts and error reporting live here, once.
    """

    timeout_s: float = 600.0

    def run(self, args: list[str], what: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
        return run_tool(args, timeout=self.timeout_s, what=what, cwd=cwd)


class Stopwatch:
    """Wall and CPU (this process and its children) seconds of a block."""

    def __enter__(self) -> Stopwatch:
        self._wall0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = _cpu_seconds() - self._cpu0


def _cpu_seconds() -> float:
    import os

    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
