"""Tests of ``piadm_verify.verification.stats``: slope fits, bound and equivalence checks, the nested
log-vs-power test for Picard rounds, Holm families and sample-size helpers (docs/mathematics.md §7, §9).

Every random test draws from a seeded ``numpy.random.Generator``, so it is deterministic; its
docstring states the false-failure rate of the design, i.e. the probability that a fresh seed
would fail although the code is right. Calibration tests compare an observed failure count over
many simulated datasets with a binomial band whose own false-failure rate is ≤ 2e-6.
"""

import gc
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from piadm_verify.verification.stats import (
    CheckResult,
    check_exact_value_at_most,
    check_slope_at_least,
    check_slope_at_most,
    check_slope_equivalent,
    check_value_at_most,
    detectable_discrepancy,
    fit_linlog,
    fit_loglog,
    fit_semilog,
    holm,
    nested_log_vs_power,
    required_replicates,
    tost_false_failure_rate,
)

ALPHA = 1e-4  # per-assertion level of the theory suite (docs/mathematics.md §9)
BAND_TAIL = 1e-6  # each side of a binomial calibration band


@pytest.fixture(autouse=True)
def cheap_gc_collect():
    """statsmodels' Holm (``multipletests``) calls ``gc.collect()`` on every call, ~0.2 s with
    torch imported; freezing the objects that exist now makes those collections cheap."""
    gc.freeze()
    yield
    gc.unfreeze()


def binomial_band(trials: int, rate: float) -> tuple[int, int]:
    """Counts outside which a Binomial(trials, rate) falls with probability ≤ 2·BAND_TAIL."""
    law = scipy_stats.binom(trials, rate)
    return int(law.ppf(BAND_TAIL)), int(law.ppf(1 - BAND_TAIL))


def noisy_power_law(rng, x, slope, sigma):
    """``y = 3 x^slope · e^{σ Z}``: log-normal scatter around an exact power law."""
    return 3.0 * x**slope * np.exp(sigma * rng.standard_normal(x.shape))


# --------------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------------


def test_loglog_fit_recovers_exact_power_law_to_round_off():
    """Deterministic: y = 0.7 x^2 over three decades gives slope 2 to 1e-10 (no false failures)."""
    x = np.logspace(-3, 0, 13)
    fit = fit_loglog(x, 0.7 * x**2)
    assert fit.kind == "loglog" and fit.n_points == 13 and fit.df == 11 and fit.cov_type == "nonrobust"
    assert fit.estimate == pytest.approx(2.0, abs=1e-10)
    assert fit.intercept == pytest.approx(math.log(0.7), abs=1e-10)
    assert fit.residual_max < 1e-12
    assert fit.ci[0] <= fit.estimate <= fit.ci[1] and fit.ci[1] - fit.ci[0] < 1e-10


def test_semilog_fit_recovers_exact_exponential_rate():
    """Deterministic: y = 5 e^{-1.3 T} gives rate -1.3 to 1e-10."""
    horizon = np.linspace(1.0, 12.0, 12)
    fit = fit_semilog(horizon, 5.0 * np.exp(-1.3 * horizon))
    assert fit.kind == "semilog"
    assert fit.estimate == pytest.approx(-1.3, abs=1e-10)
    assert fit.intercept == pytest.approx(math.log(5.0), abs=1e-10)


def test_linlog_fit_recovers_exact_logarithmic_growth():
    """Deterministic: K = 2 + 1.5 log d gives b = 1.5 to 1e-10."""
    d = np.logspace(1, 4, 10)
    fit = fit_linlog(d, 2.0 + 1.5 * np.log(d))
    assert fit.kind == "linlog"
    assert fit.estimate == pytest.approx(1.5, abs=1e-10)
    assert fit.intercept == pytest.approx(2.0, abs=1e-10)


@pytest.mark.parametrize("groups", [None, [0, 0, 1, 1]])
def test_exact_fit_has_zero_stderr_and_no_nan(groups):
    """Deterministic: log y ≡ 0 is fitted exactly, so stderr is exactly 0 and every interval and
    check stays finite (plain and cluster-robust)."""
    fit = fit_semilog([0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0], groups=groups)
    assert fit.stderr == 0.0 and fit.estimate == 0.0 and fit.ci == (0.0, 0.0)
    assert fit.interval(0.999) == (0.0, 0.0)
    assert check_slope_at_most(fit, 0.0, alpha=ALPHA, name="flat").passed
    assert not check_slope_at_most(fit, -0.1, alpha=ALPHA, name="flat")
    assert tost_false_failure_rate(fit, 0.1, alpha=ALPHA) == 0.0


