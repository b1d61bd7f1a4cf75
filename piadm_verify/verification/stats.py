"""Statistics for the scaling-law checks of the theory suite and the reports (docs/mathematics.md §7, §9).

The suite turns each theorem into a claim about a rate (docs/mathematics.md §7): a slope of ``log error``
against ``log δ``, ``log ε`` or ``T``, or the growth of the minimal Picard count ``K*`` with ``d``.
This module fits those rates and turns them into verdicts with a stated false-failure rate.

Fits (``SlopeFit``; natural logarithms, so a log-log slope does not depend on the base)::

    fit_loglog:  log y = a + p·log x      (y ∝ x^p)
    fit_semilog: log y = a + r·x          (y ∝ e^{r x})
    fit_linlog:      y = a + b·log x      (K* = a + b log d)

by ordinary least squares (statsmodels ``OLS``). Monte Carlo data pass ``groups`` (replicate ids):
points computed from the same replicate share noise, so the slope's standard error is then the
cluster-robust one by replicate, referred to t(G − 1) for G replicates. Deterministic data (the
exact-law oracle, docs/mathematics.md §8) have residuals at round-off level: the standard error is then
≈ 0 and every interval collapses onto the estimate, so a check reduces to comparing the estimate
with its bound. That is the intended behaviour (no noise, no slack), and an exact fit gives
``stderr == 0`` rather than NaN.

Verdicts (``CheckResult``) follow one convention for the burden of proof:

- Bound-type claims (``check_slope_at_most``, ``check_slope_at_least``, ``check_value_at_most``):
  H0 = the claim holds; the check fails only when the data reject H0 at level α. So α is the
  false-failure rate (attained when the true value sits exactly on the bound, smaller inside).
  A ``margin`` Δ widens the bound (``slope ≥ p* − Δ``) for claims that are only asymptotic.
- docs/mathematics.md §7's bound-type claims, where the data must show the rate
  (``check_slope_shown_at_least``/``_at_most``): pass iff the one-sided (1 − α) confidence
  limit is on the claim's side of the bound (``slope_lower_CI ≥ p* − Δ``). The false-failure
  rate then depends on the design and is reported for an anticipated true slope. On exact
  oracle data both conventions give the same verdict.
- Exact-rate claims (``check_slope_equivalent``): TOST. H0 = the slope lies outside
  ``target ± margin``; the check passes only when the data reject that at level α. Here α is the
  probability of wrongly declaring equivalence, and the false-failure rate depends on the
  interval's width against the margin (``tost_false_failure_rate``).
- ``CheckResult.ci`` is always the two-sided (1 − 2α) interval: its ends are the one-sided
  (1 − α) limits that the bound checks and TOST compare with their bounds.
- Families: ``holm`` runs Holm's step-down over members that carry a p-value and gives each
  interval-only member the Bonferroni share α_family/m, so that the family fails with probability
  ≤ α_family when every claim holds. The suite uses α_family ≤ 1e-4 (docs/mathematics.md §9).

``required_replicates`` and ``detectable_discrepancy`` say how many samples a check needs to
detect a given violation, and how large a violation a given fit can detect.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.tools.sm_exceptions import ConvergenceWarning

__all__ = [
    "SlopeFit",
    "fit_loglog",
    "fit_semilog",
    "fit_linlog",
    "CheckResult",
    "check_slope_at_most",
    "check_slope_shown_at_least",
    "check_slope_shown_at_most",
    "check_slope_at_least",
    "check_slope_equivalent",
    "tost_false_failure_rate",
    "check_value_at_most",
    "check_exact_value_at_most",
    "NestedModelResult",
    "nested_log_vs_power",
    "FamilyResult",
    "holm",
    "required_replicates",
    "detectable_discrepancy",
]

# Power at which the one-sided checks report the smallest violation they would detect.
_REPORTED_POWER = 0.9
# K* "grows" only if its fitted rise across the d range exceeds this share of max |K*| (round-off).
_GROWTH_ROUND_OFF = 1e-9


# Student's t through scipy.special (what scipy.stats.t calls underneath), without the
# distribution object's per-call overhead: calibration loops call these thousands of times.
def _t_quantile(probability: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (``df = inf``: standard normal)."""
    return float(special.stdtrit(df, probability))


def _t_cdf(value: float, df: float) -> float:
    """``P(T ≤ value)`` for T ~ t(df) (``df = inf``: standard normal)."""
    return float(special.stdtr(df, value))


