"""Checks of the exact Gaussian divergences of docs/mathematics.md §9 (``analytic.divergences``).

References are independent of the code under test: 50-digit mpmath evaluations of the textbook
formulas, numerical integration of ``|p - q| / 2``, the χ² law of an isotropic variance change,
conditioning on one coordinate in two dimensions, and Monte Carlo with exact Hoeffding intervals.
Random laws come from a seed (random orthogonal eigenvectors, log-uniform eigenvalues), so every
failure is reproducible; hypothesis runs derandomized. Any ``RuntimeWarning`` (e.g. ``gaussian_tv``
reporting that it missed its ``atol``) fails these tests.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, linalg, stats

from analytic import Gaussian, gaussian_hellinger, gaussian_kl, gaussian_tv, gaussian_w2
from analytic.divergences import _shared_basis, _tv_imhof

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DIVERGENCES = [gaussian_kl, gaussian_tv, gaussian_hellinger, gaussian_w2]
PROPERTY = settings(max_examples=50, deadline=None, derandomize=True)


# -- random laws ------------------------------------------------------------------------------


def random_spd(rng, d, cond=100.0, scale=1.0):
    """Full SPD matrix with log-uniform eigenvalues in ``[scale, cond · scale]``."""
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = scale * np.exp(rng.uniform(0.0, math.log(cond), d))
    cov = (basis * lam) @ basis.T
    return 0.5 * (cov + cov.T)


def gaussian(mean, cov) -> Gaussian:
    as64 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))
    return Gaussian(as64(mean), as64(cov))


def perturbed_pair(seed, d, diagonal, eps):
    """``q`` and a ``p`` whose mean and covariance differ from ``q``'s by a relative ``eps`` (KL ≈ eps²)."""
    rng = np.random.default_rng(seed)
    cov = random_spd(rng, d, cond=20.0)
    mean = rng.normal(0.0, 1.0, d)
    shift = rng.normal(0.0, 1.0, d) * np.sqrt(np.diag(cov))
    bend = rng.standard_normal((d, d))
    bend = 0.5 * (bend + bend.T) * np.abs(cov).max()
    if diagonal:
        cov, bend = np.diag(cov).copy(), np.diag(bend).copy()
    return gaussian(mean + eps * shift, cov + eps * bend), gaussian(mean, cov)


def mp_matrix(t: torch.Tensor):
    return mp.matrix(t.tolist())


# -- KL ---------------------------------------------------------------------------------------


def kl_mpmath(p: Gaussian, q: Gaussian):
    """``½[tr(Σ_q⁻¹Σ_p) - d + Δᵀ Σ_q⁻¹ Δ + log det Σ_q - log det Σ_p]`` at 50 digits, on the exact
    float64 values of ``.mean`` and ``.cov``."""
    with mp.workdps(50):
        cov_p, cov_q = mp_matrix(p.cov), mp_matrix(q.cov)
        diff = mp_matrix(q.mean - p.mean)
        inv_q = cov_q**-1
        trace = sum((inv_q * cov_p)[i, i] for i in range(p.dim))
        maha = (diff.T * inv_q * diff)[0, 0]
        return 0.5 * (trace - p.dim + maha + mp.log(mp.det(cov_q)) - mp.log(mp.det(cov_p)))


def kl_naive(p: Gaussian, q: Gaussian) -> float:
    """The trace/logdet form evaluated in float64."""
    cov_p, cov_q = p.cov.numpy(), q.cov.numpy()
    diff = (q.mean - p.mean).numpy()
    inv_q = np.linalg.inv(cov_q)
    logdet_ratio = np.linalg.slogdet(cov_q)[1] - np.linalg.slogdet(cov_p)[1]
    return 0.5 * (np.trace(inv_q @ cov_p) - p.dim + diff @ inv_q @ diff + logdet_ratio)


