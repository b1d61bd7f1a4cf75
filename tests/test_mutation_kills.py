"""Tests that kill the mutants the rest of the suite let survive (issue 17, ``benchmarks/mutation.py``).

Each test is named after the documented behaviour it checks and lists, in its docstring, the
mutants it kills (mutmut's names, without the module prefix). Every test here is deterministic: no
randomness, or hand-built inputs; where a verdict is compared with an exact tie, the tie is
constructed in floating point so that the documented inequality (≤ or <) decides it. Mutants that
no test can kill are listed, with the reason, in ``benchmarks/mutation_equivalent.toml``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import special

from piadm_verify.verification import stats
from piadm_verify.verification.stats import (
    check_exact_value_at_most,
    check_value_at_most,
    fit_linlog,
    fit_loglog,
    fit_semilog,
    holm,
    nested_log_vs_power,
    required_replicates,
)

DIMENSIONS = np.logspace(1, 4, 8)
SQRT_LAW = 2.0 + 1.5 * np.log(DIMENSIONS) + 0.05 * np.sqrt(DIMENSIONS)  # log growth plus a √d term


# -- stats.py: one-line summaries (the report prints them) --------------------------------------


def test_check_summaries_name_verdict_claim_interval_level_p_value_and_detail():
    """``CheckResult.summary`` of a bound check and of an exact check, ``FamilyResult.summary`` of a
    failing and a passing family, word for word. Kills the mutants of CheckResult.summary (the
    interval's level, "exact" for α = 0), of FamilyResult.summary (verdict, failed members) and
    check_exact_value_at_most's default claim and detail dropped or changed."""
    bound = check_value_at_most(1.5, 0.25, 1.0, alpha=0.05, df=4, margin=0.1, name="v")
    assert bound.summary() == ("PASS v: value ≤ 1 + 0.1 | estimate 1.5, 90% CI [0.967038, 2.03296], α=0.05, p=0.0924 | "
                               "H0: value ≤ 1.1; one-sided lower 0.95 limit 0.967038; detects a violation ≥ 0.916 with power 0.9")
    exact = check_exact_value_at_most(1.0, 2.0, name="x")
    assert exact.summary() == "PASS x: value ≤ 2 | estimate 1, exact [1, 1], α=0 | exact, rtol=1e-09"
    assert exact.claim == "value ≤ 2" and exact.detail == "exact, rtol=1e-09" and exact.p_value is None
    assert check_exact_value_at_most(1.0, 2.0, name="x", claim="mine").claim == "mine"
    assert holm([0.01, 0.5, 1e-6], 0.05).summary() == "FAIL family of 3 at α_family=0.05 (Holm): failed p[0], p[2]"
    assert holm([0.5, 0.6], 0.05).summary() == "PASS family of 2 at α_family=0.05 (Holm)"


def test_nested_result_as_check_carries_its_claim_detail_and_rate():
    """``NestedModelResult.as_check`` keeps the claim (default and given), reports b with its
    (1 − 2α) interval, no p-value, the per-power Holm p and ΔR² and the RSS in ``detail``, and the
    result's false-failure rate. Kills the mutants of NestedModelResult.as_check (claim, detail,
    separators dropped or changed) and the log fit's ``kind="linlog"`` changed in nested_log_vs_power."""
    result = nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, name="rounds")
    check = result.as_check()
    assert result.log_fit.kind == "linlog"
    assert check.summary() == (
        "FAIL rounds: K* = a + b log d with b > 0; no power d^p improves it | estimate 2.13484, 99.98% CI [1.17053, 3.09915], "
        "α=0.0001 | 3 decades; growth b>0: True; d^0.25: p_Holm=3.4e-05 ΔR²=0.0183, d^0.5: p_Holm=1.78e-72 ΔR²=0.0187, "
        "d^1: p_Holm=0.00014 ΔR²=0.0178; RSS log 3.54 vs power alone 2.05, 16.3, 51")
    assert check.p_value is None and check.false_failure_rate == result.false_failure_rate
    assert nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, name="r", claim="mine").as_check().claim == "mine"


# -- stats.py: bound checks ---------------------------------------------------------------------------


def test_bound_check_fails_when_its_p_value_equals_alpha_exactly():
    """``_one_sided_check`` fails iff p ≤ α (its docstring; Holm's rule too). A tie built in floating
    point: estimate 2, standard error 1, bound 0 on t(5) gives p = stdtr(5, −2), and α is set to that
    very number, so the check must fail; with α one float smaller it passes. Kills
    ``passed=p_value > alpha`` → ``>=`` (the mutant that only a tie separates)."""
    alpha = float(special.stdtr(5, -2.0))
    tie = check_value_at_most(2.0, 1.0, 0.0, alpha=alpha, df=5, name="tie")
    assert tie.p_value == alpha and not tie
    assert check_value_at_most(2.0, 1.0, 0.0, alpha=math.nextafter(alpha, 0.0), df=5, name="tie")


# -- stats.py: fits --------------------------------------------------------------------------------


@pytest.mark.parametrize("fit", [fit_loglog, fit_semilog, fit_linlog])
def test_every_fit_honours_groups_and_exact(fit):
    """The three fits pass ``groups`` and ``exact`` on: replicate groups give cluster-robust errors on
    G − 1 df, ``exact=True`` a zero standard error. Kills, in each fit, ``groups=None``,
    ``exact=None`` and the dropped ``exact``."""
    x = np.repeat([1.0, 2.0, 4.0, 8.0], 3)
    y = np.exp(0.3 * x) * (1.0 + 0.05 * np.tile([-1.0, 0.5, 0.5], 4))
    groups = np.tile([0, 1, 2], 4)
    clustered = fit(x, y, groups=groups)
    assert clustered.cov_type == "cluster" and clustered.n_groups == 3 and clustered.df == 2
    exact = fit(x, y, exact=True)
    assert exact.cov_type == "exact" and exact.stderr == 0.0 and exact.ci == (exact.estimate, exact.estimate)


