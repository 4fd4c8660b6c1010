"""The report of one run: points CSV, RD plots, a Markdown summary with the BD table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from bench.analysis.curves import BDRow, bd_table, curves, metric_names
from bench.execute.points import format_points_table, load_points, metric_directions
from bench.store import RunStore


def bd_metrics(points: list[dict[str, Any]], spec: dict[str, Any]) -> list[str]:
    wanted = (spec.get("bd") or {}).get("metrics")
    names = metric_names(points)
    return [m for m in wanted if m in names] if wanted else names


def write_points_csv(points: list[dict[str, Any]], path: Path) -> None:
    metrics = metric_names(points)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["codec", "point_kind", "point", "bpp", "bits", "pixels", "n_items", "n_failed",
                    "complete", *metrics, "encode_s_median", "decode_s_median", "device"])
        for p in points:
            w.writerow([
                p["codec"], p["point"]["kind"], p["point"]["value"], _num(p["bpp"]), p["bits"],
                p["pixels"], p["n_items"], p["n_failed"], p["complete"],
                *[_num(p["metrics"].get(m)) for m in metrics],
                _num(p["timing"]["encode_s"]["median"]), _num(p["timing"]["decode_s"]["median"]),
                p["timing"]["device"],
            ])


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def plot_metric(points: list[dict[str, Any]], metric: str, anchor: str | None, path: Path,
                log_rate: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    for i, (codec, pts) in enumerate(sorted(curves(points, metric).items())):
        color = f"C{i % 10}"
        if len(pts) == 1:
            ax.axhline(pts[0].value, color=color, lw=1, ls=":", label=f"{codec} (uncoded)")
            continue
        ls = "--" if codec == anchor else "-"
        ax.plot([p.rate for p in pts], [p.value for p in pts], ls, marker="o", ms=4, color=color,
                label=codec + (" (anchor)" if codec == anchor else ""))
        for p in pts:
            if not p.complete:
                ax.plot(p.rate, p.value, "x", color="red", ms=9)
    if log_rate:
        ax.set_xscale("log")
    ax.set_xlabel("bpp")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_bd_markdown(rows: list[BDRow]) -> str:
    if not rows:
        return "(no BD rows: need an anchor and curves of >= 2 points)"
    lines = ["| codec | anchor | metric | BD-rate % | BD-quality | method | note |",
             "|---|---|---|---:|---:|---|---|"]
    for r in rows:
        rate = "" if r.bd_rate_percent is None else f"{r.bd_rate_percent:+.2f}"
        qual = "" if r.bd_quality is None else f"{r.bd_quality:+.4f}"
        method = r.method + (" (monotonic fit)" if r.monotonic_fit else "")
        note = r.note.replace("\n", " ").replace("|", "/")[:160]
        if not r.complete:
            note = ("incomplete points; " + note).strip("; ")
        lines.append(f"| {r.codec} | {r.anchor} | {r.metric} | {rate} | {qual} | {method} | {note} |")
    return "\n".join(lines)


def write_run_report(store: RunStore, out_dir: str | Path, formats: list[str] | None = None) -> Path:
    """Write reports/<run>/: points.csv, rd_<metric>.png, summary.md. Returns summary.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = store.get_meta("spec") or {}
    points = load_points(store)
    anchor = spec.get("anchor")
    metrics = metric_names(points)
    write_points_csv(points, out / "points.csv")
    for metric in metrics:
        plot_metric(points, metric, anchor, out / f"rd_{metric.replace('/', '_')}.png",
                    (spec.get("report") or {}).get("log_rate", False))
    bd = spec.get("bd") or {}
    rows = bd_table(points, anchor, bd_metrics(points, spec), bd.get("method", "pchip"),
                    bd.get("monotonic", False), metric_directions(store)) if anchor else []
    summary = out / "summary.md"
    summary.write_text(
        f"# {spec.get('name', 'run')}\n\n{spec.get('description', '')}\n\n"
        f"## Points\n\n```\n{format_points_table(points)}\n```\n\n"
        f"## BD table (against {anchor})\n\n{format_bd_markdown(rows)}\n\n"
        "## RD plots\n\n" + "\n".join(f"![{m}](rd_{m.replace('/', '_')}.png)" for m in metrics) + "\n"
    )
    return summary