@pytest.mark.parametrize("eps", [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
@pytest.mark.parametrize("diagonal", [False, True], ids=["full", "diagonal"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_kl_matches_50_digit_mpmath_to_relative_1e_10_down_to_kl_1e_14(d, diagonal, eps):
    p, q = perturbed_pair(seed=10 * d + diagonal, d=d, diagonal=diagonal, eps=eps)
    exact = kl_mpmath(p, q)
    assert 1e-17 < exact < 1e-2
    assert abs(gaussian_kl(p, q) - exact) <= 1e-10 * exact


def test_naive_trace_logdet_kl_loses_the_digits_the_eigenvalue_form_keeps():
    p, q = perturbed_pair(seed=30, d=3, diagonal=False, eps=1e-7)
    exact = kl_mpmath(p, q)
    assert abs(kl_naive(p, q) - exact) > 1e-4 * exact
    assert abs(gaussian_kl(p, q) - exact) <= 1e-10 * exact


def test_kl_of_ten_thousand_independent_coordinates_is_the_sum_of_one_dimensional_kls():
    rng = np.random.default_rng(0)
    d = 10_000
    mean_p, mean_q = rng.normal(0, 1, d), rng.normal(0, 1, d)
    var_p, var_q = np.exp(rng.uniform(-1, 1, d)), np.exp(rng.uniform(-1, 1, d))
    per_coordinate = 0.5 * (var_p / var_q - 1.0 - np.log(var_p / var_q) + (mean_p - mean_q) ** 2 / var_q)
    kl = gaussian_kl(gaussian(mean_p, var_p), gaussian(mean_q, var_q))
    assert kl == pytest.approx(per_coordinate.sum(), rel=1e-12)


# -- TV: one dimension ------------------------------------------------------------------------

ONE_D_CASES = [  # (μ_p, σ_p, μ_q, σ_q)
    (0.0, 1.0, 0.0, 2.0),
    (1.0, 0.5, -0.3, 1.3),
    (0.0, 1.0, 1.0, 1.0),
    (0.0, 1.0, 2e-6, 1.0),  # TV ≈ 8e-7
    (0.0, 1.0, 0.0, 1.0 + 1e-6),  # TV ≈ 5e-7
    (0.0, 1.0, 9.0, 1.0),  # 1 - TV ≈ 7e-6
    (0.0, 1e-3, 0.0, 1.0),  # 1 - TV ≈ 2e-3
    (5.0, 2.0, -5.0, 0.1),
]
VARIANCE_CHANGES = [case for case in ONE_D_CASES if case[1] != case[3]]


@pytest.mark.parametrize("mu_p, sd_p, mu_q, sd_q", ONE_D_CASES)
def test_tv_1d_crossing_points_equal_numerical_integral_of_half_abs_density_difference(mu_p, sd_p, mu_q, sd_q):
    half_gap = lambda x: 0.5 * abs(stats.norm.pdf(x, mu_p, sd_p) - stats.norm.pdf(x, mu_q, sd_q))
    lo = min(mu_p - 40 * sd_p, mu_q - 40 * sd_q)
    hi = max(mu_p + 40 * sd_p, mu_q + 40 * sd_q)
    scales = sorted({mu + k * sd for mu, sd in ((mu_p, sd_p), (mu_q, sd_q)) for k in (-8, -1, 0, 1, 8)})
    reference = integrate.quad(half_gap, lo, hi, points=scales, epsabs=1e-15, epsrel=1e-13, limit=1000)[0]
    tv = gaussian_tv(gaussian([mu_p], [sd_p**2]), gaussian([mu_q], [sd_q**2]))
    assert tv == pytest.approx(reference, rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("rotated", [False, True], ids=["diagonal", "rotated"])
@pytest.mark.parametrize("mu_p, sd_p, mu_q, sd_q", VARIANCE_CHANGES)
def test_tv_imhof_inversion_equals_crossing_points_for_a_one_dimensional_difference(
    mu_p, sd_p, mu_q, sd_q, rotated
):
    """Appending a coordinate on which ``p`` and ``q`` agree leaves TV unchanged but sends the
    two-dimensional pair through Imhof's inversion."""
    one_d = gaussian_tv(gaussian([mu_p], [sd_p**2]), gaussian([mu_q], [sd_q**2]))
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]]) if rotated else np.eye(2)
    cov = lambda sd: rotation @ np.diag([sd**2, 1.7]) @ rotation.T
    p = gaussian(rotation @ [mu_p, 0.3], cov(sd_p))
    q = gaussian(rotation @ [mu_q, 0.3], cov(sd_q))
    atol = 1e-11
    assert abs(gaussian_tv(p, q, atol=atol) - one_d) <= atol


# -- TV: equal covariances, products, conditioning ----------------------------------------------


@pytest.mark.parametrize("d", [1, 3, 10])
@pytest.mark.parametrize("distance", [1e-7, 0.3, 2.0, 9.0])
def test_tv_with_equal_covariances_is_2_phi_of_half_mahalanobis_minus_1(d, distance):
    rng = np.random.default_rng(d)
    cov = random_spd(rng, d)
    direction = rng.standard_normal(d)
    shift = distance * np.linalg.cholesky(cov) @ (direction / np.linalg.norm(direction))
    expected = stats.norm.cdf(distance / 2) - stats.norm.sf(distance / 2)
    tv = gaussian_tv(gaussian(shift, cov), gaussian(np.zeros(d), cov))
    assert tv == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("distance", [1e-7, 0.3, 2.0, 9.0])
def test_tv_imhof_inversion_equals_mahalanobis_formula_when_no_variance_differs(distance):
    """``_tv_imhof`` on whitened parameters ``(m, δ = 0)``: only the normal (linear) term is left."""
    m = np.full(4, distance / 2.0)
    tv, err = _tv_imhof(m, np.zeros(4), np.ones(4), np.zeros(4), atol=1e-12)
    assert err <= 1e-12
    assert abs(tv - math.erf(distance / (2 * math.sqrt(2)))) <= 1e-12


def test_tv_with_nearly_equal_covariances_tends_to_the_mahalanobis_formula():
    """A relative covariance change of 1e-12 moves TV by O(1e-12) but forces Imhof's inversion."""
    rng = np.random.default_rng(5)
    cov = random_spd(rng, 5)
    shift = np.linalg.cholesky(cov) @ np.array([0.6, 0.0, 0.8, 0.0, 0.0])
    p, q = gaussian(shift, cov * (1 + 1e-12)), gaussian(np.zeros(5), cov)
    assert gaussian_tv(p, q) == pytest.approx(math.erf(1 / (2 * math.sqrt(2))), abs=1e-9)


def isotropic_tv(d, lam):
    """``TV(N(0, λI), N(0, I))``: ``log p > log q`` iff ``‖x‖² > r = d log λ / (1 - 1/λ)`` (λ > 1) or
    ``<`` (λ < 1), and ``‖x‖² / λ ~ χ²_d`` under ``p``."""
    r = d * math.log(lam) / (1 - 1 / lam)
    if lam > 1:
        return stats.chi2.sf(r / lam, d) - stats.chi2.sf(r, d)
    return stats.chi2.cdf(r / lam, d) - stats.chi2.cdf(r, d)


@pytest.mark.parametrize(
    "d, lam, atol",
    [
        (2, 2.0, 1e-9),
        (3, 0.5, 1e-9),
        (10, 1.5, 1e-9),
        (100, 1.1, 1e-9),
        (1000, 1.0001, 1e-9),  # TV ≈ 9e-4
        (1000, 1.2, 1e-9),  # TV ≈ 0.96
        (1000, 1.5, 1e-9),  # 1 - TV ≈ 6e-6
        (1000, 0.9, 1e-9),
        (5, 1 + 1e-6, 1e-12),  # TV ≈ 6e-7
        # variance ratios far from 1: the two laws' characteristic functions live on scales 1/λ apart
        (1, 1e-17, 1e-9),  # below 1 + δ's resolution: λ is kept apart from δ
        (2, 1e-8, 1e-9),
        (3, 1e-12, 1e-9),
        (10, 1e-17, 1e-9),
        (2, 1e8, 1e-9),
    ],
)
def test_tv_of_isotropic_variance_change_follows_the_chi_square_law(d, lam, atol):
    p = gaussian(np.zeros(d), np.full(d, lam))
    q = gaussian(np.zeros(d), np.ones(d))
    assert abs(gaussian_tv(p, q, atol=atol) - isotropic_tv(d, lam)) <= atol


@pytest.mark.parametrize("diagonal", [True, False])
def test_kl_hellinger_and_tv_keep_variance_ratios_below_the_resolution_of_one_plus_delta(diagonal):
    """``λ = (1e-17, 0.5)`` in a shared eigenbasis (diagonal, or one rotation for both laws):
    ``1 + δ`` rounds to 0 for the first, so λ must not be rebuilt from δ. References:
    ``KL = ½ Σ (λ - 1 - log λ)`` and ``H² = 1 - Π (2√λ / (1 + λ))^{1/2}`` in 50-digit mpmath; TV is
    at least the first coordinate's (≈ 1 - 1e-8) and at most 1."""
    lam = np.array([1e-17, 0.5])
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))
    basis = None if diagonal else t(np.linalg.qr(np.random.default_rng(5).standard_normal((2, 2)))[0])
    p = Gaussian.from_eigen(t(np.zeros(2)), t(lam), basis)
    q = Gaussian.from_eigen(t(np.zeros(2)), t(np.ones(2)), basis)
    kl = 0.5 * sum(mp.mpf(x) - 1 - mp.log(x) for x in lam)
    h2 = 1 - mp.fprod(mp.sqrt(2 * mp.sqrt(x) / (1 + x)) for x in lam)
    assert gaussian_kl(p, q) == pytest.approx(float(kl), rel=1e-12)
    assert gaussian_hellinger(p, q) ** 2 == pytest.approx(float(h2), rel=1e-12)
    assert 1 - 1e-7 <= gaussian_tv(p, q) <= 1.0


