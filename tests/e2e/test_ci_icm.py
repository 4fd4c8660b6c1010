"""The ci-icm preset, shrunk (one image, two points, committed weights): per-task scores, BD tables."""

import torch

from bench.execute.runner import run_spec
from bench.spec import load_spec

KEEP = {"ci-icm", "ci-icm-baseline", "vvenc"}
torch.set_num_threads(1)


def test_ci_icm_preset_runs_end_to_end(tmp_path):
    spec = load_spec("ci-icm", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_images=1",
        "codecs.ci-icm.points=[0,4]", "codecs.ci-icm-baseline.points=[0,4]",
        "codecs.vvenc.points=[32,42]", "execute.executor=serial", "bd.bootstrap.resamples=0",
    ])
    spec.codecs = [c for c in spec.codecs if c.name in KEEP]
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert {c for c, _ in by} == KEEP
    for p in by.values():
        assert p.complete and p.n_items == 1
        assert 0 <= p.metrics["det/bbox/AP"] <= 1 and 0 <= p.metrics["seg/segm/AP"] <= 1
        assert "det/segm/AP" not in p.metrics and "seg/bbox/AP" not in p.metrics
        assert p.metrics["pixel/psnr_rgb"] > 15
    assert by[("ci-icm", 4)].bpp > by[("ci-icm", 0)].bpp
    summary = (out.report_dir / "summary.md").read_text()
    assert "ci-icm-baseline" in summary and "det/bbox/AP" in summary and "seg/segm/AP" in summary
    timing = summary.split("## Timing")[1].split("##")[0]
    rows = {line.split("|")[1].strip(): line.split("|")[-2].strip()
            for line in timing.splitlines() if line.startswith("| ")}
    assert rows["ci-icm"].endswith(" M") and rows["vvenc"] == "-"
    assert float(rows["ci-icm"][:-2]) > float(rows["ci-icm-baseline"][:-2]) > 2.0
