"""Tables as data (columns + rows), rendered to Markdown, LaTeX (booktabs), CSV and HTML.

Cells hold raw values; each column says how to show a number. A value with a bootstrap
interval is an `Est`, an integration interval a `Span`, a cell with footnote marks a
`Marked`. CSV keeps full precision (an `Est` gives three columns, a `Span` two, marks
are left out); None is empty in CSV and "-" elsewhere. Footnotes (mark -> text) render
under the table, as footnotes in LaTeX.
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
    latex: bool = True  # shown in the LaTeX table (wide text columns are not)


@dataclass(frozen=True)
class Est:
    """A value and its confidence interval (None when there is none)."""

    value: float | None
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True)
class Span:
    """An interval [lo, hi] (what a BD value was integrated over)."""

    lo: float
    hi: float


@dataclass(frozen=True)
class Marked:
    """A cell with footnote marks ("a", "b", ...)."""

    value: Any
    marks: tuple[str, ...] = ()


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    footnotes: dict[str, str] = field(default_factory=dict)  # mark -> text

    def mark(self, text: str) -> str:
        """The mark of a footnote text (a new letter the first time it is seen)."""
        for key, value in self.footnotes.items():
            if value == text:
                return key
        key = "abcdefghijklmnopqrstuvwxyz"[len(self.footnotes) % 26]
        self.footnotes[key] = text
        return key


def _num(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return format(value, fmt or ".4g")


def cell_text(value: Any, fmt: str = "") -> str:
    """How a cell reads in Markdown, LaTeX and HTML (marks not included)."""
    if isinstance(value, Marked):
        return cell_text(value.value, fmt)
    if isinstance(value, Est):
        text = _num(value.value, fmt)
        if value.value is not None and value.lo is not None and value.hi is not None:
            text += f" [{_num(value.lo, fmt)}, {_num(value.hi, fmt)}]"
        return text
    if isinstance(value, Span):
        plain = fmt.lstrip("+")
        return f"[{_num(value.lo, plain)}, {_num(value.hi, plain)}]"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return _num(value, fmt)
    if isinstance(value, int) and fmt:
        return format(value, fmt)
    return str(value)


def _marks(value: Any) -> tuple[str, ...]:
    return value.marks if isinstance(value, Marked) else ()


def _csv_cells(value: Any) -> list[Any]:
    if isinstance(value, Marked):
        return _csv_cells(value.value)
    if isinstance(value, Est):
        return [_csv_cell(value.value), _csv_cell(value.lo), _csv_cell(value.hi)]
    if isinstance(value, Span):
        return [_csv_cell(value.lo), _csv_cell(value.hi)]
    return [_csv_cell(value)]


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _csv_header(table: Table) -> list[str]:
    names = []
    for i, c in enumerate(table.columns):
        kinds = {type(r[i].value if isinstance(r[i], Marked) else r[i]) for r in table.rows}
        if Est in kinds:
            names += [c.name, f"{c.name} CI low", f"{c.name} CI high"]
        elif Span in kinds:
            names += [f"{c.name} low", f"{c.name} high"]
        else:
            names.append(c.name)
    return names


def to_markdown(table: Table) -> str:
    if not table.rows:
        return "(none)"

    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c.name) for c in table.columns) + " |",
             "|" + "|".join("---:" if c.align == "r" else "---" for c in table.columns) + "|"]
    for row in table.rows:
        cells = [esc(cell_text(v, c.fmt)) + "".join(f"<sup>{m}</sup>" for m in _marks(v))
                 for v, c in zip(row, table.columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"\n<sup>{k}</sup> {v}" for k, v in table.footnotes.items()]
    lines += [f"\n{n}" for n in table.notes]
    return "\n".join(lines)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "λ": r"$\lambda$"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(value: Any, fmt: str) -> str:
    text = tex_escape(cell_text(value, fmt))
    raw = value.value if isinstance(value, Marked) else value
    if isinstance(raw, (int, float, Est, Span)) and not isinstance(raw, bool):
        text = text.replace("-", "$-$").replace("+", "$+$")  # real minus and plus signs
    return text + "".join(f"\\textsuperscript{{{m}}}" for m in _marks(value))


def to_latex(table: Table, label: str = "") -> str:
    """A compact booktabs table (\\usepackage{booktabs}); footnotes and notes under it."""
    cols = [i for i, c in enumerate(table.columns) if c.latex]
    spec = "".join(table.columns[i].align for i in cols)
    lines = ["\\begin{table}[t]", "\\centering", "\\footnotesize",
             "\\setlength{\\tabcolsep}{4pt}"]
    if table.caption:
        lines.append(f"\\caption{{{tex_escape(table.caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
              " & ".join(tex_escape(table.columns[i].name) for i in cols) + " \\\\", "\\midrule"]
    for row in table.rows:
        lines.append(" & ".join(_tex_cell(row[i], table.columns[i].fmt) for i in cols) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    notes = [f"\\textsuperscript{{{k}}}\\,{tex_escape(v)}" for k, v in table.footnotes.items()]
    notes += [tex_escape(n) for n in table.notes]
    if notes:
        lines.append("\\par\\smallskip\\parbox{\\linewidth}{\\scriptsize "
                     + " \\\\ ".join(notes) + "}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def write_csv(table: Table, path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(_csv_header(table))
        for row in table.rows:
            w.writerow([x for v in row for x in _csv_cells(v)])
    return path


def to_html(table: Table, row_class: Any = None) -> str:
    """An HTML <table>; `row_class(row)` may give a CSS class per row."""
    if not table.rows:
        return "<p class='empty'>(none)</p>"
    head = "".join(f"<th class='{c.align}'>{html.escape(c.name)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cls = row_class(row) if row_class else ""
        cells = "".join(
            f"<td class='{c.align}'>{html.escape(cell_text(v, c.fmt))}"
            + "".join(f"<sup>{html.escape(m)}</sup>" for m in _marks(v)) + "</td>"
            for v, c in zip(row, table.columns))
        body.append(f"<tr class='{cls}'>{cells}</tr>" if cls else f"<tr>{cells}</tr>")
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    notes = "".join(f"<p class='note'><sup>{html.escape(k)}</sup> {html.escape(v)}</p>"
                    for k, v in table.footnotes.items())
    notes += "".join(f"<p class='note'>{html.escape(n)}</p>" for n in table.notes)
    return (f"<table>{caption}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{notes}")
