"""The default job's report, shrunk: BD values with bootstrap intervals and fit marks on mAP,
AP in percent, points by their knob, codecs described; the page renders and prints."""

import csv
import shutil
import subprocess

import pytest

from bench.execute.runner import run_spec
from bench.spec import load_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    spec = load_spec("demo", [
        f"dataset.params.root={tmp / 'data'}", "dataset.params.n_images=4",
        "codecs.vvenc.points=[22,32,42,47]", "codecs.x265.points=[22,32,42,47]",
        "codecs.jpeg.points=[10,50,90]", "codecs.feature-vvenc.points=[35,45]",
        "codecs.learned-baseline.points=[0.0025,0.013,0.068]",
        "execute.executor=serial", "bd.bootstrap.resamples=40", "bd.bootstrap.bands=true",
        "report.formats=[html,md,csv,pdf,tex]",
    ])
    return run_spec(spec, tmp / "results", tmp / "reports", progress=False)


def test_bd_rows_on_map_have_intervals_and_fit_marks(demo):
    rows = list(csv.DictReader((demo.report_dir / "bd_table.csv").open()))
    assert {r["metric"] for r in rows} == {"bbox/AP", "bbox/AP50", "segm/AP", "psnr_y"}
    assert {r["anchor"] for r in rows} == {"vvenc"}  # the spec's anchor, nothing else
    ap = [r for r in rows if r["metric"] == "bbox/AP" and r["BD-rate (%)"]]
    assert ap, rows
    # an interval is left out where under 80 % of the resamples overlap (docs/metrics.md)
    with_ci = [r for r in ap if r["BD-rate (%) CI low"]]
    assert with_ci, ap
    for r in with_ci:
        lo, hi = float(r["BD-rate (%) CI low"]), float(r["BD-rate (%) CI high"])
        assert lo <= float(r["BD-rate (%)"]) <= hi
    for r in ap:
        assert r["fit"] in ("-", "test", "anchor", "both")
        assert float(r["over quality low"]) < float(r["over quality high"]) <= 100.0  # in %
    md = (demo.report_dir / "summary.md").read_text()
    assert "| fit |" in md and "[lo, hi]: 95 % CI" in md
    assert md.index("## Headline: bbox/AP, bbox/AP50, segm/AP, psnr_y") < md.index("## Appendix")
    assert "| vvenc | QP 22 |" in md and "| jpeg | q 50 |" in md and "| uncompressed |" in md
    assert "libjpeg-turbo" in md and "YCbCr 4:2:0" in md and "slice QP" in md
    mpeg = (demo.report_dir / "mpeg" / "vvenc.csv").read_text().splitlines()
    assert mpeg[0].startswith("dataset,QP,bpp,bbox/AP (%),bbox/AP50 (%),segm/AP (%),psnr_y (dB)")
    tex = (demo.report_dir / "bd_table.tex").read_text()
    assert "\\toprule" in tex and "fit" in tex


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.mark.chromium
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_the_page_renders_and_prints(demo, tmp_path):
    import numpy as np
    from PIL import Image

    page = demo.report_dir / "index.html"
    shot, pdf = tmp_path / "shot.png", tmp_path / "report.pdf"
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'p'}"]
    for extra in (["--window-size=1100,1600", f"--screenshot={shot}"],
                  ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"]):
        subprocess.run(base + extra + [page.resolve().as_uri()], capture_output=True,
                       timeout=180, check=False)
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    assert 0.002 < (img.mean(axis=2) < 128).mean() < 0.5 and (img.std(axis=2) > 40).mean() > 0.001
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"/Subtype /Image" in data
    assert (demo.report_dir / "rd_bbox_AP.pdf").read_bytes().startswith(b"%PDF-")
