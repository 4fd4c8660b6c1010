"""The KITTI preset, shrunk: stereo pairs through image codecs and the feature anchor."""

from bench.execute.runner import run_spec
from bench.spec import load_spec


def test_kitti_demo_preset_runs_end_to_end(tmp_path):
    spec = load_spec("kitti-demo", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_frames=3",
        "codecs.vvenc.points=[27,42]", "codecs.x265.points=[27,42]", "codecs.jpeg.points=[4,31]",
        "codecs.feature-vvenc.points=[35,45]", "execute.executor=serial",
    ])
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert {c for c, _ in by} == {"identity", "vvenc", "x265", "jpeg", "feature-vvenc"}
    ident = by[("identity", 0)]
    assert ident.bpp == 24.0 and ident.pixels == 3 * 2 * 621 * 188  # both views counted
    for p in out.points:
        assert p.complete and p.n_items == 3
        for key in ("Car/3d/moderate/R40", "Car/bev/moderate/R40", "Car/bbox/moderate/R11"):
            assert 0.0 <= p.metrics[key] <= 100.0
    assert by[("vvenc", 27)].bpp > by[("vvenc", 42)].bpp
    assert by[("feature-vvenc", 35)].bpp > by[("feature-vvenc", 45)].bpp
    summary = (out.report_dir / "summary.md").read_text()
    assert "Car/3d/moderate/R40" in summary and "feature-vvenc" in summary