# -- stats.py: nested log-vs-power test ------------------------------------------------------------


class _StubFit:
    """An OLS result whose ``compare_f_test`` does what statsmodels does at zero residuals: divide by
    zero in numpy (and warn)."""

    def __init__(self, ssr: float, f_value: float | None = None, p_value: float | None = None):
        self.ssr, self.f_value, self.p_value = ssr, f_value, p_value

    def compare_f_test(self, restricted):
        if self.f_value is not None:
            return self.f_value, self.p_value, 1
        explained = np.float64(restricted.ssr - self.ssr)
        warnings.warn("divide by zero in the F statistic", RuntimeWarning)
        return explained / np.float64(0.0), np.float64(0.0) / np.float64(0.0), 1


def test_f_test_at_zero_residuals_reads_all_or_nothing_explained():
    """Documented in ``_f_test``: when RSS_full is exactly 0 the power term explains everything that
    was left (F = ∞, p = 0) or nothing (F = 0, p = 1), whatever numpy's error settings and without a
    warning; a round-off F below 0 reads as 0, an F in (0, 1) is kept. Kills in _f_test the
    ``np.errstate`` arguments dropped, the warning filter's category set to None, ``explained``
    changed, the all-or-nothing branch forced or its values changed, and ``max(F, 0)`` → ``max(F, 1)``."""
    restricted = _StubFit(ssr=2.0)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats._f_test(_StubFit(ssr=0.0), restricted) == (math.inf, 0.0)
        assert stats._f_test(_StubFit(ssr=2.0), restricted) == (0.0, 1.0)
        assert stats._f_test(_StubFit(ssr=1.5), _StubFit(ssr=2.5)) == (math.inf, 0.0)  # explained 1.0: > 0, not > 1
    assert stats._f_test(_StubFit(0.0, f_value=-1e-12, p_value=1.0), restricted) == (0.0, 1.0)
    assert stats._f_test(_StubFit(0.0, f_value=0.5, p_value=0.6), restricted) == (0.5, 0.6)


def test_nested_test_validates_min_r2_gain_powers_and_point_count():
    """``min_r2_gain`` must lie in [0, 1] (1 allowed), ``powers`` be positive (0 and −1 refused), and
    4 points (the full model's 3 coefficients + 1) suffice. Kills in nested_log_vs_power the
    range checks' ``and`` → ``or``, bounds moved (``≤ 1`` → ``< 1``/``≤ 2``, ``p > 0`` → ``p ≥ 0``,
    ``< 4`` → ``≤ 4``/``< 5``) and the message dropped."""
    four = DIMENSIONS[::2]
    assert nested_log_vs_power(four, 2.0 + np.log(four), alpha=1e-4, exact=True, name="four").passed
    assert nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, min_r2_gain=1.0, name="r").passed  # no ΔR² reaches 1
    for gain in (1.5, 2.0, -0.1):
        with pytest.raises(ValueError, match="min_r2_gain must lie in"):
            nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, min_r2_gain=gain, name="r")
    for powers in ((0.0,), (-1.0,), (0.5, 0.0)):
        with pytest.raises(ValueError, match="powers must be"):
            nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, powers=powers, name="r")


def test_nested_test_r2_gain_is_scale_free_and_its_tie_needs_the_power():
    """ΔR² is a share of K*'s variation: K* measured in units 100 times larger (TSS < 1) gives the
    same gains and verdict; RSS_full is each full model's residual sum of squares; a power term
    whose ΔR² equals ``min_r2_gain`` exactly is needed (≥). Kills in nested_log_vs_power ``tss > 0``
    → ``tss > 1``, ``rss_full`` entries set to None, ``g ≥ min_r2_gain`` → ``g > min_r2_gain``."""
    result = nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, name="r")
    small = nested_log_vs_power(DIMENSIONS, SQRT_LAW / 100.0, alpha=1e-4, name="r")
    assert small.tss < 1.0 and small.r2_gains == pytest.approx(result.r2_gains, rel=1e-9)
    assert small.power_needed == result.power_needed and not small.passed
    log_d = np.log(DIMENSIONS)
    for p, rss_full in zip(result.powers, result.rss_full):
        design = np.column_stack([np.ones_like(log_d), log_d, DIMENSIONS**p])
        residual = SQRT_LAW - design @ np.linalg.lstsq(design, SQRT_LAW, rcond=None)[0]
        assert rss_full == pytest.approx(float(residual @ residual), rel=1e-6)
    strongest = int(np.argmax(result.r2_gains))
    tie = nested_log_vs_power(DIMENSIONS, SQRT_LAW, alpha=1e-4, min_r2_gain=result.r2_gains[strongest], name="r")
    assert tie.power_needed[strongest]


def test_nested_test_with_an_exact_line_and_zero_stderr_misses_growth_never():
    """K* = 3 + ½ log d at log d = 0, 1, 2, 3 fits with a standard error of exactly 0: it grows for
    sure, so the statistical mode's false-failure rate is α alone, the default ``min_r2_gain`` is
    1e-3 and TSS is Σ(K* − mean)². Kills in nested_log_vs_power the zero-stderr miss flipped for a
    growing K* (``> 0`` → ``> 1``, ``1.0`` → ``2.0``, ``and False``), ``min(1.0, …)`` → ``min(2.0, …)``,
    ``min_r2_gain=None`` and ``tss=None``."""
    d = np.exp([0.0, 1.0, 2.0, 3.0])
    k_star = 3.0 + 0.5 * np.log(d)
    result = nested_log_vs_power(d, k_star, alpha=1e-4, name="line")
    assert result.log_fit.stderr == 0.0 and result.passed
    assert result.false_failure_rate == 1e-4
    assert result.min_r2_gain == 1e-3 and result.tss == pytest.approx(float(np.sum((k_star - k_star.mean()) ** 2)))


