"""Direct tests of the decision rules in ``piadm_verify.stats`` and of the claims that use them
(issue 17).

Every check is put on hand-built fits (``SlopeFit`` with a chosen estimate, standard error and
degrees of freedom) right at, just inside and just outside its boundary, with intervals wide
enough that the two ends of the interval give different verdicts: a rule that reads the wrong end,
the wrong tail or the wrong level fails here even where every real claim sits far from its bound.
References are computed independently (``scipy.stats`` quantiles, a textbook Holm step-down, OLS
by ``numpy.linalg.lstsq``), and every ``at_least`` rule is checked against the mirror image of its
``at_most`` counterpart.

The stated rates (α for bound checks, the chance α of passing on the boundary for the "shown"
checks, the reported ``false_failure_rate`` for an anticipated slope, the TOST and nested-test
rates, Holm's family-wise rate) are checked by simulation: many fits with known truth, drawn from
a seeded ``numpy.random.Generator``, so each test is deterministic. Each statistical test's
docstring states its false-failure rate (the probability that a fresh seed would fail although
the code is right): an observed count is compared with a binomial band whose tails are
``BAND_TAIL`` each, so a band fails with probability ≤ 2e-6 and no test exceeds 1e-4.

The claims layer (``piadm_verify.claims``) is fed hand-built ``Table`` objects whose true rate
sits just on the wrong side of the claim's bound: with replicate noise for the Monte Carlo claims
(bound, shown and value kinds), noise-free just inside and outside for the claims that only exist
with exact fits (TOST, nested, exact value). Hypothesis runs derandomized, without a database.
"""

from __future__ import annotations

import functools
import gc
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from piadm_verify.verification.claims import mixture as mixture_claims
from piadm_verify.verification.claims import sde as sde_claims
from piadm_verify.verification.stats import (
    CheckResult,
    SlopeFit,
    check_exact_value_at_most,
    check_slope_at_least,
    check_slope_at_most,
    check_slope_equivalent,
    check_slope_shown_at_least,
    check_slope_shown_at_most,
    check_value_at_most,
    holm,
    nested_log_vs_power,
    tost_false_failure_rate,
)
from piadm_verify.verification import Table

ALPHA = 1e-4  # per-assertion level of the theory suite (SPEC.md §9)
BAND_TAIL = 1e-6  # each side of a binomial calibration band
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=100, deadline=None, derandomize=True, database=None)
DIMENSIONS = np.logspace(1, 4, 16)  # the rounds sweep's three decades of d


@pytest.fixture(autouse=True)
def cheap_gc_collect():
    """statsmodels' Holm (``multipletests``) calls ``gc.collect()`` on every call, ~0.2 s with
    torch imported; freezing the objects that exist now makes those collections cheap."""
    gc.freeze()
    yield
    gc.unfreeze()


# -- references -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def quantile(confidence: float, df: float) -> float:
    """The ``confidence`` quantile of t(df) (normal for df = inf), from scipy.stats (cached: the
    simulations build thousands of fits with the same df)."""
    law = scipy_stats.norm if math.isinf(df) else scipy_stats.t(df)
    return float(law.ppf(confidence))


def slope_fit(estimate: float, stderr: float, df: int, kind: str = "loglog") -> SlopeFit:
    """A hand-built fit. Its stored ``ci`` is the fit's default 95% interval: a check must not
    read it, but compute its own (1 − 2α) interval."""
    half = quantile(0.975, df) * stderr
    return SlopeFit(estimate=float(estimate), stderr=float(stderr), ci=(estimate - half, estimate + half), level=0.95,
                    intercept=0.0, n_points=df + 2, df=df, kind=kind, residual_max=0.0,
                    cov_type="nonrobust" if stderr > 0 else "exact", n_groups=None)


def binomial_band(trials: int, rate_low: float, rate_high: float | None = None) -> tuple[int, int]:
    """Counts outside which a Binomial(trials, r) falls with probability ≤ 2·BAND_TAIL for any r
    in [rate_low, rate_high] (one rate: rate_high = rate_low)."""
    rate_high = rate_low if rate_high is None else rate_high
    return int(scipy_stats.binom(trials, rate_low).ppf(BAND_TAIL)), int(scipy_stats.binom(trials, rate_high).ppf(1 - BAND_TAIL))


def t_draws(rng: np.random.Generator, n: int, df: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, S)`` with Z ~ N(0, 1) and S = √(χ²_df/df) independent: an estimate ``truth + σZ``
    with standard error ``σS`` has ``(estimate − truth)/stderr ~ t(df)`` exactly, like an OLS slope."""
    return rng.standard_normal(n), np.sqrt(rng.chisquare(df, n) / df)


def near(value: float, limit: float, width: float = 0.0) -> bool:
    """Within round-off of a tie (``width``: the interval's half-width, whose quantile scipy.stats
    and the module compute from probabilities that differ in the last bits): the property tests
    leave exact ties to the hand-built cases."""
    return abs(value - limit) <= 1e-9 * (1.0 + abs(limit) + width)


def holm_reference(p_values, level: float) -> list[bool]:
    """Textbook Holm step-down: which members fail (fail the i-th smallest while p_(i) ≤ level/(m − i + 1))."""
    m = len(p_values)
    failed = [False] * m
    for rank, i in enumerate(sorted(range(m), key=lambda j: p_values[j])):
        if p_values[i] > level / (m - rank):
            break
        failed[i] = True
    return failed


def ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of y on x and its OLS standard error, by numpy least squares."""
    design = np.column_stack([np.ones_like(x), x])
    coefficients, residual_ss, *_ = np.linalg.lstsq(design, y, rcond=None)
    sxx = float(np.sum((x - x.mean()) ** 2))
    return float(coefficients[1]), math.sqrt(float(residual_ss[0]) / (x.size - 2) / sxx)


def rss(columns, y: np.ndarray) -> float:
    """Residual sum of squares of y on an intercept and ``columns``, by numpy least squares."""
    design = np.column_stack([np.ones_like(y), *columns])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    return float(residual @ residual)


# -- strategies -------------------------------------------------------------------------------

estimates = st.floats(-10.0, 10.0)
stderrs = st.one_of(st.just(0.0), st.floats(1e-3, 5.0))
dfs = st.integers(1, 60)
alphas = st.floats(1e-5, 0.3)
margins = st.one_of(st.just(0.0), st.floats(0.0, 2.0))


# ============================================================================================
# Bound-type checks (H0 = claim holds): check_slope_at_most / at_least, _one_sided_check
# ============================================================================================

# (estimate, stderr, df, alpha, margin): wide intervals with few df, a Cauchy fit (df = 1), a narrow one.
BOUNDARY_DESIGNS = [
    (1.0, 0.5, 3, 0.05, 0.0),
    (1.0, 0.5, 3, 0.05, 0.3),
    (-2.0, 0.2, 1, 0.01, 0.1),
    (0.7, 1e-3, 200, ALPHA, 0.0),
]


