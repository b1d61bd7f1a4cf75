"""Scores with known errors (docs/mathematics.md §6): the calibrated error injection that turns an
exact score into a model of a learned one, and the estimator of a field's size on the grid
(:func:`grid_norm`) that calibrates it and measures learned scores (§14)."""

from .errors import KINDS, NORMS, Calibration, InjectedScore, combine_errors, grid_norm, inject_error

__all__ = ["inject_error", "InjectedScore", "Calibration", "grid_norm", "combine_errors", "KINDS", "NORMS"]
