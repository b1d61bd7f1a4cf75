"""PIADM-ODE's claims (docs/mathematics.md §5, §7) as checks on the ODE studies' tables. The ODE
theorem bounds TV, so most claims read TV (exact, from the oracle), with KL alongside where the two
exponents differ. Names and theory strings are declared once below, as for the SDE
(:mod:`piadm_verify.verification.claims.sde`)."""

from __future__ import annotations

import numpy as np

from .. import stats
from ..tables import Table
from .base import ALPHA, Claim, failed_check, unusable_reason

__all__ = [
    "TV_SQRT_D_LIMIT", "TV_FLAT_CONSTANT", "ODE_EXACT_TOL",
    "LANGEVIN_BIAS_FIRST_ORDER", "CORRECTOR_RELAXES", "ODE_DELTA_TV", "ODE_DELTA_KL", "ODE_EPS_FLOOR", "ODE_TV_SQRT_D",
    "ODE_TV_SATURATES", "ODE_EXACT_WHEN_CONVERGED", "ODE_ROUNDS_ERROR_BOUNDED", "ODE_ROUNDS_ERROR_FLAT",
    "ODE_ROUNDS_LOG_GROWTH_K_STAR", "ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR", "ODE_PEAK_POINTS_SQRT_D", "ODE_SPACE_D_THREE_HALVES",
    "claim_langevin_bias_first_order", "claim_corrector_relaxes", "claim_ode_delta_rates", "claim_ode_step_floor",
    "claim_ode_sqrt_dimension", "claim_ode_exact_when_converged", "claim_ode_rounds",
    "langevin_bias_claims", "relaxation_claims", "ode_delta_claims", "ode_eps_claims", "ode_dimension_claims",
    "ode_exact_claims", "ode_rounds_claims",
]

TV_SQRT_D_LIMIT = 0.3
TV_FLAT_CONSTANT = 1.0
ODE_EXACT_TOL = 1e-10

LANGEVIN_BIAS_FIRST_ORDER = Claim("langevin_bias_first_order", "slope 1 in ε† (frozen force), ± 0.1")
CORRECTOR_RELAXES = Claim("corrector_relaxes", "TV to p_{s*} falls with corrector time")
ODE_DELTA_TV = Claim("ode_delta_tv_{kind}", "slope 1 (TV ∝ δ_∞), ± 0.1")
ODE_DELTA_KL = Claim("ode_delta_kl_{kind}", "slope 2 (KL ∝ δ_∞²), ± 0.1")
ODE_EPS_FLOOR = Claim("ode_eps_floor", "slope ≥ 1 − 0.05 (√d ε T)")
ODE_TV_SQRT_D = Claim("ode_tv_sqrt_d", f"slope ½ (TV ∝ √d while ≤ {TV_SQRT_D_LIMIT:g}), ± 0.05")
ODE_TV_SATURATES = Claim("ode_tv_saturates", "TV < 1, increasing")
ODE_EXACT_WHEN_CONVERGED = Claim("ode_exact_when_converged", f"TV = 0 once K ≥ M, K† ≥ M† (≤ {ODE_EXACT_TOL:g})")
ODE_ROUNDS_ERROR_BOUNDED = Claim("ode_rounds_error_bounded", f"TV / δ ≤ {TV_FLAT_CONSTANT:g}")
ODE_ROUNDS_ERROR_FLAT = Claim("ode_rounds_error_flat", "slope ≤ 0 (+0.1) in d")
ODE_ROUNDS_LOG_GROWTH_K_STAR = Claim("ode_rounds_log_growth_k_star", "K* = a + b log d, b > 0, no d^p")
ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR = Claim("ode_rounds_log_growth_corrector_k_star",
                                               "K†* = a + b log d, b > 0, no d^p")
ODE_PEAK_POINTS_SQRT_D = Claim("ode_peak_points_sqrt_d", "slope ½ (M ∨ M† ∝ √d), ± 0.05")
ODE_SPACE_D_THREE_HALVES = Claim("ode_space_d_three_halves", "slope 3/2 (d(M ∨ M†) ∝ d^{3/2}), ± 0.05")


