"""The scalable preset, shrunk: both views, simulcast, the MSE baseline and the m ablation."""

import pytest

from bench.execute.runner import run_spec
from bench.models.sa_icm.weights import default_path
from bench.spec import load_spec

NEEDED = [default_path("base"), default_path("mse")] + [
    default_path("enhancement", m, variant="short") for m in range(1, 6)] + [
    default_path("enhancement", 4)]
LEARNED = ["mse-baseline", "simulcast", "sa-icm-base", "sa-icm", "sa-icm-m1", "sa-icm-m2",
           "sa-icm-m3", "sa-icm-m4", "sa-icm-m5"]


@pytest.mark.skipif(not all(p.is_file() for p in NEEDED),
                    reason="SA-ICM weights are not committed yet (bench/models/sa_icm.md)")
def test_scalable_preset_runs_end_to_end(tmp_path):
    sets = [f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_images=2",
            "codecs.vvenc.points=[27,42]", "execute.executor=serial"]
    sets += [f"codecs.{name}.points=[1,5]" for name in LEARNED]
    out = run_spec(load_spec("scalable", sets), tmp_path / "results", tmp_path / "reports",
                   progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    for name in LEARNED:
        assert by[(name, 1)]["bpp"] < by[(name, 5)]["bpp"], name
        for q in (1, 5):
            assert 0.0 <= by[(name, q)].metrics["bbox/AP"] <= 1.0
    for q in (1, 5):
        base, full = by[("sa-icm-base", q)], by[("sa-icm", q)]
        sim = by[("simulcast", q)]
        assert base["bpp"] < full["bpp"] and base["bpp"] < sim["bpp"]   # base rate only
        # Simulcast's and the scalable codec's base layers are the same bytes.
        mse = by[("mse-baseline", q)]
        assert sim["bpp"] == pytest.approx(base["bpp"] + mse["bpp"], abs=1e-9)
    summary = (out.report_dir / "summary.md").read_text()
    assert "sa-icm-m3" in summary and "psnr_rgb" in summary
