"""The codec contract (v2, docs/contracts.md) and the one base that runs external binaries."""

from __future__ import annotations

import os
import signal
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import CodecError, SpecError
from bench.registry import CODECS, did_you_mean
from bench.timing import Stopwatch  # noqa: F401  (re-exported: older plugins import it here)
from bench.types import Bitstream, RatePoint

PAYLOAD_KINDS = ("image", "stereo-image", "features", "stereo-features")


class CodecParamError(CodecError, SpecError):
    """A codec parameter is unknown or has a value the codec cannot take."""


class CodecConfig(BaseModel):
    """A codec's options. Unknown keys are rejected; defaults are part of the dump.

    Fields listed in `runtime_fields` change how a codec runs (a timeout, where a
    binary is, which GPU) but not what it outputs: they stay out of `Codec.params()`
    and so out of the job key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    runtime_fields: ClassVar[tuple[str, ...]] = ()


def make_config(codec_cls: type, params: dict[str, Any]) -> CodecConfig:
    """Validate `params` against the codec's Config; one clear message per bad key."""
    config_cls: type[CodecConfig] = codec_cls.Config
    name = getattr(codec_cls, "name", None) or codec_cls.__name__
    try:
        return config_cls(**params)
    except ValidationError as exc:
        fields = list(config_cls.model_fields)
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(params)"
            if err["type"] == "extra_forbidden":
                hint = did_you_mean(key, fields)
                lines.append(f"no parameter {key!r}.{hint} Parameters: {', '.join(fields) or '(none)'}")
            else:
                lines.append(f"{key}: {err['msg'].removeprefix('Value error, ')} "
                             f"(got {err.get('input')!r})")
        raise CodecParamError(f"codec {name!r}: " + "; ".join(lines)) from None


class Codec(ABC):
    """A codec: a payload of `input_kind` in, a Bitstream, a payload of `output_kind` out.

    Subclasses declare a pydantic `Config` (their options) and the class attributes
    below; a spec's `params` are validated by the Config, and `params()` is its dump.
    """

    Config: ClassVar[type[CodecConfig]] = CodecConfig
    name: ClassVar[str] = ""
    input_kind: ClassVar[str] = "image"  # one of PAYLOAD_KINDS
    output_kind: ClassVar[str] = "image"
    point_kind: ClassVar[str] = "qp"  # what a rate point of this codec sets
    layers: ClassVar[tuple[str, ...]] = ("main",)  # bitstream layers, in decoding order
    targets: ClassVar[tuple[str, ...]] = ()  # per-task decoded outputs; () = one output
    needs_task: ClassVar[bool] = False  # bind_task() is called before the first encode
    warmup_items: ClassVar[int] = 0  # items per (process, point) left out of timing stats

    def __init__(self, **params: Any):
        self.config = make_config(type(self), params)

    @property
    def device(self) -> str:
        """Where the codec computes ("cpu" unless its Config has a `device`)."""
        return str(getattr(self.config, "device", "cpu") or "cpu")

    def params(self) -> dict[str, Any]:
        """Every option that determines the output, defaults included (enters the job key)."""
        dump = self.config.model_dump(mode="json")
        return {k: v for k, v in dump.items() if k not in self.config.runtime_fields}

    @abstractmethod
    def encode(self, payload: Any, point: RatePoint) -> Bitstream:
        """Code one payload at one rate point."""

    @abstractmethod
    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> Any:
        """Reconstruct a payload from (the requested layers of) a bitstream.

        `layers` None means all layers; `target` is one of `targets` or None.
        """

    @abstractmethod
    def version(self, point: RatePoint | None = None) -> str:
        """Binary version, or package version plus the weights hash of `point`."""

    def check(self) -> None:
        """Raise CodecError saying what is missing if this codec cannot run here."""

    def check_point(self, point: RatePoint) -> None:
        """Raise SpecError if this codec cannot code `point` (kind or range)."""

    def bind_task(self, task: Any, split: str | None) -> None:
        """Receive the task network (codecs with `needs_task`), in the worker."""

    def check_layers(self, layers: Sequence[str] | None) -> tuple[str, ...]:
        """The requested layers, all when None; CodecError for a layer this codec lacks."""
        if layers is None:
            return tuple(self.layers)
        unknown = [n for n in layers if n not in self.layers]
        if unknown:
            raise CodecError(f"codec {self.name or type(self).__name__!r} has no layer "
                             f"{unknown[0]!r}; its layers: {', '.join(self.layers)}")
        return tuple(layers)


def build_codec(type_name: str, params: dict[str, Any] | None = None) -> Codec:
    """Instantiate a registered codec; unknown params give a SpecError naming them."""
    return CODECS.build(type_name, params)


def run_tool(
    args: list[str],
    timeout: float,
    what: str,
    cwd: str | Path | None = None,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess:
    """Run an argument list (never a shell string) in its own process group.

    CodecError on a non-zero exit or a timeout; on a timeout the whole group is
    killed, so a wrapper script's children do not outlive it. With `merge_stderr`
    both streams form one log in `stdout` (tools such as VTM log to stdout), which the
    error then carries.
    """
    argv = [str(a) for a in args]
    err_pipe = subprocess.STDOUT if merge_stderr else subprocess.PIPE
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err_pipe, start_new_session=True)
    except FileNotFoundError as exc:
        raise CodecError(f"{what}: executable not found: {args[0]}", command=argv) from exc
    except OSError as exc:
        raise CodecError(f"{what}: cannot run {args[0]}: {exc.strerror or exc} (is it an "
                         "executable for this machine?)", command=argv) from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        log = out if merge_stderr else err
        raise CodecError(f"{what}: timed out after {timeout:g} s", command=argv,
                         stderr=(log or b"").decode(errors="replace")) from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        log = out if merge_stderr else err
        raise CodecError(f"{what}: exited with code {proc.returncode}", command=argv,
                         stderr=(log or b"").decode(errors="replace"))
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class ExternalCodec(Codec):
    """Base for codecs that call binaries: subclasses build argument lists only.

    Running, timeouts and error reporting live here, once. The Config's `timeout_s`
    (when it has one) bounds each call.
    """

    @property
    def timeout_s(self) -> float:
        return float(getattr(self.config, "timeout_s", 600.0))

    def run(self, args: list[str], what: str, cwd: str | Path | None = None
            ) -> subprocess.CompletedProcess:
        return run_tool(args, timeout=self.timeout_s, what=what, cwd=cwd)