@pytest.mark.parametrize("estimate, stderr, df, alpha, margin", BOUNDARY_DESIGNS)
def test_slope_at_most_fails_only_when_the_lower_limit_exceeds_the_bound(estimate, stderr, df, alpha, margin):
    """Deterministic: "slope ≤ bound + margin" fails iff the one-sided (1 − α) LOWER limit exceeds
    bound + margin. Just below the lower limit it fails, just above it passes although the estimate
    itself is past the bound (no significant evidence), and the p-value is α there; CheckResult.ci
    is the (1 − 2α) interval, not the fit's stored 95% one."""
    fit = slope_fit(estimate, stderr, df)
    lower = estimate - quantile(1 - alpha, df) * stderr
    upper = estimate + quantile(1 - alpha, df) * stderr
    eps = 1e-9 * max(1.0, abs(lower))
    passing = check_slope_at_most(fit, lower - margin + eps, alpha=alpha, margin=margin, name="m")
    failing = check_slope_at_most(fit, lower - margin - eps, alpha=alpha, margin=margin, name="m")
    assert estimate > lower + eps  # the estimate violates the claim in both cases
    assert passing and passing.p_value > alpha and passing.p_value == pytest.approx(alpha, rel=1e-4)
    assert not failing and failing.p_value <= alpha and failing.p_value == pytest.approx(alpha, rel=1e-4)
    assert passing.ci == pytest.approx((lower, upper), rel=1e-9, abs=1e-12)
    assert passing.false_failure_rate == alpha and passing.alpha == alpha
    # A bound between the estimate and the upper limit is no evidence either way: pass.
    assert check_slope_at_most(fit, 0.5 * (estimate + upper) - margin, alpha=alpha, margin=margin, name="m")


@pytest.mark.parametrize("estimate, stderr, df, alpha, margin", BOUNDARY_DESIGNS)
def test_slope_at_least_fails_only_when_the_upper_limit_is_below_the_bound(estimate, stderr, df, alpha, margin):
    """Deterministic mirror: "slope ≥ bound − margin" fails iff the one-sided (1 − α) UPPER limit
    is below bound − margin; just above the upper limit the estimate is below the bound but the
    check passes, p = α at the limit."""
    fit = slope_fit(estimate, stderr, df)
    lower = estimate - quantile(1 - alpha, df) * stderr
    upper = estimate + quantile(1 - alpha, df) * stderr
    eps = 1e-9 * max(1.0, abs(upper))
    passing = check_slope_at_least(fit, upper + margin - eps, alpha=alpha, margin=margin, name="l")
    failing = check_slope_at_least(fit, upper + margin + eps, alpha=alpha, margin=margin, name="l")
    assert estimate < upper - eps
    assert passing and passing.p_value > alpha and passing.p_value == pytest.approx(alpha, rel=1e-4)
    assert not failing and failing.p_value <= alpha and failing.p_value == pytest.approx(alpha, rel=1e-4)
    assert failing.ci == pytest.approx((lower, upper), rel=1e-9, abs=1e-12)
    assert check_slope_at_least(fit, 0.5 * (estimate + lower) + margin, alpha=alpha, margin=margin, name="l")


@given(estimate=estimates, stderr=stderrs, df=dfs, bound=estimates, margin=margins, alpha=alphas)
@PROPERTY
def test_bound_checks_follow_their_documented_rule(estimate, stderr, df, bound, margin, alpha):
    """Property (deterministic): for any fit, ``at_most`` fails iff estimate − t_{1−α,df}·se >
    bound + margin and ``at_least`` iff estimate + t_{1−α,df}·se < bound − margin; p ≤ α iff
    failed; p = P(T ≥ (p̂ − limit)/se) (resp. (limit − p̂)/se), or 0/1 for exact fits; the
    interval is the (1 − 2α) one and the false-failure rate is α."""
    fit = slope_fit(estimate, stderr, df)
    q = quantile(1 - alpha, df)
    lower, upper = estimate - q * stderr, estimate + q * stderr
    at_most = check_slope_at_most(fit, bound, alpha=alpha, margin=margin, name="m")
    at_least = check_slope_at_least(fit, bound, alpha=alpha, margin=margin, name="l")
    high_limit, low_limit = bound + margin, bound - margin
    if stderr > 0:
        assume(not near(lower, high_limit, q * stderr) and not near(upper, low_limit, q * stderr))
        assert at_most.p_value == pytest.approx(scipy_stats.t.sf((estimate - high_limit) / stderr, df), rel=1e-9, abs=1e-15)
        assert at_least.p_value == pytest.approx(scipy_stats.t.sf((low_limit - estimate) / stderr, df), rel=1e-9, abs=1e-15)
    else:
        assert at_most.p_value == (0.0 if estimate > high_limit else 1.0)
        assert at_least.p_value == (0.0 if estimate < low_limit else 1.0)
    assert at_most.passed == (lower <= high_limit) == (at_most.p_value > alpha)
    assert at_least.passed == (upper >= low_limit) == (at_least.p_value > alpha)
    for result in (at_most, at_least):
        assert result.ci == pytest.approx((lower, upper), rel=1e-9, abs=1e-12)
        assert result.alpha == result.false_failure_rate == alpha and result.estimate == estimate


def test_bound_checks_fail_at_rate_alpha_on_the_boundary_and_less_inside():
    """Calibration: 20 000 estimates ``truth + σZ`` with standard error ``σ√(χ²₃/3)`` (t(3)
    exactly, like an OLS slope on 5 points), α = 0.05, margin 0.2. With the truth ON bound ± margin
    each check fails at rate α; one σ inside the claim at the noncentral-t rate
    ``P(nct(3, −1) ≥ t_{0.95,3})`` < α. Four bands: false-failure rate ≤ 8e-6."""
    rng = np.random.default_rng(1701)
    trials, df, alpha, sigma, bound, margin = 20_000, 3, 0.05, 0.4, 1.5, 0.2
    z, s = t_draws(rng, trials, df)
    inside_rate = float(scipy_stats.nct.sf(quantile(1 - alpha, df), df, -1.0))
    assert inside_rate < alpha / 2
    for shift, rate in ((0.0, alpha), (sigma, inside_rate)):
        at_most_failures = sum(
            not check_slope_at_most(slope_fit(bound + margin - shift + sigma * zi, sigma * si, df), bound, alpha=alpha, margin=margin, name="m")
            for zi, si in zip(z, s))
        at_least_failures = sum(
            not check_slope_at_least(slope_fit(bound - margin + shift - sigma * zi, sigma * si, df), bound, alpha=alpha, margin=margin, name="l")
            for zi, si in zip(z, s))
        low, high = binomial_band(trials, rate)
        assert low <= at_most_failures <= high
        assert low <= at_least_failures <= high


# ============================================================================================
# "Shown" checks: check_slope_shown_at_least / at_most (_shown_check)
# ============================================================================================


@pytest.mark.parametrize("estimate, stderr, df, alpha, margin", BOUNDARY_DESIGNS)
def test_shown_at_least_reads_the_lower_limit(estimate, stderr, df, alpha, margin):
    """Deterministic: "shown ≥ bound − margin" passes iff the one-sided (1 − α) LOWER limit is ≥
    bound − margin. Just above the lower limit it fails although the estimate is far on the claim's
    side (the wide interval is what tells the ends apart); at the exact limit (≥) it passes; the
    interval is the (1 − 2α) one and p_value is None."""
    fit = slope_fit(estimate, stderr, df)
    lower = estimate - quantile(1 - alpha, df) * stderr
    eps = 1e-9 * max(1.0, abs(lower))
    passing = check_slope_shown_at_least(fit, lower + margin - eps, alpha=alpha, margin=margin, name="s")
    failing = check_slope_shown_at_least(fit, lower + margin + eps, alpha=alpha, margin=margin, name="s")
    assert estimate > lower + eps  # the estimate is on the claim's side of bound − margin in both cases
    assert passing and not failing
    assert failing.p_value is None and failing.ci == pytest.approx(fit.interval(1 - 2 * alpha), rel=1e-9, abs=1e-12)
    assert failing.ci[0] == pytest.approx(lower, rel=1e-9, abs=1e-12)
    tie = fit.interval(1.0 - 2.0 * alpha)[0]  # the check's own lower limit: a tie passes (≥)
    assert check_slope_shown_at_least(fit, tie, alpha=alpha, name="tie")


