"""Tests of ``piadm_verify.verification.estimators``: distances from samples to an exact target (docs/mathematics.md §9).

Each estimator is validated where the truth is known: exact draws from the target (every test of
fit must accept them; every divergence must be ≈ 0 up to its stated bias), draws from a known wrong
law (tests of fit must reject; divergences must match the exact Gaussian KL/TV, or their binned
versions), and the Girsanov path quantity of a calibrated bias error (= ½δ₂² once Picard has
converged). Every random test is seeded, hence deterministic; its docstring states the
false-failure rate of the design (the probability that a fresh seed would fail although the code
is right) and, for rejections, the margin that makes the power ≈ 1. Per-assertion α = 1e-4.
The module runs in ~8 s on one core.
"""

from __future__ import annotations

import dataclasses
import gc
import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from analytic import Gaussian, GaussianMixture, gaussian_kl, gaussian_tv
from piadm_verify import TimeGrid, inject_error, piadm_sde
from piadm_verify.verification.estimators import (
    CVM_P_BOUND,
    _component_box_masses,
    assignment_probabilities,
    exact_bin_masses,
    girsanov_path_kl,
    histogram_divergences,
    knn_kl,
    mode_weight_test,
    paired_excess,
    path_kl_estimate,
    projection_fit_test,
)

F64 = torch.float64
ALPHA = 1e-4
# Measured bias of knn_kl on exact N(μ, σ²I_d) draws (k = 1), the table in knn_kl's docstring,
# rounded up past the measurement's own +2 SE: {(n, d): bound}.
KNN_BIAS = {(2000, 1): 0.003, (2000, 2): 0.006, (2000, 3): 0.018, (10000, 1): 0.0015, (10000, 2): 0.002, (10000, 3): 0.0075}
KNN_BIAS_MIXTURE_K3 = 0.005  # two-mode 2-D mixture, n = 10 000, k = 3: measured +0.0040 ± 0.0003


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Single-threaded torch: the tensors are small and the machine is shared (see test_sde.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _cheap_gc_collect():
    """statsmodels' Holm (``multipletests``) calls ``gc.collect()`` on every call, ~0.2 s with torch
    imported; freezing the objects that exist now makes those collections cheap (see test_stats.py)."""
    gc.freeze()
    yield
    gc.unfreeze()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


MEANS = torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=F64)
COVS = torch.tensor([[[1.0, 0.3], [0.3, 0.8]], [[0.6, -0.2], [-0.2, 1.2]]], dtype=F64)


def mixture(weights=(0.3, 0.7), means=MEANS, covs=COVS) -> GaussianMixture:
    """Two full-covariance modes 4 apart along x (the overlap is small but not nil)."""
    return GaussianMixture(torch.tensor(weights, dtype=F64), means, covs)


def gaussian(d: int = 2) -> Gaussian:
    """A full-covariance Gaussian with a non-zero mean."""
    g = np.random.default_rng(5)
    q, _ = np.linalg.qr(g.standard_normal((d, d)))
    cov = (q * np.linspace(0.5, 2.0, d)) @ q.T
    return Gaussian(torch.tensor(g.standard_normal(d), dtype=F64), torch.tensor(cov, dtype=F64))


def isotropic(d: int) -> Gaussian:
    """``N(μ, 1.7 I_d)``: the k-NN estimator's bias on it is that measured on ``N(0, I_d)``."""
    return Gaussian(torch.linspace(-1.0, 0.5, d, dtype=F64), torch.full((d,), 1.7, dtype=F64))


def shifted(g: Gaussian, shift) -> Gaussian:
    return Gaussian(g.mean + torch.as_tensor(shift, dtype=F64), g.cov)


# --------------------------------------------------------------------------------------------------
# 1. projections
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ks", "cvm"])
def test_projection_fit_accepts_exact_draws_of_a_mixture_and_of_a_gaussian(method):
    """Exact draws (n = 20 000) pass: Holm keeps the family's false-failure rate ≤ α = 1e-4 per
    assertion, so ≤ 4e-4 for the four assertions of this test."""
    mix = mixture()
    result = projection_fit_test(mix.sample(20_000, generator=gen(1)), mix, method=method, alpha=ALPHA)
    assert result.passed, result.adjusted_p_values
    assert result.directions.shape == (2 + 8, 2)
    assert np.allclose(np.linalg.norm(result.directions, axis=1), 1.0)
    g = gaussian(3)
    assert projection_fit_test(g.sample(20_000, generator=gen(2)), g, method=method, alpha=ALPHA)


