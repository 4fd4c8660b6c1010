"""Write a report of one or several runs: plots, tables and the HTML page.

Formats: ``png``/``svg``/``pdf`` (RD plot per metric), ``csv`` (points, BD table, timing,
the MPEG template per codec), ``tex`` (BD and timing tables, booktabs), ``md``
(summary.md) and ``html`` (index.html, self-contained).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.errors import SpecError
from bench.registry import did_you_mean
from bench.report import content, failures, plots
from bench.report.html_page import PageContent, render_page
from bench.report.selection import headline_metrics, pixel_quality_names, select_metrics
from bench.report.sources import Curve, RunData, build_curves, load_run_data, run_data_from_store
from bench.report.tables import Table, to_latex, to_markdown, write_csv
from bench.spec import REPORT_FORMATS  # one list, also checked when a spec loads
from bench.results.store import RunStore


def parse_formats(formats: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """"html,md" or a list -> checked, de-duplicated format names."""
    if formats is None:
        return ["md", "csv", "png", "html"]
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for raw in items:
        fmt = str(raw).strip().lower().lstrip(".")
        if not fmt:
            continue
        if fmt not in REPORT_FORMATS:
            raise SpecError(
                f"unknown report format {fmt!r}.{did_you_mean(fmt, REPORT_FORMATS)} "
                f"Choose from: {', '.join(REPORT_FORMATS)}"
            )
        if fmt not in out:
            out.append(fmt)
    if not out:
        raise SpecError(f"no report format given; choose from: {', '.join(REPORT_FORMATS)}")
    return out


def _incomplete(curves: list[Curve]) -> list[str]:
    return [f"{c.label} {p.point.label}" for c in curves for p in c.points if not p.complete]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _write_tables(
    out: Path, formats: list[str], tables: dict[str, Table], mpeg: dict[str, Table]
) -> None:
    if "csv" in formats:
        for name, table in tables.items():
            write_csv(table, out / f"{name}.csv")
        (out / "mpeg").mkdir(exist_ok=True)
        for label, table in mpeg.items():
            write_csv(table, out / "mpeg" / f"{_safe(label)}.csv")
    if "tex" in formats:
        for name in ("bd_table", "timing"):
            (out / f"{name}.tex").write_text(to_latex(tables[name], label=f"tab:{name}"))


def _markdown(title: str, runs: list[RunData], headline: list[str], tables: dict[str, Table],
              plot_files: dict[str, Path], incomplete: list[str]) -> str:
    parts = [f"# {title}", ""]
    for r in runs:
        desc = (r.spec.get("description") or "").strip()
        parts.append(f"- **{r.name}**: {desc} (dataset {r.dataset_name}, "
                     f"{r.plan.get('n_items', '?')} items; anchor {r.anchor or '-'})")
    if incomplete:
        parts += ["", f"**Incomplete points** (failed or missing jobs): {', '.join(incomplete)}"]
    parts += failures.markdown_section(runs)  # why jobs failed (bench/report/failures.py)
    parts += ["", f"## Headline: {', '.join(headline) or '-'}", ""]
    parts += [f"![{m}]({plot_files[m].name})" for m in headline if m in plot_files]
    parts += ["", to_markdown(tables["headline_bd"])]
    for heading, name in (("BD table", "bd_table"), ("Timing", "timing"), ("Points", "points")):
        parts += ["", f"## {heading}", "", to_markdown(tables[name])]
    parts += ["", "## RD plots", ""]
    parts += [f"![{m}]({p.name})" for m, p in plot_files.items()]
    return "\n".join(parts) + "\n"


def write_report(
    runs: list[RunData],
    out_dir: str | Path,
    formats: str | list[str] | None = None,
    metrics: list[str] | None = None,
    log_rate: bool | None = None,
    point_labels: bool = False,
) -> Path:
    """Write the report of `runs` into out_dir; returns index.html, summary.md or the folder."""
    fmts = parse_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves = build_curves(runs)
    chosen = select_metrics(runs, metrics)
    headline = headline_metrics(runs, chosen, metrics)
    if log_rate is None:
        log_rate = bool(((runs[0].spec.get("report") or {}) if runs else {}).get("log_rate"))
    rows = content.bd_rows(runs, curves, chosen)
    tables = {
        "points": content.points_table_data(curves, chosen),
        "bd_table": content.bd_table_data(rows),
        "headline_bd": content.bd_table_data(rows, headline),
        "timing": content.timing_table_data(runs, curves),
    }
    figures, plot_files = _plots(curves, chosen, out, fmts, log_rate, point_labels)
    _write_tables(out, fmts, {k: v for k, v in tables.items() if k != "headline_bd"},
                  content.mpeg_tables(runs, curves, chosen))
    title = "icm-bench report: " + " vs ".join(r.name for r in runs)
    incomplete = _incomplete(curves)
    result = out
    if "md" in fmts:
        result = out / "summary.md"
        result.write_text(_markdown(title, runs, headline, tables, plot_files, incomplete))
    if "html" in fmts:
        page = PageContent(title, runs, headline, chosen, figures, tables["headline_bd"],
                           tables["bd_table"], tables["timing"], tables["points"], incomplete,
                           time.strftime("%Y-%m-%d %H:%M:%S %z"))
        result = out / "index.html"
        result.write_text(render_page(page), encoding="utf-8")
    return result


def _plots(curves: list[Curve], metrics: list[str], out: Path, fmts: list[str], log_rate: bool,
           point_labels: bool) -> tuple[dict[str, str], dict[str, Path]]:
    """Render each metric's plot once: files in the plot formats, a data URI for the page."""
    colors = plots.codec_colors(curves)
    figures: dict[str, str] = {}
    files: dict[str, Path] = {}
    file_fmts = [f for f in fmts if f in plots.PLOT_FORMATS]
    link_fmt = next((f for f in ("png", "svg", "pdf") if f in file_fmts), None)
    pixel = pixel_quality_names()
    for metric in metrics:
        fig = plots.rd_figure(curves, metric, colors, log_rate, point_labels,
                              uncompressed_line=metric not in pixel)
        if fig is None:
            continue
        try:
            written = plots.save_figure(fig, out / plots.plot_stem(metric), file_fmts)
            if link_fmt:
                files[metric] = next(p for p in written if p.suffix == f".{link_fmt}")
            if "html" in fmts:
                figures[metric] = plots.png_data_uri(fig)
        finally:
            plots.close(fig)
    return figures, files


def write_run_report(
    store: RunStore, out_dir: str | Path, formats: list[str] | None = None
) -> Path:
    """The default job's report of one run store (what `icm-bench run` writes)."""
    return write_report([run_data_from_store(store)], out_dir, formats)


def report_runs(
    sources: list[str], out_dir: str | Path | None = None, formats: str | list[str] | None = None,
    results_dir: str | Path = "results", reports_dir: str | Path = "reports",
    metrics: list[str] | None = None, log_rate: bool | None = None, point_labels: bool = False,
) -> Path:
    """`icm-bench report`: runs or curves files -> a report folder (default reports/<names>)."""
    if not sources:
        raise SpecError("give at least one run (a name, a results/<run> folder or a curves .json)")
    if formats is not None:
        formats = parse_formats(formats)  # fail before loading anything
    runs = [load_run_data(s, results_dir) for s in sources]
    if formats is None:
        formats = (runs[0].spec.get("report") or {}).get("formats")
    if out_dir is None:
        out_dir = Path(reports_dir) / "__".join(_safe(r.name) for r in runs)
    return write_report(runs, out_dir, formats, metrics, log_rate, point_labels)