@pytest.mark.parametrize("estimate, stderr, df, alpha, margin", BOUNDARY_DESIGNS)
def test_shown_at_most_reads_the_upper_limit(estimate, stderr, df, alpha, margin):
    """Deterministic mirror: "shown ≤ bound + margin" passes iff the one-sided (1 − α) UPPER limit
    is ≤ bound + margin; just below the upper limit it fails although the estimate is inside; at the
    exact limit (≤) it passes."""
    fit = slope_fit(estimate, stderr, df)
    upper = estimate + quantile(1 - alpha, df) * stderr
    eps = 1e-9 * max(1.0, abs(upper))
    passing = check_slope_shown_at_most(fit, upper - margin + eps, alpha=alpha, margin=margin, name="s")
    failing = check_slope_shown_at_most(fit, upper - margin - eps, alpha=alpha, margin=margin, name="s")
    assert estimate < upper - eps
    assert passing and not failing
    assert failing.ci[1] == pytest.approx(upper, rel=1e-9, abs=1e-12)
    tie = fit.interval(1.0 - 2.0 * alpha)[1]
    assert check_slope_shown_at_most(fit, tie, alpha=alpha, name="tie")


@given(estimate=estimates, stderr=stderrs, df=dfs, bound=estimates, margin=margins, alpha=alphas,
       anticipated=st.one_of(st.none(), estimates))
