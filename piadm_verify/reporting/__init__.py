"""Reports, plots and the error-rate baseline (docs/mathematics.md §7): the top of the package below
the command line. Nothing here computes a result: tables come from the studies, verdicts from
their claims."""

from .baseline import BaselineError
from .report import ReportError, write_report
from .suites import SUITES

__all__ = ["SUITES", "write_report", "ReportError", "BaselineError"]