def test_fit_interval_matches_statsmodels_conf_int():
    """Seeded noisy data: the stored CI and ``interval`` equal statsmodels' t intervals exactly."""
    rng = np.random.default_rng(11)
    x = np.logspace(-2, 0, 9)
    y = noisy_power_law(rng, x, 1.0, 0.1)
    fit = fit_loglog(x, y, level=0.9)
    reference = OLS(np.log(y), np.column_stack([np.ones(9), np.log(x)])).fit()
    np.testing.assert_allclose(fit.ci, reference.conf_int(0.1)[1], rtol=1e-12)
    np.testing.assert_allclose(fit.interval(0.99), reference.conf_int(0.01)[1], rtol=1e-12)
    assert fit.lower_limit(0.95) == pytest.approx(fit.interval(0.9)[0], rel=1e-12)
    assert fit.upper_limit(0.95) == pytest.approx(fit.interval(0.9)[1], rel=1e-12)
    assert fit.stderr == pytest.approx(reference.bse[1], rel=1e-12)


def test_noisy_fit_ci_covers_truth_at_its_level():
    """1000 seeded datasets (slope 1.5, σ = 0.2): the 90% CI covers the truth in a fraction
    inside the binomial band around 0.9. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(12)
    x = np.logspace(-2, 0, 8)
    trials = 1000
    covered = sum(lo <= 1.5 <= hi for lo, hi in (fit_loglog(x, noisy_power_law(rng, x, 1.5, 0.2), level=0.9).ci for _ in range(trials)))
    low, high = binomial_band(trials, 0.9)
    assert low <= covered <= high


def test_cluster_robust_stderr_exceeds_ols_when_replicates_share_noise():
    """Seeded: 12 replicates, each with its own slope offset u_r ~ N(0, 0.05²) shared by its 30
    points. OLS treats the 360 points as independent and understates the slope's error; the
    cluster-robust error by replicate is larger by a factor 2.9 ± 0.06 (1000 simulated designs:
    minimum 2.68), so the factor-2 assertion fails with probability < 1e-6."""
    rng = np.random.default_rng(13)
    replicates, per_replicate = 12, 30
    x = np.tile(np.logspace(-2, 0, per_replicate), replicates)
    groups = np.repeat(np.arange(replicates), per_replicate)
    offsets = rng.normal(0.0, 0.05, replicates)[groups]
    y = x ** (1.0 + offsets) * np.exp(0.02 * rng.standard_normal(x.size))
    ols = fit_loglog(x, y)
    robust = fit_loglog(x, y, groups=groups)
    assert robust.estimate == pytest.approx(ols.estimate, rel=1e-12)
    assert robust.cov_type == "cluster" and robust.n_groups == replicates and robust.df == replicates - 1
    assert ols.df == x.size - 2 and ols.n_groups is None
    assert robust.stderr > 2.0 * ols.stderr


@pytest.mark.parametrize(
    "x, y, groups, message",
    [
        ([1.0, 2.0, 0.0], [1.0, 2.0, 3.0], None, "x must be positive"),
        ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], None, "y must be positive"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], None, "same length"),
        ([1.0, 2.0], [1.0, 2.0], None, "at least 3 points"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], None, "distinct"),
        ([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], None, "finite"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0, 0, 0], "2 replicate groups"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0, 1], "one id per point"),
    ],
)
def test_fit_rejects_invalid_data(x, y, groups, message):
    """Deterministic input validation."""
    with pytest.raises(ValueError, match=message):
        fit_loglog(x, y, groups=groups)


# --------------------------------------------------------------------------------------------
# One-sided bound checks
# --------------------------------------------------------------------------------------------


def test_bound_checks_pass_true_claims_and_fail_violated_ones():
    """Seeded, σ = 0.05 over two decades (slope se ≈ 0.01): a slope of 1.2 passes "≥ 1" and a
    slope of 0.5 fails it; e^{-1.3T} passes "decays at least like e^{-T}" and e^{-0.5T} fails.
    The passing assertions fail with probability ≤ α = 1e-4 by construction; the failing ones
    miss a violation of ≥ 0.3 (≈ 30 se) with probability < 1e-100."""
    rng = np.random.default_rng(21)
    x = np.logspace(-2, 0, 12)
    fast = fit_loglog(x, noisy_power_law(rng, x, 1.2, 0.05))
    slow = fit_loglog(x, noisy_power_law(rng, x, 0.5, 0.05))
    assert check_slope_at_least(fast, 1.0, alpha=ALPHA, name="floor_fast")
    assert not check_slope_at_least(slow, 1.0, alpha=ALPHA, name="floor_slow")

    horizon = np.linspace(2.0, 10.0, 9)
    steep = fit_semilog(horizon, 4.0 * np.exp(-1.3 * horizon + 0.05 * rng.standard_normal(9)))
    shallow = fit_semilog(horizon, 4.0 * np.exp(-0.5 * horizon + 0.05 * rng.standard_normal(9)))
    assert check_slope_at_most(steep, -1.0, alpha=ALPHA, name="decay_steep")
    assert not check_slope_at_most(shallow, -1.0, alpha=ALPHA, name="decay_shallow")


def test_bound_check_verdict_is_the_one_sided_confidence_limit():
    """Seeded: "at most" fails iff the one-sided (1 − α) lower limit exceeds the bound, "at least"
    iff the upper limit is below it; p ≤ α iff failed; CheckResult.ci is the (1 − 2α) interval."""
    rng = np.random.default_rng(22)
    x = np.logspace(-2, 0, 10)
    fit = fit_loglog(x, noisy_power_law(rng, x, 1.0, 0.3))
    for bound in np.linspace(fit.estimate - 1.0, fit.estimate + 1.0, 21):
        at_most = check_slope_at_most(fit, bound, alpha=0.01, name="m")
        at_least = check_slope_at_least(fit, bound, alpha=0.01, name="l")
        assert at_most.passed == (fit.lower_limit(0.99) <= bound) == (at_most.p_value > 0.01)
        assert at_least.passed == (fit.upper_limit(0.99) >= bound) == (at_least.p_value > 0.01)
        assert at_most.ci == pytest.approx(fit.interval(0.98)) and at_most.false_failure_rate == 0.01


def test_margin_relaxes_asymptotic_bounds():
    """Deterministic: an exact slope 0.95 fails "≥ 1" but passes "≥ 1 − 0.1"; slope −0.95 fails
    "≤ −1" but passes it with margin 0.1."""
    x = np.logspace(-3, 0, 7)
    shallow = fit_loglog(x, x**0.95)
    assert not check_slope_at_least(shallow, 1.0, alpha=ALPHA, name="strict")
    assert check_slope_at_least(shallow, 1.0, alpha=ALPHA, margin=0.1, name="relaxed")
    decay = fit_semilog(x, np.exp(-0.95 * x))
    assert not check_slope_at_most(decay, -1.0, alpha=ALPHA, name="strict")
    assert check_slope_at_most(decay, -1.0, alpha=ALPHA, margin=0.1, name="relaxed")
    with pytest.raises(ValueError, match="margin"):
        check_slope_at_most(decay, -1.0, alpha=ALPHA, margin=-0.1, name="bad")
    with pytest.raises(ValueError, match="alpha"):
        check_slope_at_most(decay, -1.0, alpha=0.7, name="bad")


@pytest.mark.parametrize("replicates", [None, 10])
def test_bound_check_false_failure_rate_is_alpha_on_the_boundary(replicates):
    """Calibration: 1500 seeded datasets whose true slope equals the bound (the least favourable
    true claim) fail "slope ≤ 1" at α = 0.05 a number of times inside the Binomial(1500, 0.05)
    band; with replicate groups (each replicate sharing a slope offset) the cluster-robust t(G−1)
    reference keeps the rate at most α. False-failure rate ≤ 2e-6 (OLS), ≤ 1e-6 (cluster)."""
    rng = np.random.default_rng(23 if replicates is None else 24)
    trials, alpha = 1500, 0.05
    if replicates is None:
        x, groups = np.logspace(-2, 0, 8), None
    else:
        x = np.tile(np.logspace(-2, 0, 6), replicates)
        groups = np.repeat(np.arange(replicates), 6)
    failures = 0
    for _ in range(trials):
        if groups is None:
            y = noisy_power_law(rng, x, 1.0, 0.2)
        else:
            offsets = rng.normal(0.0, 0.05, replicates)[groups]
            y = x ** (1.0 + offsets) * np.exp(0.02 * rng.standard_normal(x.size))
        failures += not check_slope_at_most(fit_loglog(x, y, groups=groups), 1.0, alpha=alpha, name="boundary")
    low, high = binomial_band(trials, alpha)
    assert failures <= high
    if groups is None:
        assert failures >= low


def test_value_checks():
    """Deterministic: a Monte Carlo mean 0.10 ± 0.01 passes "≤ 0.1" and fails "≤ 0.05"; an exact
    value passes its bound up to rtol (also for negative bounds)."""
    assert check_value_at_most(0.10, 0.01, 0.1, alpha=ALPHA, name="mc")
    failed = check_value_at_most(0.10, 0.01, 0.05, alpha=ALPHA, name="mc")
    assert not failed and failed.p_value < ALPHA
    assert check_value_at_most(0.10, 0.01, 0.05, alpha=ALPHA, margin=0.02, name="mc")
    assert check_value_at_most(0.10, 0.02, 0.05, alpha=ALPHA, df=3, name="few") and not check_value_at_most(0.10, 0.02, 0.05, alpha=0.1, name="many")

    exact = check_exact_value_at_most(1.0 + 1e-12, 1.0, name="oracle")
    assert exact and exact.alpha == 0.0 and exact.false_failure_rate == 0.0 and exact.ci == (exact.estimate, exact.estimate)
    assert not check_exact_value_at_most(1.001, 1.0, name="oracle")
    assert check_exact_value_at_most(-1.0 + 1e-12, -1.0, name="negative") and not check_exact_value_at_most(-0.99, -1.0, name="negative")


def test_check_result_is_truthy_and_summarises_in_one_line():
    """Deterministic formatting."""
    result = check_slope_at_least(fit_loglog([1.0, 2.0, 4.0], [1.0, 4.0, 16.0]), 1.0, alpha=ALPHA, name="kl_rate", claim="KL ∝ δ^p, p ≥ 1")
    assert isinstance(result, CheckResult) and bool(result) is True
    line = result.summary()
    assert "\n" not in line and line.startswith("PASS kl_rate: KL ∝ δ^p, p ≥ 1") and "p=" in line
    assert check_exact_value_at_most(2.0, 1.0, name="x").summary().startswith("FAIL x")


# --------------------------------------------------------------------------------------------
# TOST
# --------------------------------------------------------------------------------------------


def test_tost_accepts_slope_two_within_margin_and_rejects_slope_2_3():
    """Seeded, σ = 0.02 over two decades (se ≈ 0.004): slope 2.0 is declared equal to 2 ± 0.1 and
    2.3 is not. The design's false-failure rate (asserted ≤ 1e-4) is the plug-in TOST rate at
    slope = 2; declaring 2.3 equivalent has probability < α = 1e-4."""
    rng = np.random.default_rng(31)
    x = np.logspace(-2, 0, 12)
    exact_rate = fit_loglog(x, noisy_power_law(rng, x, 2.0, 0.02))
    result = check_slope_equivalent(exact_rate, 2.0, 0.1, alpha=ALPHA, name="kl_quadratic")
    assert result and result.p_value is None
    assert result.ci == pytest.approx(exact_rate.interval(1 - 2 * ALPHA))
    assert result.false_failure_rate == tost_false_failure_rate(exact_rate, 0.1, alpha=ALPHA) <= 1e-4
    assert not check_slope_equivalent(fit_loglog(x, noisy_power_law(rng, x, 2.3, 0.02)), 2.0, 0.1, alpha=ALPHA, name="too_fast")
    assert check_slope_equivalent(fit_loglog(x, x**2), 2.0, 0.1, alpha=ALPHA, name="exact")
    assert not check_slope_equivalent(fit_loglog(x, x**2.3), 2.0, 0.1, alpha=ALPHA, name="exact")


def test_tost_false_failure_rate_bounds_the_simulated_rate():
    """Calibration: 1500 seeded datasets with true slope = target and a margin only ~3 se wide
    (so TOST often fails) fail at most as often as the mean plug-in prediction plus the binomial
    band: the approximation is on the safe side. Also: a margin inside the CI's half-width gives
    rate 1. False-failure rate ≤ 1e-6."""
    rng = np.random.default_rng(32)
    x = np.logspace(-2, 0, 12)
    trials, alpha, margin = 1500, 0.05, 0.035
    failures, predicted = 0, 0.0
    for _ in range(trials):
        result = check_slope_equivalent(fit_loglog(x, noisy_power_law(rng, x, 2.0, 0.05)), 2.0, margin, alpha=alpha, name="tost")
        failures += not result
        predicted += result.false_failure_rate / trials
    assert 0.05 < predicted < 0.5
    assert failures <= binomial_band(trials, predicted)[1]
    fit = fit_loglog(x, noisy_power_law(rng, x, 2.0, 0.05))
    assert tost_false_failure_rate(fit, 0.5 * (fit.interval(0.9)[1] - fit.estimate), alpha=alpha) == 1.0


# --------------------------------------------------------------------------------------------
# Nested test: K* = a + b log d against powers of d
# --------------------------------------------------------------------------------------------

DIMENSIONS = np.logspace(1, 4, 16)  # three decades, more than the 2.5 docs/mathematics.md §7 asks


def test_nested_test_accepts_exact_logarithmic_growth():
    """Deterministic oracle-like data K* = 2 + 1.5 log d: ΔR² stays at round-off, b = 1.5 with a
    collapsed interval, so the log model is adequate."""
    result = nested_log_vs_power(DIMENSIONS, 2.0 + 1.5 * np.log(DIMENSIONS), alpha=ALPHA, name="rounds")
    assert result and result.growth and not any(result.power_needed)
    assert result.log_fit.estimate == pytest.approx(1.5, abs=1e-10)
    assert max(result.r2_gains) < 1e-20 and result.decades == pytest.approx(3.0)
    assert all(math.isfinite(f) and f >= 0 for f in result.f_statistics)
    assert all(alone > result.rss_log for alone in result.rss_power_alone)
    assert result.false_failure_rate == pytest.approx(ALPHA)


def test_nested_test_rejects_an_added_square_root_term():
    """Deterministic: K* = 2 + 1.5 log d + 0.1 √d; the √d term is significant and explains a
    finite share of the variation, so the check fails and names the power."""
    k_star = 2.0 + 1.5 * np.log(DIMENSIONS) + 0.1 * np.sqrt(DIMENSIONS)
    result = nested_log_vs_power(DIMENSIONS, k_star, alpha=ALPHA, name="rounds")
    assert not result
    assert result.power_needed[result.powers.index(0.5)]
    assert result.power_coefficients[result.powers.index(0.5)] == pytest.approx(0.1, rel=1e-6)
    assert "FAIL rounds" in result.summary()


def test_nested_test_with_monte_carlo_noise():
    """Seeded, σ = 0.1 on K*: the pure log law passes (false-failure rate ≤ α = 1e-4 by the Holm
    F tests, growth missed with probability < 1e-50 at b/se ≈ 50), and the law with + 0.1 √d
    fails (its F statistic is in the hundreds: missed with probability < 1e-10)."""
    rng = np.random.default_rng(41)
    log_law = 2.0 + 1.5 * np.log(DIMENSIONS)
    noise = 0.1 * rng.standard_normal(DIMENSIONS.size)
    assert nested_log_vs_power(DIMENSIONS, log_law + noise, alpha=ALPHA, name="rounds")
    assert not nested_log_vs_power(DIMENSIONS, log_law + 0.1 * np.sqrt(DIMENSIONS) + noise, alpha=ALPHA, name="rounds")


def test_nested_test_tolerates_integer_quantisation():
    """Deterministic: an integer K* = ⌈2 + 1.5 log d⌉ is still a log law: quantisation is not a
    power of d (ΔR² below the default 1e-3)."""
    result = nested_log_vs_power(DIMENSIONS, np.ceil(2.0 + 1.5 * np.log(DIMENSIONS)), alpha=ALPHA, name="rounds")
    assert result and max(result.r2_gains) < 1e-3


def test_nested_test_requires_growth():
    """Deterministic: a flat K* has b = 0, so the growth requirement fails it; nothing is NaN."""
    result = nested_log_vs_power(DIMENSIONS, np.full(DIMENSIONS.size, 7.0), alpha=ALPHA, name="flat")
    assert not result and not result.growth
    assert all(math.isfinite(p) for p in result.p_values + result.adjusted_p_values + result.r2_gains)


@pytest.mark.parametrize("exact", [True, False])
def test_nested_test_does_not_read_a_round_off_slope_as_growth(exact):
    """Deterministic: a constant K* on log d symmetric about 0 fits b̂ = +1.1e-16 with a standard error
    of exactly 0; growth must exceed round-off (b̂·log(d_max/d_min) > 1e-9·max K*), so the flat K*
    fails, exact or not, and the statistical mode says its growth requirement misses for sure."""
    d = np.exp([-1.5, -0.5, 0.5, 1.5])
    result = nested_log_vs_power(d, np.full(d.size, 3.0), alpha=ALPHA, exact=exact, name="flat")
    assert result.log_fit.estimate > 0 and result.log_fit.stderr == 0.0  # the round-off this test is about
    assert not result and not result.growth
    assert result.false_failure_rate == (0.0 if exact else 1.0)
    rising = nested_log_vs_power(d, 3.0 + 1e-6 * np.log(d), alpha=ALPHA, exact=exact, name="rising")
    assert rising.growth  # a rise of 3e-6 over K* ≈ 3 is far above round-off


def test_nested_test_false_failure_rate_under_a_log_law():
    """Calibration: 600 seeded noisy log laws (σ = 0.3, so growth is never in doubt) fail at
    α = 0.05 no more often than the Binomial(600, 0.05) band allows (Holm across three powers is
    conservative). False-failure rate ≤ 1e-6."""
    rng = np.random.default_rng(42)
    trials, alpha = 600, 0.05
    log_law = 2.0 + 1.5 * np.log(DIMENSIONS)
    failures = sum(
        not nested_log_vs_power(DIMENSIONS, log_law + 0.3 * rng.standard_normal(DIMENSIONS.size), alpha=alpha, min_r2_gain=0.0, name="cal")
        for _ in range(trials)
    )
    assert failures <= binomial_band(trials, alpha)[1]


def test_nested_test_reports_holm_adjusted_p_values_and_validates_input():
    """Deterministic bookkeeping: adjusted p-values are statsmodels' Holm of the raw ones."""
    rng = np.random.default_rng(43)
    k_star = 2.0 + 1.5 * np.log(DIMENSIONS) + 0.3 * rng.standard_normal(DIMENSIONS.size)
    result = nested_log_vs_power(DIMENSIONS, k_star, powers=(0.25, 0.5), alpha=0.05, name="rounds")
    np.testing.assert_allclose(result.adjusted_p_values, multipletests(result.p_values, method="holm")[1])
    assert result.as_check().estimate == result.log_fit.estimate and result.as_check().p_value is None
    with pytest.raises(ValueError, match="at least 4 points"):
        nested_log_vs_power([10.0, 100.0, 1000.0], [1.0, 2.0, 3.0], alpha=0.05, name="short")
    with pytest.raises(ValueError, match="powers"):
        nested_log_vs_power(DIMENSIONS, k_star, powers=(), alpha=0.05, name="none")