@PROPERTY
def test_shown_checks_follow_their_documented_rule(estimate, stderr, df, bound, margin, alpha, anticipated):
    """Property (deterministic): ``shown_at_least`` passes iff p̂ − t_{1−α,df}·se ≥ bound − margin,
    ``shown_at_most`` iff p̂ + t_{1−α,df}·se ≤ bound + margin; the reported false-failure rate is
    ``P(T < t_{1−α} − (anticipated − limit)/se)`` (resp. with limit − anticipated), the anticipated
    slope defaulting to the estimate, and 0/1 for exact fits."""
    fit = slope_fit(estimate, stderr, df)
    q = quantile(1 - alpha, df)
    lower, upper = estimate - q * stderr, estimate + q * stderr
    low_limit, high_limit = bound - margin, bound + margin
    if stderr > 0:
        assume(not near(lower, low_limit, q * stderr) and not near(upper, high_limit, q * stderr))
    at_least = check_slope_shown_at_least(fit, bound, alpha=alpha, margin=margin, anticipated=anticipated, name="l")
    at_most = check_slope_shown_at_most(fit, bound, alpha=alpha, margin=margin, anticipated=anticipated, name="m")
    assert at_least.passed == (lower >= low_limit)
    assert at_most.passed == (upper <= high_limit)
    truth = estimate if anticipated is None else anticipated
    for result, slack in ((at_least, truth - low_limit), (at_most, high_limit - truth)):
        if stderr > 0:
            expected = scipy_stats.t.cdf(q - slack / stderr, df)
            assert result.false_failure_rate == pytest.approx(expected, rel=1e-9, abs=1e-15)
        else:
            assert result.false_failure_rate == (0.0 if slack >= 0 else 1.0)
        assert result.p_value is None and result.alpha == alpha
        assert result.ci == pytest.approx((lower, upper), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("value", [0.0, -1.0, 2.5])
def test_exact_fits_compare_the_estimate_with_the_bound(value):
    """Deterministic: with stderr = 0 every interval collapses onto the estimate, so all four
    checks compare the slope with the bound, ties pass (≤, ≥), one ulp past the bound fails, and
    the bound and shown conventions agree (p = 1 on the claim's side, 0 past it)."""
    fit = slope_fit(value, 0.0, 5)
    above, below = math.nextafter(value, math.inf), math.nextafter(value, -math.inf)
    for check in (check_slope_at_most, check_slope_at_least, check_slope_shown_at_most, check_slope_shown_at_least):
        assert check(fit, value, alpha=ALPHA, name="tie")
    assert check_slope_at_most(fit, value, alpha=ALPHA, name="tie").p_value == 1.0
    assert not check_slope_at_most(fit, below, alpha=ALPHA, name="m") and not check_slope_shown_at_most(fit, below, alpha=ALPHA, name="m")
    assert check_slope_at_most(fit, above, alpha=ALPHA, name="m") and check_slope_shown_at_most(fit, above, alpha=ALPHA, name="m")
    assert not check_slope_at_least(fit, above, alpha=ALPHA, name="l") and not check_slope_shown_at_least(fit, above, alpha=ALPHA, name="l")
    assert check_slope_at_least(fit, below, alpha=ALPHA, name="l") and check_slope_shown_at_least(fit, below, alpha=ALPHA, name="l")
    assert check_slope_at_least(fit, above, alpha=ALPHA, name="l").p_value == 0.0
    assert check_slope_shown_at_least(fit, value, alpha=ALPHA, name="l").false_failure_rate == 0.0
    assert check_slope_shown_at_least(fit, above, alpha=ALPHA, name="l").false_failure_rate == 1.0


def test_shown_checks_pass_at_rate_alpha_on_the_boundary():
    """Calibration: 20 000 t(4) estimates (random standard errors, as from OLS on 6 points) whose
    truth sits exactly on bound ∓ margin pass "shown ≥" / "shown ≤" at rate α = 0.05 (SPEC.md §7's
    convention: α is the chance of passing on the boundary); one σ past the boundary they pass at
    ``P(nct(4, −1) ≥ t_{0.95,4})`` < α. Four bands: false-failure rate ≤ 8e-6."""
    rng = np.random.default_rng(1702)
    trials, df, alpha, sigma, bound, margin = 20_000, 4, 0.05, 0.3, 2.0, 0.1
    z, s = t_draws(rng, trials, df)
    outside_rate = float(scipy_stats.nct.sf(quantile(1 - alpha, df), df, -1.0))
    for shift, rate in ((0.0, alpha), (sigma, outside_rate)):
        passes_least = sum(
            bool(check_slope_shown_at_least(slope_fit(bound - margin - shift + sigma * zi, sigma * si, df), bound, alpha=alpha, margin=margin, name="l"))
            for zi, si in zip(z, s))
        passes_most = sum(
            bool(check_slope_shown_at_most(slope_fit(bound + margin + shift - sigma * zi, sigma * si, df), bound, alpha=alpha, margin=margin, name="m"))
            for zi, si in zip(z, s))
        low, high = binomial_band(trials, rate)
        assert low <= passes_least <= high
        assert low <= passes_most <= high


@pytest.mark.parametrize("at_least", [True, False])
def test_shown_false_failure_rate_matches_simulation_at_the_anticipated_slope(at_least):
    """Calibration: fits with standard error 0.05 on 3 df and true slope = ``anticipated`` = the
    limit + (t_{0.9,3} + 0.5)·se on the claim's side: every fit reports the same false-failure rate
    ``P(T₃ < −0.5)`` ≈ 0.33, and 20 000 simulated fits (estimate = truth ± se·T, T ~ t(3))
    fail in a count inside its binomial band. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1703 if at_least else 1704)
    trials, df, alpha, se, bound = 20_000, 3, 0.1, 0.05, 1.0
    q = quantile(1 - alpha, df)
    anticipated = bound + (q + 0.5) * se if at_least else bound - (q + 0.5) * se
    check = check_slope_shown_at_least if at_least else check_slope_shown_at_most
    draws = anticipated + se * rng.standard_t(df, trials)
    results = [check(slope_fit(e, se, df), bound, alpha=alpha, anticipated=anticipated, name="a") for e in draws]
    stated = results[0].false_failure_rate
    assert stated == pytest.approx(float(scipy_stats.t.cdf(-0.5, df)), rel=1e-9) and 0.1 < stated < 0.4
    assert all(r.false_failure_rate == stated for r in results)
    low, high = binomial_band(trials, stated)
    assert low <= sum(not r for r in results) <= high


# ============================================================================================
# Mirror symmetry between every at_least rule and its at_most counterpart
# ============================================================================================


@given(estimate=estimates, stderr=stderrs, df=dfs, bound=estimates, margin=margins, alpha=alphas,
       anticipated=st.one_of(st.none(), estimates))
@PROPERTY
def test_at_least_checks_mirror_at_most_checks(estimate, stderr, df, bound, margin, alpha, anticipated):
    """Property (deterministic): negating estimate, bound (and anticipated slope / TOST target)
    turns each "≥" check into its "≤" counterpart with the same verdict, p-value and false-failure
    rate, and the mirrored interval (exactly: IEEE arithmetic is symmetric under negation)."""
    fit, mirror = slope_fit(estimate, stderr, df), slope_fit(-estimate, stderr, df)
    mirrored = lambda ci: (-ci[1], -ci[0])
    pairs = [
        (check_slope_at_least(fit, bound, alpha=alpha, margin=margin, name="l"),
         check_slope_at_most(mirror, -bound, alpha=alpha, margin=margin, name="m")),
        (check_slope_shown_at_least(fit, bound, alpha=alpha, margin=margin, anticipated=anticipated, name="l"),
         check_slope_shown_at_most(mirror, -bound, alpha=alpha, margin=margin,
                                   anticipated=None if anticipated is None else -anticipated, name="m")),
        (check_slope_equivalent(fit, bound, margin, alpha=alpha, name="t"),
         check_slope_equivalent(mirror, -bound, margin, alpha=alpha, name="t")),
    ]
    for left, right in pairs:
        assert left.passed == right.passed
        assert left.p_value == right.p_value
        assert left.false_failure_rate == right.false_failure_rate
        assert left.ci == mirrored(right.ci)
        assert left.estimate == -right.estimate


# ============================================================================================
# TOST: check_slope_equivalent, tost_false_failure_rate
# ============================================================================================


def test_equivalence_needs_the_whole_interval_inside_the_margin():
    """Deterministic: TOST passes iff the (1 − 2α) interval lies inside target ± margin. With the
    estimate on target it fails once the margin is a hair below the half-width; off-centre only the
    end nearer the margin decides, although the estimate is well within it; exact fits (se = 0)
    compare |p̂ − target| with the margin, a tie passing."""
    alpha, df, se, target = 0.05, 4, 0.04, 2.0
    half = quantile(1 - alpha, df) * se
    eps = 1e-9
    centred = slope_fit(target, se, df)
    assert check_slope_equivalent(centred, target, half + eps, alpha=alpha, name="t")
    assert not check_slope_equivalent(centred, target, half - eps, alpha=alpha, name="t")
    for offset in (0.05, -0.05):
        fit = slope_fit(target + offset, se, df)
        passing = check_slope_equivalent(fit, target, abs(offset) + half + eps, alpha=alpha, name="t")
        failing = check_slope_equivalent(fit, target, abs(offset) + half - eps, alpha=alpha, name="t")
        assert passing and not failing
        assert failing.ci == pytest.approx((target + offset - half, target + offset + half), rel=1e-9)
        assert failing.p_value is None
        assert failing.false_failure_rate == tost_false_failure_rate(fit, abs(offset) + half - eps, alpha=alpha)
    edge = 2.0 + 0.1  # the float the check computes as target + margin
    assert check_slope_equivalent(slope_fit(edge, 0.0, 5), 2.0, 0.1, alpha=alpha, name="exact")
    assert not check_slope_equivalent(slope_fit(math.nextafter(edge, math.inf), 0.0, 5), 2.0, 0.1, alpha=alpha, name="exact")
    assert check_slope_equivalent(slope_fit(2.0 - 0.1, 0.0, 5), 2.0, 0.1, alpha=alpha, name="exact")
    assert not check_slope_equivalent(slope_fit(math.nextafter(2.0 - 0.1, -math.inf), 0.0, 5), 2.0, 0.1, alpha=alpha, name="exact")


@given(estimate=estimates, stderr=stderrs, df=dfs, target=estimates, margin=margins, alpha=alphas)
@PROPERTY
def test_equivalence_follows_its_documented_rule(estimate, stderr, df, target, margin, alpha):
    """Property (deterministic): passes iff target − margin ≤ p̂ − t_{1−α}·se and p̂ + t_{1−α}·se ≤
    target + margin; ``false_failure_rate`` = ``tost_false_failure_rate`` = 2·P(T > margin/se −
    t_{1−α}) when the margin exceeds the half-width (1 otherwise; 0 for exact fits with a margin);
    p_value is None."""
    fit = slope_fit(estimate, stderr, df)
    q = quantile(1 - alpha, df)
    lower, upper = estimate - q * stderr, estimate + q * stderr
    if stderr > 0:
        assume(not near(lower, target - margin, q * stderr) and not near(upper, target + margin, q * stderr) and not near(margin, q * stderr, q * stderr))
    result = check_slope_equivalent(fit, target, margin, alpha=alpha, name="t")
    assert result.passed == (target - margin <= lower and upper <= target + margin)
    assert result.p_value is None and result.ci == pytest.approx((lower, upper), rel=1e-9, abs=1e-12)
    rate = tost_false_failure_rate(fit, margin, alpha=alpha)
    assert result.false_failure_rate == rate
    if margin <= q * stderr:
        assert rate == 1.0
    elif stderr == 0:
        assert rate == 0.0
    else:
        assert rate == pytest.approx(min(1.0, 2 * scipy_stats.t.sf(margin / stderr - q, df)), rel=1e-9, abs=1e-15)


def test_tost_rates_match_simulation_on_target_and_on_the_margin():
    """Calibration, fixed se = 0.02 on 4 df, α = 0.05, margin = se·(t_{0.95,4} + 1.5):
    20 000 fits with true slope = target fail at the stated ``tost_false_failure_rate``
    (2·P(T₄ > 1.5) ≈ 0.21); with the truth on target + margin or target − margin they wrongly
    declare equivalence at ``P(t_{0.95} − 2·margin/se ≤ T ≤ −t_{0.95})`` ≤ α (the α that TOST
    states). Three bands: false-failure rate ≤ 6e-6."""
    rng = np.random.default_rng(1705)
    trials, df, alpha, se, target = 20_000, 4, 0.05, 0.02, 1.0
    q = quantile(1 - alpha, df)
    margin = se * (q + 1.5)
    fit_at = lambda e: slope_fit(e, se, df)
    t_values = rng.standard_t(df, trials)
    stated = tost_false_failure_rate(fit_at(target), margin, alpha=alpha)
    assert stated == pytest.approx(2 * scipy_stats.t.sf(1.5, df), rel=1e-9)
    failures = sum(not check_slope_equivalent(fit_at(target + se * t), target, margin, alpha=alpha, name="t") for t in t_values)
    low, high = binomial_band(trials, stated)
    assert low <= failures <= high
    wrong = float(scipy_stats.t.cdf(-q, df) - scipy_stats.t.cdf(q - 2 * margin / se, df))
    assert wrong <= alpha
    for edge in (target + margin, target - margin):
        passes = sum(bool(check_slope_equivalent(fit_at(edge + se * t), target, margin, alpha=alpha, name="t")) for t in t_values)
        low, high = binomial_band(trials, wrong)
        assert low <= passes <= high


# ============================================================================================
# Values: check_value_at_most, check_exact_value_at_most
# ============================================================================================


@given(estimate=estimates, stderr=stderrs, df=st.one_of(dfs, st.just(math.inf)), bound=estimates, margin=margins, alpha=alphas)
@PROPERTY
def test_value_at_most_is_the_bound_rule_on_a_mean(estimate, stderr, df, bound, margin, alpha):
    """Property (deterministic): ``check_value_at_most`` fails iff estimate − t_{1−α,df}·se exceeds
    bound + margin (df = inf: the normal quantile), with the same p-value and interval as
    ``check_slope_at_most`` on a fit with that estimate, standard error and df."""
    half = quantile(1 - alpha, df) * stderr
    lower = estimate - half
    if stderr > 0:
        assume(not near(lower, bound + margin, half))
    result = check_value_at_most(estimate, stderr, bound, alpha=alpha, df=df, margin=margin, name="v")
    assert result.passed == (lower <= bound + margin) == (result.p_value > alpha)
    assert result.false_failure_rate == alpha and result.ci[0] == pytest.approx(lower, rel=1e-9, abs=1e-12)
    if math.isfinite(df):
        slope = check_slope_at_most(slope_fit(estimate, stderr, df), bound, alpha=alpha, margin=margin, name="s")
        assert (slope.passed, slope.p_value, slope.ci) == (result.passed, result.p_value, result.ci)


def test_value_at_most_reads_t_with_its_degrees_of_freedom():
    """Deterministic: a mean 0.1 ± 0.02 at α = 0.05 has lower limits 0.1 − 1.645·0.02 (normal,
    the default df = inf) and 0.1 − 2.353·0.02 (t(3)); just above / below each it passes / fails,
    so a bound between the two passes with df = 3 and fails with the default."""
    alpha, estimate, se = 0.05, 0.1, 0.02
    for df in (math.inf, 3):
        lower = estimate - quantile(1 - alpha, df) * se
        kwargs = {} if math.isinf(df) else {"df": df}
        assert check_value_at_most(estimate, se, lower + 1e-9, alpha=alpha, name="v", **kwargs)
        assert not check_value_at_most(estimate, se, lower - 1e-9, alpha=alpha, name="v", **kwargs)
        assert check_value_at_most(estimate, se, lower - 0.05 + 1e-9, alpha=alpha, margin=0.05, name="v", **kwargs)
        assert not check_value_at_most(estimate, se, lower - 0.05 - 1e-9, alpha=alpha, margin=0.05, name="v", **kwargs)
    assert check_value_at_most(estimate, se, 0.06, alpha=alpha, df=3, name="v") and not check_value_at_most(estimate, se, 0.06, alpha=alpha, name="v")


def test_value_at_most_fails_at_rate_alpha_for_replicate_means():
    """Calibration: 20 000 means of R = 4 normal replicates with standard error sd/√R and df = 3
    (the one-sample t test): true mean ON bound + margin fails at rate α = 0.05 exactly; a true
    mean half a standard error past it fails at ``P(nct(3, 0.5) ≥ t_{0.95,3})`` > α. Two bands:
    false-failure rate ≤ 4e-6."""
    rng = np.random.default_rng(1706)
    trials, replicates, alpha, sd, bound, margin = 20_000, 4, 0.05, 0.01, 0.01, 0.002
    past_rate = float(scipy_stats.nct.sf(quantile(1 - alpha, replicates - 1), replicates - 1, 0.5))
    assert past_rate > alpha
    for shift, rate in ((0.0, alpha), (0.5 * sd / math.sqrt(replicates), past_rate)):
        samples = rng.normal(bound + margin + shift, sd, size=(trials, replicates))
        means, ses = samples.mean(axis=1), samples.std(axis=1, ddof=1) / math.sqrt(replicates)
        failures = sum(not check_value_at_most(m, s, bound, alpha=alpha, df=replicates - 1, margin=margin, name="v")
                       for m, s in zip(means, ses))
        low, high = binomial_band(trials, rate)
        assert low <= failures <= high


@pytest.mark.parametrize("bound", [1.0, -1.0, 1e-12, 0.0])
def test_exact_value_at_most_tolerates_only_rtol(bound):
    """Deterministic: passes iff value ≤ bound + rtol·|bound|: the edge itself passes, one ulp
    beyond fails (rtol = 1e-9 and rtol = 0); α = false-failure rate = 0 and ci = (value, value)."""
    for rtol in (1e-9, 0.0):
        edge = bound + rtol * abs(bound)
        on_edge = check_exact_value_at_most(edge, bound, rtol=rtol, name="x")
        assert on_edge and on_edge.alpha == 0.0 and on_edge.false_failure_rate == 0.0 and on_edge.ci == (edge, edge)
        assert on_edge.p_value is None
        assert not check_exact_value_at_most(math.nextafter(edge, math.inf), bound, rtol=rtol, name="x")
    assert not check_exact_value_at_most(math.nan, bound, name="x")
    with pytest.raises(ValueError, match="rtol"):
        check_exact_value_at_most(0.0, bound, rtol=-1e-9, name="x")


# ============================================================================================
# Nested test: nested_log_vs_power
# ============================================================================================


def test_nested_growth_reads_the_lower_limit_of_b():
    """Deterministic: on a fixed noise pattern (σ = 0.3), K* = 2 + c·log d + noise with c chosen so
    that the one-sided (1 − α) lower limit of b is ±1e-8: growth (and the verdict) flips with its
    sign, although b̂ ≈ t_{0.95}·se > 0 in both; with ``exact=True`` growth is b̂ > 0 instead and the
    false-failure rate is 0. The reported rate is min(1, α + P(T < t_{1−α} − b̂/se))."""
    alpha = 0.05
    log_d = np.log(DIMENSIONS)
    noise = 0.3 * np.random.default_rng(1707).standard_normal(DIMENSIONS.size)
    slope, se = ols_slope(log_d, noise)
    q = quantile(1 - alpha, DIMENSIONS.size - 2)
    for offset in (1e-8, -1e-8):
        k_star = 2.0 + (q * se - slope + offset) * log_d + noise
        result = nested_log_vs_power(DIMENSIONS, k_star, alpha=alpha, name="rounds")
        assert not any(result.power_needed)  # the noise pattern needs no power of d
        assert result.log_fit.ci[0] == pytest.approx(offset, abs=1e-12)
        assert result.growth == result.passed == (offset > 0)
        expected_rate = alpha + scipy_stats.t.cdf(q - result.log_fit.estimate / result.log_fit.stderr, DIMENSIONS.size - 2)
        assert result.false_failure_rate == pytest.approx(expected_rate, rel=1e-9)
        exact = nested_log_vs_power(DIMENSIONS, k_star, alpha=alpha, exact=True, name="rounds")
        assert exact.growth and exact.passed and exact.false_failure_rate == 0.0
    flat = 2.0 + (-slope - 1e-6) * log_d + noise  # b̂ = −1e-6: exact growth fails
    assert not nested_log_vs_power(DIMENSIONS, flat, alpha=alpha, exact=True, name="rounds").growth


def test_nested_power_term_needs_holm_significance_and_r2_gain():
    """Deterministic: K* = 2 + 1.5 log d + 0.02 d^0.5 + noise (σ = 0.3) tested against d^0.5 and d.
    Independently computed F p-values, their Holm adjustment and ΔR² decide: a power is needed iff
    its adjusted p ≤ α AND ΔR² ≥ min_r2_gain, checked with α and min_r2_gain a relative 1e-6
    either side of every power's values; the check passes iff no power is needed (growth is
    certain here)."""
    log_d = np.log(DIMENSIONS)
    k_star = 2.0 + 1.5 * log_d + 0.02 * np.sqrt(DIMENSIONS) + 0.3 * np.random.default_rng(1708).standard_normal(DIMENSIONS.size)
    powers = (0.5, 1.0)
    n = DIMENSIONS.size
    rss_log = rss([log_d], k_star)
    tss = float(np.sum((k_star - k_star.mean()) ** 2))
    p_values, gains = [], []
    for p in powers:
        rss_full = rss([log_d, DIMENSIONS**p], k_star)
        p_values.append(float(scipy_stats.f.sf((rss_log - rss_full) / (rss_full / (n - 3)), 1, n - 3)))
        gains.append((rss_log - rss_full) / tss)
    order = np.argsort(p_values)
    adjusted = np.empty(2)
    adjusted[order] = np.maximum.accumulate([2 * p_values[order[0]], p_values[order[1]]])
    adjusted = np.minimum(adjusted, 1.0)
    assert 1e-6 < min(adjusted) < 0.2 and min(gains) > 1e-3  # a boundary worth testing
    verdicts = set()
    for level in [min(a * f, 0.49) for a in adjusted for f in (1 - 1e-6, 1 + 1e-6)]:
        for gate in [g * f for g in gains for f in (1 - 1e-6, 1 + 1e-6)]:
            result = nested_log_vs_power(DIMENSIONS, k_star, powers=powers, alpha=level, min_r2_gain=gate, name="r")
            needed = tuple(bool(a <= level and g >= gate) for a, g in zip(adjusted, gains))
            np.testing.assert_allclose(result.adjusted_p_values, adjusted, rtol=1e-8)
            assert result.growth and result.power_needed == needed
            assert result.passed == (not any(needed))
            verdicts.add(result.passed)
    assert verdicts == {True, False}


def test_nested_false_failure_rate_bounds_simulated_failures():
    """Calibration: 800 seeded log laws K* = 2 + b log d + N(0, 1) with b = 2.5·σ_b (σ_b the slope's
    standard deviation), α = 0.05, ``min_r2_gain = 0``. The check fails when growth is missed,
    with probability m = P(nct(14, 2.5) ≤ t_{0.95,14}) ≈ 0.23, or a power term is wrongly needed
    (≤ α by Holm), so the count lies between the bands of m and α + m; the mean reported
    ``false_failure_rate`` (α + the plug-in growth miss, ≈ 0.34 in this design) bounds it too.
    Three bands: false-failure rate ≤ 6e-6."""
    rng = np.random.default_rng(1709)
    trials, alpha = 800, 0.05
    log_d = np.log(DIMENSIONS)
    df = DIMENSIONS.size - 2
    sigma_b = 1.0 / math.sqrt(float(np.sum((log_d - log_d.mean()) ** 2)))
    miss = float(scipy_stats.nct.cdf(quantile(1 - alpha, df), df, 2.5))
    failures, reported = 0, 0.0
    for _ in range(trials):
        k_star = 2.0 + 2.5 * sigma_b * log_d + rng.standard_normal(DIMENSIONS.size)
        result = nested_log_vs_power(DIMENSIONS, k_star, alpha=alpha, min_r2_gain=0.0, name="cal")
        failures += not result
        reported += result.false_failure_rate / trials
    assert binomial_band(trials, miss)[0] <= failures <= binomial_band(trials, alpha + miss)[1]
    assert failures <= binomial_band(trials, reported)[1]


# ============================================================================================
# Families: holm
# ============================================================================================


@given(p_values=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8), alpha=st.floats(1e-4, 0.5))
@PROPERTY
def test_holm_steps_down_like_the_textbook_rule(p_values, alpha):
    """Property (deterministic): on plain p-values ``holm`` fails exactly the members that the
    textbook step-down fails (the i-th smallest while p_(i) ≤ α/(m − i + 1)); a member fails iff its
    adjusted p ≤ α; the family passes iff every member does."""
    m = len(p_values)
    assume(not any(math.isclose(p, alpha / k, rel_tol=1e-12) for p in p_values for k in range(1, m + 1)))
    family = holm(p_values, alpha)
    failed = holm_reference(p_values, alpha)
    assert family.member_passed == tuple(not f for f in failed)
    assert all((adj <= alpha) == f for adj, f in zip(family.adjusted_p_values, failed))
    assert family.passed == (not any(failed))


@given(members=st.lists(st.one_of(st.floats(0.0, 1.0), st.booleans()), min_size=1, max_size=8), alpha=st.floats(1e-4, 0.5),
       rate_share=st.floats(0.0, 1.0))
@FEW
def test_holm_gives_interval_only_members_their_bonferroni_share(members, alpha, rate_share):
    """Property (deterministic): in a family of m CheckResults, members without a p-value keep their
    own verdict if their false-failure rate is ≤ α/m; the m_p members with p-values are held to
    Holm's step-down at level α·m_p/m."""
    m = len(members)
    share = alpha / m
    tested = [p for p in members if not isinstance(p, bool)]
    level = alpha * len(tested) / m
    assume(not any(math.isclose(p, level / k, rel_tol=1e-12) for p in tested for k in range(1, len(tested) + 1)))
    results = [CheckResult(f"c{i}", "c", 0.0, (0.0, 0.0), 0.01, True, p_value=x) if not isinstance(x, bool) else
               CheckResult(f"c{i}", "c", 0.0, (0.0, 0.0), 0.01, x, p_value=None, false_failure_rate=rate_share * share)
               for i, x in enumerate(members)]
    family = holm(results, alpha)
    failed_tested = iter(holm_reference(tested, level)) if tested else iter(())
    expected = [x if isinstance(x, bool) else not next(failed_tested) for x in members]
    assert family.member_passed == tuple(expected)
    for adjusted, passed, x in zip(family.adjusted_p_values, family.member_passed, members):
        # Interval-only members have no adjusted p; the others fail iff adjusted p ≤ α_family.
        assert adjusted is None if isinstance(x, bool) else (adjusted <= alpha) == (not passed)


