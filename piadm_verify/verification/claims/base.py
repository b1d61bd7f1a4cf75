"""What every claim module shares: the levels, the :class:`Claim` declaration (a claim's name and
what the theory says, written once) and the helpers that turn a table into a verdict.

Each claim function reads a :class:`~piadm_verify.verification.tables.Table` and returns a
:class:`~piadm_verify.verification.stats.CheckResult` (or a list of them) named after its
:class:`Claim`. Oracle tables are deterministic: their slopes are least-squares slopes fitted with
``exact=True`` (no sampling error, so no false failures), and the verdict compares the slope with
the bound. Monte Carlo claims state their α.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .. import stats
from ..tables import Table

__all__ = ["ALPHA", "ALPHA_FAMILY", "Claim", "failed_check", "unusable_reason", "replicate_summary",
           "quadratic_in_delta"]

ALPHA = 1e-4  # per claim
ALPHA_FAMILY = 1e-4  # family-wise (Holm) level of a suite's claims together


@dataclass(frozen=True)
class Claim:
    """A claim, declared once: its ``name`` (a template whose ``{fields}`` name the kind, target or
    block length of claims made several times, e.g. ``"delta_quadratic_{kind}"``) and ``theory``,
    what the theorem says about the quantity (the report's summary shows it)."""

    name: str
    theory: str

    def named(self, **fields) -> str:
        """The name of one instance: ``DELTA_QUADRATIC.named(kind="bias") == "delta_quadratic_bias"``."""
        return self.name.format(**fields)

    def matches(self, name: str) -> bool:
        """Whether ``name`` is an instance of this claim."""
        pattern = "".join(".+?" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]*\})", self.name) if part)
        return re.fullmatch(pattern, name) is not None


def failed_check(name: str, claim: str, detail: str) -> stats.CheckResult:
    """A claim that cannot even be evaluated (too few points, a blown-up sampler) fails."""
    return stats.CheckResult(name, claim, math.nan, (math.nan, math.nan), 0.0, False, detail=detail, false_failure_rate=0.0)


def unusable_reason(*arrays) -> str | None:
    """Why a log-scale fit cannot use these values (non-finite or non-positive), or None."""
    for a in arrays:
        a = np.asarray(a, dtype=float)
        if not np.all(np.isfinite(a)):
            return "non-finite values: the sampler blew up"
        if np.any(a <= 0):
            return "non-positive values on a logarithmic axis"
    return None


def replicate_summary(values, replicates) -> tuple[float, float, int]:
    """Mean over replicates of the per-replicate means, its standard error sd/√R and R."""
    per = np.array([np.mean(values[replicates == r]) for r in np.unique(replicates)])
    stderr = float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.inf
    return float(per.mean()), stderr, int(per.size)


def quadratic_in_delta(rows: Table, column: str, margin: float, name: str, claim: str, alpha: float,
                       unusable_note: str = "") -> stats.CheckResult:
    """``rows[column]`` ∝ δ² over replicates: log-log slope in ``delta`` shown ≥ 2 − ``margin``
    (cluster-robust by ``replicate``, one-sided at ``alpha``)."""
    reason = unusable_reason(rows.column(column))
    if reason:
        return failed_check(name, claim, reason + unusable_note)
    fit = stats.fit_loglog(rows.column("delta"), rows.column(column), groups=rows.column("replicate"))
    return stats.check_slope_shown_at_least(fit, 2.0, alpha=alpha, margin=margin, anticipated=2.0, name=name,
                                            claim=claim)