@pytest.mark.parametrize("diagonal", [True, False])
def test_relatively_singular_covariance_gives_the_limits_not_nan(diagonal):
    """``Σ_p`` singular relative to ``Σ_q`` in float64 (the eigenvalue ratio 1e-600 underflows to 0):
    the limits as ``λ → 0``, ``KL = ∞``, ``H = 1``, ``TV = 1``, never NaN or a domain error."""
    cov_p, cov_q = np.array([1e-300, 1.0]), np.array([1e300, 1.0])
    if not diagonal:
        basis = np.linalg.qr(np.random.default_rng(6).standard_normal((2, 2)))[0]
        cov_p, cov_q = (basis * cov_p) @ basis.T, np.diag(cov_q)
    p, q = gaussian(np.zeros(2), cov_p), gaussian(np.zeros(2), cov_q)
    assert gaussian_kl(p, q) == math.inf
    assert gaussian_hellinger(p, q) == 1.0
    assert gaussian_tv(p, q) == 1.0


def test_tv_is_unchanged_by_appending_shared_independent_coordinates():
    rng = np.random.default_rng(7)
    cov_p, cov_q, cov_r = random_spd(rng, 3), random_spd(rng, 3), random_spd(rng, 2)
    mean_p, mean_q, mean_r = rng.normal(0, 1, 3), rng.normal(0, 1, 3), rng.normal(0, 1, 2)
    product = lambda mean, cov: gaussian(np.concatenate([mean, mean_r]), linalg.block_diag(cov, cov_r))
    alone = gaussian_tv(gaussian(mean_p, cov_p), gaussian(mean_q, cov_q))
    assert abs(gaussian_tv(product(mean_p, cov_p), product(mean_q, cov_q)) - alone) <= 2e-9