def _interval(estimate: float, stderr: float, df: float, level: float) -> tuple[float, float]:
    """Two-sided interval ``estimate ± q·stderr``, q the (1 + level)/2 quantile of t(df)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    half_width = _t_quantile(0.5 + level / 2.0, df) * stderr
    return (estimate - half_width, estimate + half_width)


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    return float(alpha)


# --------------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlopeFit:
    """A straight line ``response = intercept + estimate · regressor`` fitted by OLS.

    ``kind`` says what was regressed on what (natural logarithms):
    ``"loglog"`` log y on log x, ``"semilog"`` log y on x, ``"linlog"`` y on log x.

    ``estimate``, ``stderr``
        The slope and its standard error: OLS, or cluster-robust by replicate when the fit was
        given ``groups`` (``cov_type`` ``"nonrobust"`` or ``"cluster"``).
    ``ci``, ``level``
        The two-sided interval ``estimate ± q·stderr`` at confidence ``level``, q the
        (1 + level)/2 quantile of t(df); ``interval`` gives it at any other level.
    ``df``
        Degrees of freedom of the t reference: n − 2 for OLS, G − 1 with G replicate groups.
    ``residual_max``
        ``max |residual|`` on the fitted scale (log y for loglog/semilog): ≈ 1e-15 for an exact
        power law, so a report can tell deterministic data from noisy data at a glance.
    """

    estimate: float
    stderr: float
    ci: tuple[float, float]
    level: float
    intercept: float
    n_points: int
    df: int
    kind: str
    residual_max: float
    cov_type: str
    n_groups: int | None

    def interval(self, level: float) -> tuple[float, float]:
        """The two-sided confidence interval at ``level``: ``estimate ± t_{(1+level)/2, df}·stderr``."""
        return _interval(self.estimate, self.stderr, self.df, level)

    def lower_limit(self, confidence: float) -> float:
        """The one-sided lower confidence limit ``estimate − t_{confidence, df}·stderr``."""
        return self.interval(2.0 * confidence - 1.0)[0]

    def upper_limit(self, confidence: float) -> float:
        """The one-sided upper confidence limit ``estimate + t_{confidence, df}·stderr``."""
        return self.interval(2.0 * confidence - 1.0)[1]


def _points(x, y, *, log_x: bool, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate the data and return (regressor, response) on the fitted scale."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"x and y must be 1-D, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"a slope with an error estimate needs at least 3 points, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    if log_x and np.any(x <= 0):
        raise ValueError("x must be positive for a logarithmic axis")
    if log_y and np.any(y <= 0):
        raise ValueError("y must be positive for a logarithmic axis")
    if np.ptp(x) == 0:
        raise ValueError("x must take at least two distinct values")
    return (np.log(x) if log_x else x), (np.log(y) if log_y else y)


def _fit_line(regressor: np.ndarray, response: np.ndarray, *, kind: str, groups, level: float, exact: bool = False) -> SlopeFit:
    design = np.column_stack([np.ones_like(regressor), regressor])
    model = OLS(response, design)
    if exact:
        if groups is not None:
            raise ValueError("exact=True is for deterministic data: it takes no replicate groups")
        result = model.fit()
        estimate = float(result.params[1])
        return SlopeFit(estimate=estimate, stderr=0.0, ci=(estimate, estimate), level=float(level),
                        intercept=float(result.params[0]), n_points=int(regressor.size), df=int(result.df_resid),
                        kind=kind, residual_max=float(np.max(np.abs(result.resid))), cov_type="exact", n_groups=None)
    if groups is None:
        result = model.fit()
        df, cov_type, n_groups = int(result.df_resid), "nonrobust", None
    else:
        groups = np.asarray(groups)
        if groups.shape != regressor.shape:
            raise ValueError(f"groups must have one id per point, got shape {groups.shape} for {regressor.size} points")
        # Integer codes: statsmodels' cluster covariance wants numeric group labels.
        codes = np.unique(groups, return_inverse=True)[1]
        n_groups = int(codes.max()) + 1
        if n_groups < 2:
            raise ValueError("cluster-robust errors need at least 2 replicate groups")
        result = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        df, cov_type = int(result.df_resid_inference), "cluster"
    # An exact fit has zero residual variance; round-off can leave the sandwich's diagonal at
    # -1e-40, whose square root would be NaN, so clip at zero.
    stderr = math.sqrt(max(float(np.asarray(result.cov_params())[1, 1]), 0.0))
    estimate = float(result.params[1])
    return SlopeFit(
        estimate=estimate,
        stderr=stderr,
        ci=_interval(estimate, stderr, df, level),
        level=float(level),
        intercept=float(result.params[0]),
        n_points=int(regressor.size),
        df=df,
        kind=kind,
        residual_max=float(np.max(np.abs(result.resid))),
        cov_type=cov_type,
        n_groups=n_groups,
    )


def fit_loglog(x, y, *, groups=None, level: float = 0.95, exact: bool = False) -> SlopeFit:
    """Power law ``y ∝ x^p``: OLS of ``log y = a + p·log x``; the slope is p.

    ``groups`` (one replicate id per point) switches to cluster-robust standard errors by
    replicate, for Monte Carlo points that share noise. ``exact=True`` declares the data
    deterministic (exact-law oracle values): there is no sampling error, the residuals measure
    only how far the data are from a straight line (``residual_max``), so ``stderr = 0`` and every
    interval collapses onto the least-squares slope. Raises ValueError for non-positive x or
    y, mismatched lengths, fewer than 3 points or a single distinct x.
    """
    regressor, response = _points(x, y, log_x=True, log_y=True)
    return _fit_line(regressor, response, kind="loglog", groups=groups, level=level, exact=exact)


def fit_semilog(x, y, *, groups=None, level: float = 0.95, exact: bool = False) -> SlopeFit:
    """Exponential law ``y ∝ e^{r x}``: OLS of ``log y = a + r·x``; the slope is the rate r per unit x.

    "Decays at least like e^{-T}" is ``check_slope_at_most(fit_semilog(T, err), -1, ...)``.
    Same options and errors as ``fit_loglog`` (only y must be positive).
    """
    regressor, response = _points(x, y, log_x=False, log_y=True)
    return _fit_line(regressor, response, kind="semilog", groups=groups, level=level, exact=exact)


def fit_linlog(x, y, *, groups=None, level: float = 0.95, exact: bool = False) -> SlopeFit:
    """Logarithmic growth ``y = a + b·log x`` by OLS; the slope is b (e.g. K* = a + b log d).

    Same options and errors as ``fit_loglog`` (only x must be positive).
    """
    regressor, response = _points(x, y, log_x=True, log_y=False)
    return _fit_line(regressor, response, kind="linlog", groups=groups, level=level, exact=exact)


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one statistical or exact assertion; truthy when it passed.

    ``estimate``, ``ci``
        The quantity checked and its two-sided (1 − 2α) interval, whose ends are the one-sided
        (1 − α) confidence limits that the check compares with its bound; ``(estimate, estimate)``
        for exact checks.
    ``alpha``
        The level of the test: for bound checks the false-failure rate (H0 = claim holds), for
        TOST the rate of wrongly declaring equivalence, 0 for exact checks.
    ``p_value``
        The p-value of H0 = "the claim holds" (small p fails the check); None when the verdict is
        interval-based (TOST, exact checks, the nested test). ``holm`` uses it.
    ``false_failure_rate``
        The probability that the check fails although its claim holds, at the least favourable
        true value the claim allows (None: equal to ``alpha``).
    """

    name: str
    claim: str
    estimate: float
    ci: tuple[float, float]
    alpha: float
    passed: bool
    p_value: float | None = None
    detail: str = ""
    false_failure_rate: float | None = None

    def __bool__(self) -> bool:
        return bool(self.passed)

    def summary(self) -> str:
        """One line: verdict, name, claim, estimate with its interval, α and p (and the detail)."""
        verdict = "PASS" if self.passed else "FAIL"
        low, high = self.ci
        level = "exact" if self.alpha == 0 else f"{100 * (1 - 2 * self.alpha):.6g}% CI"
        line = f"{verdict} {self.name}: {self.claim} | estimate {self.estimate:.6g}, {level} [{low:.6g}, {high:.6g}], α={self.alpha:.3g}"
        if self.p_value is not None:
            line += f", p={self.p_value:.3g}"
        if self.detail:
            line += f" | {self.detail}"
        return line


