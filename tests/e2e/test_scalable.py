"""The scalable preset, shrunk: both views, simulcast, the MSE baseline and the m ablation.

One small image (192x128), two points of the main codecs, one point of m = 1 and m = 5, no
bootstrap intervals: the whole run (imports, model loading, coding, both tasks, report)
stays well under a minute on one CPU thread.
"""

import math

import pytest
import yaml

from bench.execute.runner import run_spec
from bench.spec import PRESETS_DIR, load_spec

TWO_POINTS = ["mse-baseline", "simulcast", "sa-icm"]
ABLATION = ["sa-icm-m1", "sa-icm-m5"]


def _shrunk_spec(tmp_path):
    raw = yaml.safe_load((PRESETS_DIR / "scalable.yaml").read_text())
    raw["dataset"]["params"].update(n_images=1, width=192, height=128,
                                    root=str(tmp_path / "data"))
    raw["execute"] = {"executor": "serial", "workers": 1}
    raw["bd"]["bootstrap"] = {"resamples": 0}
    raw["codecs"] = [c for c in raw["codecs"]
                     if c["name"] in ["vvenc", *TWO_POINTS, *ABLATION]]
    for c in raw["codecs"]:
        c["points"] = [37] if c["name"] == "vvenc" else [1, 5] if c["name"] in TWO_POINTS else [3]
    path = tmp_path / "scalable.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_spec(str(path), [])


def test_scalable_preset_runs_end_to_end(tmp_path):
    out = run_spec(_shrunk_spec(tmp_path), tmp_path / "results", tmp_path / "reports",
                   progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    for name in TWO_POINTS:
        assert by[(name, 1)].bpp < by[(name, 5)].bpp, name
    for name in TWO_POINTS + ABLATION:
        q = 3 if name in ABLATION else 1
        p = by[(name, q)]
        assert 0.0 <= p.metrics["machine/bbox/AP"] <= 100.0
        assert math.isfinite(p.metrics["human/psnr_rgb"])
    for q in (1, 5):
        full, sim, mse = by[("sa-icm", q)], by[("simulcast", q)], by[("mse-baseline", q)]
        # The machine view pairs with the base layer's rate, the human view with the total.
        assert full.rate("machine/bbox/AP") == full.rates["bpp/base"] < full.bpp
        assert full.rate("human/psnr_rgb") == full.bpp
        # Each layer counted once: total = base + enhancement.
        assert full.bpp == pytest.approx(full.rates["bpp/base"] + full.rates["bpp/enhancement"])
        # Simulcast's and the scalable codec's base layers are the same bytes, and so is
        # the machine view decoded from them.
        assert sim.rates["bpp/base"] == pytest.approx(full.rates["bpp/base"], abs=1e-12)
        assert sim.metrics["machine/bbox/AP"] == full.metrics["machine/bbox/AP"]
        # Simulcast's second stream is the MSE codec's (its header too): both rates counted.
        assert sim.bpp == pytest.approx(full.rates["bpp/base"] + mse.bpp, abs=1e-9)
        assert sim.metrics["human/psnr_rgb"] == pytest.approx(mse.metrics["human/psnr_rgb"])
        # A one-layer codec pairs both views with its total rate.
        assert mse.rate("machine/bbox/AP") == mse.bpp
    # The same frozen base under every m: the same base bytes, the same machine view.
    assert len({by[(n, 3)].rates["bpp/base"] for n in ABLATION}) == 1
    assert len({by[(n, 3)].metrics["machine/bbox/AP"] for n in ABLATION}) == 1
    summary = (out.report_dir / "summary.md").read_text()
    assert "sa-icm-m5" in summary and "human/psnr_rgb" in summary and "simulcast" in summary