def claim_langevin_bias_first_order(table: Table, alpha: float = ALPHA) -> stats.CheckResult:
    """Corrector with F = −x: the frozen force biases Var x after unit time by O(ε†): the log-log
    slope of the bias in ε† is 1 ± 0.1 (TOST; exact data), and the bias is positive."""
    name, claim = LANGEVIN_BIAS_FIRST_ORDER.name, "Var x − 1 after unit time is first order in ε† (F = −x)"
    bias = table.column("var_bias")
    reason = unusable_reason(bias)
    if reason:
        return failed_check(name, claim, reason)
    fit = stats.fit_loglog(table.column("eps"), bias, exact=True)
    return stats.check_slope_equivalent(fit, 1.0, 0.1, alpha=alpha, name=name, claim=claim)


def claim_corrector_relaxes(table: Table) -> stats.CheckResult:
    """The corrector moves a mis-scaled law towards p_{s*}: TV falls at every sub-block and by at
    least a factor 5 over the sweep (exact)."""
    tv = table.column("tv")
    falling = bool(np.all(np.diff(tv) < 0))
    ratio = float(tv[-1] / tv[0])
    return stats.CheckResult(CORRECTOR_RELAXES.name, "TV(p_{s*}, law) decreases with corrector time", ratio, (ratio, ratio),
                             0.0, falling and ratio <= 0.2, detail=f"TV {tv[0]:.3g} → {tv[-1]:.3g}; monotone: {falling}",
                             false_failure_rate=0.0)