def test_projection_fit_reproduces_scipy_on_one_direction():
    """With one axis the test is scipy's KS test of that coordinate against the exact mixture CDF."""
    mix = mixture()
    x = mix.sample(500, generator=gen(3))
    cdf = lambda t: 0.3 * scipy_stats.norm.cdf(t, -2.0, 1.0) + 0.7 * scipy_stats.norm.cdf(t, 2.0, math.sqrt(0.6))
    expected = scipy_stats.kstest(x[:, 0].numpy(), cdf)
    result = projection_fit_test(x, mix, directions=[[2.0, 0.0]])
    assert result.statistics[0] == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_values[0] == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.adjusted_p_values == result.p_values


def wrong_laws():
    """The target and three clearly wrong laws: all covariances ×1.3, a 0.2σ shift of every mode
    along x, and the weights 0.3/0.7 swapped."""
    mix = mixture()
    sd_x = COVS[:, 0, 0].sqrt()
    shift = torch.stack([0.2 * sd_x, torch.zeros(2, dtype=F64)], dim=1)
    return mix, {"variance x1.3": mixture(covs=1.3 * COVS), "mean shift 0.2 sd": mixture(means=MEANS + shift),
                 "swapped weights": mixture(weights=(0.7, 0.3))}


@pytest.mark.parametrize("method", ["ks", "cvm"])
@pytest.mark.parametrize("wrong", ["variance x1.3", "mean shift 0.2 sd", "swapped weights"])
def test_projection_fit_rejects_clearly_wrong_laws(method, wrong):
    """n = 20 000 draws of a wrong law fail at α = 1e-4. Power: over 5 seeds the largest family
    p-value was 5e-12 (KS) / 1e-8 (CvM) for the ×1.3 variance, 2e-51 / 1e-8 for the shift, 0 /
    1e-8 for the swap (1e-8 = 10 directions × CVM_P_BOUND): power ≈ 1 with a margin ≥ 1e4 in p."""
    mix, laws = wrong_laws()
    result = projection_fit_test(laws[wrong].sample(20_000, generator=gen(4)), mix, method=method, alpha=ALPHA)
    assert not result.passed
    assert result.p_value <= ALPHA


def test_projection_fit_cvm_p_value_stays_valid_for_huge_statistics():
    """scipy's CvM p-value is NaN near its largest statistic n/3; the estimator reports the valid
    bound CVM_P_BOUND instead (draws 50σ away from the target)."""
    g = gaussian(2)
    result = projection_fit_test(g.sample(3000, generator=gen(5)) + 50.0, g, method="cvm")
    assert all(p == CVM_P_BOUND for p in result.p_values)
    assert not result.passed


def test_projection_default_directions_are_seeded_and_fixed():
    """The random directions come from ``generator`` (default seed), never from the samples."""
    g = gaussian(3)
    a = projection_fit_test(g.sample(100, generator=gen(6)), g)
    b = projection_fit_test(g.sample(100, generator=gen(7)), g)
    c = projection_fit_test(g.sample(100, generator=gen(7)), g, generator=123, n_directions=2)
    assert np.array_equal(a.directions, b.directions)
    assert np.array_equal(a.directions[:3], np.eye(3))
    assert c.directions.shape == (5, 3) and not np.array_equal(c.directions, b.directions[:5])
    one_d = Gaussian(torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64))
    assert projection_fit_test(one_d.sample(100, generator=gen(8)), one_d).directions.shape == (1, 1)


# --------------------------------------------------------------------------------------------------
# 2. mode weights
# --------------------------------------------------------------------------------------------------
def overlapping() -> GaussianMixture:
    """Two modes 1.5 apart with one shared covariance: the largest-responsibility assignment
    probabilities differ from the weights (the heavy mode takes a share of the light one)."""
    return GaussianMixture(torch.tensor([0.3, 0.7], dtype=F64), torch.tensor([[-0.75, 0.0], [0.75, 0.0]], dtype=F64),
                           torch.tensor([[1.0, 0.2], [0.2, 1.0]], dtype=F64).expand(2, 2, 2))


