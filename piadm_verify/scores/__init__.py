"""Scores with known errors (docs/mathematics.md §6): the calibrated error injection that turns an
exact score into a model of a learned one."""

from .errors import KINDS, NORMS, Calibration, InjectedScore, combine_errors, inject_error

__all__ = ["inject_error", "InjectedScore", "Calibration", "combine_errors", "KINDS", "NORMS"]
