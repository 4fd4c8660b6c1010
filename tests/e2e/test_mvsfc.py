"""The `mvsfc` preset, shrunk to 1 frame and 2 points per codec: every curve, the BD tables."""

from __future__ import annotations

from bench.execute.runner import run_spec
from bench.spec import load_spec

AP3D = "Car/3d/moderate/R40"


def test_mvsfc_preset_runs_end_to_end(tmp_path):
    spec = load_spec("mvsfc", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_frames=1",
        "codecs.vvenc.points=[37,47]", "codecs.feature-vvenc.points=[35,45]",
        "codecs.learned-baseline.points=[0.0018,0.0483]", "codecs.mvsfc.points=[0,5]",
        "codecs.mvsfc-stage1.points=[0,5]", "codecs.mvsfc-ablation.points=[0,5]",
        "execute.executor=serial", "bd.bootstrap.resamples=0",
    ])
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert {c for c, _ in by} == {"identity", "vvenc", "feature-vvenc", "learned-baseline",
                                  "mvsfc", "mvsfc-stage1", "mvsfc-ablation"}
    for p in out.points:
        assert p.complete and p.n_items == 1
        assert 0.0 <= p.metrics[AP3D] <= 100.0
        assert p.pixels == 2 * 621 * 188               # both views of the frame
    for codec in ("mvsfc", "mvsfc-stage1", "mvsfc-ablation"):
        assert by[(codec, 0)].bpp > by[(codec, 5)].bpp > 0
    summary = (out.report_dir / "summary.md").read_text()
    assert "mvsfc-ablation" in summary and AP3D in summary
    for anchor in ("vvenc", "feature-vvenc", "learned-baseline", "mvsfc-ablation"):
        assert f"| mvsfc | {anchor} | {AP3D} |" in summary