def probability_quadratic_positive(a, b, c):
    """``P(a z² + b z + c > 0)`` for ``z ~ N(0, 1)``, from the roots."""
    if a == 0:
        return stats.norm.sf(-c / b)
    disc = b * b - 4 * a * c
    if disc <= 0:
        return float(a > 0)
    big = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    lo, hi = sorted((big / a, c / big))
    between = stats.norm.cdf(hi) - stats.norm.cdf(lo)
    return 1 - between if a > 0 else between


def tv_by_conditioning(mean_p, var_p, mean_q, var_q):
    """TV of two diagonal laws in d = 2 as ``P_p(ℓ > 0) - P_q(ℓ > 0)``, each integrated over ``x₂``
    with the exact one-dimensional probability in ``x₁``; breakpoints where that probability has a
    square-root kink (its discriminant vanishes)."""
    # ℓ = Σ_i α_i x_i² + β_i x_i + γ_i from the two log densities
    alpha = 0.5 / var_q - 0.5 / var_p
    beta = mean_p / var_p - mean_q / var_q
    gamma = 0.5 * mean_q**2 / var_q - 0.5 * mean_p**2 / var_p + 0.5 * np.log(var_q / var_p)
    total = 0.0
    for sign, mean, var in ((1, mean_p, var_p), (-1, mean_q, var_q)):
        sd = np.sqrt(var)  # x_i = mean_i + sd_i z_i
        a = alpha * var
        b = (2 * alpha * mean + beta) * sd
        c = alpha * mean**2 + beta * mean + gamma
        inner = lambda z2: probability_quadratic_positive(a[0], b[0], c[0] + a[1] * z2 * z2 + b[1] * z2 + c[1])
        kinks = np.roots([4 * a[0] * a[1], 4 * a[0] * b[1], 4 * a[0] * (c[0] + c[1]) - b[0] ** 2]) if a[0] else []
        points = sorted({0.0, *(r.real for r in kinks if abs(r.imag) < 1e-12 and abs(r.real) < 40)})
        total += sign * integrate.quad(lambda z2: stats.norm.pdf(z2) * inner(z2), -40, 40, points=points,
                                       epsabs=1e-13, epsrel=1e-13, limit=1000)[0]
    return total