def test_assignment_probabilities_closed_form_agrees_with_monte_carlo_and_differs_from_weights():
    """Closed form (two modes, one covariance) against 10⁶ seeded target draws: within 5 Monte Carlo
    SE (false-failure rate 6e-7); both differ from the weights by far more than that."""
    mix = overlapping()
    exact = assignment_probabilities(mix)
    mc = assignment_probabilities(mix, method="monte carlo", mc_samples=1_000_000, generator=9)
    assert exact.method == "exact" and mc.method == "monte carlo"
    assert np.all(np.abs(mc.probabilities - exact.probabilities) <= 5 * mc.stderr)
    assert abs(exact.probabilities[0] - 0.3) > 50 * mc.stderr[0]
    assert exact.probabilities.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("target", ["overlapping", "mixture", "gaussian"])
def test_mode_weight_test_accepts_exact_draws(target):
    """Exact draws (n = 20 000) pass at α = 1e-4 (false-failure rate ≤ 1e-4 up to Pearson's χ²
    approximation): with the exact π (overlapping, one covariance), the Monte Carlo π̂ (unequal
    covariances), and the trivial one-component case. With the overlapping target a naive χ² against
    the weights rejects the same exact draws."""
    law = {"overlapping": overlapping(), "mixture": mixture(), "gaussian": gaussian(2)}[target]
    x = law.sample(20_000, generator=gen(10))
    result = mode_weight_test(x, law, alpha=ALPHA)
    assert result.passed, result.p_value
    assert result.counts.sum() == 20_000 and result.expected.sum() == pytest.approx(20_000)
    if target == "overlapping":
        assert result.probabilities.method == "exact"
        naive = scipy_stats.chisquare(result.counts, 20_000 * law.weights.numpy())
        assert naive.pvalue < ALPHA
    if target == "gaussian":
        assert result.p_value == 1.0 and result.df == 0


def test_mode_weight_test_rejects_swapped_weights():
    """0.3/0.7 → 0.7/0.3 for modes 4 apart: X² ≈ 0.76 n; with n = 2000 the p-value is ~1e-300."""
    mix, laws = wrong_laws()
    result = mode_weight_test(laws["swapped weights"].sample(2000, generator=gen(11)), mix, alpha=ALPHA)
    assert not result.passed and result.p_value < 1e-100


def test_mode_weight_test_pools_small_cells():
    """Cells of expected count < 5 are pooled (here with the smallest large cell), so Pearson's
    approximation holds; a component that the Monte Carlo never picked is pooled, not fatal."""
    three = GaussianMixture(torch.tensor([0.499, 0.002, 0.499], dtype=F64),
                            torch.tensor([[-6.0], [0.0], [6.0]], dtype=F64), torch.ones(3, 1, dtype=F64))
    result = mode_weight_test(three.sample(2000, generator=gen(12)), three, mc_samples=200_000, generator=1)
    assert sorted(len(c) for c in result.cells) == [1, 2] and result.df == 1
    assert result.passed
    hidden = GaussianMixture(torch.tensor([0.5, 1e-6, 0.5 - 1e-6], dtype=F64),
                             torch.tensor([[-6.0], [0.0], [6.0]], dtype=F64), torch.ones(3, 1, dtype=F64))
    x = torch.cat([hidden.sample(500, generator=gen(13)), torch.zeros(1, 1, dtype=F64)])
    result = mode_weight_test(x, hidden, mc_samples=10_000, generator=2)
    assert result.probabilities.probabilities[1] == 0.0 and result.counts[1] == 1
    assert result.p_value > ALPHA


