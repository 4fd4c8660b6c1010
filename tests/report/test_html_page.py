"""The HTML page: self-contained (parsed), and rendered by a headless Chromium where installed."""

import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from bench.report import write_run_report


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._in_h2 = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h2:
            self.headings.append(data)


@pytest.fixture(scope="module")
def page(tiny_run, tmp_path_factory):
    from bench.results.store import RunStore

    out = tmp_path_factory.mktemp("html")
    store = RunStore(tiny_run)
    try:
        path = write_run_report(store, out, ["html"])
    finally:
        store.close()
    return path


def test_page_is_self_contained(page):
    parser = PageParser()
    parser.feed(page.read_text())
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for _tag, attrs in parser.tags:
        for key in ("src", "href", "data", "srcset"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), attrs
    images = [a for t, a in parser.tags if t == "img"]
    assert len(images) == 2  # one RD plot per metric: the headline PSNR-Y, PSNR-RGB appended
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert not any(p.suffix == ".png" for p in page.parent.iterdir())  # nothing beside it needed


def test_page_order_and_content(page):
    parser = PageParser()
    parser.feed(page.read_text())
    heads = [h for h in parser.headings if h != "Failed jobs"]  # bench/report/failures.py
    assert heads == ["Headline: psnr_y", "BD table", "Codecs", "Timing", "Points",
                     "Appendix: other metrics (1)", "Runs: spec and provenance"]
    text = "".join(parser.text)
    assert "Spec (resolved)" in text and "Provenance" in text
    assert "fake_codecs:QuantZlibCodec" in text  # the spec is there
    assert "Incomplete points" in text and "bad step=16" in text
    assert "step 16" in text and "psnr_y (dB)" in text and "includes the loss of the chroma" in text
    rows = [a for t, a in parser.tags if t == "tr" and a.get("class") == "incomplete"]
    assert len(rows) >= 2  # the point and its BD rows


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _shot(page, tmp_path, *extra):
    profile = tmp_path / "profile"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=False)


@pytest.mark.chromium
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_chromium_renders_a_non_blank_page(page, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    proc = _shot(page, tmp_path, "--window-size=1000,1400", f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    dark = (img.mean(axis=2) < 128).mean()
    coloured = (img.std(axis=2) > 40).mean()
    assert 0.002 < dark < 0.5  # text and lines on a white page
    assert coloured > 0.001  # the embedded plot's coloured curves were drawn


@pytest.mark.chromium
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_chromium_prints_the_page_to_pdf(page, tmp_path):
    """The page prints as a PDF people can attach (all sections, plots embedded)."""
    pdf = tmp_path / "report.pdf"
    proc = _shot(page, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert pdf.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2  # several pages
    assert b"/Subtype /Image" in data  # the plots


@pytest.mark.chromium
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_chromium_draws_the_svg_plots(tiny_store, tmp_path):
    """SVG plots (fonts as paths) draw the same in a browser; PDF plots embed TrueType."""
    from PIL import Image

    out = tmp_path / "rep"
    write_run_report(tiny_store, out, ["pdf", "svg"])
    pdf = (out / "rd_psnr_y.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf
    shot = tmp_path / "svg.png"
    proc = _shot(out / "rd_psnr_y.svg", tmp_path, "--window-size=700,520", f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    assert (img.std(axis=2) > 40).mean() > 0.001  # coloured curves drawn
