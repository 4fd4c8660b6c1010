"""Table rendering: Markdown, LaTeX (booktabs), CSV, HTML."""

import csv
import math

from bench.report.tables import (
    Column,
    Est,
    Marked,
    Span,
    Table,
    cell_text,
    tex_escape,
    to_html,
    to_latex,
    to_markdown,
    write_csv,
)


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
    assert cell_text(math.nan) == "n/a" and cell_text(-math.inf) == "-inf"
    assert cell_text(3.14159, ".2f") == "3.14"
    assert cell_text(0.000123456) == "0.0001235"
    assert cell_text(Est(-7.25, -15.0, 3.0), "+.1f") == "-7.2 [-15.0, +3.0]"
    assert cell_text(Est(-7.25), "+.1f") == "-7.2" and cell_text(Est(None, 1, 2)) == "-"
    assert cell_text(Span(0.5, 0.75), "+.2f") == "[0.50, 0.75]"
    assert cell_text(Marked(Est(1.0, 0.5, 2.0), ("a",)), ".1f") == "1.0 [0.5, 2.0]"


def test_intervals_and_marks_in_every_format(tmp_path):
    t = Table([Column("codec"), Column("BD-rate (%)", "+.1f", "r"), Column("over", ".2f", "r",
                                                                            latex=False)])
    mark = t.mark("no overlap")
    assert t.mark("no overlap") == mark == "a" and t.mark("other") == "b"
    t.rows = [["a", Marked(Est(-7.25, -15.0, 3.0), ("a",)), Span(0.5, 0.75)],
              ["b", Est(None), None]]
    md = to_markdown(t)
    assert "| a | -7.2 [-15.0, +3.0]<sup>a</sup> | [0.50, 0.75] |" in md
    assert "<sup>a</sup> no overlap" in md
    tex = to_latex(t)
    assert "a & $-$7.2 [$-$15.0, $+$3.0]\\textsuperscript{a} \\\\" in tex
    assert "over" not in tex.split("\\midrule")[0]  # wide columns stay out of LaTeX
    assert "\\textsuperscript{a}\\,no overlap" in tex
    rows = list(csv.reader(write_csv(t, tmp_path / "t.csv").open()))
    assert rows[0] == ["codec", "BD-rate (%)", "BD-rate (%) CI low", "BD-rate (%) CI high",
                       "over low", "over high"]
    assert rows[1] == ["a", "-7.25", "-15.0", "3.0", "0.5", "0.75"]
    assert rows[2][:4] == ["b", "", "", ""]
    html_text = to_html(t)
    assert "<sup>a</sup>" in html_text and "no overlap" in html_text


def test_markdown_aligns_escapes_and_marks():
    md = to_markdown(sample_table())
    lines = md.splitlines()
    assert lines[0] == "| codec | BD-rate (%) | complete | note |"
    assert lines[1] == "|---|---:|---|---|"
    assert "| my_codec | -12.35 | yes | a\\|b |" in md
    assert "| x&y | - | NO | 50% <off> |" in md
    assert md.rstrip().endswith("a note")
    assert "| inf | inf | yes |  |" in md
    assert to_markdown(Table([Column("a")])) == "(none)"


def test_latex_is_booktabs_with_escapes_and_minus_signs():
    tex = to_latex(sample_table(), label="tab:bd")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\begin{tabular}{lrll}" in tex and "\\footnotesize" in tex
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
