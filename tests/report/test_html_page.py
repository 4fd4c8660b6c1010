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
    assert len(images) == 3  # one RD plot per metric, the headline one first
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert not any(p.suffix == ".png" for p in page.parent.iterdir())  # nothing beside it needed


def test_page_order_and_content(page):
    parser = PageParser()
    parser.feed(page.read_text())
    heads = parser.headings
    assert heads[0].startswith("Headline: psnr_rgb")
    assert heads[1:] == ["BD table", "Timing", "Points", "All RD plots", "Runs: spec and provenance"]
    text = "".join(parser.text)
    assert "Spec (resolved)" in text and "Provenance" in text
    assert "fake_codecs:QuantZlibCodec" in text  # the spec is there
    assert "Incomplete points" in text and "bad step=16" in text
    rows = [a for t, a in parser.tags if t == "tr" and a.get("class") == "incomplete"]
    assert len(rows) >= 2  # the point and its BD rows


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.chromium
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_chromium_renders_a_non_blank_page(page, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
           f"--screenshot={shot}", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    dark = (img.mean(axis=2) < 128).mean()
    coloured = (img.std(axis=2) > 40).mean()
    assert 0.002 < dark < 0.5  # text and lines on a white page
    assert coloured > 0.001  # the embedded plot's coloured curves were drawn