def _one_sided_check(estimate: float, stderr: float, df: float, limit: float, *, at_most: bool, alpha: float, name: str, claim: str, quantity: str) -> CheckResult:
    """Test H0: θ ≤ limit (``at_most``) or θ ≥ limit at level α; fail iff H0 is rejected.

    With ``t = (θ̂ − limit)/se`` the p-value of H0: θ ≤ limit is ``P(T ≥ t)``, T ~ t(df); failing
    iff ``p ≤ α`` is failing iff the one-sided (1 − α) lower limit ``θ̂ − t_{1−α}·se`` exceeds the
    limit. Mirror image for θ ≥ limit. A zero standard error (exact data) gives p = 0 when the
    estimate is on the wrong side of the limit and p = 1 otherwise.
    """
    alpha = _check_alpha(alpha)
    if not (math.isfinite(stderr) and stderr >= 0):
        raise ValueError(f"stderr must be finite and non-negative, got {stderr!r}")
    excess = estimate - limit if at_most else limit - estimate
    if stderr > 0:
        p_value = _t_cdf(-excess / stderr, df)
    else:
        p_value = 0.0 if excess > 0 else 1.0
    ci = _interval(estimate, stderr, df, 1.0 - 2.0 * alpha)
    side, decisive = ("≤", f"lower {1 - alpha:g} limit {ci[0]:.6g}") if at_most else ("≥", f"upper {1 - alpha:g} limit {ci[1]:.6g}")
    detectable = detectable_discrepancy(stderr, alpha=alpha, power=_REPORTED_POWER, df=df)
    detail = f"H0: {quantity} {side} {limit:.6g}; one-sided {decisive}; detects a violation ≥ {detectable:.3g} with power {_REPORTED_POWER:g}"
    return CheckResult(name=name, claim=claim, estimate=float(estimate), ci=ci, alpha=alpha, passed=p_value > alpha,
                       p_value=p_value, detail=detail, false_failure_rate=alpha)


def _check_margin(margin: float) -> float:
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be finite and non-negative, got {margin!r}")
    return float(margin)


def check_slope_at_most(fit: SlopeFit, bound: float, *, alpha: float, margin: float = 0.0, name: str, claim: str | None = None) -> CheckResult:
    """Bound-type claim ``slope ≤ bound + margin`` (e.g. decay at least like e^{-T}: semilog slope ≤ −1).

    H0 = the claim holds. Fails iff the one-sided (1 − α) LOWER confidence limit of the slope
    exceeds ``bound + margin``, i.e. only on significant evidence against the claim; the
    false-failure rate is α (attained when the true slope equals ``bound + margin``).
    ``margin`` ≥ 0 is the tolerance for claims that hold only asymptotically. With exact data
    (stderr ≈ 0) this is ``slope ≤ bound + margin``. ``CheckResult.p_value = P(T ≥ (p̂ − bound − margin)/se)``.
    """
    margin = _check_margin(margin)
    claim = claim or f"{fit.kind} slope ≤ {bound:g}" + (f" + {margin:g}" if margin else "")
    return _one_sided_check(fit.estimate, fit.stderr, fit.df, bound + margin, at_most=True, alpha=alpha, name=name, claim=claim, quantity="slope")


