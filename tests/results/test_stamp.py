"""The report is re-rendered only when its inputs change."""

import pytest

from bench.results.records import ItemResult, JobResult, Point
from bench.results.stamp import STAMP_FILE, report_if_changed
from bench.results.store import RunStore
from bench.types import RatePoint


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "run", create=True)
    s.set_meta("spec", {"name": "run"})
    s.set_meta("provenance", {"time": "t0", "git": {"commit": "abc"}})
    s.save_job(JobResult(key="k", status="ok", items=[ItemResult(item_id="a", bits=8, pixels=4)]),
               "c", {}, {"kind": "qp", "value": 1}, ["a"])
    s.write_plan([("c", {"kind": "qp", "value": 1}, 0, "k")])
    s.save_point("c", '{"kind":"qp","value":1}', "sig1",
                 Point(codec="c", point=RatePoint("qp", 1), bpp=2.0))
    yield s
    s.close()


class Renderer:
    def __init__(self, folder):
        self.folder, self.calls = folder, 0

    def __call__(self):
        self.calls += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "index.html").write_text(f"render {self.calls}")
        return self.folder / "index.html"


def test_rendered_once_then_reused(store, tmp_path):
    out = tmp_path / "reports" / "run"
    render = Renderer(out)
    first = report_if_changed(store, out, ["html"], render)
    again = report_if_changed(store, out, ["html"], render)
    assert first == again == out / "index.html" and render.calls == 1
    store.set_meta("provenance", {"time": "t1", "git": {"commit": "abc"}})  # only the clock
    report_if_changed(store, out, ["html"], render)
    assert render.calls == 1


@pytest.mark.parametrize("change", ["point", "formats", "spec", "job", "output", "provenance"])
def test_each_input_change_renders_again(store, tmp_path, change):
    out = tmp_path / "reports" / "run"
    render = Renderer(out)
    report_if_changed(store, out, ["html"], render)
    formats = ["html"]
    if change == "point":
        store.save_point("c", '{"kind":"qp","value":1}', "sig2",
                         Point(codec="c", point=RatePoint("qp", 1), bpp=3.0))
    elif change == "formats":
        formats = ["html", "md"]
    elif change == "spec":
        store.set_meta("spec", {"name": "run", "description": "new"})
    elif change == "job":
        store.save_job(JobResult(key="k2", status="failed", items=[]), "c", {},
                       {"kind": "qp", "value": 1}, [])
    elif change == "output":
        (out / "index.html").unlink()
    else:
        store.set_meta("provenance", {"time": "t0", "git": {"commit": "def"}})
    report_if_changed(store, out, formats, render)
    assert render.calls == 2


def test_a_failed_render_leaves_no_stamp(store, tmp_path):
    out = tmp_path / "reports" / "run"
    report_if_changed(store, out, None, Renderer(out))
    assert (out / STAMP_FILE).is_file()
    store.set_meta("spec", {"name": "run", "x": 1})

    def broken():
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        report_if_changed(store, out, None, broken)
    assert not (out / STAMP_FILE).exists()
    render = Renderer(out)
    report_if_changed(store, out, None, render)
    assert render.calls == 1
