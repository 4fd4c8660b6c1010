"""Finding the ffmpeg binary, what it is, what it can do, and building its argument lists.

The binary comes from the imageio-ffmpeg wheel unless a path is given: the codec
param ``ffmpeg`` first, then the environment variable ``ICM_BENCH_FFMPEG``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any

from bench.codecs.base import run_tool
from bench.errors import CodecError

ENV_VAR = "ICM_BENCH_FFMPEG"
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")


def ffmpeg_exe(path: str | os.PathLike | None = None) -> str:
    """The ffmpeg binary: `path`, else $ICM_BENCH_FFMPEG, else the imageio-ffmpeg one."""
    if path:
        candidate, source = str(path), "codec param 'ffmpeg'"
    elif os.environ.get(ENV_VAR):
        candidate, source = os.environ[ENV_VAR], f"environment variable {ENV_VAR}"
    else:
        candidate, source = _bundled_ffmpeg(), "the imageio-ffmpeg wheel"
    resolved = candidate if os.sep in candidate else shutil.which(candidate)
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise CodecError(
            f"ffmpeg binary {candidate!r} (from {source}) does not exist or is not executable; "
            f"give a working ffmpeg with the codec param 'ffmpeg' or {ENV_VAR}"
        )
    return os.path.abspath(resolved)


def _bundled_ffmpeg() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise CodecError(
            f"no ffmpeg from the imageio-ffmpeg wheel ({exc}); install imageio-ffmpeg "
            f"or set {ENV_VAR} to an ffmpeg binary"
        ) from exc


@functools.lru_cache(maxsize=16)
def _version_text(exe: str) -> str:
    proc = run_tool([exe, "-version"], timeout=60, what="ffmpeg -version")
    return proc.stdout.decode(errors="replace")


def ffmpeg_version(exe: str) -> str:
    """The version token ffmpeg prints (e.g. 'n9.0.2-17-g2a571b6068-20260930')."""
    match = re.search(r"ffmpeg version (\S+)", _version_text(exe))
    if not match:
        raise CodecError(f"cannot read the version of ffmpeg at {exe}", command=[exe, "-version"])
    return match.group(1)


def ffmpeg_configuration(exe: str) -> str:
    """The configure line of the build (which libraries it was built with)."""
    match = re.search(r"^configuration:\s*(.*)$", _version_text(exe), flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


@functools.lru_cache(maxsize=32)
def _component_names(exe: str, kind: str) -> frozenset[str]:
    """Names listed by `ffmpeg -encoders` / `-decoders` (after the '------' line)."""
    text = run_tool([exe, "-hide_banner", f"-{kind}"], timeout=60, what=f"ffmpeg -{kind}").stdout
    names, started = set(), False
    for line in text.decode(errors="replace").splitlines():
        if line.strip().startswith("------"):
            started = True
            continue
        parts = line.split()
        if started and len(parts) >= 2:
            names.add(parts[1])
    return frozenset(names)


def has_encoder(exe: str, name: str) -> bool:
    """Whether this ffmpeg build has the encoder `name` (cached per binary)."""
    return name in _component_names(exe, "encoders")


def has_decoder(exe: str, name: str) -> bool:
    """Whether this ffmpeg build has the decoder `name` (cached per binary)."""
    return name in _component_names(exe, "decoders")


def ffmpeg_args(
    exe: str,
    src: str | Path,
    dst: str | Path,
    input_options: dict[str, Any],
    output_options: dict[str, Any],
) -> list[str]:
    """One ffmpeg argument list (built with ffmpeg-python; never a shell string)."""
    import ffmpeg as ffmpeg_python

    stream = ffmpeg_python.input(str(src), **input_options).output(str(dst), **output_options)
    return stream.global_args(*GLOBAL_ARGS).overwrite_output().compile(cmd=exe)