def check_slope_at_least(fit: SlopeFit, bound: float, *, alpha: float, margin: float = 0.0, name: str, claim: str | None = None) -> CheckResult:
    """Bound-type claim ``slope ≥ bound − margin`` (e.g. the floor falls at least linearly in ε).

    H0 = the claim holds. Fails iff the one-sided (1 − α) UPPER confidence limit of the slope is
    below ``bound − margin``; the false-failure rate is α (attained when the true slope equals
    ``bound − margin``). With exact data this is ``slope ≥ bound − margin``.
    ``CheckResult.p_value = P(T ≥ (bound − margin − p̂)/se)``.
    """
    margin = _check_margin(margin)
    claim = claim or f"{fit.kind} slope ≥ {bound:g}" + (f" − {margin:g}" if margin else "")
    return _one_sided_check(fit.estimate, fit.stderr, fit.df, bound - margin, at_most=False, alpha=alpha, name=name, claim=claim, quantity="slope")


def _shown_check(fit: SlopeFit, limit: float, *, at_least: bool, alpha: float, anticipated: float | None, name: str, claim: str) -> CheckResult:
    """Pass iff the one-sided (1 − α) confidence limit lies on the claim's side of ``limit``."""
    alpha = _check_alpha(alpha)
    q = _t_quantile(1.0 - alpha, fit.df)
    ci = fit.interval(1.0 - 2.0 * alpha)
    decisive = ci[0] if at_least else ci[1]
    passed = decisive >= limit if at_least else decisive <= limit
    anticipated = fit.estimate if anticipated is None else float(anticipated)
    # Fails when p̂ ∓ q·se crosses the limit; its probability if the true slope is ``anticipated``.
    slack = (anticipated - limit) if at_least else (limit - anticipated)
    if fit.stderr == 0:
        false_failure = 0.0 if slack >= 0 else 1.0
    else:
        false_failure = float(_t_cdf(q - slack / fit.stderr, fit.df))
    side = "≥" if at_least else "≤"
    which = "lower" if at_least else "upper"
    detail = (f"shown iff the one-sided {1 - alpha:g} {which} limit {decisive:.6g} {side} {limit:.6g}; "
              f"false-failure rate if the slope is {anticipated:.4g}: {false_failure:.3g}")
    return CheckResult(name=name, claim=claim, estimate=fit.estimate, ci=ci, alpha=alpha, passed=passed,
                       p_value=None, detail=detail, false_failure_rate=false_failure)


def check_slope_shown_at_least(fit: SlopeFit, bound: float, *, alpha: float, margin: float = 0.0, anticipated: float | None = None,
                               name: str, claim: str | None = None) -> CheckResult:
    """docs/mathematics.md §7's convention for a bound-type claim: the data must SHOW ``slope ≥ bound − margin``.

    Passes iff the one-sided (1 − α) lower confidence limit ``p̂ − t_{1−α}·se`` is ``≥ bound − margin``
    (the measured rate is at least as good as the bound). α is the probability of passing when
    the true slope sits exactly on ``bound − margin``; the false-failure rate depends on how far
    the true slope lies inside the claim: ``false_failure_rate`` gives it for a true slope equal to
    ``anticipated`` (default: the estimate). With exact data this is ``slope ≥ bound − margin``,
    the same verdict as :func:`check_slope_at_least`.
    """
    margin = _check_margin(margin)
    claim = claim or f"{fit.kind} slope shown ≥ {bound:g}" + (f" − {margin:g}" if margin else "")
    return _shown_check(fit, bound - margin, at_least=True, alpha=alpha, anticipated=anticipated, name=name, claim=claim)


def check_slope_shown_at_most(fit: SlopeFit, bound: float, *, alpha: float, margin: float = 0.0, anticipated: float | None = None,
                              name: str, claim: str | None = None) -> CheckResult:
    """Mirror of :func:`check_slope_shown_at_least`: passes iff the one-sided (1 − α) UPPER limit is ``≤ bound + margin``."""
    margin = _check_margin(margin)
    claim = claim or f"{fit.kind} slope shown ≤ {bound:g}" + (f" + {margin:g}" if margin else "")
    return _shown_check(fit, bound + margin, at_least=False, alpha=alpha, anticipated=anticipated, name=name, claim=claim)


def tost_false_failure_rate(fit: SlopeFit, margin: float, *, alpha: float) -> float:
    """Probability that ``check_slope_equivalent`` fails although the true slope equals the target.

    TOST fails iff ``|p̂ − target| > margin − q·se`` with q = t_{1−α, df}. Taking the fit's
    standard error as the true one (plug-in) and the t(df) law for ``(p̂ − target)/se`` (heavier
    tails than the normal, so on the safe side)::

        rate = 2·P(T > margin/se − q)   if margin > q·se,   else 1.

    Exact data (se = 0) give 0 for any positive margin. The rate does not depend on the target.
    Tests assert it is ≤ 1e-4 to show their design (points, replicates, margin) is adequate.
    """
    alpha = _check_alpha(alpha)
    margin = _check_margin(margin)
    slack = margin - _t_quantile(1.0 - alpha, fit.df) * fit.stderr
    if slack <= 0:
        return 1.0
    if fit.stderr == 0:
        return 0.0
    return float(min(1.0, 2.0 * _t_cdf(-slack / fit.stderr, fit.df)))