@pytest.mark.parametrize(
    "mean_p, var_p",
    [
        ([0.0, 0.0], [2.0, 0.5]),  # the LLR's asymptotic frequency is exactly 0
        ([0.0, 0.0], [2.0, 0.5 * (1 + 1e-10)]),  # ... and nearly 0
        ([0.0, 2e-3], [3.0, 1 - 2e-6]),  # coordinates on very different scales
        ([0.0, 0.0], [1 + 1e-6, 1 - 1e-6]),  # TV ≈ 3e-7
        ([3.0, 1.0], [31.0, 0.1]),
        ([-0.7, -1.3], [0.39, 1.06]),
        ([1.8, 1.3], [1.7, 0.16]),
    ],
)
@pytest.mark.filterwarnings("ignore:The occurrence of roundoff error:scipy.integrate.IntegrationWarning")
def test_tv_imhof_inversion_in_two_dimensions_equals_conditioning_on_one_coordinate(mean_p, var_p):
    """The reference's quadrature may report roundoff near its 1e-13 tolerance; 1e-10 is asserted."""
    mean_p, var_p = np.array(mean_p), np.array(var_p)
    mean_q, var_q = np.zeros(2), np.ones(2)
    reference = tv_by_conditioning(mean_p, var_p, mean_q, var_q)
    assert abs(gaussian_tv(gaussian(mean_p, var_p), gaussian(mean_q, var_q), atol=1e-10) - reference) <= 1e-10


# -- TV: Monte Carlo with exact Hoeffding intervals ----------------------------------------------


@pytest.mark.parametrize("d", [3, 10])
def test_tv_lies_in_the_hoeffding_interval_of_e_p_of_one_minus_density_ratio(d):
    """``TV = E_p[(1 - q/p)_+]`` with the integrand in [0, 1]: with ``n`` draws,
    ``|mean - TV| ≤ sqrt(log(2/α) / (2n))`` with probability ≥ 1 - α. False-failure rate ≤ α = 1e-6."""
    rng = np.random.default_rng(100 + d)
    p = gaussian(rng.normal(0, 0.5, d), random_spd(rng, d, cond=10.0))
    q = gaussian(rng.normal(0, 0.5, d), random_spd(rng, d, cond=10.0))
    n, alpha = 2**20, 1e-6
    x = p.sample(n, generator=torch.Generator().manual_seed(d))
    excess = (-torch.expm1(q.log_prob(x) - p.log_prob(x))).clamp_min(0.0)
    half_width = math.sqrt(math.log(2 / alpha) / (2 * n))
    assert abs(excess.mean().item() - gaussian_tv(p, q)) <= half_width


def test_tv_warns_when_the_requested_accuracy_is_out_of_reach():
    p, q = gaussian([0.0, 0.0], [2.0, 0.5]), gaussian([0.0, 0.0], [1.0, 1.0])
    with pytest.warns(RuntimeWarning, match="atol"):
        gaussian_tv(p, q, atol=1e-18)


@pytest.mark.parametrize("atol", [0.0, -1e-9, math.nan, math.inf])
def test_tv_rejects_a_tolerance_that_is_not_a_positive_number(atol):
    with pytest.raises(ValueError, match="atol"):
        gaussian_tv(gaussian([0.0], [1.0]), gaussian([1.0], [2.0]), atol=atol)


# -- Hellinger --------------------------------------------------------------------------------