# --------------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------------


def test_holm_on_p_values_matches_statsmodels():
    """Deterministic: verdicts and adjusted p-values equal ``multipletests(method="holm")``."""
    p_values = [0.001, 0.04, 0.012, 0.3, 0.0125]
    family = holm(p_values, 0.05)
    reject, corrected = multipletests(p_values, alpha=0.05, method="holm")[:2]
    assert family.member_passed == tuple(not r for r in reject)
    np.testing.assert_allclose(family.adjusted_p_values, corrected)
    assert not family and family.summary().startswith("FAIL family of 5")
    assert holm([0.2, 0.5, 0.9], 0.05)


def test_holm_on_check_results_mixes_holm_and_bonferroni_shares():
    """Deterministic: members with p-values share α·m_p/m by Holm; interval-only members need a
    false-failure rate ≤ α/m and keep their verdict; a larger one is a design error."""
    x = np.logspace(-2, 0, 8)
    fit = fit_loglog(x, x**2 * np.exp(0.01 * np.sin(7 * x)))
    bound_check = check_slope_at_least(fit, 1.0, alpha=0.01, name="bound")
    equivalence = check_slope_equivalent(fit, 2.0, 0.1, alpha=0.01, name="tost")
    exact = check_exact_value_at_most(0.5, 1.0, name="exact")
    family = holm([bound_check, equivalence, exact], 0.03)
    assert family and family.names == ("bound", "tost", "exact")
    assert family.adjusted_p_values[1:] == (None, None)
    assert family.adjusted_p_values[0] == pytest.approx(min(1.0, 3 * bound_check.p_value))

    failing = CheckResult(name="violated", claim="p ≤ 0", estimate=1.0, ci=(0.9, 1.1), alpha=0.01, passed=False, p_value=1e-9)
    mixed = holm([failing, equivalence, exact], 0.03)
    assert mixed.member_passed == (False, True, True) and not mixed

    loose = CheckResult(name="loose", claim="c", estimate=0.0, ci=(0.0, 0.0), alpha=0.02, passed=True)
    with pytest.raises(ValueError, match="Bonferroni share"):
        holm([loose, exact], 0.03)
    with pytest.raises(TypeError):
        holm([exact, 0.5], 0.03)