def check_slope_equivalent(fit: SlopeFit, target: float, margin: float, *, alpha: float, name: str, claim: str | None = None) -> CheckResult:
    """Exact-rate claim ``|slope − target| < margin`` by two one-sided tests (TOST).

    H0 = the slope lies outside ``[target − margin, target + margin]``; passes iff both one-sided
    tests reject at level α, i.e. iff the two-sided (1 − 2α) interval lies inside
    ``[target − margin, target + margin]``. α is the probability of wrongly declaring
    equivalence; the false-failure rate (failing although slope == target) is
    ``tost_false_failure_rate(fit, margin, alpha=alpha)``, stored in ``false_failure_rate``.
    ``p_value`` is None (its H0 is not the claim); the TOST p-value
    ``max(P(T ≥ (p̂ − target + margin)/se), P(T ≤ (p̂ − target − margin)/se))`` is in ``detail``.
    """
    alpha = _check_alpha(alpha)
    margin = _check_margin(margin)
    low, high = fit.interval(1.0 - 2.0 * alpha)
    passed = target - margin <= low and high <= target + margin
    if fit.stderr > 0:
        p_tost = max(_t_cdf(-(fit.estimate - target + margin) / fit.stderr, fit.df),
                     _t_cdf((fit.estimate - target - margin) / fit.stderr, fit.df))
    else:
        p_tost = 0.0 if abs(fit.estimate - target) < margin else 1.0
    false_failure = tost_false_failure_rate(fit, margin, alpha=alpha)
    claim = claim or f"{fit.kind} slope = {target:g} ± {margin:g}"
    detail = f"TOST p={p_tost:.3g}; false-failure rate at slope={target:g}: {false_failure:.3g}"
    return CheckResult(name=name, claim=claim, estimate=fit.estimate, ci=(low, high), alpha=alpha, passed=passed,
                       p_value=None, detail=detail, false_failure_rate=false_failure)


def check_value_at_most(estimate: float, stderr: float, bound: float, *, alpha: float, df: float = math.inf, margin: float = 0.0,
                        name: str, claim: str | None = None) -> CheckResult:
    """Bound-type claim ``value ≤ bound + margin`` for an estimate with standard error ``stderr``.

    Same convention as ``check_slope_at_most`` (H0 = claim holds; fail iff the one-sided
    (1 − α) lower limit ``estimate − t_{1−α, df}·stderr`` exceeds the bound; false-failure rate α).
    ``df = inf`` refers to the normal law (a mean of many replicates); pass n − 1 for a mean of n.
    """
    margin = _check_margin(margin)
    claim = claim or f"value ≤ {bound:g}" + (f" + {margin:g}" if margin else "")
    return _one_sided_check(float(estimate), float(stderr), df, bound + margin, at_most=True, alpha=alpha, name=name, claim=claim, quantity="value")


