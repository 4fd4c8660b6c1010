"""The regression gate end to end: export a baseline, re-run, compare, exit codes, JUnit.

Two worse variants: the same test codec with its QP shifted up in the decoder (it
dequantises with a coarser step than the encoder used: the same bits buy less
quality, the RD curve is worse), and the same codec with the spec's QP list shifted
up (the points slide down the same RD curve: BD-rate ~0, but the gate's operating
points lost their top, which compare calls worse too).
"""

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fake_codecs import QuantZlibCodec

from bench.analysis.compare import compare_sources
from bench.codecs.base import CodecConfig
from bench.execute.runner import run_spec
from bench.registry import CODECS
from bench.spec import validate_spec
from bench.types import Bitstream

SHIFTED = "test-gate-qp-shifted"


class ShiftConfig(CodecConfig):
    shift: int = 0


class QpShiftedQuantCodec(QuantZlibCodec):
    """QuantZlibCodec whose decoder re-quantises with the step shifted up by `shift`."""

    Config = ShiftConfig

    def decode(self, bitstream: Bitstream, layers=None, target=None) -> np.ndarray:
        rec = super().decode(bitstream).astype(np.int32)
        step = int(np.frombuffer(bitstream.data[4:6], dtype=np.uint16)[0]) + self.config.shift
        return np.clip((rec // step) * step + step // 2, 0, 255).astype(np.uint8)

    def version(self, point=None) -> str:
        return "qp-shifted-1"


if SHIFTED not in CODECS:
    CODECS.register(SHIFTED, QpShiftedQuantCodec, "test only: decoder QP shifted up")


def spec(root, name, shift=0, n_images=6, points=(6, 12, 24, 48)):
    return validate_spec({
        "name": name,
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": n_images, "width": 64, "height": 64, "root": str(root / "data")}},
        "codecs": [
            {"name": "anchor", "type": "fake_codecs:QuantZlibCodec", "points": [4, 8, 16, 32, 64]},
            {"name": "cand", "type": SHIFTED, "params": {"shift": shift}, "points": list(points)},
        ],
        "anchor": "anchor",
        "bd": {"metrics": ["psnr_y", "psnr_rgb"]},
        "execute": {"executor": "serial"},
    })


def icm(*args, cwd):
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    for name, kw in [("base", {}), ("again", {}), ("worse", {"shift": 2}), ("otherdata", {"n_images": 5}),
                     ("qps_up", {"points": (12, 24, 48, 96)})]:
        run_spec(spec(root, name, **kw), root / "results", None, progress=False)
    proc = icm("export", "base", "-o", root / "baseline" / "curves.json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def test_identical_rerun_is_unchanged_exit_0(runs):
    proc = icm("compare", "baseline/curves.json", "again", "--junit", "unchanged.xml", cwd=runs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = {tuple(line.split()[:3]) for line in proc.stdout.splitlines()[2:-1]}
    assert verdicts == {(c, m, "unchanged") for c in ("anchor", "cand") for m in ("psnr_y", "psnr_rgb")}
    suite = ET.parse(runs / "unchanged.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")


def test_qp_shifted_variant_is_worse_exit_1(runs):
    proc = icm("compare", "baseline/curves.json", "worse", "--tolerance", "1.0", "--junit", "worse.xml",
               cwd=runs)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = compare_sources(str(runs / "baseline" / "curves.json"), "worse", 1.0, str(runs / "results"))
    cand = [v for v in result.verdicts if v.codec == "cand"]
    assert {v.verdict for v in cand} == {"worse"}
    assert all(v.bd_rate_percent > 5.0 for v in cand)  # clearly, not by a rounding error
    assert all(v.anchor_delta > 5.0 for v in cand)  # and it lost ground against the anchor
    assert {v.verdict for v in result.verdicts if v.codec == "anchor"} == {"unchanged"}
    suite = ET.parse(runs / "worse.xml").getroot().find("testsuite")
    assert suite.get("failures") == "2"
    assert "worse" in proc.stdout and proc.stdout.rstrip().endswith("exit 1")


def test_qp_list_shifted_up_is_worse_exit_1(runs):
    proc = icm("compare", "baseline/curves.json", "qps_up", cwd=runs)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = compare_sources(str(runs / "baseline" / "curves.json"), "qps_up", 1.0, str(runs / "results"))
    cand = [v for v in result.verdicts if v.codec == "cand"]
    assert {v.verdict for v in cand} == {"worse"}
    assert all("step=6" in v.note for v in cand)


def test_other_dataset_is_not_comparable(runs):
    proc = icm("compare", "base", "otherdata", cwd=runs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOT COMPARABLE: different dataset" in proc.stdout
    result = compare_sources("base", "otherdata", 1.0, str(runs / "results"))
    assert {v.verdict for v in result.verdicts} == {"not comparable"}


def test_bad_baseline_file_is_a_clear_error(runs):
    (runs / "broken.json").write_text('{"schema_version": 7}')
    proc = icm("compare", "broken.json", "again", cwd=runs)
    assert proc.returncode == 2
    assert "schema_version 7" in proc.stderr and "Traceback" not in proc.stderr


def _ffmpeg_codecs_usable() -> bool:
    from bench.codecs.base import build_codec
    from bench.errors import BenchError

    try:
        for name in ("vvenc", "x265", "jpeg"):
            build_codec(name, {}).check()
    except (BenchError, ImportError):
        return False
    return True


def test_nightly_preset_is_valid():
    from bench.spec import load_spec

    nightly = load_spec("nightly")
    assert nightly.task.type == "pixel" and nightly.anchor == "vvenc"
    assert [c.name for c in nightly.codecs] == ["identity", "vvenc", "x265", "jpeg"]
    assert nightly.dataset.type == "synthetic-coco"
    assert set(nightly.bd.metrics) <= {"psnr_y", "psnr_rgb", "ms_ssim"}


@pytest.mark.skipif(not _ffmpeg_codecs_usable(), reason="ffmpeg with libvvenc/libx265/mjpeg not usable here")
def test_nightly_gate_is_stable_between_identical_runs(tmp_path):
    """A shrunken nightly, run twice: every curve must come out unchanged (no flaky gate)."""
    from bench.analysis.compare import compare_sources
    from bench.spec import load_spec

    for name in ("n1", "n2"):
        small = load_spec("nightly", [f"name={name}", "dataset.params.n_images=2",
                                      "dataset.params.width=96", "dataset.params.height=64",
                                      f"dataset.params.root={tmp_path / 'data'}",
                                      "execute.executor=serial"])
        run_spec(small, tmp_path / "results", None, progress=False)
    result = compare_sources("n1", "n2", 1.0, str(tmp_path / "results"))
    assert result.verdicts and {v.verdict for v in result.verdicts} == {"unchanged"}
    assert all(v.bd_rate_percent in (None, 0.0) for v in result.verdicts)
