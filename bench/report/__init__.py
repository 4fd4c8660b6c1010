"""Reports: RD plots, BD tables, timing tables, HTML/Markdown/LaTeX/CSV output."""

from bench.report.run_report import write_run_report

__all__ = ["write_run_report"]
