"""Table rendering: Markdown, LaTeX (booktabs), CSV, HTML."""

import csv
import math

from bench.report.tables import Column, Table, cell_text, tex_escape, to_html, to_latex, to_markdown, write_csv


def sample_table():
    return Table(
        [Column("codec"), Column("BD-rate (%)", "+.2f", "r"), Column("complete"), Column("note")],
        rows=[["my_codec", -12.3456, True, "a|b"], ["x&y", None, False, "50% <off>"],
              ["inf", math.inf, True, ""]],
        caption="BD_rate & co", notes=["a note"],
    )


def test_cell_text_rules():
    assert cell_text(None) == "-"
    assert cell_text(False) == "NO" and cell_text(True) == "yes"
    assert cell_text(math.nan) == "nan" and cell_text(-math.inf) == "-inf"
    assert cell_text(3.14159, ".2f") == "3.14"
    assert cell_text(0.000123456) == "0.0001235"


def test_markdown_aligns_escapes_and_marks():
    md = to_markdown(sample_table())
    lines = md.splitlines()
    assert lines[0] == "| codec | BD-rate (%) | complete | note |"
    assert lines[1] == "|---|---:|---|---|"
    assert "| my_codec | -12.35 | yes | a\\|b |" in md
    assert "| x&y | - | NO | 50% <off> |" in md
    assert md.rstrip().endswith("a note")
    assert to_markdown(Table([Column("a")])) == "(none)"


def test_latex_is_booktabs_with_escapes_and_minus_signs():
    tex = to_latex(sample_table(), label="tab:bd")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\begin{tabular}{lrll}" in tex
    assert "\\caption{BD\\_rate \\& co}" in tex and "\\label{tab:bd}" in tex
    assert "my\\_codec & $-$12.35 & yes & a|b \\\\" in tex
    assert "x\\&y & - & NO & 50\\% <off> \\\\" in tex
    assert tex_escape("a_b%c$d#e{f}~^\\") == "a\\_b\\%c\\$d\\#e\\{f\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}"


def test_csv_keeps_full_precision(tmp_path):
    path = write_csv(sample_table(), tmp_path / "t.csv")
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["codec", "BD-rate (%)", "complete", "note"]
    assert float(rows[1][1]) == -12.3456
    assert rows[2][1] == "" and rows[2][2] == "False"
    assert rows[3][1] == "inf"


def test_html_escapes_and_row_classes():
    out = to_html(sample_table(), lambda row: "incomplete" if row[2] is False else "")
    assert "50% &lt;off&gt;" in out and "x&amp;y" in out
    assert out.count("<tr class='incomplete'>") == 1
    assert "<caption>BD_rate &amp; co</caption>" in out