def check_exact_value_at_most(value: float, bound: float, *, rtol: float = 1e-9, name: str, claim: str | None = None) -> CheckResult:
    """Deterministic claim ``value ≤ bound`` for an exact (oracle) value: passes iff
    ``value ≤ bound + rtol·|bound|``, the ``rtol`` absorbing round-off. No randomness, so
    ``alpha = false_failure_rate = 0`` and ``ci = (value, value)``.
    """
    if not (math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be finite and non-negative, got {rtol!r}")
    value = float(value)
    claim = claim or f"value ≤ {bound:g}"
    return CheckResult(name=name, claim=claim, estimate=value, ci=(value, value), alpha=0.0,
                       passed=value <= bound + rtol * abs(bound), p_value=None,
                       detail=f"exact, rtol={rtol:g}", false_failure_rate=0.0)


# --------------------------------------------------------------------------------------------
# Rounds: log d against powers of d
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NestedModelResult:
    """The nested-model verdict of ``nested_log_vs_power``; truthy when it passed.

    Per power p (tuples aligned with ``powers``): ``power_coefficients`` c of the full model
    ``K* = a + b log d + c d^p``, its residual sum of squares ``rss_full``, the F statistic and
    raw and Holm-adjusted p-values of the power term, ``r2_gains = (rss_log − rss_full)/tss``
    (the share of K*'s total variation that the power term explains beyond log d),
    ``power_needed`` (significant after Holm AND r2_gain ≥ min_r2_gain), and ``rss_power_alone``
    of ``K* = a + c d^p`` for comparison with ``rss_log``. ``log_fit`` is ``K* = a + b log d``
    with its (1 − 2α) interval; ``growth``: its one-sided (1 − α) lower limit of b is > 0.
    ``decades = log10(max d / min d)`` (docs/mathematics.md §7 asks for ≥ 2.5).
    """

    name: str
    claim: str
    alpha: float
    min_r2_gain: float
    log_fit: SlopeFit
    growth: bool
    powers: tuple[float, ...]
    power_coefficients: tuple[float, ...]
    f_statistics: tuple[float, ...]
    p_values: tuple[float, ...]
    adjusted_p_values: tuple[float, ...]
    r2_gains: tuple[float, ...]
    power_needed: tuple[bool, ...]
    rss_log: float
    rss_full: tuple[float, ...]
    rss_power_alone: tuple[float, ...]
    tss: float
    decades: float
    passed: bool
    false_failure_rate: float

    def __bool__(self) -> bool:
        return bool(self.passed)

    def summary(self) -> str:
        """One line: verdict, growth rate b with its interval, and per power the Holm p and R² gain."""
        return self.as_check().summary()

    def as_check(self) -> CheckResult:
        """The verdict as a ``CheckResult`` (estimate b, its (1 − 2α) interval), e.g. for ``holm``."""
        per_power = ", ".join(f"d^{p:g}: p_Holm={q:.3g} ΔR²={g:.3g}" for p, q, g in zip(self.powers, self.adjusted_p_values, self.r2_gains))
        detail = f"{self.decades:.3g} decades; growth b>0: {self.growth}; {per_power}; RSS log {self.rss_log:.3g} vs power alone " + \
            ", ".join(f"{r:.3g}" for r in self.rss_power_alone)
        return CheckResult(name=self.name, claim=self.claim, estimate=self.log_fit.estimate, ci=self.log_fit.ci, alpha=self.alpha,
                           passed=self.passed, p_value=None, detail=detail, false_failure_rate=self.false_failure_rate)


def _f_test(full, restricted) -> tuple[float, float]:
    """statsmodels' F test of the restricted model within the full one, defined at zero residuals.

    ``F = ((RSS_r − RSS_f)/1) / (RSS_f/df_f)``. Exact data can make ``RSS_f`` exactly 0; then the
    power term either explains nothing (0/0: p = 1) or everything that was left (x/0: p = 0).
    """
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f_value, p_value, _ = full.compare_f_test(restricted)
    if math.isnan(p_value):
        explained = restricted.ssr - full.ssr
        return (math.inf, 0.0) if explained > 0 else (0.0, 1.0)
    # Round-off can leave RSS_full a hair above RSS_log, i.e. F < 0: report that as F = 0 (p = 1).
    return max(float(f_value), 0.0), float(p_value)


def nested_log_vs_power(d, k_star, *, powers: Sequence[float] = (0.25, 0.5, 1.0), alpha: float, min_r2_gain: float = 1e-3,
                        exact: bool = False, name: str, claim: str | None = None) -> NestedModelResult:
    """Is ``K* = a + b log d`` adequate, or does a power of d improve it? (docs/mathematics.md §7, rounds claim)

    For each power p the restricted model ``K* = a + b log d`` is nested in the full model
    ``K* = a + b log d + c d^p`` (d^p rescaled by its maximum for conditioning; c is reported in
    natural units). Per power:

    - statistical significance: statsmodels' ``compare_f_test``,
      ``F = (RSS_log − RSS_full) / (RSS_full/(n − 3))`` on (1, n − 3) df, Holm-adjusted across
      the powers (valid under any dependence between the tests);
    - practical significance: ``ΔR² = (RSS_log − RSS_full)/TSS``, TSS = Σ(K* − mean K*)², the
      share of K*'s variation across the d range that the power term explains beyond log d.

    The power term is needed iff its Holm-adjusted p ≤ α AND ``ΔR² ≥ min_r2_gain``. The check
    passes iff no power term is needed and K* grows: the one-sided (1 − α) lower limit of b is > 0,
    by more than round-off (the rise it gives across the d range, ``b·log(d_max/d_min)``, must exceed
    ``1e-9·max |K*|``: a constant K* fits b̂ ≈ ±1e-16 and must not pass on its sign).

    Deterministic data (oracle K*): the F test's denominator is then round-off (or the
    quantisation of an integer K*), so F is meaningless: it can be huge for a pure log law. The
    ΔR² criterion decides there: an exact log law leaves ΔR² at round-off level (~1e-30), an added
    ``c d^p`` term shows up as a finite share. For Monte Carlo data the F test decides and
    ``min_r2_gain`` only ignores effects too small to matter. The default 1e-3 sits far above
    round-off and below real power laws (an added 0.05·√d at 16 log-spaced 10 ≤ d ≤ 10⁴ on top of
    2 + 1.5 log d gives ΔR² ≈ 0.017: log d absorbs most of a power's variation, so the share
    left to the power term is small even when it matters). An integer K* leaves the log model a
    quantisation residual of variance ≈ 1/12 per point, so ΔR² ≤ RSS_log/TSS ≈ n/(12·TSS): a
    ``min_r2_gain`` above that guarantees that quantisation alone never fails the check (at the
    price of missing power terms hidden below the quantisation).

    False-failure rate (stored in the result): with independent normal errors and a true log law,
    the Holm family of F tests fails with probability ≤ α (the ΔR² gate only removes failures);
    the growth requirement adds ``P(lower limit of b ≤ 0)``, estimated with b̂ and its standard
    error as the truth (0 for exact data). Their sum bounds the rate.

    ``exact=True`` declares K* deterministic (computed from the exact-law oracle): nothing is
    random, the verdict is the same on every run, and the F tests and the growth limit act as a
    fixed decision rule that treats the residuals (rounding in the presets' integer N and M) as
    if they were noise, and growth is ``b̂ > 0`` (beyond round-off). A smaller α can then only make the check pass
    more easily. The false-failure rate is 0.

    ``rss_power_alone`` (``K* = a + c d^p``) is reported, not tested: with too few decades of d a
    power alone fits as well as log d and the data cannot tell them apart.
    """
    alpha = _check_alpha(alpha)
    if not (math.isfinite(min_r2_gain) and 0 <= min_r2_gain <= 1):
        raise ValueError(f"min_r2_gain must lie in [0, 1], got {min_r2_gain!r}")
    powers = tuple(float(p) for p in powers)
    if not powers or any(not (math.isfinite(p) and p > 0) for p in powers):
        raise ValueError(f"powers must be a non-empty sequence of positive numbers, got {powers!r}")
    log_d, k_values = _points(d, k_star, log_x=True, log_y=False)
    if log_d.size < 4:
        raise ValueError(f"the full model has 3 coefficients: need at least 4 points, got {log_d.size}")
    d_values = np.exp(log_d)

    log_fit = _fit_line(log_d, k_values, kind="linlog", groups=None, level=1.0 - 2.0 * alpha)
    ones = np.ones_like(log_d)
    restricted = OLS(k_values, np.column_stack([ones, log_d])).fit()
    tss = float(np.sum((k_values - k_values.mean()) ** 2))

    coefficients, f_statistics, p_values, r2_gains, rss_full, rss_alone = [], [], [], [], [], []
    for p in powers:
        scale = float(np.max(d_values**p))
        power_column = d_values**p / scale
        full = OLS(k_values, np.column_stack([ones, log_d, power_column])).fit()
        f_value, p_value = _f_test(full, restricted)
        coefficients.append(float(full.params[2]) / scale)
        f_statistics.append(f_value)
        p_values.append(p_value)
        # Round-off can leave RSS_full a hair above RSS_log; a negative share means "nothing".
        r2_gains.append(max(restricted.ssr - full.ssr, 0.0) / tss if tss > 0 else 0.0)
        rss_full.append(float(full.ssr))
        rss_alone.append(float(OLS(k_values, np.column_stack([ones, power_column])).fit().ssr))

    reject, adjusted = multipletests(p_values, alpha=alpha, method="holm")[:2]
    power_needed = tuple(bool(r) and g >= min_r2_gain for r, g in zip(reject, r2_gains))
    # log_fit.ci is the (1 − 2α) interval: its lower end is the one-sided (1 − α) lower limit of b.
    # Deterministic K* has no sampling error: growth is the fitted b itself being positive. Either
    # way the rise it gives across the sweep must exceed round-off: a constant K* fits b̂ ≈ ±1e-16.
    span = float(log_d.max() - log_d.min())
    rise_floor = _GROWTH_ROUND_OFF * max(1.0, float(np.max(np.abs(k_values))))
    growth = (log_fit.estimate if exact else log_fit.ci[0]) * span > rise_floor
    if log_fit.stderr > 0:
        growth_miss = _t_cdf(_t_quantile(1.0 - alpha, log_fit.df) - log_fit.estimate / log_fit.stderr, log_fit.df)
    else:
        growth_miss = 0.0 if log_fit.estimate * span > rise_floor else 1.0
    return NestedModelResult(
        name=name,
        claim=claim or "K* = a + b log d with b > 0; no power d^p improves it",
        alpha=alpha,
        min_r2_gain=float(min_r2_gain),
        log_fit=log_fit,
        growth=bool(growth),
        powers=powers,
        power_coefficients=tuple(coefficients),
        f_statistics=tuple(f_statistics),
        p_values=tuple(p_values),
        adjusted_p_values=tuple(float(q) for q in adjusted),
        r2_gains=tuple(float(g) for g in r2_gains),
        power_needed=power_needed,
        rss_log=float(restricted.ssr),
        rss_full=tuple(rss_full),
        rss_power_alone=tuple(rss_alone),
        tss=tss,
        decades=float(np.log10(d_values.max() / d_values.min())),
        passed=bool(growth and not any(power_needed)),
        false_failure_rate=0.0 if exact else min(1.0, alpha + growth_miss),
    )


# --------------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyResult:
    """Adjusted verdicts of a family of checks; truthy when every member passed.

    Tuples are aligned with the members: ``p_values`` (None for interval-only members),
    ``adjusted_p_values`` (a member fails iff its adjusted p ≤ ``alpha_family``; None for
    interval-only members, which were held to the Bonferroni share α_family/m) and
    ``member_passed``.
    """

    alpha_family: float
    names: tuple[str, ...]
    p_values: tuple[float | None, ...]
    adjusted_p_values: tuple[float | None, ...]
    member_passed: tuple[bool, ...]
    passed: bool

    def __bool__(self) -> bool:
        return bool(self.passed)

    def summary(self) -> str:
        """One line: verdict, family size and level, and the members that failed."""
        failed = [name for name, ok in zip(self.names, self.member_passed) if not ok]
        line = f"{'PASS' if self.passed else 'FAIL'} family of {len(self.names)} at α_family={self.alpha_family:.3g} (Holm)"
        return line + (f": failed {', '.join(failed)}" if failed else "")


def holm(members: Sequence[CheckResult] | Sequence[float], alpha_family: float) -> FamilyResult:
    """Holm–Bonferroni over a family, so that P(some member fails | every claim holds) ≤ α_family.

    ``members`` are p-values (of H0 = claim holds) or ``CheckResult``s. With m members:

    - interval-only members (``p_value`` None: TOST, exact and nested checks) cannot be re-tested
      at another level, so each gets the Bonferroni share α_family/m (Holm's first step, the
      most it can guarantee without a p-value) and keeps its own verdict; a member whose
      false-failure rate exceeds that share raises ValueError (rerun it at α_family/m);
    - the m_p members with p-values share the rest, α_family·m_p/m, by Holm's step-down
      (statsmodels ``multipletests(method="holm")``): sort the p-values, fail the i-th smallest
      while ``p_(i) ≤ level/(m_p − i + 1)``, stop at the first that survives.

    The union bound over both parts gives α_family. When every member has a p-value this is plain
    Holm at α_family and ``adjusted_p_values`` equal statsmodels' ``pvals_corrected``.
    """
    if not 0.0 < alpha_family < 1.0:
        raise ValueError(f"alpha_family must lie in (0, 1), got {alpha_family!r}")
    items = list(members)
    if not items:
        raise ValueError("a family needs at least one member")
    if all(isinstance(item, CheckResult) for item in items):
        names = tuple(item.name for item in items)
        p_values = [item.p_value for item in items]
    elif not any(isinstance(item, CheckResult) for item in items):
        names = tuple(f"p[{i}]" for i in range(len(items)))
        p_values = [float(item) for item in items]
        if any(not 0.0 <= p <= 1.0 for p in p_values):
            raise ValueError("p-values must lie in [0, 1]")
    else:
        raise TypeError("members must be all CheckResults or all p-values")

    m = len(items)
    share = alpha_family / m
    tested = [i for i, p in enumerate(p_values) if p is not None]
    member_passed = [False] * m
    adjusted: list[float | None] = [None] * m
    for i, item in enumerate(items):
        if p_values[i] is not None:
            continue
        rate = item.alpha if item.false_failure_rate is None else item.false_failure_rate
        # Relative slack so that a member run at exactly alpha_family/m is not refused for round-off.
        if rate > share * (1.0 + 1e-9):
            raise ValueError(f"{item.name}: false-failure rate {rate:.3g} exceeds its Bonferroni share {share:.3g} of α_family")
        member_passed[i] = bool(item.passed)
    if tested:
        level = alpha_family * len(tested) / m
        reject, corrected = multipletests([p_values[i] for i in tested], alpha=level, method="holm")[:2]
        for i, rejected, corrected_p in zip(tested, reject, corrected):
            member_passed[i] = not bool(rejected)
            # Rescaled so that "adjusted p ≤ alpha_family" is the verdict at the subfamily's level.
            adjusted[i] = float(min(1.0, corrected_p * m / len(tested)))
    return FamilyResult(alpha_family=float(alpha_family), names=names, p_values=tuple(p_values), adjusted_p_values=tuple(adjusted),
                        member_passed=tuple(member_passed), passed=all(member_passed))


# --------------------------------------------------------------------------------------------
# Sample sizes
# --------------------------------------------------------------------------------------------


def required_replicates(effect: float, sd: float, *, alpha: float, power: float) -> int:
    """Replicates n for a one-sided level-α check on a mean to detect a violation ``effect`` with ``power``.

    The check is the one-sample t test of H0: μ ≤ bound against μ = bound + effect, for
    replicates with standard deviation ``sd``: n solves ``P(noncentral t(n−1, √n·effect/sd) >
    t_{1−α, n−1}) = power`` (statsmodels ``TTestPower``), rounded up; roughly
    ``((z_{1−α} + z_{power})·sd/effect)²``, and at least 2 (also when 2 replicates already give more
    than ``power``). Used to justify sample sizes in test docstrings.
    """
    if not (effect > 0 and sd > 0):
        raise ValueError(f"effect and sd must be positive, got {effect!r} and {sd!r}")
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    analysis = TTestPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        n = float(analysis.solve_power(effect_size=effect / sd, nobs=None, alpha=alpha, power=power, alternative="larger"))
    if math.isnan(n):
        # The root finder searches n ≥ 2 and gives up (NaN) when 2 replicates already exceed the power.
        if analysis.power(effect_size=effect / sd, nobs=2, alpha=alpha, alternative="larger") >= power:
            return 2
        raise RuntimeError(f"statsmodels found no sample size for effect/sd={effect / sd:g}, alpha={alpha:g}, power={power:g}")
    return max(2, math.ceil(n))


def detectable_discrepancy(stderr: float, *, alpha: float, power: float, df: float = math.inf) -> float:
    """Smallest violation a one-sided level-α check detects with probability ``power``.

    For an estimate with standard error ``stderr`` (plug-in, t(df) quantiles)::

        discrepancy = (t_{1−α, df} + t_{power, df}) · stderr

    e.g. a slope check with se = 0.01 at α = 1e-4 detects a slope 0.05 past its bound with
    power 0.9. Zero for exact data.
    """
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    return (_t_quantile(1.0 - alpha, df) + _t_quantile(power, df)) * float(stderr)
