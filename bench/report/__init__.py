"""Reports: RD plots, BD tables, timing tables, HTML/Markdown/LaTeX/CSV output."""

from bench.report.build import REPORT_FORMATS, report_runs, write_report, write_run_report

__all__ = ["REPORT_FORMATS", "report_runs", "write_report", "write_run_report"]
