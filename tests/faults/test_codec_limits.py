"""What a codec cannot do is said clearly: rate points out of kind or range are refused at
planning (one line, before any job), a picture too small for libvvenc names the limit, a
binary of the wrong format names its path."""

import os
import shutil

import numpy as np
import pytest
from faultkit import one_line_error, run_cli, tiny_spec, write_spec

from bench.errors import BenchError, CodecError, SpecError
from bench.execute.plan import make_plan
from bench.registry import CODECS
from bench.spec import validate_spec
from bench.types import RatePoint

# the examples, per codec: (values that must be refused)
BAD_POINTS = {
    "vvenc": [99, -5, "abc", 32.5], "x265": [99, -5, "abc", 32.5], "aom": [99, -5, "abc", 32.5],
    "svtav1": [99, -5, "abc", 32.5, 0], "vtm": [99, -13, "abc", 32.5],
    "feature-anchor": [99, -13, "abc", 32.5], "jpeg": [0, 101, "abc", 50.5],
    "webp": [-1, 101, "abc"], "jpegxl": [-1, 16, "abc"],
}


def built(name):
    try:
        return CODECS.build(name, {})
    except BenchError as exc:  # e.g. weights not trained here
        pytest.skip(f"{name} cannot be built here: {exc}")


@pytest.mark.parametrize("name", sorted(BAD_POINTS))
def test_builtin_codecs_refuse_bad_points(name):
    codec = built(name)
    for value in BAD_POINTS[name]:
        with pytest.raises(SpecError) as info:
            codec.check_point(RatePoint(codec.point_kind, value))
        assert "\n" not in str(info.value) and str(value) in str(info.value)


KNOWN: dict[str, str] = {}


def builtin_names() -> list[str]:
    """The codecs this package registers (not test doubles other test modules add)."""
    return sorted(n for n in CODECS.names()
                  if str(CODECS._targets.get(n, "")).startswith("bench."))


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=False)) if n in KNOWN else n
    for n in sorted(set(builtin_names()) - set(BAD_POINTS) - {"identity"})])
def test_other_builtin_codecs_refuse_a_string_point_cleanly(name):
    codec = built(name)
    with pytest.raises(BenchError):
        codec.check_point(RatePoint(codec.point_kind, "abc"))


def test_bad_point_stops_planning_with_one_line(tmp_path):
    raw = tiny_spec(tmp_path, "pts", [{"name": "v", "type": "vvenc", "points": [32, 99]}],
                    n_images=1)
    with pytest.raises(SpecError, match=r"codecs\.v\.points: .*99"):
        make_plan(validate_spec(raw))
    spec = write_spec(tmp_path, raw)
    for points in ("[99]", "[-5]", "[abc]", "[32.5]"):
        proc = run_cli("run", str(spec), "--set", f"codecs.v.points={points}",
                       "--results-dir", str(tmp_path / "r"))
        assert proc.returncode == 2
        assert "codecs.v.points" in one_line_error(proc.stderr)
    assert not (tmp_path / "r").exists()


def test_vvenc_on_a_tiny_image_names_the_limit():
    codec = CODECS.build("vvenc", {"preset": "faster"})
    try:
        codec.check()
    except BenchError as exc:
        pytest.skip(f"no libvvenc here: {exc}")
    with pytest.raises(CodecError) as info:
        codec.encode(np.full((3, 5, 3), 100, np.uint8), RatePoint("qp", 32))
    first = str(info.value).splitlines()[0]
    assert "at most 24 bytes" in first and "6x4" in first and "larger images" in first


def test_executable_of_the_wrong_format_names_its_path(tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_bytes(os.urandom(256) + b"\0\0")
    fake.chmod(0o755)
    raw = tiny_spec(tmp_path, "exe", [{"name": "v", "type": "vvenc",
                                       "params": {"ffmpeg": str(fake)}, "points": [32]}],
                    n_images=1)
    proc = run_cli("run", str(write_spec(tmp_path, raw)), "--results-dir", str(tmp_path / "r"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = one_line_error(proc.stderr)
    assert str(fake) in line and "Exec format error" in line and "executable" in line


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_os_error_line_names_path_and_hint():
    import errno

    from bench.cli import os_error_line

    for err_no, words in [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                          (errno.EACCES, "permission"), (errno.ENOEXEC, "executable")]:
        line = os_error_line(OSError(err_no, os.strerror(err_no), "/x/y"))
        assert line.startswith("error:") and "'/x/y'" in line and words in line.lower()