# --------------------------------------------------------------------------------------------
# Sample sizes
# --------------------------------------------------------------------------------------------


def test_required_replicates_matches_statsmodels_power_analysis():
    """Deterministic: the count is statsmodels' one-sided t power solution rounded up, and it
    grows like 1/effect²."""
    expected = TTestPower().solve_power(effect_size=0.5, nobs=None, alpha=ALPHA, power=0.9, alternative="larger")
    assert required_replicates(0.05, 0.1, alpha=ALPHA, power=0.9) == math.ceil(expected)
    ratio = required_replicates(0.005, 0.1, alpha=ALPHA, power=0.9) / required_replicates(0.05, 0.1, alpha=ALPHA, power=0.9)
    assert 90 < ratio < 101
    with pytest.raises(ValueError):
        required_replicates(0.0, 0.1, alpha=ALPHA, power=0.9)


def test_required_replicates_is_two_when_two_replicates_already_exceed_the_power():
    """Deterministic: statsmodels' root finder returns NaN when no n ≥ 2 solves the power equation
    because n = 2 already exceeds the power (a large effect); the count is then the floor 2, not a
    crash. Just below, effect/sd = 3 needs 2.011 replicates: 3."""
    assert required_replicates(100.0, 1.0, alpha=0.05, power=0.5) == 2
    assert required_replicates(1.0, 1.0, alpha=0.3, power=0.5) == 2
    assert required_replicates(3.0, 1.0, alpha=0.05, power=0.5) == 3


