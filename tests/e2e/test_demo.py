"""The default job's preset, shrunk: every codec, the detector, the feature anchor, the report."""


from bench.execute.runner import run_spec
from bench.spec import load_spec


def test_demo_preset_runs_end_to_end(tmp_path):
    spec = load_spec("demo", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_images=3",
        "codecs.vvenc.points=[27,42]", "codecs.x265.points=[27,42]", "codecs.jpeg.points=[4,31]",
        "codecs.feature-vvenc.points=[35,45]", "codecs.learned-baseline.points=[0.0025,0.068]",
        "execute.executor=serial",
    ])
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert set(c for c, _ in by) == {"identity", "vvenc", "x265", "jpeg", "feature-vvenc",
                                       "learned-baseline"}
    for (codec, _), p in by.items():
        assert p.complete and p.n_items == 3
        assert 0 <= p.metrics["bbox/AP"] <= 1 and 0 <= p.metrics["segm/AP"] <= 1
        if codec != "feature-vvenc":
            assert p.metrics["psnr_rgb"] > 20
    # rate falls as QP rises, for the image anchor and the feature anchor
    assert by[("vvenc", 27)].bpp > by[("vvenc", 42)].bpp
    assert by[("feature-vvenc", 35)].bpp > by[("feature-vvenc", 45)].bpp
    assert by[("learned-baseline", 0.068)].bpp > by[("learned-baseline", 0.0025)].bpp
    assert (by[("learned-baseline", 0.068)].metrics["psnr_y"]
            > by[("learned-baseline", 0.0025)].metrics["psnr_y"])
    assert by[("identity", 0)].bpp == 24.0
    summary = (out.report_dir / "summary.md").read_text()
    assert "bbox/AP" in summary and "segm/AP" in summary and "feature-vvenc" in summary
    # the learned codec's timing, transform and entropy coding apart
    timing = summary[summary.index("Timing"):]
    row = next(line for line in timing.splitlines() if line.startswith("| learned-baseline "))
    assert "encode transform median (s)" in timing and "decode entropy median (s)" in timing
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(c not in ("", "-") for c in cells[2:8]), row  # encode/decode stats present
    mpeg = (out.report_dir / "mpeg" / "vvenc.csv").read_text().splitlines()
    assert mpeg[0].startswith("dataset,QP,bpp,bbox/AP (%),bbox/AP50 (%),segm/AP (%)")
    first = mpeg[1].split(",")
    assert float(first[3]) == by[("vvenc", 27)].metrics["bbox/AP"] * 100
    again = run_spec(spec, tmp_path / "results", None, progress=False)
    assert again.jobs_run == 0
    assert [p.metrics for p in again.points] == [p.metrics for p in out.points]
