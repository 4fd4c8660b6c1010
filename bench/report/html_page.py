"""One self-contained HTML page: plots embedded as data URIs, inline CSS, no scripts,
nothing fetched from the network. Headline plots and the BD table first, then the
codecs, timing and points, an appendix with the other metrics, and each run's spec
and provenance."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from bench.report import failures
from bench.report.sources import RunData
from bench.report.tables import Table, to_html

CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em;font-family:Helvetica,Arial,sans-serif}
caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.3em}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd}thead th{border-bottom:2px solid #444}
td.r,th.r{text-align:right}td.r{white-space:nowrap}tr.incomplete td{background:#fdecea}
.warn{background:#fff4e5;border-left:4px solid #E4002B;padding:.5em 1em}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0}
.plots img{width:520px;max-width:100%;border:1px solid #eee}figcaption{font-size:.8em;color:#555}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.8em;max-height:40em}
.meta td:first-child{font-weight:bold}.note{font-size:.8em;color:#555}
details{margin:.5em 0}summary{cursor:pointer;font-weight:bold}
"""


@dataclass
class PageContent:
    """Everything the page shows, already computed."""

    title: str
    runs: list[RunData]
    headline: list[str]
    metrics: list[str]
    figures: dict[str, str]  # metric -> data URI
    headline_bd: Table
    bd: Table
    timing: Table
    points: Table
    incomplete: list[str] = field(default_factory=list)
    generated: str = ""
    appendix: list[str] = field(default_factory=list)  # metrics of the appendix
    appendix_points: Table | None = None
    codecs: Table | None = None


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _figure(metric: str, uri: str) -> str:
    return (f"<figure><img alt='RD plot of {_esc(metric)}' src='{uri}'>"
            f"<figcaption>{_esc(metric)} against rate</figcaption></figure>")


def _incomplete_row(row: list[Any]) -> str:
    return "incomplete" if any(v is False for v in row) else ""


def _run_facts(run: RunData) -> str:
    task = run.plan.get("task") or {}
    git = run.provenance.get("git") or {}
    host = run.provenance.get("host") or {}
    gpu = run.provenance.get("gpu") or {}
    prov = run.provenance
    codecs = ", ".join(f"{k} {v}" for k, v in (prov.get("codecs") or {}).items())
    facts = [
        ("source", run.source),
        ("dataset", f"{run.dataset_name} ({run.plan.get('n_items', '?')} items, fingerprint "
                    f"{run.plan.get('fingerprint')})"),
        ("task", f"{task.get('name') or task.get('type')} v{task.get('version')} "
                 f"(weights {task.get('weights_hash')})"),
        ("anchors", ", ".join(run.anchors) or "-"),
        ("code", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}"),
        ("icm-bench / python", f"{prov.get('icm_bench', '-')} / {prov.get('python', '-')}"),
        ("host", f"{host.get('name', '-')}: {host.get('cpu', '-')}, "
                 f"{host.get('cores', '-')} cores"),
        ("gpu", json.dumps(gpu) if gpu else "-"),
        ("codecs", codecs or "-"),
        ("run at", prov.get("time") or prov.get("exported") or "-"),
    ]
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in facts)
    return f"<table class='meta'>{rows}</table>"


def _run_section(run: RunData) -> str:
    spec_text = yaml.safe_dump(run.spec, sort_keys=False, default_flow_style=False)
    prov = dict(run.provenance)
    dists = prov.pop("distributions", None)
    parts = [f"<h3>{_esc(run.name)}</h3>", _run_facts(run),
             f"<details><summary>Spec (resolved)</summary><pre>{_esc(spec_text)}</pre></details>",
             "<details><summary>Provenance</summary><pre>"
             f"{_esc(json.dumps(prov, indent=1, default=str))}</pre></details>"]
    if dists:
        parts.append("<details><summary>Installed distributions</summary><pre>"
                     + _esc("\n".join(f"{k}=={v}" for k, v in dists.items())) + "</pre></details>")
    return "\n".join(parts)


def _plots(metrics: list[str], figures: dict[str, str], fold_over: int = 6) -> str:
    figs = "".join(_figure(m, figures[m]) for m in metrics if m in figures)
    if not figs:
        return ""
    n = sum(1 for m in metrics if m in figures)
    if n > fold_over:
        return (f"<details><summary>{n} plots</summary>"
                f"<div class='plots'>{figs}</div></details>")
    return f"<div class='plots'>{figs}</div>"


def render_page(c: PageContent) -> str:
    """The HTML text of the report page."""
    desc = " ".join(str(r.spec.get("description") or "") for r in c.runs).strip()
    warn = ""
    if c.incomplete:
        warn = ("<p class='warn'>Incomplete points (failed or missing jobs) are marked with a red "
                "cross in plots and highlighted in tables: "
                + _esc(", ".join(c.incomplete)) + "</p>")
    others = [m for m in c.metrics if m not in c.headline and m not in c.appendix]
    body = [
        f"<h1>{_esc(c.title)}</h1>",
        f"<p class='note'>Generated {_esc(c.generated)} by icm-bench. {_esc(desc)}</p>",
        warn,
        failures.html_section(c.runs),  # why jobs failed (bench/report/failures.py)
        f"<h2 id='headline'>Headline: {_esc(', '.join(c.headline) or 'no metrics')}</h2>",
        _plots(c.headline, c.figures, fold_over=99),
        "<h2 id='bd'>BD table</h2>", to_html(c.bd, _incomplete_row),
    ]
    if c.codecs is not None:
        body += ["<h2 id='codecs'>Codecs</h2>", to_html(c.codecs)]
    body += ["<h2 id='timing'>Timing</h2>", to_html(c.timing),
             "<h2 id='points'>Points</h2>", to_html(c.points, _incomplete_row)]
    if others:
        body += ["<h2 id='plots'>Other RD plots</h2>", _plots(others, c.figures)]
    if c.appendix:
        body += [f"<h2 id='appendix'>Appendix: other metrics ({len(c.appendix)})</h2>",
                 to_html(c.appendix_points, _incomplete_row) if c.appendix_points else "",
                 _plots(c.appendix, c.figures, fold_over=0)]
    body += ["<h2 id='runs'>Runs: spec and provenance</h2>", *[_run_section(r) for r in c.runs]]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(c.title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )
