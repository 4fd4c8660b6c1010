"""Tables as data (columns + rows), rendered to Markdown, LaTeX (booktabs), CSV and HTML.

Cells hold raw values; each column says how to show a number. CSV keeps full
precision; None is empty in CSV and "-" elsewhere.
"""

from __future__ import annotations

import csv
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    fmt: str = ""  # a format spec for numbers, e.g. "+.2f"
    align: str = "l"  # "l" or "r"


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    caption: str = ""
    notes: list[str] = field(default_factory=list)


def cell_text(value: Any, fmt: str = "") -> str:
    """How a cell reads in Markdown, LaTeX and HTML."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, fmt or ".4g")
    if isinstance(value, int) and fmt:
        return format(value, fmt)
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_markdown(table: Table) -> str:
    if not table.rows:
        return "(none)"
    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c.name) for c in table.columns) + " |",
             "|" + "|".join("---:" if c.align == "r" else "---" for c in table.columns) + "|"]
    for row in table.rows:
        cells = [esc(cell_text(v, c.fmt)) for v, c in zip(row, table.columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"\n{n}" for n in table.notes]
    return "\n".join(lines)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(value: Any, fmt: str) -> str:
    text = tex_escape(cell_text(value, fmt))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and text[:1] in "+-":
        text = f"${text[0]}${text[1:]}"  # a real minus sign
    return text


def to_latex(table: Table, label: str = "") -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    spec = "".join(c.align for c in table.columns)
    lines = ["\\begin{table}[t]", "\\centering", "\\small"]
    if table.caption:
        lines.append(f"\\caption{{{tex_escape(table.caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
              " & ".join(tex_escape(c.name) for c in table.columns) + " \\\\", "\\midrule"]
    for row in table.rows:
        lines.append(" & ".join(_tex_cell(v, c.fmt) for v, c in zip(row, table.columns)) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    for note in table.notes:
        lines.append(f"\\par\\smallskip{{\\footnotesize {tex_escape(note)}}}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def write_csv(table: Table, path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c.name for c in table.columns])
        for row in table.rows:
            w.writerow([_csv_cell(v) for v in row])
    return path


def to_html(table: Table, row_class: Any = None) -> str:
    """An HTML <table>; `row_class(row)` may give a CSS class per row."""
    if not table.rows:
        return "<p class='empty'>(none)</p>"
    head = "".join(f"<th class='{c.align}'>{html.escape(c.name)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cls = row_class(row) if row_class else ""
        cells = "".join(f"<td class='{c.align}'>{html.escape(cell_text(v, c.fmt))}</td>"
                        for v, c in zip(row, table.columns))
        body.append(f"<tr class='{cls}'>{cells}</tr>" if cls else f"<tr>{cells}</tr>")
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in table.notes)
    return (f"<table>{caption}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{notes}")
