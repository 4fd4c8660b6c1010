"""The report of real (tiny) runs: files per format, the default job's report, several runs."""

import csv
import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import SpecError
from bench.report import REPORT_FORMATS, report_runs, write_report, write_run_report
from bench.report.build import parse_formats
from bench.report.sources import run_data_from_store
from bench.results.curves import export_curves, write_curves


def test_all_formats(tiny_store, tmp_path):
    out = tmp_path / "rep"
    result = write_run_report(tiny_store, out, list(REPORT_FORMATS))
    assert result == out / "index.html"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for metric in ("psnr_rgb", "psnr_y"):  # the headline metric and the appendix one
        assert {f"rd_{metric}.png", f"rd_{metric}.svg", f"rd_{metric}.pdf"} <= names
    assert {"index.html", "summary.md", "points.csv", "bd_table.csv", "timing.csv", "codecs.csv",
            "bd_table.tex", "timing.tex", "codecs.tex", "points.tex", "mpeg/qa.csv",
            "mpeg/qb.csv", "mpeg/bad.csv"} <= names
    tex = (out / "bd_table.tex").read_text()
    assert "\\toprule" in tex and "psnr\\_y" in tex and "\\footnotesize" in tex
    assert "\\textsuperscript{a}" in tex  # the incomplete row's footnote mark
    pdf = (out / "rd_psnr_y.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:] and b"/FontFile2" in pdf


def test_bd_csv_matches_the_bd_maths(tiny_store, tmp_path):
    from bench.analysis.bd import bd_rate
    from bench.results.points import load_points

    write_run_report(tiny_store, tmp_path, ["csv"])
    rows = list(csv.DictReader((tmp_path / "bd_table.csv").open()))
    assert {(r["codec"], r["anchor"]) for r in rows} == {("qb", "qa"), ("bad", "qa")}
    assert {r["metric"] for r in rows} == {"psnr_y"}  # the headline metric
    qb = next(r for r in rows if r["codec"] == "qb" and r["metric"] == "psnr_y")
    pts = load_points(tiny_store)
    curve = lambda c: sorted((p.bpp, p.metrics["psnr_y"]) for p in pts if p.codec == c)
    a, t = curve("qa"), curve("qb")
    ref = bd_rate([x for x, _ in a], [y for _, y in a], [x for x, _ in t], [y for _, y in t])
    assert float(qb["BD-rate (%)"]) == pytest.approx(ref.bd_rate_percent, rel=1e-12)
    assert float(qb["BD-quality"]) == pytest.approx(ref.bd_quality, rel=1e-12)
    lo, hi = float(qb["over quality low"]), float(qb["over quality high"])
    assert (lo, hi) == pytest.approx(ref.overlap_quality, rel=1e-12)  # integrated over
    assert float(qb["over rate (bpp) low"]) == pytest.approx(ref.overlap_rate[0], rel=1e-12)
    # the runner stored bootstrap intervals (bench.analysis.bootstrap): shown next to values
    assert float(qb["BD-rate (%) CI low"]) <= ref.bd_rate_percent <= float(qb["BD-rate (%) CI high"])
    bad = next(r for r in rows if r["codec"] == "bad")
    assert bad["complete"] == "False"  # its qp 16 point failed


def test_default_formats_and_markdown(tiny_store, tmp_path):
    result = write_run_report(tiny_store, tmp_path, None)
    assert result.name == "index.html"
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob("*.tex"))
    md = (tmp_path / "summary.md").read_text()
    assert md.index("## Headline: psnr_y") < md.index("## BD table") < md.index("## Codecs") \
        < md.index("## Timing") < md.index("## Points") < md.index("## Appendix: other metrics")
    assert "| bad | step 16 | n/a | - | 0 | 4 | NO |" in md  # bpp and PSNR-Y unknown
    assert "| qa | step 4 | " in md and "psnr_y (dB)" in md
    assert "![psnr_y](rd_psnr_y.png)" in md and "![psnr_rgb](rd_psnr_rgb.png)" in md
    assert md.index("![psnr_y]") < md.index("## BD table") < md.index("![psnr_rgb]")
    assert "**Incomplete points**" in md and "bad step=16" in md
    assert "includes the loss of the chroma subsampling" in md  # PSNR-RGB is shown


def test_markdown_only_returns_summary(tiny_store, tmp_path):
    assert write_run_report(tiny_store, tmp_path, ["md"]).name == "summary.md"
    assert not list(tmp_path.glob("*.png"))


def test_formats_are_checked():
    assert parse_formats("html, MD,.png,html") == ["html", "md", "png"]
    with pytest.raises(SpecError, match="unknown report format 'htm'.*Did you mean 'html'"):
        parse_formats("htm")
    with pytest.raises(SpecError, match="no report format"):
        parse_formats(" , ")


def test_two_runs_on_one_plot_and_a_curves_file(tiny_store, tiny_run, tmp_path):
    curves_file = write_curves(export_curves(tiny_store), tmp_path / "last-week.json")
    out = report_runs([str(tiny_run), str(curves_file)], tmp_path / "both", "md,csv,png",
                      results_dir=tmp_path)
    md = out.read_text()
    assert "qb [t#2]" in md and "qa [t]" in md
    rows = list(csv.DictReader((tmp_path / "both" / "bd_table.csv").open()))
    pairs = {(r["codec"], r["anchor"]) for r in rows if r["metric"] == "psnr_y"}
    assert ("qa [t#2]", "qa [t]") in pairs and ("qb [t]", "qa [t#2]") in pairs
    same = next(r for r in rows if r["metric"] == "psnr_y" and r["codec"] == "qa [t#2]"
                and r["anchor"] == "qa [t]")
    assert float(same["BD-rate (%)"]) == pytest.approx(0.0, abs=1e-9)


def test_report_run_default_folder_and_cli(tiny_run, tmp_path):
    out = report_runs([tiny_run.name], None, "md", results_dir=tiny_run.parent, reports_dir=tmp_path)
    assert out == tmp_path / "t" / "summary.md"
    res = CliRunner().invoke(app, ["report", str(tiny_run), "--out", str(tmp_path / "cli"),
                                   "--formats", "md,png", "--metrics", "psnr_y", "--qp-labels"])
    assert res.exit_code == 0, res.output
    assert "report:" in res.output
    assert sorted(p.name for p in (tmp_path / "cli").glob("*.png")) == ["rd_psnr_y.png"]


def test_report_from_run_data_keeps_spec_and_provenance(tiny_store, tmp_path):
    run = run_data_from_store(tiny_store)
    assert run.name == "t" and run.anchor == "qa"
    assert run.provenance.get("git") is not None
    assert [t.codec for t in run.timing] == ["qa", "qb", "bad"]
    assert run.timing[2].n_items == 8  # 3 points, one failed: 2 x 4 items
    write_report([run], tmp_path, "html")
    page = (tmp_path / "index.html").read_text()
    assert json.dumps(run.provenance["git"]["commit"]).strip('"') in page
