"""Verification machinery (docs/mathematics.md §7, §9): result tables, statistics (fits, one-sided
and equivalence checks, Holm families), estimators for non-Gaussian targets and the theorems'
claims by tier."""

from . import claims, estimators, stats
from .tables import Table

__all__ = ["Table", "claims", "estimators", "stats"]