def hellinger_squared_mpmath(p: Gaussian, q: Gaussian):
    """``1 - BC`` with the determinants and the inverse of ``Σ̄`` at 50 digits."""
    with mp.workdps(50):
        cov_p, cov_q = mp_matrix(p.cov), mp_matrix(q.cov)
        cov_bar = (cov_p + cov_q) / 2
        diff = mp_matrix(p.mean - q.mean)
        log_bc = (mp.log(mp.det(cov_p)) + mp.log(mp.det(cov_q))) / 4 - mp.log(mp.det(cov_bar)) / 2
        return -mp.expm1(log_bc - (diff.T * cov_bar**-1 * diff)[0, 0] / 8)


@pytest.mark.parametrize("eps", [1e-1, 1e-4, 1e-7])
@pytest.mark.parametrize("d", [2, 3])
def test_hellinger_squared_matches_50_digit_mpmath_to_relative_1e_12(d, eps):
    p, q = perturbed_pair(seed=40 + d, d=d, diagonal=False, eps=eps)
    exact = hellinger_squared_mpmath(p, q)
    assert abs(gaussian_hellinger(p, q) ** 2 - exact) <= 1e-12 * exact


def test_hellinger_in_one_dimension_has_its_closed_form():
    """``H² = 1 - sqrt(2σ_pσ_q / (σ_p² + σ_q²)) exp(-(μ_p - μ_q)² / (4(σ_p² + σ_q²)))``."""
    mu_p, sd_p, mu_q, sd_q = 0.4, 0.7, -1.1, 1.9
    total_var = sd_p**2 + sd_q**2
    bc = math.sqrt(2 * sd_p * sd_q / total_var) * math.exp(-((mu_p - mu_q) ** 2) / (4 * total_var))
    h = gaussian_hellinger(gaussian([mu_p], [sd_p**2]), gaussian([mu_q], [[sd_q**2]]))
    assert h == pytest.approx(math.sqrt(1 - bc), rel=1e-13)


# -- W2 ---------------------------------------------------------------------------------------


def test_w2_in_one_dimension_is_the_distance_of_means_and_standard_deviations():
    mu_p, sd_p, mu_q, sd_q = 0.4, 0.7, -1.1, 1.9
    w2 = gaussian_w2(gaussian([mu_p], [[sd_p**2]]), gaussian([mu_q], [sd_q**2]))
    assert w2 == pytest.approx(math.hypot(mu_p - mu_q, sd_p - sd_q), rel=1e-14)


@pytest.mark.parametrize("layout", ["diagonal-vs-dense", "rotated"])
def test_w2_for_commuting_covariances_is_the_distance_of_square_root_spectra(layout):
    rng = np.random.default_rng(11)
    d = 6
    lam_p, lam_q = np.exp(rng.uniform(-2, 2, d)), np.exp(rng.uniform(-2, 2, d))
    mean_p, mean_q = rng.normal(0, 1, d), rng.normal(0, 1, d)
    if layout == "rotated":
        basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
        p, q = gaussian(mean_p, (basis * lam_p) @ basis.T), gaussian(mean_q, (basis * lam_q) @ basis.T)
    else:
        p, q = gaussian(mean_p, np.diag(lam_p)), gaussian(mean_q, lam_q)
    assert not _shared_basis(p, q)[0]  # the general (SVD) path is the one under test
    expected = math.sqrt(np.sum((mean_p - mean_q) ** 2) + np.sum((np.sqrt(lam_p) - np.sqrt(lam_q)) ** 2))
    assert gaussian_w2(p, q) == pytest.approx(expected, rel=1e-12)


def test_w2_matches_the_trace_formula_for_well_separated_full_covariances():
    rng = np.random.default_rng(12)
    cov_p, cov_q = random_spd(rng, 4), random_spd(rng, 4)
    mean_p, mean_q = rng.normal(0, 1, 4), rng.normal(0, 1, 4)
    root_p = linalg.sqrtm(cov_p).real
    cross = linalg.sqrtm(root_p @ cov_q @ root_p).real
    expected = math.sqrt(np.sum((mean_p - mean_q) ** 2) + np.trace(cov_p + cov_q - 2 * cross))
    assert gaussian_w2(gaussian(mean_p, cov_p), gaussian(mean_q, cov_q)) == pytest.approx(expected, rel=1e-10)