def test_nested_test_reports_no_gain_and_certain_failure_for_a_constant_k_star():
    """A constant K* has TSS = 0: every ΔR² is reported as 0 (not 1), and with a standard error of
    exactly 0 (log d symmetric about 0) the growth requirement's miss probability is 1, so the
    ``false_failure_rate`` is 1. Kills in nested_log_vs_power: ``else 0.0`` → ``else 1.0`` for the
    gain, ``stderr > 0`` → ``≥ 0`` (divides by 0), ``growth_miss = None`` and the miss forced to 0."""
    d = np.exp([-1.5, -0.5, 0.5, 1.5])
    result = nested_log_vs_power(d, np.full(d.size, 3.0), alpha=1e-4, name="flat")
    assert result.tss == 0.0 and result.r2_gains == (0.0, 0.0, 0.0)
    assert result.log_fit.stderr == 0.0 and result.false_failure_rate == 1.0


# -- stats.py: Holm families ------------------------------------------------------------------------


def test_holm_refuses_levels_and_p_values_outside_their_ranges_and_an_empty_family():
    """``alpha_family`` must lie in (0, 1), both ends excluded; p-values in [0, 1] (1.5 and −0.1
    refused); an empty family is refused with its own message. Kills in holm the bounds of
    ``0 < alpha_family < 1`` and ``0 ≤ p ≤ 1`` moved, and the messages dropped or changed."""
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"alpha_family must lie in \(0, 1\)"):
            holm([0.5], level)
    for p_value in (1.5, -0.1):
        with pytest.raises(ValueError, match=r"^p-values must lie in \[0, 1\]$"):
            holm([0.5, p_value], 0.05)
    assert holm([0.0, 1.0], 0.05).member_passed == (False, True)
    with pytest.raises(ValueError, match="^a family needs at least one member$"):
        holm([], 0.05)


# -- stats.py: sample sizes ------------------------------------------------------------------------


def test_required_replicates_refuses_non_positive_effects_and_powers_outside_the_open_unit_interval():
    """``effect`` and ``sd`` must be > 0 (each checked on its own), ``power`` in (0, 1) with both ends
    excluded. Kills in required_replicates ``and`` → ``or``, ``> 0`` → ``≥ 0``, the power's bounds
    moved, and the messages dropped."""
    for effect, sd in ((0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, -1.0)):
        with pytest.raises(ValueError, match="effect and sd must be positive"):
            required_replicates(effect, sd, alpha=0.05, power=0.9)
    for power in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"power must lie in \(0, 1\)"):
            required_replicates(1.0, 1.0, alpha=0.05, power=power)