def test_holm_share_boundaries():
    """Deterministic: family of 4 at α = 0.2 with two interval-only members. Their false-failure
    rate may equal the share α/4 = 0.05 but not exceed it; the two p-value members share α/2 by
    Holm: the smaller p fails iff ≤ α/4 (not α/2, plain Holm's first step with m_p = 2), then the
    other iff ≤ α/2; adjusted p-values are rescaled to compare with α itself."""
    alpha = 0.2
    interval_only = lambda rate: CheckResult("tost", "c", 0.0, (0.0, 0.0), rate, True, false_failure_rate=rate)
    with_p = lambda name, p: CheckResult(name, "c", 0.0, (0.0, 0.0), 0.01, p > 0.01, p_value=p)
    members = lambda p1, p2: [with_p("a", p1), interval_only(0.05), with_p("b", p2), interval_only(0.05)]
    assert holm(members(0.05 * (1 + 1e-6), 0.9), alpha).member_passed == (True,) * 4
    family = holm(members(0.05 * (1 - 1e-6), 0.9), alpha)
    assert family.member_passed == (False, True, True, True)
    # Holm-corrected 2·p within the subfamily, rescaled by m/m_p = 2 so that "≤ α_family" is the verdict.
    assert family.adjusted_p_values[0] == pytest.approx(4 * 0.05 * (1 - 1e-6), rel=1e-12) and family.adjusted_p_values[0] <= alpha
    assert family.adjusted_p_values[1:] == (None, 1.0, None)
    assert holm(members(0.05 * (1 - 1e-6), 0.1 * (1 - 1e-6)), alpha).member_passed == (False, True, False, True)
    assert holm(members(0.05 * (1 - 1e-6), 0.1 * (1 + 1e-6)), alpha).member_passed == (False, True, True, True)
    assert holm(members(0.9, 0.9), alpha)
    with pytest.raises(ValueError, match="Bonferroni share"):
        holm([with_p("a", 0.9), interval_only(0.05 * (1 + 1e-6)), with_p("b", 0.9), interval_only(0.05)], alpha)