def test_w2_keeps_its_digits_for_nearly_equal_laws():
    """At a relative perturbation of 1e-7 the trace formula keeps ~2 digits (cancellation in
    ``tr Σ_p + tr Σ_q - 2 tr(·)^{1/2}``); the polar-factor form keeps at least 6."""
    p, q = perturbed_pair(seed=50, d=3, diagonal=False, eps=1e-7)
    with mp.workdps(50):
        cov_p, cov_q = mp_matrix(p.cov), mp_matrix(q.cov)
        root_p = mp.sqrtm(cov_p)
        cross = mp.sqrtm(root_p * cov_q * root_p).apply(mp.re)
        diff = mp_matrix(p.mean - q.mean)
        exact = mp.sqrt((diff.T * diff)[0, 0] + sum(cov_p[i, i] + cov_q[i, i] - 2 * cross[i, i] for i in range(3)))
    assert abs(gaussian_w2(p, q) - exact) <= 1e-6 * exact


# -- all four ---------------------------------------------------------------------------------


def test_shared_basis_fast_path_agrees_with_the_dense_path():
    rng = np.random.default_rng(13)
    p = gaussian(rng.normal(0, 1, 5), random_spd(rng, 5))
    q = p.marginal(0.7)  # shares p's eigenvectors
    p_dense, q_dense = gaussian(p.mean.numpy(), p.cov.numpy()), gaussian(q.mean.numpy(), q.cov.numpy())
    assert _shared_basis(p, q)[0] and not _shared_basis(p_dense, q_dense)[0]
    for divergence in (gaussian_kl, gaussian_hellinger, gaussian_w2):
        assert divergence(p, q) == pytest.approx(divergence(p_dense, q_dense), rel=1e-10)
    assert gaussian_tv(p, q) == pytest.approx(gaussian_tv(p_dense, q_dense), abs=2e-9)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_identical_laws_are_at_divergence_zero(divergence):
    rng = np.random.default_rng(14)
    p = gaussian(rng.normal(0, 1, 4), random_spd(rng, 4))
    assert divergence(p, p) == 0.0


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_float32_laws_are_compared_in_float64_and_give_python_floats(divergence):
    rng = np.random.default_rng(15)
    as32 = lambda a: torch.tensor(a, dtype=torch.float32)
    p32 = Gaussian(as32(rng.normal(0, 1, 3)), as32(random_spd(rng, 3)))
    q32 = Gaussian(as32(rng.normal(0, 1, 3)), as32(random_spd(rng, 3)))
    value = divergence(p32, q32)
    assert type(value) is float
    assert value == divergence(p32.to(dtype=torch.float64), q32.to(dtype=torch.float64))


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_divergences_reject_non_gaussians_and_mismatched_dimensions(divergence):
    p = gaussian([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(TypeError, match="q must be an analytic.Gaussian"):
        divergence(p, "N(0, 1)")
    with pytest.raises(TypeError, match="p must be an analytic.Gaussian"):
        divergence(None, p)
    with pytest.raises(ValueError, match="q has dimension 3 but p has dimension 2"):
        divergence(p, gaussian(np.zeros(3), np.ones(3)))


# -- inequalities between them ---------------------------------------------------------------


@st.composite
def gaussian_pairs(draw):
    """Two laws in d ∈ {1, 2, 3}: means in [-3, 3]^d, covariances of condition number ≤ 100."""
    d = draw(st.sampled_from([1, 2, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = draw(st.booleans())
    laws = []
    for _ in range(2):
        cov = random_spd(rng, d, cond=100.0, scale=math.exp(rng.uniform(-2, 2)))
        laws.append(gaussian(rng.uniform(-3, 3, d), cov if full else np.diag(cov).copy()))
    return tuple(laws)


@PROPERTY
@given(pair=gaussian_pairs())
def test_hellinger_sandwiches_tv_and_pinsker_bounds_it_by_kl(pair):
    """``H² ≤ TV ≤ H sqrt(2 - H²)`` (with ``H² = 1 - BC``), ``KL ≥ 0`` and ``TV ≤ sqrt(KL / 2)``,
    up to three times TV's ``atol``."""
    p, q = pair
    atol = 1e-9
    tv, h, kl = gaussian_tv(p, q, atol=atol), gaussian_hellinger(p, q), gaussian_kl(p, q)
    assert h * h - 3 * atol <= tv <= h * math.sqrt(2 - h * h) + 3 * atol
    assert kl >= 0.0
    assert tv <= math.sqrt(kl / 2) + 3 * atol