# --------------------------------------------------------------------------------------------------
# 3. histograms
# --------------------------------------------------------------------------------------------------
def test_exact_bin_masses_match_cdfs_and_both_2d_paths():
    """1-D masses are mixture-CDF differences; 2-D masses sum to 1 with the overflow; the bivariate
    rectangle path (scipy's multivariate_normal.cdf) equals the product path on a diagonal covariance."""
    mix1 = GaussianMixture(torch.tensor([0.4, 0.6], dtype=F64), torch.tensor([[-1.0], [1.5]], dtype=F64),
                           torch.tensor([[0.5], [2.0]], dtype=F64))
    edges = np.linspace(-4.0, 5.0, 10)
    masses = exact_bin_masses(mix1, edges)
    cdf = 0.4 * scipy_stats.norm.cdf(edges, -1.0, math.sqrt(0.5)) + 0.6 * scipy_stats.norm.cdf(edges, 1.5, math.sqrt(2.0))
    assert np.allclose(masses[:-1], np.diff(cdf), rtol=1e-12, atol=1e-16)
    assert masses[-1] == pytest.approx(1.0 - (cdf[-1] - cdf[0]), abs=1e-15)
    full = exact_bin_masses(mixture(), (np.linspace(-6, 6, 7), np.linspace(-4, 5, 5)))
    assert full.sum() == pytest.approx(1.0, abs=1e-14) and full.shape == (6 * 4 + 1,)
    cov = np.diag([0.7, 1.9])
    e2 = (np.linspace(-3, 2, 6), np.linspace(-2, 4, 4))
    product = _component_box_masses(np.array([0.2, 0.5]), cov, e2, diagonal=True)
    rectangle = _component_box_masses(np.array([0.2, 0.5]), cov, e2, diagonal=False)
    assert np.allclose(product, rectangle, rtol=1e-9, atol=1e-14)


def test_default_box_leaves_at_most_1e_9_outside():
    law = mixture()
    result = histogram_divergences(law.sample(1000, generator=gen(13)), law, bootstrap=2)
    assert 0.0 <= result.target_masses[-1] <= 1e-9
    assert result.counts[-1] == 0


@pytest.mark.parametrize("d", [1, 2])
def test_histogram_null_biases_match_exact_draws(d):
    """On exact draws the plug-in TV and KL average to their exact null expectations (de Moivre
    and the binomial sum), measured over 60 replicates of n = 2000: |mean − null| ≤ 4.5 SE
    (false-failure rate 7e-6 each). kl_corrected is then unbiased, while (B−1)/(2n) overstates the
    KL bias when tail bins have n p_b ≲ 1."""
    law = gaussian(d)
    g = gen(14 + d)
    rows = []
    for r in range(60):
        h = histogram_divergences(law.sample(2000, generator=g), law, bootstrap=2, generator=r)
        rows.append((h.tv, h.kl))
    tv, kl = np.array(rows).T
    se = lambda a: a.std(ddof=1) / math.sqrt(a.shape[0])
    assert abs(tv.mean() - h.tv_null_bias) <= 4.5 * se(tv)
    assert abs(kl.mean() - h.kl_null_bias) <= 4.5 * se(kl)
    assert h.kl_null_bias < h.kl_miller_madow


@pytest.mark.parametrize("d", [1, 2])
def test_histogram_divergences_of_exact_draws_are_near_zero(d):
    """n = 20 000 exact draws: kl_corrected within 4 bootstrap SE of 0 and the TV interval contains
    the binned truth 0 (false-failure rates ≤ 6e-5 and ≤ 1e-4; the bootstrap SE is conservative,
    ~1.8× the replicate sd for KL at q = p)."""
    law = mixture() if d == 2 else gaussian(1)
    h = histogram_divergences(law.sample(20_000, generator=gen(20 + d)), law, alpha=ALPHA, generator=d)
    assert abs(h.kl_corrected) <= 4 * h.kl_se
    assert h.tv_ci[0] == 0.0 and h.tv <= h.tv_ci[1]
    assert h.tv <= h.tv_null_bias + 4 * h.tv_se