def test_holm_family_fails_at_most_alpha_family():
    """Calibration: 10 000 families of 4 true claims at α_family = 0.2: two bound checks with the
    truth on the bound (uniform p-values) and two TOST checks on target whose false-failure rate
    equals their share α_family/4. Holm fails some bound member iff min p ≤ α_family/4, so the
    family fails at rate 1 − (1 − 0.05)⁴ ≈ 0.185 ≤ α_family; the count lies in that band.
    False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1710)
    trials, alpha_family, df, se = 10_000, 0.2, 5, 0.1
    share = alpha_family / 4
    margin = se * (quantile(1 - 0.05, df) + quantile(1 - share / 2, df))
    assert tost_false_failure_rate(slope_fit(0.0, se, df), margin, alpha=0.05) == pytest.approx(share, rel=1e-9)
    draws = se * rng.standard_t(df, size=(trials, 4))
    failures = 0
    for a, b, c, d in draws:
        family = holm([check_slope_at_most(slope_fit(a, se, df), 0.0, alpha=0.05, name="a"),
                       check_slope_equivalent(slope_fit(c, se, df), 0.0, margin, alpha=0.05, name="c"),
                       check_slope_at_least(slope_fit(b, se, df), 0.0, alpha=0.05, name="b"),
                       check_slope_equivalent(slope_fit(d, se, df), 0.0, margin, alpha=0.05, name="d")], alpha_family)
        failures += not family
    rate = 1 - (1 - share) ** 4
    low, high = binomial_band(trials, rate)
    assert low <= failures <= high and rate <= alpha_family


# ============================================================================================
# The claims layer: hand-built tables just on the wrong side of each claim's bound
# ============================================================================================

REPLICATES = 8


def cluster_rates(q: float, ncp: float, n_points: int) -> tuple[float, float]:
    """P(nct(G − 1, ncp) ≥ q·c) and ≥ q: the rate at which a cluster-robust one-sided test with
    identical designs per replicate rejects. Its t statistic is the exact t of the per-replicate
    slopes divided by statsmodels' small-sample factor c = √((N − 1)/(N − 2)) ≥ 1, so the true
    rate lies between the two."""
    c = math.sqrt((n_points - 1) / (n_points - 2))
    return (float(scipy_stats.nct.sf(q * c, REPLICATES - 1, ncp)), float(scipy_stats.nct.sf(q, REPLICATES - 1, ncp)))


def test_k_star_separation_claim_fails_at_least_at_alpha_past_its_margin():
    """Claims, bound kind (``check_slope_at_least`` with margin 0.25, cluster-robust by replicate):
    3000 tables of 8 replicates × 7 Lipschitz bounds (16 … 516) with K* = 10 + b log L + N(0, 0.5²)
    and b = −0.25 − σ_b (one slope standard deviation past the claim's −0.25) fail at the
    noncentral-t rate between ``P(nct(7, 1) ≥ c·t_{0.95,7})`` and ``P(nct(7, 1) ≥ t_{0.95,7})``
    (≈ 0.23 > α = 0.05: past the boundary the claim fails at least at its stated rate). Rows with
    K ≠ 1 are decoys the claim must ignore. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1711)
    trials, alpha, sigma = 3000, 0.05, 0.5
    lipschitz = np.logspace(math.log10(16), math.log10(516), 7)
    log_l = np.log(lipschitz)
    sigma_b = sigma / math.sqrt(float(np.sum((log_l - log_l.mean()) ** 2))) / math.sqrt(REPLICATES)
    slope = -mixture_claims.MIXTURE_K_STAR_MARGIN - sigma_b
    n = REPLICATES * lipschitz.size
    columns = {"K": np.r_[np.ones(n), np.full(n, 2.0)], "lipschitz": np.tile(lipschitz, 2 * REPLICATES),
               "replicate": np.tile(np.repeat(np.arange(REPLICATES), lipschitz.size), 2)}
    failures = 0
    for _ in range(trials):
        k_star = 10.0 + slope * np.log(columns["lipschitz"]) + sigma * rng.standard_normal(2 * n)
        k_star[n:] = 100.0 - 50.0 * np.log(columns["lipschitz"][n:])  # K = 2: a steep fall, ignored
        result = mixture_claims.claim_mixture_k_star_separation(
            Table("mixture_separation", {**columns, "k_star": k_star}), alpha=alpha)
        assert result.p_value is not None and result.false_failure_rate == alpha
        failures += not result
    rate_low, rate_high = cluster_rates(quantile(1 - alpha, REPLICATES - 1), 1.0, n)
    low, high = binomial_band(trials, rate_low, rate_high)
    assert rate_low > alpha and low <= failures <= high


