"""Write a report of one or several runs: plots, tables and the HTML page.

Formats: ``png``/``svg``/``pdf`` (RD plot per metric), ``csv`` (points, BD table, codecs,
timing, the MPEG template per codec), ``tex`` (BD, codecs, points and timing tables,
booktabs), ``md`` (summary.md) and ``html`` (index.html, self-contained). The headline
metrics (detection AP and AP50, segmentation AP, PSNR-Y, KITTI Car moderate AP3D and
APBEV, or the spec's choice) come first; every other metric is in an appendix.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.errors import SpecError
from bench.registry import did_you_mean
from bench.report import content, failures, plots
from bench.report.codec_info import PSNR_RGB_NOTE, codecs_table
from bench.report.html_page import PageContent, render_page
from bench.report.selection import (
    appendix_metrics,
    bd_settings,
    is_pixel_metric,
    metric_unit,
    select_metrics,
)
from bench.report.sources import Curve, RunData, build_curves, load_run_data, run_data_from_store
from bench.report.tables import Table, to_latex, to_markdown, write_csv
from bench.results.store import RunStore
from bench.spec import REPORT_FORMATS  # one list, also checked when a spec loads
from bench.types import RatePoint

TEX_TABLES = ("bd_table", "codecs", "points", "timing")


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
        for name in ("points", "bd_table", "codecs", "timing"):
            write_csv(tables[f"{name}_csv" if f"{name}_csv" in tables else name],
                      out / f"{name}.csv")
        (out / "mpeg").mkdir(exist_ok=True)
        for label, table in mpeg.items():
            write_csv(table, out / "mpeg" / f"{_safe(label)}.csv")
    if "tex" in formats:
        for name in TEX_TABLES:
            (out / f"{name}.tex").write_text(to_latex(tables[name], label=f"tab:{name}"))


def _markdown(title: str, runs: list[RunData], headline: list[str], appendix: list[str],
              tables: dict[str, Table], plot_files: dict[str, Path], incomplete: list[str]
              ) -> str:
    parts = [f"# {title}", ""]
    for r in runs:
        desc = (r.spec.get("description") or "").strip()
        parts.append(f"- **{r.name}**: {desc} (dataset {r.dataset_name}, "
                     f"{r.plan.get('n_items', '?')} items; anchors {', '.join(r.anchors) or '-'})")
    if incomplete:
        parts += ["", f"**Incomplete points** (failed or missing jobs): {', '.join(incomplete)}"]
    parts += failures.markdown_section(runs)  # why jobs failed (bench/report/failures.py)
    parts += ["", f"## Headline: {', '.join(headline) or '-'}", ""]
    parts += [f"![{m}]({plot_files[m].name})" for m in headline if m in plot_files]
    for heading, name in (("BD table", "bd_table"), ("Codecs", "codecs"), ("Timing", "timing"),
                          ("Points", "points")):
        parts += ["", f"## {heading}", "", to_markdown(tables[name])]
    if appendix:
        parts += ["", f"## Appendix: other metrics ({len(appendix)})", "",
                  to_markdown(tables["appendix"]), ""]
        parts += [f"![{m}]({plot_files[m].name})" for m in appendix if m in plot_files]
    return "\n".join(parts) + "\n"


def _tables(runs: list[RunData], curves: list[Curve], main: list[str], appendix: list[str]
            ) -> dict[str, Table]:
    rows = content.bd_rows(runs, curves, main)
    tables = {
        "bd_table": content.bd_table_data(rows, None, runs),
        "codecs": codecs_table(runs, curves),
        "timing": content.timing_table_data(runs, curves),
        "points": content.points_table_data(curves, main, runs),
        "appendix": content.points_table_data(curves, appendix, runs),
        "points_csv": content.points_table_data(curves, main + appendix, runs),
    }
    tables["appendix"].caption = "Points on the other metrics"
    for name, metrics in (("points", main), ("appendix", appendix), ("points_csv", main + appendix)):
        if any(m.rsplit("/", 1)[-1] == "psnr_rgb" for m in metrics):
            tables[name].notes.append(PSNR_RGB_NOTE)
    return tables


def write_report(
    runs: list[RunData],
    out_dir: str | Path,
    formats: str | list[str] | None = None,
    metrics: list[str] | None = None,
    log_rate: bool | None = None,
    point_labels: bool = False,
    bands: bool | None = None,
) -> Path:
    """Write the report of `runs` into out_dir; returns index.html, summary.md or the folder.

    `log_rate` None: logarithmic when the spec's report.log_rate says so or the rates span
    more than a decade. `bands` None: as the spec's bd.bootstrap.bands.
    """
    fmts = parse_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves = build_curves(runs)
    main = select_metrics(runs, metrics)
    appendix = appendix_metrics(runs, main, metrics)
    if log_rate is None:
        spec_log = ((runs[0].spec.get("report") or {}) if runs else {}).get("log_rate")
        log_rate = bool(spec_log) if spec_log is not None else plots.wants_log_rate(
            curves, main + appendix)
    if bands is None:
        bands = bd_settings(runs)["bands"]
    tables = _tables(runs, curves, main, appendix)
    figures, plot_files = _plots(runs, curves, main + appendix, out, fmts, log_rate,
                                 point_labels, bands)
    _write_tables(out, fmts, tables, content.mpeg_tables(runs, curves, main))
    title = "icm-bench report: " + " vs ".join(r.name for r in runs)
    incomplete = _incomplete(curves)
    result = out
    if "md" in fmts:
        result = out / "summary.md"
        result.write_text(_markdown(title, runs, main, appendix, tables, plot_files, incomplete))
    if "html" in fmts:
        page = PageContent(title, runs, main, main + appendix, figures, tables["bd_table"],
                           tables["bd_table"], tables["timing"], tables["points"], incomplete,
                           time.strftime("%Y-%m-%d %H:%M:%S %z"), appendix=appendix,
                           appendix_points=tables["appendix"], codecs=tables["codecs"])
        result = out / "index.html"
        result.write_text(render_page(page), encoding="utf-8")
    return result


def point_bands(runs: list[RunData], curves: list[Curve], metric: str
                ) -> dict[str, list[tuple[float, float, float]]]:
    """curve label -> (rate, low, high) per point, from the runs' bootstrap results."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for c in curves:
        stored = {(b["codec"], RatePoint.from_dict(b["point"]).label): b["metrics"].get(metric)
                  for b in (runs[c.run_index].bootstrap or {}).get("points") or []}
        band = []
        for p in c.points:
            ci = stored.get((c.codec, p.point.label))
            if ci:
                band.append((p.rate(metric), ci[0], ci[1]))
        if len(band) >= 2:
            out[c.label] = sorted(band)
    return out


def _plots(runs: list[RunData], curves: list[Curve], metrics: list[str], out: Path,
           fmts: list[str], log_rate: bool, point_labels: bool, bands: bool
           ) -> tuple[dict[str, str], dict[str, Path]]:
    """Render each metric's plot once: files in the plot formats, a data URI for the page."""
    colors = plots.codec_colors(curves)
    figures: dict[str, str] = {}
    files: dict[str, Path] = {}
    file_fmts = [f for f in fmts if f in plots.PLOT_FORMATS]
    link_fmt = next((f for f in ("png", "svg", "pdf") if f in file_fmts), None)
    for metric in metrics:
        fig = plots.rd_figure(curves, metric, colors, log_rate, point_labels,
                              unit=metric_unit(metric, runs),
                              uncompressed_line=not is_pixel_metric(metric),
                              bands=point_bands(runs, curves, metric) if bands else None)
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
    bands: bool | None = None,
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
    return write_report(runs, out_dir, formats, metrics, log_rate, point_labels, bands)