@pytest.mark.parametrize("d", [1, 2])
def test_histogram_divergences_track_a_shifted_gaussian(d):
    """Draws of q = p shifted by 0.3σ (Mahalanobis) against the exact p, n = 20 000.

    The binned truths (exact bin masses of p and q) are below the exact gaussian_tv/gaussian_kl
    (data processing); the distribution-free TV interval covers the binned TV (coverage ≥ 1 − 1e-4);
    kl_corrected is within 4 bootstrap SE + the second-order bias Σ(p_b/q_b − 1)(1 − q_b)/(2n) of
    the binned KL, and the plug-in TV within 4 SE + its null bias of the binned TV."""
    p = gaussian(d)
    step = torch.zeros(d, dtype=F64)
    step[0] = 0.3
    q = shifted(p, torch.linalg.cholesky(p.cov) @ step)
    n = 20_000
    h = histogram_divergences(q.sample(n, generator=gen(30 + d)), p, alpha=ALPHA, generator=d)
    p_b, q_b = h.target_masses, exact_bin_masses(q, h.edges)
    tv_bins = 0.5 * np.abs(p_b - q_b).sum()
    kept = (p_b > 0) & (q_b > 0)  # far corner cells (mass ≲ 1e-16, below the bivariate CDF's accuracy) may be 0
    kl_bins = float((p_b[kept] * np.log(p_b[kept] / q_b[kept])).sum())
    assert tv_bins <= gaussian_tv(p, q) + 1e-12 and kl_bins <= gaussian_kl(p, q) + 1e-12
    assert tv_bins > 0.8 * gaussian_tv(p, q)
    assert h.tv_ci[0] <= tv_bins <= h.tv_ci[1]
    assert abs(h.tv - tv_bins) <= 4 * h.tv_se + h.tv_null_bias
    second_order = float(((p_b[kept] / q_b[kept] - 1) * (1 - q_b[kept])).sum() / (2 * n))
    assert abs(h.kl_corrected - kl_bins) <= 4 * h.kl_se + abs(second_order)
    assert h.kl_corrected > 10 * h.kl_se


# --------------------------------------------------------------------------------------------------
# 4. k-NN KL
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3])
def test_knn_kl_of_exact_draws_is_zero_within_bias(d):
    """Exact N(μ, 1.7 I_d) draws, n = 10 000: |estimate| ≤ measured bias + 4 jackknife SE (the SE
    is conservative, ~1.45× the estimator's sd: false-failure rate < 1e-8)."""
    p = isotropic(d)
    result = knn_kl(p.sample(10_000, generator=gen(40 + d)), p)
    assert abs(result.estimate) <= KNN_BIAS[(10_000, d)] + 4 * result.stderr
    assert 0 < result.stderr < 0.05


def test_knn_kl_of_a_shifted_gaussian_matches_the_exact_kl():
    """Draws of q = p + a 1σ shift (KL(q‖p) = 0.5), n = 10 000, d = 2: within bias + 4 SE of
    gaussian_kl(q, p) (note the direction: samples' law first). False-failure rate < 1e-4 if the
    bias stays near its measured null value at this small KL."""
    p = isotropic(2)
    q = shifted(p, torch.tensor([math.sqrt(1.7), 0.0], dtype=F64))
    truth = gaussian_kl(q, p)
    result = knn_kl(q.sample(10_000, generator=gen(45)), p)
    assert truth == pytest.approx(0.5, rel=1e-12)
    assert abs(result.estimate - truth) <= KNN_BIAS[(10_000, 2)] + 4 * result.stderr
    assert result.interval(4.0) == (result.estimate - 4 * result.stderr, result.estimate + 4 * result.stderr)


def test_knn_kl_on_a_mixture_and_its_error_for_repeated_points():
    """Exact draws of the two-mode mixture, n = 10 000, k = 3: within the measured bias + 4 SE."""
    mix = mixture()
    result = knn_kl(mix.sample(10_000, generator=gen(46)), mix, k=3)
    assert abs(result.estimate) <= KNN_BIAS_MIXTURE_K3 + 4 * result.stderr
    x = mix.sample(100, generator=gen(47))
    with pytest.raises(ValueError, match="repeated points"):
        knn_kl(torch.cat([x, x[:1]]), mix)


# --------------------------------------------------------------------------------------------------
# 5. Girsanov path quantity
# --------------------------------------------------------------------------------------------------
def bias_setup(delta: float):
    p0 = gaussian(2)
    grid = TimeGrid.uniform(T=6.0, eta=1e-3, blocks=6, steps=16)
    return p0, grid, inject_error(p0, "bias", delta, grid, "L2", generator=3)