def test_path_quadratic_claim_passes_at_most_at_alpha_below_its_margin():
    """Claims, shown kind (``_quadratic_in_delta``: log-log slope in δ shown ≥ 2 − 0.1,
    cluster-robust): 3000 tables of 8 replicates × 4 δ with msd = 0.3·δ^b·e^{N(0, 0.1²)} and
    b = 1.9 − σ_b/2 (half a slope standard deviation on the wrong side of 1.9) pass at a rate
    between ``P(nct(7, −0.5) ≥ c·t_{0.95,7})`` and ``P(nct(7, −0.5) ≥ t_{0.95,7})`` (≈ 0.017 ≤
    α = 0.05: just past the boundary the data show the rate at most at rate α), and every result
    reports the false-failure rate at the anticipated slope 2. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1712)
    trials, alpha, sigma = 3000, 0.05, 0.1
    delta = np.array([0.05, 0.1, 0.2, 0.4])
    log_delta = np.log(delta)
    sigma_b = sigma / math.sqrt(float(np.sum((log_delta - log_delta.mean()) ** 2))) / math.sqrt(REPLICATES)
    slope = 2.0 - 0.1 - 0.5 * sigma_b
    columns = {"delta": np.tile(delta, REPLICATES), "replicate": np.repeat(np.arange(REPLICATES), delta.size)}
    q = quantile(1 - alpha, REPLICATES - 1)
    passes = 0
    for _ in range(trials):
        msd = 0.3 * columns["delta"] ** slope * np.exp(sigma * rng.standard_normal(columns["delta"].size))
        result = sde_claims.claim_path_quadratic(Table("path", {**columns, "msd": msd}), alpha=alpha)
        passes += bool(result)
    se = (result.ci[1] - result.estimate) / q
    assert result.false_failure_rate == pytest.approx(scipy_stats.t.cdf(q - 0.1 / se, REPLICATES - 1), rel=1e-6)
    rate_low, rate_high = cluster_rates(q, -0.5, columns["delta"].size)
    low, high = binomial_band(trials, rate_low, rate_high)
    assert rate_high < alpha and low <= passes <= high


def test_hist_floor_claim_fails_at_least_at_alpha_above_its_tolerance():
    """Claims, value kind (``check_value_at_most`` on replicate means, t(R − 1)): 5000 tables of
    R = 5 replicates × 2 rows at the largest K (decoy rows at K = 1 far above the tolerance) with
    true histogram KL = 0.01 + half a standard error of the mean fail at
    ``P(nct(4, 0.5) ≥ t_{0.95,4})`` ≈ 0.11 > α = 0.05 (one-sample t test, exact).
    False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1713)
    trials, alpha, replicates, sd = 5000, 0.05, 5, 0.004
    per_replicate_sd = sd / math.sqrt(2)
    truth = mixture_claims.MIXTURE_KL_TOLERANCE + 0.5 * per_replicate_sd / math.sqrt(replicates)
    rows = 2 * replicates
    columns = {"target": np.array(["trimodal_1d"] * (2 * rows)), "K": np.r_[np.ones(rows), np.full(rows, 6.0)],
               "replicate": np.tile(np.repeat(np.arange(replicates), 2), 2)}
    failures = 0
    for _ in range(trials):
        hist_kl = np.r_[np.full(rows, 0.5), truth + sd * rng.standard_normal(rows)]
        result = mixture_claims.claim_mixture_hist_floor(
            Table("mixture_picard", {**columns, "hist_kl": hist_kl}), "trimodal_1d", alpha=alpha)
        failures += not result
    rate = float(scipy_stats.nct.sf(quantile(1 - alpha, replicates - 1), replicates - 1, 0.5))
    low, high = binomial_band(trials, rate)
    assert rate > alpha and low <= failures <= high