# -- samplers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_piadm_ode_names_a_bad_max_points_per_call(bad):
    """``piadm_ode`` checks ``max_points_per_call`` like ``piadm_sde`` does: a ValueError or TypeError
    naming it. Kills in piadm_ode the check called without its value."""
    from analytic import Gaussian
    from piadm_verify import TimeGrid, piadm_ode

    target = Gaussian(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    with pytest.raises((ValueError, TypeError), match="max_points_per_call"):
        piadm_ode(target, TimeGrid.uniform(T=1.0, eta=0.1, blocks=2, steps=2), 2, 2, K=1, max_points_per_call=bad, generator=0)


# -- estimators.py ---------------------------------------------------------------------------------


def _two_modes(weights=(0.3, 0.7), means=((-2.0, 0.0), (2.0, 1.0))):
    from analytic import GaussianMixture

    f64 = torch.float64
    cov = torch.tensor([[1.0, 0.3], [0.3, 0.8]], dtype=f64)
    return GaussianMixture(torch.tensor(weights, dtype=f64), torch.tensor(means, dtype=f64), torch.stack([cov, cov]))


def test_histogram_bins_bounds_and_miller_madow_as_documented():
    """``histogram_divergences`` with ``bins`` b per axis has b + 1 edges per axis on the given
    ``bounds`` (a 1-D target takes a flat ``(lo, hi)`` pair), integer counts, and
    ``kl_miller_madow = (B − 1)/(2n)``; a bad per-axis bin count is refused naming ``bins``. Kills
    in histogram_divergences the bin count dropped from ``linspace``, the counts' int cast dropped and
    the Miller–Madow term's ``/`` and ``*`` swapped; in _bounds the 1-D reshaping's ``dim == 1``
    changed, the finiteness check negated and the returned pairs replaced; in _bins the name dropped."""
    from analytic import Gaussian
    from piadm_verify.verification.estimators import histogram_divergences

    law = Gaussian(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    x = law.sample(400, generator=torch.Generator().manual_seed(3))
    r = histogram_divergences(x, law, bins=4, bounds=(-3.0, 3.0), bootstrap=2, generator=0)
    assert len(r.edges) == 1 and np.array_equal(r.edges[0], np.linspace(-3.0, 3.0, 5))
    assert r.counts.dtype.kind == "i" and r.counts.sum() == 400 and r.counts.shape == (5,)
    assert r.kl_miller_madow == pytest.approx((5 - 1) / (2.0 * 400), rel=1e-15)
    law2 = Gaussian(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    x2 = law2.sample(100, generator=torch.Generator().manual_seed(4))
    with pytest.raises(ValueError, match="^bins must be an integer >= 1, got 0$"):
        histogram_divergences(x2, law2, bins=[3, 0], bootstrap=2)


def test_equal_means_give_every_draw_to_the_heavier_component_and_the_first_on_a_tie():
    """Two components with equal means and covariances: the larger weight takes every draw, the first
    on an exact tie; π sums to 1. Kills in _two_component_hyperplane the tie's ``<=`` → ``<``, the
    threshold 0 → 1 and ``1 − first`` → ``2 − first``."""
    from piadm_verify.verification.estimators import assignment_probabilities

    same = ((0.0, 0.0), (0.0, 0.0))
    assert list(assignment_probabilities(_two_modes((0.5, 0.5), same)).probabilities) == [1.0, 0.0]
    assert list(assignment_probabilities(_two_modes((0.4, 0.6), same)).probabilities) == [0.0, 1.0]
    assert list(assignment_probabilities(_two_modes((0.6, 0.4), same)).probabilities) == [1.0, 0.0]


def test_monte_carlo_assignment_follows_its_generator_and_reports_binomial_errors():
    """Monte Carlo π̂ comes from the given generator (same seed, same π̂; another seed, another π̂)
    with standard errors ``(π̂(1 − π̂)/N)^{1/2}``; ``mode_weight_test`` then names the number of draws
    in its assumptions (and not for exact π), and reports its α and n. Kills in
    assignment_probabilities the generator ignored and ``1 − π̂`` → ``1 + π̂``; in mode_weight_test
    the draws' clause forced on or off and ``alpha``/``n`` dropped from the result."""
    from piadm_verify.verification.estimators import assignment_probabilities, mode_weight_test

    law = _two_modes(means=((-0.5, 0.0), (0.5, 0.3)))
    a = assignment_probabilities(law, method="monte carlo", mc_samples=2000, generator=1)
    assert np.array_equal(a.probabilities, assignment_probabilities(law, method="monte carlo", mc_samples=2000,
                                                                    generator=1).probabilities)
    assert not np.array_equal(a.probabilities, assignment_probabilities(law, method="monte carlo", mc_samples=2000,
                                                                        generator=2).probabilities)
    pi = a.probabilities
    assert 0.0 < pi[0] < 1.0
    np.testing.assert_allclose(a.stderr, np.sqrt(pi * (1.0 - pi) / 2000), rtol=1e-14)
    x = law.sample(300, generator=torch.Generator().manual_seed(5))
    mc = mode_weight_test(x, law, probabilities="monte carlo", mc_samples=2000, generator=1, alpha=0.01)
    assert "(2000 draws)" in mc.assumptions and mc.alpha == 0.01 and mc.n == 300
    assert "draws)" not in mode_weight_test(x, law).assumptions


def test_mode_weight_test_passes_only_when_the_p_value_exceeds_alpha():
    """``passed = p > α`` strictly: with α set to the test's own p-value it fails. Kills in
    mode_weight_test ``>`` → ``>=``."""
    from piadm_verify.verification.estimators import mode_weight_test

    law = _two_modes()
    x = law.sample(200, generator=torch.Generator().manual_seed(6))
    p = mode_weight_test(x, law, alpha=0.5).p_value
    assert 0.0 < p < 1.0
    assert not mode_weight_test(x, law, alpha=p).passed
    assert mode_weight_test(x, law, alpha=p * (1 - 1e-12)).passed


def test_pool_cells_pools_small_cells_alone_once_they_reach_the_minimum():
    """Small cells whose pooled expectation reaches MIN_EXPECTED form their own cell; no large cell
    joins them; without small cells every cell stands alone. Kills in _pool_cells ``and large`` →
    ``or large``."""
    from piadm_verify.verification.estimators import _pool_cells

    assert _pool_cells(np.array([3.0, 3.0, 10.0, 12.0])) == [[0, 1], [2], [3]]
    assert _pool_cells(np.array([1.0, 2.0, 10.0, 12.0])) == [[2, 0, 1], [3]]
    assert _pool_cells(np.array([10.0, 12.0])) == [[0], [1]]


def test_projection_fit_takes_torch_directions_and_reports_its_method():
    """Directions may be a torch tensor (moved to CPU float64); the result names its method. Kills in
    _directions ``device="cpu"`` → ``"CPU"`` and in projection_fit_test the method dropped."""
    from piadm_verify.verification.estimators import projection_fit_test

    law = _two_modes()
    x = law.sample(200, generator=torch.Generator().manual_seed(7))
    u = torch.tensor([[3.0, 4.0]], dtype=torch.float32)
    for method in ("ks", "cvm"):
        r = projection_fit_test(x, law, directions=u, method=method)
        assert r.method == method
        np.testing.assert_allclose(r.directions, [[0.6, 0.8]], rtol=1e-7)


def test_knn_kl_minimum_sample_size_is_twice_the_groups_and_twice_k_plus_one():
    """``knn_kl`` needs at least ``max(2·groups, 2(k + 1))`` samples: 40 by default (groups = 20),
    12 for k = 5 with 2 groups. Kills in knn_kl the default groups 20 → 21 and ``2·(k + 1)`` →
    ``2/(k + 1)``."""
    from analytic import Gaussian
    from piadm_verify.verification.estimators import knn_kl

    law = Gaussian(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    x = law.sample(40, generator=torch.Generator().manual_seed(8))
    assert knn_kl(x, law).groups == 20
    with pytest.raises(ValueError, match="at least 40 points"):
        knn_kl(x[:39], law)
    assert knn_kl(x[:12], law, k=5, groups=2).n == 12
    with pytest.raises(ValueError, match="at least 12 points"):
        knn_kl(x[:11], law, k=5, groups=2)


def test_girsanov_path_kl_without_a_generator_names_the_accepted_kinds():
    """Kills in girsanov_path_kl the message's "torch.Generator" spelt otherwise."""
    from analytic import Gaussian
    from piadm_verify import TimeGrid
    from piadm_verify.verification.estimators import girsanov_path_kl

    law = Gaussian(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^generator must be given \(a torch\.Generator or an int seed\)"):
        girsanov_path_kl(law, law, TimeGrid.uniform(T=1.0, eta=0.1, blocks=2, steps=2), 1, 4, 2, None, replicates=2)


# -- oracle: probe.py and affine.py ----------------------------------------------------------------


def _oracle_setup():
    from analytic import Gaussian
    from piadm_verify import TimeGrid

    return (TimeGrid.uniform(4.0, 1e-2, 4, 6), Gaussian([0.5, -1.0, 0.2], [0.7, 1.3, 0.4]),
            Gaussian([0.5, -1.0, 0.2], [[1.0, 0.3, 0.0], [0.3, 0.6, 0.1], [0.0, 0.1, 0.4]]))


def _same_law(a, b, rtol=1e-10):
    assert float((a.mean - b.mean).abs().max()) <= rtol * (1.0 + float(b.mean.abs().max()))
    assert float((a.cov - b.cov).abs().max()) <= rtol * float(b.cov.abs().max())


class _NoSignature:
    """An affine error with eigen-coordinate terms but no ``coordinate_signature`` (it is optional)."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, x, s):
        return self.inner(x, s)

    def affine_terms(self, s):
        return self.inner.affine_terms(s)

    def eigen_terms(self, s, coords):
        return self.inner.eigen_terms(s, coords)


def test_per_coordinate_paths_with_a_scaled_affine_error_agree_with_the_dense_oracle():
    """A product target with the ``"affine"`` (scaled) error, whose eigen-terms have an E part and an
    empty coordinate signature (d, 0): probing's per-coordinate path equals the oracle, and the oracle
    without a ``coordinate_signature`` (optional) equals it with one. Kills in _CoordinateError.__call__
    ``E[:, 0]`` → ``E[:, 1]``, in _product_classes ``reshape(d, -1)`` → ``reshape(d, +1)`` and in
    AffineScore._make_classes the ``None`` default of the signature dropped."""
    from piadm_verify import exact_law, exact_law_of, inject_error, piadm_sde

    grid, diagonal, _ = _oracle_setup()
    e = inject_error(diagonal, "affine", 0.2, grid, generator=1)
    oracle = exact_law(diagonal, grid, "sde", 3, error=e)
    _same_law(exact_law_of(piadm_sde, diagonal, grid, error=e, K=3, path="fast"), oracle)
    _same_law(exact_law(diagonal, grid, "sde", 3, error=_NoSignature(e.error)), oracle)


def test_probing_leaves_the_global_generator_alone():
    """``exact_law_of`` draws its checks from its own seeded generator, on the dense and the
    per-coordinate path: torch's global RNG state is unchanged. Kills in _probe the random
    combination drawn without the generator, in exact_law_of the dense probe given no generator and in
    _check_coordinates_separate the coupling check given no generator."""
    from piadm_verify import exact_law_of, sequential_sde

    grid, diagonal, full = _oracle_setup()
    for target in (diagonal, full):
        before = torch.get_rng_state()
        exact_law_of(sequential_sde, target, grid)
        assert torch.equal(torch.get_rng_state(), before)


def _coupling(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    from piadm_verify import sequential_sde

    out = sequential_sde(score, grid, noise=noise).samples
    return out + 0.1 * out.mean(-1, keepdim=True)


def _own_noise(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    from piadm_verify import sequential_sde

    out = sequential_sde(score, grid, noise=noise).samples
    return out + 0.1 * torch.randn(out.shape, dtype=out.dtype)


def _squared(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    return 1e-3 * noise.initial() ** 2


def test_probe_refusals_name_the_failing_probe_its_relative_gap_and_the_remedy():
    """The refusals' messages: a coupling sampler on a 2-D product target is refused by the
    per-coordinate path (2-D targets take it too) with the remedy; noise drawn outside ``noise=``
    fails the zero probe by name; a sampler squaring its input is off by an O(1) relative gap
    (gap/scale, scale ≈ 1e-3 here); a non-TimeGrid grid is named by type. Kills in
    _check_coordinates_separate the message changed, in exact_law_of ``dim == 1`` → ``dim == 2`` and
    the grid's type replaced by NoneType's, in _probe the "zero" name changed and the relative gap's
    ``scale + 1e-300`` → ``scale + 1``."""
    import re

    from analytic import Gaussian
    from piadm_verify import NotAffineError, exact_law_of

    grid, _, full = _oracle_setup()
    two = Gaussian([0.5, -1.0], [0.7, 1.3])
    with pytest.raises(NotAffineError, match="per-coordinate fast path does not apply; pass path='dense'$"):
        exact_law_of(_coupling, two, grid)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        with pytest.raises(NotAffineError, match="the zero probe is off by"):
            exact_law_of(_own_noise, full, grid)
    with pytest.raises(NotAffineError, match="probe is off by") as info:
        exact_law_of(_squared, full, grid)
    worst = float(re.search(r"off by (\S+) relative", str(info.value)).group(1))
    assert 0.01 < worst <= 1.0
    with pytest.raises(TypeError, match="^grid must be a TimeGrid, got list$"):
        exact_law_of(_squared, full, [0.0, 1.0])


def _returns_list(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    return noise.initial().tolist()


def _uses_n(score, grid, n, dim, *, noise=None, dtype=None, **kwargs):
    return torch.zeros(n, dim, dtype=dtype) + noise.initial()


def _late_steps(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    return noise.initial() + noise.steps(1, noise.total_steps).sum(0)


def _data_dependent(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    y = noise.initial()
    return y + noise.steps(0, 1)[0] if bool((y != 0).any()) else y


def _two_extra_shapes(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    noise.extra("k", 2)
    noise.extra("k", 3)
    return noise.initial()


MIX = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)


def _mixed_steps(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    return noise.initial() + (noise.steps(0, noise.total_steps) @ MIX).sum(0)


def test_probing_follows_the_noise_interface():
    """Samplers that use the noise interface as documented: ``n`` is the probe's batch, steps drawn
    from j0 > 0 only, float64 noise combined by matrix products (the discovery run too) give their
    exact laws (N(0, I), N(0, J·I), N(0, I + J·MIXᵀMIX)); a non-tensor output, a step drawn only in
    the probe runs and one extra key with two shapes are refused by name. Kills in _run ``n`` passed
    as None and the non-tensor branch of the shape message forced; in ProbeNoise.steps the missing
    steps' check dropped or counted from 0; in _Recorder.steps the zeros' dtype dropped; in
    _Recorder.extra the message dropped."""
    from analytic import Gaussian
    from piadm_verify import NotAffineError, exact_law_of

    grid, _, _ = _oracle_setup()
    two = Gaussian([0.5, -1.0], [[1.0, 0.3], [0.3, 0.6]])
    J = grid.total_steps
    eye = torch.eye(2, dtype=torch.float64)
    _same_law(exact_law_of(_uses_n, two, grid), Gaussian(torch.zeros(2, dtype=torch.float64), eye))
    _same_law(exact_law_of(_late_steps, two, grid), Gaussian(torch.zeros(2, dtype=torch.float64), J * eye))
    _same_law(exact_law_of(_mixed_steps, two, grid), Gaussian(torch.zeros(2, dtype=torch.float64), eye + J * MIX.T @ MIX))
    with pytest.raises(ValueError, match=r"must return samples of shape \(n, d\) = \(1, 2\), got list$"):
        exact_law_of(_returns_list, two, grid)
    with pytest.raises(NotAffineError, match=r"drew the noise of steps \[0\] that the discovery run did not"):
        exact_law_of(_data_dependent, two, grid)
    with pytest.raises(NotAffineError, match=r"^extra draw 'k' asked for with two shapes \(2,\) and \(3,\)$"):
        exact_law_of(_two_extra_shapes, two, grid)


def test_oracle_output_refuses_a_non_finite_mean_or_covariance_and_keeps_the_dtype():
    """``AffineScore.to_gaussian`` refuses a non-finite mean with a finite covariance and the reverse
    (FloatingPointError, "not finite"); ``exact_law(..., dtype=float32)`` of a product target is
    float32 throughout. Kills in AffineScore.to_gaussian ``and`` → ``or`` and the variances' dtype
    dropped."""
    from piadm_verify import exact_law
    from piadm_verify.oracle.affine import AffineScore

    grid, diagonal, _ = _oracle_setup()
    model = AffineScore(diagonal, None, "auto")
    classes = len(model.representatives)
    mean, cov = torch.zeros(classes, 1, dtype=torch.float64), torch.ones(classes, 1, 1, dtype=torch.float64)
    for m, c in ((mean + float("inf"), cov), (mean, cov * float("inf"))):
        with pytest.raises(FloatingPointError, match="the output law is not finite"):
            model.to_gaussian(m, c, torch.float64)
    law = exact_law(diagonal, grid, "sde", 3, dtype=torch.float32)
    assert law.mean.dtype == torch.float32 and law.cov.dtype == torch.float32 and law.eigvals.dtype == torch.float32


# -- samplers: common.py, sde.py, ode.py -------------------------------------------------------------


def _sampler_setup():
    from analytic import Gaussian
    from piadm_verify import TimeGrid

    return TimeGrid.uniform(4.0, 1e-2, 4, 6), Gaussian([0.5, -1.0], [[1.0, 0.3], [0.3, 0.6]])


def test_residual_is_the_largest_per_point_root_mean_square_change():
    """``residual = max_j (mean_i ‖new_ij − old_ij‖²)^{1/2}``: points 0 and 1 have mean squared norms
    5 and 0, so √5 (not the root of the total, √10). Kills in residual ``sum(-1)`` → ``sum(None)``."""
    from piadm_verify.samplers.common import residual

    new = torch.tensor([[[1.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    assert float(residual(new, torch.zeros_like(new))) == pytest.approx(math.sqrt(5.0), rel=1e-15)


def test_start_scales_the_initial_draw_to_the_scheme_variance():
    """``start(env, variance)`` is the noise's initial draw times ``variance^{1/2}``. Kills in start
    ``variance**0.5`` → ``variance * 0.5``."""
    from piadm_verify.core.noise import StepNoise
    from piadm_verify.samplers.common import Setup, start

    grid, _ = _sampler_setup()
    z = StepNoise(grid, 3, 2, generator=7).initial()
    y = start(Setup(None, StepNoise(grid, 3, 2, generator=7), None), 9.0)
    assert torch.equal(y, 3.0 * z)


def test_samplers_call_scores_with_documented_shapes_and_chunks():
    """Scores (and the reference score) are called with points (M, n, d) and times (M, 1), at most
    ``max_points_per_call`` points per call, by piadm_sde, piadm_ode and sequential_sde (M = 1).
    Kills in picard_block the reference evaluated without the chunk limit; in _run_ode the Picard
    blocks run without it; in piadm_ode the check of max_points_per_call called without its value; in
    sequential_block the time reshaped to (1,)."""
    from piadm_verify import piadm_ode, piadm_sde, sequential_sde

    grid, target = _sampler_setup()
    calls = []

    def recording(name, score):
        def f(x, s):
            calls.append((name, x.shape, tuple(s.shape)))
            return score(x, s)
        return f

    piadm_sde(recording("score", target.score), grid, 3, 2, K=3, generator=0, max_points_per_call=2,
              reference_score=recording("reference", target.score))
    piadm_ode(recording("score", target.score), grid, 3, 2, K=3, generator=0, max_points_per_call=2)
    assert {name for name, _, _ in calls} == {"score", "reference"}
    assert all(shape[0] <= 2 and shape[1:] == (3, 2) and s == (shape[0], 1) for _, shape, s in calls)
    calls.clear()
    sequential_sde(recording("score", target.score), grid, 3, 2, generator=0)
    assert calls and all(shape == (1, 3, 2) and s == (1, 1) for _, shape, s in calls)


def test_piadm_sde_path_kl_of_a_converged_bias_error_is_half_delta_squared():
    """With ``reference_score`` the exact score and a bias error of size δ, converged Picard
    (K = steps per block) gives ``path_kl = ½δ²`` (docs: exact for a constant error field), with
    n ≠ d. Kills in piadm_sde the reference not passed to picard_block; in picard_block the reference
    evaluated without times and the squared gap summed over the samples instead of the coordinates."""
    from piadm_verify import inject_error, piadm_sde

    grid, target = _sampler_setup()
    delta = 0.3
    score = inject_error(target, "bias", delta, grid, generator=1)
    out = piadm_sde(score, grid, 5, 2, K=grid.max_steps, generator=0, reference_score=target)
    assert out.path_kl == pytest.approx(0.5 * delta**2, rel=1e-9)


def test_sampler_refusals_name_the_cause():
    """A score returning a list is named by type; an ``n`` that contradicts the noise is named with both
    values; a bad ``scheme`` for piadm_ode is a TypeError naming SDEScheme; picard_block called on its
    own reports non-finite scores as piadm_sde's. Kills in evaluate_score the non-tensor branch of the
    message forced, in setup the name "n" changed, in _run_ode the scheme not passed to setup, and
    picard_block's default sampler name changed."""
    from piadm_verify import EXPONENTIAL_INTEGRATOR, NonFiniteError, piadm_ode, piadm_sde
    from piadm_verify.core.noise import StepNoise
    from piadm_verify.samplers.sde import picard_block

    grid, target = _sampler_setup()
    with pytest.raises(ValueError, match=r"must return a tensor shaped like x \(6, 3, 2\), got list$"):
        piadm_sde(lambda x, s: x.tolist(), grid, 3, 2, K=1, generator=0)
    with pytest.raises(ValueError, match="^n=5 does not match the noise's n=4$"):
        piadm_sde(target, grid, 5, 2, K=1, noise=StepNoise(grid, 4, 2))
    with pytest.raises(TypeError, match="scheme must be an SDEScheme"):
        piadm_ode(target, grid, 3, 2, K=1, generator=0, scheme="exponential")
    block = next(iter(grid))
    with pytest.raises(NonFiniteError, match="^piadm_sde: non-finite"):
        picard_block(lambda x, s: x * float("nan"), block, torch.zeros(3, 2, dtype=torch.float64), 1,
                     EXPONENTIAL_INTEGRATOR, 1.0, StepNoise(grid, 3, 2))


def test_redrawn_noise_scheme_runs_and_ode_progress_bar_counts_its_rounds(capsys):
    """A scheme that redraws the noise at every Picard iteration (``shared_noise=False``, a negative
    control) samples; piadm_ode's progress bar with a corrector is sized to the rounds it runs,
    ``blocks · (K + sub_blocks · K†)``. Kills in increments the redraw's step count dropped and in
    _run_ode ``K + per_block`` → ``K − per_block``."""
    from piadm_verify import piadm_ode, piadm_sde
    from piadm_verify.core.schemes import ExponentialIntegrator

    grid, target = _sampler_setup()
    out = piadm_sde(target, grid, 3, 2, K=2, generator=0, scheme=ExponentialIntegrator(shared_noise=False))
    assert torch.isfinite(out.samples).all()
    capsys.readouterr()
    r = piadm_ode(target, grid, 3, 2, K=2, generator=0, corrector=dict(K=2, steps=4, sub_blocks=2, h=0.4), progress=True)
    assert r.rounds == grid.blocks * (2 + 2 * 2)
    assert f"0/{r.rounds} [" in capsys.readouterr().err  # the bar as first drawn: 0 of its total


def test_sequential_corrector_names_a_non_finite_iterate():
    """A force that stays finite (1.7e308) at the corrector's level while the kinetic iterate overflows:
    sequential_ode raises NonFiniteError naming the corrector iterate (not the force). Kills in
    _sequential_corrector the "corrector iterate" label dropped."""
    from piadm_verify import NonFiniteError, sequential_ode

    grid, target = _sampler_setup()
    level = next(iter(grid)).end_time

    def score(x, s):
        return torch.full_like(x, 1.7e308) if bool((s == level).all()) else target.score(x, s)

    with pytest.raises(NonFiniteError, match="^sequential_ode: non-finite corrector iterate in block 0, corrector"):
        sequential_ode(score, grid, 3, 2, generator=0, corrector=dict(K=2, steps=40, sub_blocks=1, h=3.0))


# -- claims: base.py, sde.py, mixture.py (hand-built tables) ------------------------------------------


def test_unusable_reason_names_non_positive_values():
    """Kills in unusable_reason the non-positive message changed."""
    from piadm_verify.verification.claims.base import unusable_reason

    assert unusable_reason(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == "non-positive values on a logarithmic axis"
    assert unusable_reason(np.array([1.0, math.inf])) == "non-finite values: the sampler blew up"
    assert unusable_reason(np.array([1.0, 2.0])) is None


def test_claims_fail_unusable_tables_with_their_name_claim_and_reason():
    """A claim whose table holds non-finite or non-positive values fails with its own name and claim
    and the reason as detail. Kills the ``failed_check`` calls with the name dropped (claim_delta_quadratic,
    claim_dimension_linear, claim_mixture_hist_floor) or the claim or detail changed
    (claim_mixture_girsanov_constant, claim_mixture_hist_floor), and in claim_dimension_linear both
    checks' names dropped."""
    from piadm_verify.verification import Table
    from piadm_verify.verification.claims import mixture as mixture_claims
    from piadm_verify.verification.claims import sde as sde_claims

    blew_up = "non-finite values: the sampler blew up"
    r = sde_claims.claim_delta_quadratic(Table("delta", {"kind": np.array(["bias"] * 3), "delta": np.array([0.1, 0.2, 0.4]),
                                                         "excess": np.array([1e-3, 0.0, 4e-3])}), "bias")
    assert (r.name, r.claim, r.detail, bool(r)) == (sde_claims.DELTA_QUADRATIC.named(kind="bias"),
                                                      "KL excess ∝ δ₂² (bias error)",
                                                      "non-positive values on a logarithmic axis", False)
    d = np.array([2.0, 4.0, 8.0, 16.0])
    table = Table("dimension", {"family": np.array(["product"] * 4 + ["anisotropic"] * 4), "d": np.r_[d, d],
                                "kl": np.r_[0.01 * d, np.nan, 0.02, 0.03, 0.04]})
    product, anisotropic = sde_claims.claim_dimension_linear(table)
    assert product.name == sde_claims.DIMENSION_LINEAR_PRODUCT.name and product.passed
    assert (anisotropic.name, anisotropic.detail, anisotropic.passed) == (sde_claims.DIMENSION_AT_MOST_LINEAR.name,
                                                                           blew_up, False)
    table = Table("dimension", {"family": np.array(["product"] * 4 + ["anisotropic"] * 4), "d": np.r_[d, d],
                                "kl": np.r_[0.01 * d, 0.01 * d**0.8]})
    assert [c.name for c in sde_claims.claim_dimension_linear(table)] == [sde_claims.DIMENSION_LINEAR_PRODUCT.name,
                                                                          sde_claims.DIMENSION_AT_MOST_LINEAR.name]
    rows = {"target": np.array(["t"] * 4), "K": np.array([1, 1, 6, 6]), "replicate": np.array([0, 1, 0, 1]),
            "delta": np.full(4, 0.1), "path_kl": np.array([0.005, np.nan, 0.005, 0.005]),
            "hist_kl": np.array([0.1, 0.1, np.nan, 0.0])}
    g = mixture_claims.claim_mixture_girsanov_constant(Table("mixture", rows), "t")
    assert (g.name, g.claim, g.detail, g.passed) == (mixture_claims.MIXTURE_GIRSANOV.named(target="t"),
                                                     "0.8 ≤ path KL / ½δ₂² ≤ 1.25 (t)", blew_up, False)
    h = mixture_claims.claim_mixture_hist_floor(Table("mixture", rows), "t")
    assert (h.name, h.claim, h.detail, h.passed) == (mixture_claims.MIXTURE_HIST_FLOOR.named(target="t"),
                                                     "histogram KL(p_η ‖ q̂) at K = 6 ≤ 0.01 (t)", blew_up, False)


def test_step_floor_fit_is_exact_and_states_its_claim():
    """The ε floor comes from the exact oracle: its fit is exact (no sampling interval), so a slope
    of 0.95 fails however scattered the points; the claim is stated with "KL". Kills in
    claim_step_floor ``exact=True`` → ``False`` and the claim's "KL" lower-cased."""
    from piadm_verify.verification import Table
    from piadm_verify.verification.claims import sde as sde_claims

    eps = np.array([0.01, 0.02, 0.04, 0.08])
    kl = eps**0.95 * np.exp(0.3 * np.array([1.0, -1.0, -1.0, 1.0]))  # scatter orthogonal to 1 and log ε
    r = sde_claims.claim_step_floor(Table("eps", {"eps": eps, "kl": kl}))
    assert r.claim == "KL floor decreases at least like ε (measured slope reported)"
    assert r.estimate == pytest.approx(0.95, rel=1e-12) and r.ci[0] == r.ci[1] and not r.passed


def test_path_kl_interval_is_the_estimate_plus_minus_z_standard_errors():
    """``path_kl_estimate(runs).interval(z) = estimate ± z·stderr`` (stderr = sd/√R). Kills in
    PathKLResult.interval ``z * stderr`` → ``z / stderr`` in the upper end."""
    from types import SimpleNamespace

    from piadm_verify.verification.estimators import path_kl_estimate

    r = path_kl_estimate([SimpleNamespace(path_kl=v) for v in (1.0, 2.0, 3.0, 6.0)])
    assert (r.estimate, r.stderr) == (3.0, pytest.approx(math.sqrt(14.0 / 3.0) / 2.0, rel=1e-15))
    assert r.interval(2.0) == (pytest.approx(3.0 - 2.0 * r.stderr, rel=1e-15), pytest.approx(3.0 + 2.0 * r.stderr, rel=1e-15))


def test_failed_checks_carry_nan_estimates_no_false_failures_and_claims_match_their_instances():
    """``failed_check`` reports a NaN estimate and interval at level 0 with false-failure rate 0 (it
    fails whatever the data); ``Claim.matches`` recognises the instances of a templated name and only
    them. Kills in failed_check the estimate and the rate replaced by None, and in Claim.matches the
    pattern dropped."""
    from piadm_verify.verification.claims import sde as sde_claims
    from piadm_verify.verification.claims.base import failed_check

    r = failed_check("n", "c", "d")
    assert math.isnan(r.estimate) and all(math.isnan(v) for v in r.ci) and r.false_failure_rate == 0.0 and not r
    claim = sde_claims.DELTA_QUADRATIC
    assert claim.matches(claim.named(kind="bias")) and claim.matches(claim.named(kind="affine"))
    assert not claim.matches("delta_girsanov") and not claim.matches("delta_quadratic_")  # a field is never empty


def test_picard_residual_averages_over_samples_and_the_redrawn_corrector_runs():
    """The traced Picard residual is ``max_j (mean_i ‖ΔY_ij‖²)^{1/2}``: two identical samples (same x0,
    v = 0) give the residuals of one. A corrector that redraws its noise at every iteration (a
    negative control) samples. Kills in picard_block the norm taken over every axis and in
    _picard_corrector the noise not passed to the redraw."""
    from piadm_verify import piadm_ode, piadm_sde

    grid, target = _sampler_setup()
    x0 = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    one = piadm_sde(target, grid, 1, 2, K=3, v=0.0, x0=x0, trace=True, generator=0)
    two = piadm_sde(target, grid, 2, 2, K=3, v=0.0, x0=x0.repeat(2, 1), trace=True, generator=0)
    for a, b in zip(one.trace, two.trace):
        assert torch.allclose(a, b, rtol=1e-12, atol=0) and bool((a[:-1] > 0).all())
    out = piadm_ode(target, grid, 3, 2, K=2, generator=0, corrector=dict(K=2, steps=4, sub_blocks=2, h=0.4, shared_noise=False))
    assert torch.isfinite(out.samples).all()