def test_girsanov_path_kl_of_a_bias_error_is_half_delta_squared():
    """Bias error δ₂ = 0.3, K = 16 = M (Picard converged): the path quantity is ½δ₂² within 4 SE
    plus round-off (for a constant error field it is deterministic: the SE is at round-off level).
    Before convergence (K = 4) the Picard error adds to it."""
    delta = 0.3
    p0, grid, score = bias_setup(delta)
    converged = girsanov_path_kl(score, p0, grid, 16, 200, 2, 21, replicates=4)
    assert abs(converged.estimate - 0.5 * delta**2) <= 4 * converged.stderr + 1e-12
    assert converged.replicates == 4 and len(converged.values) == 4
    early = girsanov_path_kl(score, p0, grid, 4, 200, 2, 21, replicates=4)
    assert early.estimate - 4 * early.stderr > 0.5 * delta**2


def test_path_kl_estimate_needs_replicates_with_path_kl():
    p0, grid, score = bias_setup(0.1)
    runs = [piadm_sde(score, grid, 50, 2, K=16, generator=s, reference_score=p0) for s in (1, 2)]
    result = path_kl_estimate(runs)
    assert result.estimate == pytest.approx(0.005, rel=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        path_kl_estimate(runs[:1])
    with pytest.raises(ValueError, match="reference_score"):
        path_kl_estimate([runs[0], piadm_sde(score, grid, 50, 2, K=16, generator=3)])
    with pytest.raises(ValueError, match="generator"):
        girsanov_path_kl(score, p0, grid, 16, 50, 2, None)


# --------------------------------------------------------------------------------------------------
# results and bad input
# --------------------------------------------------------------------------------------------------
def test_results_are_frozen_and_state_their_assumptions():
    law = gaussian(2)
    x = law.sample(200, generator=gen(50))
    results = [projection_fit_test(x, law), mode_weight_test(x, law), histogram_divergences(x, law, bootstrap=10),
               knn_kl(x, law)]
    for r in results:
        assert "i.i.d." in r.assumptions
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.assumptions = ""
    with pytest.raises(ValueError):
        results[0].directions[0, 0] = 2.0


ALL = {
    "projection": projection_fit_test,
    "mode": mode_weight_test,
    "histogram": histogram_divergences,
    "knn": knn_kl,
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_bad_samples_and_targets_are_refused_by_name(name):
    estimator = ALL[name]
    law = gaussian(2)
    good = law.sample(100, generator=gen(51))
    with pytest.raises(TypeError, match="samples"):
        estimator(good.numpy(), law)
    with pytest.raises(TypeError, match="samples"):
        estimator(good.to(torch.int64), law)
    with pytest.raises(ValueError, match="samples"):
        estimator(good[:, :1], law)
    with pytest.raises(ValueError, match="samples"):
        estimator(good[:, 0], law)
    with pytest.raises(ValueError, match="samples"):
        estimator(good[:0], law)
    with pytest.raises(ValueError, match="samples"):
        estimator(torch.full((100, 2), float("nan"), dtype=F64), law)
    with pytest.raises(TypeError, match="target"):
        estimator(good, "N(0, I)")


def test_too_many_dimensions_and_bad_options_are_refused():
    g3, g4 = gaussian(3), gaussian(4)
    with pytest.raises(ValueError, match="d <= 2"):
        histogram_divergences(g3.sample(100, generator=gen(52)), g3)
    with pytest.raises(ValueError, match="d <= 3"):
        knn_kl(g4.sample(100, generator=gen(53)), g4)
    law = gaussian(2)
    x = law.sample(100, generator=gen(54))
    for call, match in [
        (lambda: projection_fit_test(x, law, method="ad"), "method"),
        (lambda: projection_fit_test(x, law, alpha=0.0), "alpha"),
        (lambda: projection_fit_test(x, law, directions=[[1.0, 0.0, 0.0]]), "directions"),
        (lambda: projection_fit_test(x, law, directions=[[0.0, 0.0]]), "directions"),
        (lambda: projection_fit_test(x, law, n_directions=-1), "n_directions"),
        (lambda: mode_weight_test(x, law, probabilities="exact"), "method"),
        (lambda: histogram_divergences(x, law, bins=0), "bins"),
        (lambda: histogram_divergences(x, law, bins=[5, 5, 5]), "bins"),
        (lambda: histogram_divergences(x, law, bounds=[(1.0, 0.0), (0.0, 1.0)]), "bounds"),
        (lambda: knn_kl(x, law, k=0), "k"),
        (lambda: knn_kl(x[:10], law), "samples"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(TypeError, match="generator"):
        histogram_divergences(x, law, generator="seed")


# -- paired excess ---------------------------------------------------------------------------------------
def _draws(law, n, seed):
    return law.sample(n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("divergence", ["kl", "tv"])
def test_paired_histogram_excess_is_the_difference_of_the_histogram_divergences(divergence):
    """d ≤ 2: the excess is exactly the difference of the two histogram divergences (same cells, exact
    masses); the reported divergences are histogram_divergences' (KL with its null bias removed)."""
    target = GaussianMixture([0.3, 0.7], [[-1.0, 0.0], [1.5, 0.5]], [[0.3, 0.5], [0.4, 0.2]])
    x, y = _draws(target, 800, 0), _draws(target, 800, 1)
    result = paired_excess(x, y, target, divergence, bootstrap=50, generator=0)
    a, b = histogram_divergences(x, target, bootstrap=2), histogram_divergences(y, target, bootstrap=2)
    if divergence == "kl":
        assert result.value == pytest.approx(a.kl - b.kl, abs=1e-14)
        assert (result.value_samples, result.value_reference) == pytest.approx((a.kl_corrected, b.kl_corrected), abs=1e-14)
    else:
        assert result.value == pytest.approx(a.tv - b.tv, abs=1e-14)
    assert result.divergence == f"hist_{divergence}" and result.stderr > 0
    same = paired_excess(x, x, target, divergence, bootstrap=20, generator=0)
    assert same.value == 0.0 and same.stderr == 0.0


def test_projection_excess_is_a_lower_bound_that_sees_a_shift():
    """10-d: a sample of q = N(μ + 0.5 e₄, Σ) (variance 1 along e₄, so KL(p ‖ q) = 0.125 exactly) against
    exact draws of p, paired row by row (the same normals): the mean projected histogram KL excess is
    positive by more than 4 standard errors and below the exact KL (each projection's KL is a lower
    bound of the full one, the binned one lower still). Exact draws against exact draws: |excess| ≤
    3.9 standard errors (α = 1e-4, two-sided). The moment-matched KL recovers 0.125 to 20%."""
    p = Gaussian(torch.linspace(-1, 1, 10, dtype=F64), torch.linspace(0.5, 2.0, 10, dtype=F64))
    u = torch.zeros(10, dtype=F64)
    u[3] = 1.0
    q = Gaussian(p.mean + 0.5 * u, p.cov)
    assert gaussian_kl(p, q) == pytest.approx(0.125, rel=1e-12)
    y = _draws(p, 2000, 3)
    shifted = paired_excess(y + 0.5 * u, y, p, "kl", bootstrap=200, generator=1)
    assert shifted.divergence == "projection_kl"
    assert 4 * shifted.stderr < shifted.value < gaussian_kl(p, q)
    null = paired_excess(_draws(p, 2000, 4), y, p, "kl", bootstrap=200, generator=1)
    assert abs(null.value) <= 3.9 * null.stderr
    moment = paired_excess(y + 0.5 * u, y, p, "kl", method="moment", bootstrap=20, generator=1)
    assert moment.value == pytest.approx(gaussian_kl(p, q), rel=0.2)


def test_paired_excess_rejects_bad_input():
    target = Gaussian(torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64))
    x = _draws(target, 50, 0)
    with pytest.raises(ValueError, match="divergence"):
        paired_excess(x, x, target, "hellinger")
    with pytest.raises(ValueError, match="method"):
        paired_excess(x, x, target, method="knn")
    with pytest.raises(ValueError, match="d <= 2"):
        paired_excess(x, x, target, method="histogram")
    with pytest.raises(ValueError, match="same shape"):
        paired_excess(x, x[:-1], target)
    blown = x.clone()
    blown[0, 0] = math.inf
    assert paired_excess(blown, x, target).value == math.inf