def test_girsanov_constant_claim_splits_alpha_between_its_two_sides():
    """Claims, two-sided value kind (two ``check_value_at_most`` at α/2, p = 2·min): 5000 tables of
    R = 6 replicates × 3 δ with true ratio path KL / ½δ² = 1.25 + half a standard error fail at
    ``P(nct(5, 0.5) ≥ t_{1−α/2,5})`` (α = 0.1: ≈ 0.11 > α/2 = 0.05, the upper side's share); the
    lower side (0.8, ≈ 95 standard errors away) adds < 1e-12. The reported interval is the mean ±
    t_{1−α/2,5}·se. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(1714)
    trials, alpha, replicates, sd = 5000, 0.1, 6, 0.02
    delta = np.array([0.04, 0.08, 0.16])
    se_mean = sd / math.sqrt(delta.size) / math.sqrt(replicates)
    truth = mixture_claims.MIXTURE_GIRSANOV_BAND[1] + 0.5 * se_mean
    columns = {"target": np.array(["mixture_2d"] * (replicates * delta.size)), "delta": np.tile(delta, replicates),
               "replicate": np.repeat(np.arange(replicates), delta.size)}
    failures = 0
    for _ in range(trials):
        ratio = truth + sd * rng.standard_normal(columns["delta"].size)
        table = Table("mixture_delta", {**columns, "path_kl": ratio * 0.5 * columns["delta"] ** 2})
        result = mixture_claims.claim_mixture_girsanov_constant(table, "mixture_2d", alpha=alpha)
        failures += not result
    rate = float(scipy_stats.nct.sf(quantile(1 - alpha / 2, replicates - 1), replicates - 1, 0.5))
    low, high = binomial_band(trials, rate)
    assert alpha / 2 < rate and low <= failures <= high
    # The reported interval is the two-sided (1 − α) one: each end at its side's α/2.
    per_replicate = ratio.reshape(replicates, delta.size).mean(axis=1)
    mean, se = per_replicate.mean(), per_replicate.std(ddof=1) / math.sqrt(replicates)
    half = quantile(1 - alpha / 2, replicates - 1) * se
    assert result.ci == pytest.approx((mean - half, mean + half), rel=1e-9)


@pytest.mark.parametrize("inside", [True, False])
def test_exact_rate_claims_at_their_margins(inside):
    """Claims with exact fits only (noise-free data, se = 0), 1e-6 inside / outside each margin:
    TOST (``claim_delta_quadratic`` 2 ± 0.1, ``claim_dimension_linear`` product 1 ± 0.02) on both
    sides of the target, and the exact "shown" claims (``claim_step_floor`` ≥ 1,
    ``claim_dimension_linear`` anisotropic ≤ 1). Deterministic."""
    step = -1e-6 if inside else 1e-6
    delta = np.logspace(-2, -1, 5)
    d = np.array([2.0, 4.0, 8.0, 16.0, 32.0])
    for sign in (1.0, -1.0):
        slope = 2.0 + sign * (0.1 + step)
        table = Table("delta", {"kind": np.array(["affine"] * 5), "delta": delta, "excess": 0.3 * delta**slope})
        assert bool(sde_claims.claim_delta_quadratic(table, "affine")) == inside
        product = 1.0 + sign * (0.02 + step)
        anisotropic = 1.0 + step
        table = Table("dimension", {"family": np.array(["product"] * 5 + ["anisotropic"] * 5), "d": np.r_[d, d],
                                    "kl": np.r_[0.01 * d**product, 0.02 * d**anisotropic]})
        tost, shown = sde_claims.claim_dimension_linear(table)
        assert bool(tost) == inside and bool(shown) == inside
    eps = np.array([0.01, 0.02, 0.05, 0.1])
    assert bool(sde_claims.claim_step_floor(Table("eps", {"eps": eps, "kl": 0.5 * eps ** (1.0 - step)}))) == inside


def test_rounds_log_growth_claim_at_its_gates():
    """Claims, nested kind (``claim_rounds_log_growth``: exact=True, default min_r2_gain 1e-3):
    noise-free K* = 7 ± 1e-4 log d passes / fails on the sign of b̂; K* = 2 + 1.5 log d + c√d with c
    set so that the largest ΔR² (computed independently) is 1e-3·(1 ∓ 1e-4) passes / fails.
    Deterministic."""
    log_d = np.log(DIMENSIONS)
    table = lambda k: Table("rounds", {"d": DIMENSIONS, "k_star": k})
    assert sde_claims.claim_rounds_log_growth(table(7.0 + 1e-4 * log_d))
    assert not sde_claims.claim_rounds_log_growth(table(7.0 - 1e-4 * log_d))

    def largest_gain(c):
        k = 2.0 + 1.5 * log_d + c * np.sqrt(DIMENSIONS)
        tss = float(np.sum((k - k.mean()) ** 2))
        return max(rss([log_d], k) - rss([log_d, DIMENSIONS**p], k) for p in (0.25, 0.5, 1.0)) / tss

    for target, expected in ((1e-3 * (1 - 1e-4), True), (1e-3 * (1 + 1e-4), False)):
        low, high = 0.0, 1.0
        for _ in range(80):
            middle = 0.5 * (low + high)
            low, high = (middle, high) if largest_gain(middle) < target else (low, middle)
        result = sde_claims.claim_rounds_log_growth(table(2.0 + 1.5 * log_d + low * np.sqrt(DIMENSIONS)))
        assert bool(result) == expected and result.false_failure_rate == 0.0


def test_picard_exact_at_M_claim_at_its_tolerance():
    """Claims, exact value kind (``check_exact_value_at_most`` with rtol 0): the worst distance over
    K ≥ M equal to 1e-12 passes, one ulp above fails, NaN fails; rows with K < M do not count.
    Deterministic."""
    K = np.arange(1, 7)
    table = lambda worst: Table("picard", {"K": K, "M": np.full(6, 4),
                                           "distance": np.array([1.0, 0.1, 0.01, 1e-13, worst, 0.0])})
    assert sde_claims.claim_picard_exact_at_M(table(sde_claims.PICARD_EXACT_TOL))
    assert not sde_claims.claim_picard_exact_at_M(table(math.nextafter(sde_claims.PICARD_EXACT_TOL, math.inf)))
    assert not sde_claims.claim_picard_exact_at_M(table(math.nan))