def test_required_replicates_achieves_the_stated_power():
    """Calibration: with n = required_replicates(0.5, 1, α = 0.01, power 0.8) replicates of mean
    bound + 0.5, ``check_value_at_most`` (t with n − 1 df) detects the violation in a fraction of
    800 seeded trials inside the Binomial(800, 0.8) band. False-failure rate ≤ 2e-6."""
    rng = np.random.default_rng(51)
    n = required_replicates(0.5, 1.0, alpha=0.01, power=0.8)
    trials = 800
    samples = rng.normal(0.5, 1.0, size=(trials, n))
    detected = sum(
        not check_value_at_most(row.mean(), row.std(ddof=1) / math.sqrt(n), 0.0, alpha=0.01, df=n - 1, name="power")
        for row in samples
    )
    low, high = binomial_band(trials, 0.8)
    assert low <= detected <= high


def test_detectable_discrepancy_is_the_power_quantile_distance():
    """Deterministic: with a known normal standard error, a violation of the reported size is
    detected with exactly the stated power; zero for exact data."""
    size = detectable_discrepancy(0.01, alpha=ALPHA, power=0.9)
    assert size == pytest.approx((scipy_stats.norm.ppf(1 - ALPHA) + scipy_stats.norm.ppf(0.9)) * 0.01)
    detection = scipy_stats.norm.sf(scipy_stats.norm.ppf(1 - ALPHA) - size / 0.01)
    assert detection == pytest.approx(0.9)
    assert detectable_discrepancy(0.0, alpha=ALPHA, power=0.9) == 0.0