def claim_ode_delta_rates(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    """δ_∞ (L^∞-calibrated affine errors): TV(q̂_0, q̂_δ) ∝ δ (TOST 1 ± 0.1) and KL ∝ δ² (TOST 2 ± 0.1):
    two different exponents for the same perturbations (exact data)."""
    out = []
    for kind in dict.fromkeys(table.column("kind")):
        rows = table.where(kind=kind)
        for column, target, declared in (("tv", 1.0, ODE_DELTA_TV), ("kl", 2.0, ODE_DELTA_KL)):
            name = declared.named(kind=kind)
            claim = f"{column.upper()} ∝ δ_∞^{target:g} ({kind} error)"
            reason = unusable_reason(rows.column(column))
            if reason:
                out.append(failed_check(name, claim, reason))
                continue
            fit = stats.fit_loglog(rows.column("delta"), rows.column(column), exact=True)
            out.append(stats.check_slope_equivalent(fit, target, 0.1, alpha=alpha, name=name, claim=claim))
    return out


def claim_ode_step_floor(table: Table, alpha: float = ALPHA) -> stats.CheckResult:
    """ε: the error-free TV floor falls at least linearly in ε (the theorem's √d ε T), shown with the
    margin 0.05 that the pre-asymptotic range needs (local slopes approach 1 from below)."""
    name, claim = ODE_EPS_FLOOR.name, "TV floor decreases at least like ε"
    reason = unusable_reason(table.column("tv"))
    if reason:
        return failed_check(name, claim, reason)
    fit = stats.fit_loglog(table.column("eps"), table.column("tv"), exact=True)
    return stats.check_slope_shown_at_least(fit, 1.0, alpha=alpha, margin=0.05, name=name, claim=claim)


def claim_ode_sqrt_dimension(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    """d at fixed ε: for product targets TV grows like √d while TV ≤ 0.3 (TOST 0.5 ± 0.05) and
    saturates below 1 (increasing, < 1 at the largest d)."""
    d, tv = table.column("d"), table.column("tv")
    name, claim = ODE_TV_SQRT_D.name, "TV ∝ √d for product targets while TV ≤ 0.3"
    window = tv <= TV_SQRT_D_LIMIT
    if window.sum() < 3 or unusable_reason(tv[window]):
        growth = failed_check(name, claim, f"only {int(window.sum())} dimensions with TV ≤ {TV_SQRT_D_LIMIT:g}")
    else:
        fit = stats.fit_loglog(d[window], tv[window], exact=True)
        growth = stats.check_slope_equivalent(fit, 0.5, 0.05, alpha=alpha, name=name, claim=claim)
    saturates = bool(np.all(np.diff(tv) > 0) and tv[-1] < 1.0)
    top = float(tv[-1])
    return [growth, stats.CheckResult(ODE_TV_SATURATES.name, "TV increases with d and stays below 1", top, (top, top), 0.0,
                                      saturates, detail=f"TV at d={int(d[-1])}: {top:.3g}", false_failure_rate=0.0)]


def claim_ode_exact_when_converged(table: Table) -> stats.CheckResult:
    """K ≥ M and K† ≥ M† reproduce the sequential ODE law (TV ≤ 1e-10; exact)."""
    tv = table.column("tv")[np.asarray(table.column("converged"), dtype=bool)]
    worst = float(np.nan_to_num(tv, nan=1.0).max())
    return stats.check_exact_value_at_most(worst, ODE_EXACT_TOL, rtol=0.0, name=ODE_EXACT_WHEN_CONVERGED.name,
                                           claim="K ≥ M, K† ≥ M† give the sequential ODE law")


def claim_ode_rounds(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    """Under the ODE presets: TV ≤ δ at the preset counts and flat in d; K* and K†* grow like
    log d (nested test); peak points M ∨ M† grow like √d and space like d^{3/2} (up to log factors)."""
    delta = table.settings["delta"]
    d = table.column("d")
    out = []
    if "tv_preset" in table.columns:
        out += _ode_rounds_picard(table, d, delta, alpha)
    peak = stats.fit_loglog(d, table.column("peak_points") / table.column("log_term"), exact=True)
    out.append(stats.check_slope_equivalent(peak, 0.5, 0.05, alpha=alpha, name=ODE_PEAK_POINTS_SQRT_D.name,
                                            claim="(M ∨ M†) / log(dδ⁻²) ∝ √d"))
    space = stats.fit_loglog(d, table.column("space") / table.column("log_term"), exact=True)
    out.append(stats.check_slope_equivalent(space, 1.5, 0.05, alpha=alpha, name=ODE_SPACE_D_THREE_HALVES.name,
                                            claim="d(M ∨ M†) / log(dδ⁻²) ∝ d^{3/2}"))
    return out


def _ode_rounds_picard(table: Table, d, delta: float, alpha: float) -> list[stats.CheckResult]:
    """The rounds claims that need the laws: TV at the preset counts, and K*, K†* against log d."""
    tv = np.nan_to_num(table.column("tv_preset"), nan=1.0)
    out = [stats.check_exact_value_at_most(float(tv.max() / delta), TV_FLAT_CONSTANT, rtol=0.0, name=ODE_ROUNDS_ERROR_BOUNDED.name,
                                           claim=f"TV ≤ {TV_FLAT_CONSTANT:g}·δ at the preset K, K† for every d")]
    name, claim = ODE_ROUNDS_ERROR_FLAT.name, "TV at the preset counts is flat in d (log-log slope ≤ 0.1)"
    reason = unusable_reason(tv)
    if reason:
        out.append(failed_check(name, claim, reason))
    else:
        out.append(stats.check_slope_shown_at_most(stats.fit_loglog(d, tv, exact=True), 0.0, alpha=alpha, margin=0.1,
                                                   name=name, claim=claim))
    for column, label, declared in (("k_star", "K*", ODE_ROUNDS_LOG_GROWTH_K_STAR),
                                    ("corrector_k_star", "K†*", ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR)):
        name, claim = declared.name, f"{label} = a + b log d, no power of d needed"
        values = table.column(column)
        if not np.all(np.isfinite(values)):
            out.append(failed_check(name, claim, "the Picard distance never reached the tolerance for some d"))
        else:
            out.append(stats.nested_log_vs_power(d, values, alpha=alpha, exact=True, name=name, claim=claim).as_check())
    return out


# -- the judges of the ODE studies ------------------------------------------------------------------------------
def langevin_bias_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return [claim_langevin_bias_first_order(table, alpha=alpha)]


def relaxation_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return [claim_corrector_relaxes(table)]


def ode_delta_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return claim_ode_delta_rates(table, alpha=alpha)


def ode_eps_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return [claim_ode_step_floor(table, alpha=alpha)]


def ode_dimension_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return claim_ode_sqrt_dimension(table, alpha=alpha)


def ode_exact_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return [claim_ode_exact_when_converged(table)]


def ode_rounds_claims(table: Table, alpha: float = ALPHA) -> list[stats.CheckResult]:
    return claim_ode_rounds(table, alpha=alpha)
