"""The sweep directory's format and its readers: records, tables, best.yaml, report.html. No Ray import."""

from sweeprunner.results.report import write_report
from sweeprunner.results.tables import load_trials, print_results, write_results

__all__ = ["load_trials", "print_results", "write_report", "write_results"]
