"""Property tests of the analytic targets ``Gaussian`` and ``GaussianMixture`` (docs/mathematics.md §1-2).

Random targets are built from a hypothesis-drawn seed (random orthogonal eigenvectors,
log-uniform eigenvalues), so every failure is reproducible from the printed seed; hypothesis runs
derandomized. References are independent of the code under test: autograd derivatives of
``log_prob``, the OU transition written out in numpy, and the law of total covariance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp, softmax

from analytic import Gaussian, GaussianMixture
from analytic.mixture import WEIGHT_SUM_TOL

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True)
FEW = settings(max_examples=25, deadline=None, derandomize=True)

seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)
times = st.floats(0.0, 5.0, allow_nan=False)
batch_shapes = st.sampled_from([(), (7,), (2, 3), (3, 1, 2)])


# -- random targets ---------------------------------------------------------------------------


def random_cov(rng, d, diagonal, lo=0.05, hi=20.0):
    """SPD covariance with log-uniform eigenvalues in [lo, hi]: (d,) diagonal or (d, d) full."""
    lam = np.exp(rng.uniform(math.log(lo), math.log(hi), d))
    if diagonal:
        return lam
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (q * lam) @ q.T
    return 0.5 * (cov + cov.T)


def random_gaussian(seed, d, diagonal, **kw):
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 2.0, d)
    cov = random_cov(rng, d, diagonal, **kw)
    return Gaussian(mean, cov), mean, cov


def random_mixture(seed, d, diagonal, k=None, shared=False, **kw):
    rng = np.random.default_rng(seed)
    k = k or int(rng.integers(1, 5))
    w = rng.dirichlet(np.ones(k))
    w = w / w.sum()
    means = rng.normal(0.0, 3.0, (k, d))
    if shared:
        covs = np.stack([random_cov(rng, d, diagonal, **kw)] * k)
    else:
        covs = np.stack([random_cov(rng, d, diagonal, **kw) for _ in range(k)])
    return GaussianMixture(w, means, covs), w, means, covs


def dense(cov):
    return np.diag(cov) if cov.ndim == 1 else cov


def ou_moments(mean, cov, s):
    """OU transition (docs/mathematics.md §1) written out: e^{-s/2} μ, e^{-s} Σ + (1 - e^{-s}) I."""
    cov = dense(cov)
    return math.exp(-s / 2) * mean, math.exp(-s) * cov + (-math.expm1(-s)) * np.eye(cov.shape[0])


def random_points(seed, shape, d, scale=3.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed % (2**63))
    return scale * torch.randn(*shape, d, generator=g, dtype=dtype)


def random_times(seed, shape, s):
    """A forward time broadcastable to ``shape``: the scalar ``s`` or a tensor over (a suffix of) ``shape``."""
    rng = np.random.default_rng(seed + 1)
    choice = rng.integers(0, 3) if shape else 0
    if choice == 0:
        return s
    if choice == 1:  # per-point times, same shape as the batch
        return torch.tensor(rng.uniform(0, 5, shape))
    sub = tuple(1 if i % 2 == 0 else n for i, n in enumerate(shape))[1:]  # a broadcasting suffix
    return torch.tensor(rng.uniform(0, 5, sub))


def autograd_score(target, x, s):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(target.log_prob(x, s).sum(), x)
    return grad


def hessian_norm(target, x, s):
    """Spectral norm of the autograd Hessian of ``log p_s`` at one point ``x`` (d,)."""
    h = torch.autograd.functional.hessian(lambda y: target.log_prob(y, s), x)
    return float(torch.linalg.matrix_norm(0.5 * (h + h.T), ord=2))


def assert_vectors_close(actual, expected, rtol=1e-10, atol=1e-12):
    """Norm-wise closeness over the last axis (robust to components that cancel to ~0)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    err = torch.linalg.vector_norm(actual - expected, dim=-1)
    ref = torch.linalg.vector_norm(expected, dim=-1)
    bad = err > rtol * ref + atol
    assert not bad.any(), f"max error {float(err.max()):.3g} (reference norm {float(ref.max()):.3g})"


# -- score = ∇ log_prob ------------------------------------------------------------------------


@PROPERTY
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times, shape=batch_shapes)
def test_gaussian_score_equals_autograd_gradient_of_log_prob(seed, d, diagonal, s, shape):
    g, _, _ = random_gaussian(seed, d, diagonal)
    x = random_points(seed, shape, d)
    t = random_times(seed, shape, s)
    score = g.score(x, t)
    assert score.shape == x.shape
    assert g.log_prob(x, t).shape == shape
    assert_vectors_close(score, autograd_score(g, x, t), rtol=1e-10, atol=1e-10)


@PROPERTY
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times, shape=batch_shapes)
def test_mixture_score_equals_autograd_gradient_of_log_prob(seed, d, diagonal, s, shape):
    mix, *_ = random_mixture(seed, d, diagonal)
    x = random_points(seed, shape, d, scale=5.0)
    t = random_times(seed, shape, s)
    score = mix.score(x, t)
    assert score.shape == x.shape
    assert mix.log_prob(x, t).shape == shape
    assert_vectors_close(score, autograd_score(mix, x, t), rtol=1e-9, atol=1e-9)


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), shape=batch_shapes)
def test_score_with_per_point_times_equals_score_at_each_time(seed, d, diagonal, shape):
    """Broadcasting ``s`` against ``x.shape[:-1]`` means the same as evaluating point by point."""
    if not shape:
        shape = (4,)
    mix, *_ = random_mixture(seed, d, diagonal)
    x = random_points(seed, shape, d)
    t = torch.tensor(np.random.default_rng(seed).uniform(0, 5, shape))
    flat_x, flat_t = x.reshape(-1, d), t.reshape(-1)
    for target in (mix, mix.components[0]):
        got = target.score(x, t).reshape(-1, d)
        for i in range(flat_x.shape[0]):
            want = target.score(flat_x[i], float(flat_t[i]))
            torch.testing.assert_close(got[i], want, rtol=1e-12, atol=1e-13)


# -- marginals ---------------------------------------------------------------------------------


@PROPERTY
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_gaussian_marginal_moments_equal_ou_transition(seed, d, diagonal, s):
    g, mean, cov = random_gaussian(seed, d, diagonal)
    p = g.marginal(s)
    want_mean, want_cov = ou_moments(mean, cov, s)
    np.testing.assert_allclose(p.mean.numpy(), want_mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(p.cov.numpy(), want_cov, rtol=1e-11, atol=1e-12 * np.abs(want_cov).max())
    assert isinstance(p, Gaussian) and p.is_diagonal == diagonal


@PROPERTY
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_mixture_marginal_moves_each_component_and_total_moments_by_ou_transition(seed, d, diagonal, s):
    mix, w, means, covs = random_mixture(seed, d, diagonal)
    p = mix.marginal(s)
    assert isinstance(p, GaussianMixture)
    np.testing.assert_array_equal(p.weights.numpy(), mix.weights.numpy())
    for k in range(len(w)):
        want_mean, want_cov = ou_moments(means[k], covs[k], s)
        np.testing.assert_allclose(p.means[k].numpy(), want_mean, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(p.covs[k].numpy(), want_cov, rtol=1e-11, atol=1e-12 * np.abs(want_cov).max())
    # law of total covariance at time 0, then moved as a whole: Cov_s = e^{-s} Cov_0 + (1 - e^{-s}) I
    mu0 = w @ means
    cov0 = sum(w[k] * (dense(covs[k]) + np.outer(means[k], means[k])) for k in range(len(w))) - np.outer(mu0, mu0)
    np.testing.assert_allclose(mix.mean.numpy(), mu0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mix.cov.numpy(), cov0, rtol=1e-10, atol=1e-10 * np.abs(cov0).max())
    want_mean, want_cov = ou_moments(mu0, cov0, s)
    np.testing.assert_allclose(p.mean.numpy(), want_mean, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(p.cov.numpy(), want_cov, rtol=1e-10, atol=1e-10 * np.abs(want_cov).max())


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans())
def test_marginal_at_time_zero_is_the_target(seed, d, diagonal):
    g, mean, cov = random_gaussian(seed, d, diagonal)
    p = g.marginal(0.0)
    torch.testing.assert_close(p.mean, g.mean, rtol=0, atol=0)
    torch.testing.assert_close(p.cov, g.cov, rtol=1e-15, atol=0)
    mix, *_ = random_mixture(seed, d, diagonal)
    q = mix.marginal(0)
    torch.testing.assert_close(q.means, mix.means, rtol=0, atol=0)
    torch.testing.assert_close(q.covs, mix.covs, rtol=1e-15, atol=0)
    x = random_points(seed, (5,), d)
    torch.testing.assert_close(q.score(x), mix.score(x, 0.0), rtol=1e-15, atol=0)
    torch.testing.assert_close(p.log_prob(x), g.log_prob(x, 0.0), rtol=1e-15, atol=0)


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_marginal_of_marginal_composes_ou_times(seed, d, diagonal, s):
    """``(p_s)_r = p_{s+r}``: the OU semigroup property."""
    g, *_ = random_gaussian(seed, d, diagonal)
    a, b = g.marginal(s).marginal(0.7), g.marginal(s + 0.7)
    torch.testing.assert_close(a.mean, b.mean, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(a.cov, b.cov, rtol=1e-11, atol=1e-13)


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_one_component_mixture_equals_the_gaussian(seed, d, diagonal, s):
    g, mean, cov = random_gaussian(seed, d, diagonal)
    mix = GaussianMixture([1.0], mean[None], cov[None])
    x = random_points(seed, (6,), d)
    torch.testing.assert_close(mix.score(x, s), g.score(x, s), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mix.log_prob(x, s), g.log_prob(x, s), rtol=1e-12, atol=1e-12)
    pm, pg = mix.marginal(s), g.marginal(s)
    torch.testing.assert_close(pm.means[0], pg.mean, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(pm.covs[0], pg.cov, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(pm.cov, pg.cov, rtol=1e-12, atol=1e-14)
    assert mix.lipschitz(s) == pytest.approx(g.lipschitz(s), rel=1e-12)


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_zero_weight_component_changes_nothing(seed, d, diagonal, s):
    """Weights ``(0, 1)``: score, log_prob and its gradient equal the live component's (no NaN from log 0)."""
    g, mean, cov = random_gaussian(seed, d, diagonal)
    _, other_mean, other_cov = random_gaussian(seed + 1, d, diagonal)
    mix = GaussianMixture([0.0, 1.0], np.stack([other_mean, mean]), np.stack([other_cov, cov]))
    x = random_points(seed, (5,), d)
    torch.testing.assert_close(mix.score(x, s), g.score(x, s), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mix.log_prob(x, s), g.log_prob(x, s), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(autograd_score(mix, x, s), g.score(x, s), rtol=1e-10, atol=1e-10)


# -- sampling (Monte Carlo) --------------------------------------------------------------------

ALPHA = 1e-4  # false-failure probability of each sampling test function (all its assertions together)


@pytest.mark.parametrize("case", range(6))
def test_gaussian_sample_moments_match_marginal(case):
    """Exact tests on whitened draws; false-failure rate α ≤ 1e-4 per test (Bonferroni).

    With ``Σ_s = L Lᵀ`` and ``z = L^{-1}(x - μ_s)``, correct sampling gives i.i.d. ``N(0, I)``
    rows, so ``n‖z̄‖² ~ χ²_d`` (mean test, one-sided) and, for each direction ``u`` among the
    ``d + d(d-1)/2`` unit vectors ``e_i`` and ``(e_i + e_j)/√2`` (which pin down every entry of the
    covariance), ``Σ_rows (uᵀz)² ~ χ²_n`` (two-sided). These laws are exact, so α is exact; the
    budget α is split evenly over the tests. With n = 20 000 the mean test detects a shift of
    ~0.04 standard deviations and the variance tests a relative error of ~4.5%.
    """
    rng = np.random.default_rng(100 + case)
    d = int(rng.integers(1, 6))
    s = float(rng.uniform(0, 3)) if case % 3 else 0.0
    g, mean, cov = random_gaussian(1000 + case, d, diagonal=bool(case % 2))
    n = 20_000
    gen = torch.Generator().manual_seed(case)
    x = g.sample(n, s, generator=gen)
    assert x.shape == (n, d) and x.dtype == torch.float64
    mu_s, cov_s = ou_moments(mean, cov, s)
    z = np.linalg.solve(np.linalg.cholesky(cov_s), (x.numpy() - mu_s).T).T
    dirs = [np.eye(d)[i] for i in range(d)]
    dirs += [(np.eye(d)[i] + np.eye(d)[j]) / math.sqrt(2) for i in range(d) for j in range(i + 1, d)]
    a = ALPHA / (1 + len(dirs))
    mean_stat = n * float((z.mean(0) ** 2).sum())
    assert mean_stat <= stats.chi2.ppf(1 - a, d), f"mean off: n‖z̄‖² = {mean_stat:.3g}"
    lo, hi = stats.chi2.ppf(a / 2, n), stats.chi2.ppf(1 - a / 2, n)
    for u in dirs:
        q = float(((z @ u) ** 2).sum())
        assert lo <= q <= hi, f"variance along {u} off: {q / n:.4f} (expected 1)"


def mixture_projection(mix_s, u):
    """1-D law of ``uᵀx`` for ``x ~ mix_s``: weights, means, variances."""
    w = mix_s.weights.numpy()
    m = mix_s.means.numpy() @ u
    v = np.einsum("i,kij,j->k", u, mix_s.covs.numpy(), u)
    return w, m, v


@pytest.mark.parametrize("case", range(6))
def test_mixture_sample_matches_marginal_along_projections(case):
    """DKW and moment tests on projections; false-failure rate α ≤ 1e-4 per test (Bonferroni).

    For each of ``1 + d`` directions ``u`` the projection ``uᵀx`` of the marginal is an exact 1-D
    mixture, whose CDF ``F`` is known. (1) Dvoretzky–Kiefer–Wolfowitz with Massart's constant:
    ``P(sup|F_n - F| > ε) ≤ 2 exp(-2nε²)``, an exact (non-asymptotic) bound; (2) the sample mean
    and the sample second moment about the exact mean of ``uᵀx`` against their exact values with
    the exact variances (``E y⁴`` of a normal mixture is ``Σ w (m⁴ + 6m²v + 3v²)``), at the
    normal-approximation threshold (n = 40 000: the CLT is accurate here; these two are nominal).
    The budget α is split evenly over all ``3(1 + d)`` assertions.
    """
    rng = np.random.default_rng(200 + case)
    d = int(rng.integers(1, 5))
    s = [0.0, 0.3, 1.5][case % 3]
    mix, *_ = random_mixture(2000 + case, d, diagonal=bool(case % 2), k=int(rng.integers(2, 5)))
    n = 40_000
    gen = torch.Generator().manual_seed(case)
    x = mix.sample(n, s, generator=gen).numpy()
    assert x.shape == (n, d)
    p = mix.marginal(s)
    dirs = [np.eye(d)[i] for i in range(d)] + [np.ones(d) / math.sqrt(d) * (-1) ** case]
    a = ALPHA / (3 * len(dirs))
    dkw = math.sqrt(math.log(2 / a) / (2 * n))
    zc = stats.norm.isf(a / 2)
    for u in dirs:
        w, m, v = mixture_projection(p, u)
        y = np.sort(x @ u)
        cdf = (w * stats.norm.cdf((y[:, None] - m) / np.sqrt(v))).sum(1)
        ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
        assert ks <= dkw, f"projection {u}: KS distance {ks:.4g} > DKW bound {dkw:.4g}"
        mean = float(w @ m)
        c = m - mean  # component means about the mixture mean
        m2 = float(w @ (c**2 + v))
        m4 = float(w @ (c**4 + 6 * c**2 * v + 3 * v**2))
        assert abs(y.mean() - mean) <= zc * math.sqrt(m2 / n), f"projection {u}: mean {y.mean():.4g} vs {mean:.4g}"
        second = float(((y - mean) ** 2).mean())
        assert abs(second - m2) <= zc * math.sqrt((m4 - m2**2) / n), f"projection {u}: variance {second:.4g} vs {m2:.4g}"


def test_sample_is_reproducible_from_the_generator_and_respects_dtype():
    g, *_ = random_gaussian(5, 3, diagonal=False)
    mix, *_ = random_mixture(5, 3, diagonal=False, k=3)
    for target in (g, mix):
        a = target.sample(50, 0.4, generator=torch.Generator().manual_seed(7))
        b = target.sample(50, 0.4, generator=torch.Generator().manual_seed(7))
        assert torch.equal(a, b)
        f = target.sample(50, 0.4, generator=torch.Generator().manual_seed(7), dtype=torch.float32)
        assert f.dtype == torch.float32 and f.shape == (50, 3)


# -- float32 / float64 -------------------------------------------------------------------------


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_float32_points_give_float32_results_that_agree_with_float64(seed, d, diagonal, s):
    """Targets in float64 and in float32: results follow ``x``'s dtype and agree to float32 precision.

    Well-conditioned targets (eigenvalues in [0.2, 5]); tolerance ``1e-5 · L · (1 + |x| + |μ|)`` for
    scores (the rounding of ``x - μ_s`` amplified by ``‖Σ_s^{-1}‖ = L``) and ``1e-5 (1 + |log p|)``.
    """
    g, *_ = random_gaussian(seed, d, diagonal, lo=0.2, hi=5.0)
    mix, *_ = random_mixture(seed, d, diagonal, lo=0.2, hi=5.0)
    x64 = random_points(seed, (9,), d)
    x32 = x64.float()
    x64 = x32.double()  # the same points in both precisions
    for target in (g, mix, g.to(dtype=torch.float32), mix.to(dtype=torch.float32)):
        L = 5.0  # ≥ ‖Σ_s^{-1}‖ for eigenvalues ≥ 0.2
        ref_score, ref_lp = target.score(x64, s), target.log_prob(x64, s)
        score, lp = target.score(x32, s), target.log_prob(x32, s)
        assert score.dtype == torch.float32 and lp.dtype == torch.float32
        assert ref_score.dtype == torch.float64 and ref_lp.dtype == torch.float64
        scale = 1 + x64.abs().max() + 10.0
        assert (score.double() - ref_score).abs().max() <= 1e-5 * L * scale
        assert ((lp.double() - ref_lp).abs() <= 1e-5 * (1 + ref_lp.abs())).all()


@pytest.mark.parametrize("form", ["numpy", "torch", "float32 target"])
def test_mixture_weights_rounded_in_float32_are_accepted(form):
    """Ten weights of 0.1 rounded to float32 sum to 1 + 1.5e-8 (checked in float64), beyond the float64
    tolerance 1e-8: ``GaussianMixture`` must accept them when the weights are float32 (numpy or torch)
    or the target is float32, and still reject them for a float64 target given float64 weights."""
    k, d = 10, 2
    weights32 = np.full(k, 0.1, dtype=np.float32)
    assert abs(float(weights32.astype(np.float64).sum()) - 1.0) > WEIGHT_SUM_TOL
    weights = {"numpy": weights32, "torch": torch.from_numpy(weights32),
               "float32 target": weights32.astype(np.float64)}[form]
    dtype = torch.float32 if form == "float32 target" else None
    mix = GaussianMixture(weights, np.zeros((k, d)), np.ones((k, d)), dtype=dtype)
    assert float(mix.weights.double().sum()) == pytest.approx(1.0, abs=1e-7)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        GaussianMixture(weights32.astype(np.float64), np.zeros((k, d)), np.ones((k, d)))


# -- extreme geometry --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("sigma", [1.0, 1e-3])
def test_mixture_score_and_log_prob_finite_and_correct_far_from_modes_50_sigma_apart(dtype, sigma):
    """Modes ``50σ`` apart, points ``100σ`` away: finite, equal to a float64 log-sum-exp reference.

    Reference: responsibilities by scipy's ``softmax`` of the log weights + log densities in float64.
    """
    d = 3
    means = np.array([[-25.0, 0, 0], [25.0, 0, 0], [0, 40.0, 0]]) * sigma
    w = np.array([0.2, 0.5, 0.3])
    variances = np.array([[1.0, 1, 1], [1.0, 1, 1], [0.5, 2, 1]]) * sigma**2
    mix = GaussianMixture(w, means, variances, dtype=dtype)
    rng = np.random.default_rng(3)
    dirs = rng.standard_normal((20, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = np.concatenate([means[k] + 100 * sigma * dirs for k in range(3)] + [0.5 * (means[0] + means[1])[None]])
    x = torch.tensor(pts, dtype=dtype)
    score, lp = mix.score(x), mix.log_prob(x)
    assert torch.isfinite(score).all() and torch.isfinite(lp).all()
    # float64 reference from the same (rounded) points
    xr = x.double().numpy()
    diff = xr[:, None, :] - means[None]
    logd = np.log(w) - 0.5 * (diff**2 / variances).sum(-1) - 0.5 * np.log(2 * np.pi * variances).sum(-1)
    r = softmax(logd, axis=1)
    ref_score = -(r[:, :, None] * diff / variances).sum(1)
    ref_lp = logsumexp(logd, axis=1)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(lp.double().numpy(), ref_lp, rtol=tol)
    err = np.linalg.norm(score.double().numpy() - ref_score, axis=1)
    assert (err <= tol * (np.linalg.norm(ref_score, axis=1) + 1.0 / sigma)).all()
    # the midpoint of the two equal-covariance modes on the x-axis: the y and z forces vanish exactly
    assert abs(float(score[-1, 1])) <= tol / sigma and abs(float(score[-1, 2])) <= tol / sigma


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mixture_score_near_a_mode_of_well_separated_mixture_is_that_components_score(dtype):
    sigma = 0.1
    means = np.array([[-2.5, 0.0], [2.5, 0.0]])  # 50σ apart
    mix = GaussianMixture([0.9, 0.1], means, np.full((2, 2), sigma**2), dtype=dtype)
    comps = mix.components
    gen = torch.Generator().manual_seed(0)
    for k in range(2):
        x = torch.tensor(means[k], dtype=dtype) + 2 * sigma * torch.randn(30, 2, generator=gen, dtype=dtype)
        torch.testing.assert_close(mix.score(x), comps[k].score(x), rtol=1e-6 if dtype == torch.float32 else 1e-13, atol=1e-5)
        lw = math.log([0.9, 0.1][k])
        torch.testing.assert_close(mix.log_prob(x), lw + comps[k].log_prob(x), rtol=1e-6 if dtype == torch.float32 else 1e-13, atol=1e-5)


# -- Lipschitz constants -----------------------------------------------------------------------


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_gaussian_lipschitz_is_exact_inverse_min_eigenvalue_and_hessian_norm(seed, d, diagonal, s):
    g, mean, cov = random_gaussian(seed, d, diagonal)
    _, cov_s = ou_moments(mean, cov, s)
    L = g.lipschitz(s)
    assert L == pytest.approx(1.0 / np.linalg.eigvalsh(cov_s).min(), rel=1e-10)
    x = random_points(seed, (), d)
    assert L == pytest.approx(hessian_norm(g, x, s), rel=1e-10)


def points_for_lipschitz(rng, means, n, radius=None):
    """Points where the mixture's Hessian is large: between modes, near modes, and (with radius) in the ball."""
    k, d = means.shape
    lam = rng.dirichlet(np.ones(k), n)
    pts = lam @ means + 0.5 * rng.standard_normal((n, d))
    if radius is not None:
        direction = rng.standard_normal((n, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        ball = direction * radius * rng.uniform(0, 1, (n, 1)) ** (1 / d)
        pts = np.concatenate([pts[np.linalg.norm(pts, axis=1) <= radius], ball, 0.999 * radius * direction[:5]])
    return torch.tensor(pts)


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_mixture_lipschitz_with_shared_covariance_bounds_hessian_everywhere(seed, d, diagonal, s):
    mix, w, means, covs = random_mixture(seed, d, diagonal, shared=True, lo=0.1, hi=5.0)
    bound = mix.lipschitz(s)
    rng = np.random.default_rng(seed)
    means_s = mix.marginal(s).means.numpy()
    for x in points_for_lipschitz(rng, means_s, 12):
        h = hessian_norm(mix, x, s)
        assert h <= bound * (1 + 1e-10), f"‖∇²log p‖ = {h:.6g} > bound {bound:.6g} at {x.tolist()}"


@FEW
@given(seed=seeds, d=dims, diagonal=st.booleans(), s=times)
def test_mixture_lipschitz_with_different_covariances_bounds_hessian_inside_radius(seed, d, diagonal, s):
    mix, w, means, covs = random_mixture(seed, d, diagonal, k=int(np.random.default_rng(seed).integers(2, 5)), lo=0.1, hi=5.0)
    means_s = mix.marginal(s).means.numpy()
    radius = float(np.linalg.norm(means_s, axis=1).max()) + 1.0
    with pytest.raises(ValueError, match="radius"):
        mix.lipschitz(s)
    bound = mix.lipschitz(s, radius=radius)
    rng = np.random.default_rng(seed)
    for x in points_for_lipschitz(rng, means_s, 10, radius=radius):
        assert float(x.norm()) <= radius
        h = hessian_norm(mix, x, s)
        assert h <= bound * (1 + 1e-10), f"‖∇²log p‖ = {h:.6g} > bound {bound:.6g} at {x.tolist()}"


@pytest.mark.parametrize("s", [0.0, 0.5, 2.0])
def test_mixture_lipschitz_radius_bound_holds_where_the_covariance_term_peaks(s):
    """1-D, variances 1 and 4, weights 1 - 1e-6 and 1e-6: equal responsibilities at |x| ≈ 6.

    There ``(d/dx)² log p`` reaches ``¼ (g_1 - g_2)²`` minus the precisions, close to the bound
    on the ball through that point, so a bound that under-uses ``radius`` fails here.
    """
    mix = GaussianMixture([1 - 1e-6, 1e-6], [[0.0], [0.0]], [[1.0], [4.0]])
    x = torch.linspace(-9.0, 9.0, 3601, dtype=torch.float64).requires_grad_(True)
    score = mix.score(x[:, None], s)[:, 0]
    (second,) = torch.autograd.grad(score.sum(), x)
    for radius in (3.0, 6.0, 9.0):
        inside = x.detach().abs() <= radius
        worst = float(second.abs()[inside].max())
        assert worst <= mix.lipschitz(s, radius=radius), (radius, worst)


def test_mixture_lipschitz_rejects_non_positive_radius():
    mix, *_ = random_mixture(1, 2, diagonal=True, k=2)
    for radius in (0.0, -1.0):
        with pytest.raises(ValueError, match="radius"):
            mix.lipschitz(0.5, radius=radius)


# -- argument checking -------------------------------------------------------------------------

GOOD_MEAN = [0.0, 1.0]
GOOD_COV = [[2.0, 0.3], [0.3, 1.0]]


@pytest.mark.parametrize(
    "mean, cov, exc, name",
    [
        ([[0.0, 1.0]], GOOD_COV, ValueError, "mean"),  # 2-D mean
        ([], [], ValueError, "mean"),  # d = 0
        (0.5, [1.0], ValueError, "mean"),  # scalar mean
        ("ab", GOOD_COV, TypeError, "mean"),  # not numbers
        ([0.0, float("nan")], GOOD_COV, ValueError, "mean"),
        (GOOD_MEAN, [1.0, 2.0, 3.0], ValueError, "cov"),  # diagonal of the wrong length
        (GOOD_MEAN, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ValueError, "cov"),  # (d, d+1)
        (GOOD_MEAN, np.ones((2, 2, 2)), ValueError, "cov"),  # 3-D
        (GOOD_MEAN, [1.0, -1.0], ValueError, "cov"),  # negative variance
        (GOOD_MEAN, [1.0, 0.0], ValueError, "cov"),  # zero variance
        (GOOD_MEAN, [[-2.0, 0.0], [0.0, -1.0]], ValueError, "cov"),  # negative definite
        (GOOD_MEAN, [[1.0, 0.5], [0.0, 1.0]], ValueError, "cov"),  # not symmetric
        (GOOD_MEAN, [[1.0, 2.0], [2.0, 1.0]], ValueError, "cov"),  # symmetric, indefinite
        (GOOD_MEAN, [[1.0, 1.0], [1.0, 1.0]], ValueError, "cov"),  # singular
        (GOOD_MEAN, [[1.0, float("inf")], [float("inf"), 1.0]], ValueError, "cov"),
    ],
)
def test_gaussian_constructor_rejects_bad_parameters_naming_them(mean, cov, exc, name):
    with pytest.raises(exc, match=name):
        Gaussian(mean, cov)


W2 = [0.4, 0.6]
M2 = [[0.0, 0.0], [1.0, 1.0]]
C2 = [[1.0, 2.0], [0.5, 0.5]]


@pytest.mark.parametrize(
    "weights, means, covs, exc, name",
    [
        ([0.4, 0.5], M2, C2, ValueError, "weights"),  # sum 0.9
        ([0.5, 0.5 + 1e-6], M2, C2, ValueError, "weights"),  # sum slightly off
        ([1.5, -0.5], M2, C2, ValueError, "weights"),  # negative
        ([1.0], M2, C2, ValueError, "weights"),  # wrong length
        ([[0.4, 0.6]], M2, C2, ValueError, "weights"),  # wrong shape
        (W2, [0.0, 1.0], C2, ValueError, "means"),  # 1-D means
        (W2, np.zeros((2, 2, 1)), C2, ValueError, "means"),
        (W2, M2, [1.0, 2.0], ValueError, "covs"),  # 1-D covs
        (W2, M2, np.ones((3, 2)), ValueError, "covs"),  # wrong k
        (W2, M2, np.ones((2, 3)), ValueError, "covs"),  # wrong d (diagonal)
        (W2, M2, np.ones((2, 2, 3)), ValueError, "covs"),  # wrong d (full)
        (W2, M2, [[1.0, -2.0], [0.5, 0.5]], ValueError, "covs"),  # negative variance
        (W2, M2, np.array([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]), ValueError, "covs"),  # asymmetric
        (W2, M2, np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]), ValueError, "covs"),  # indefinite
    ],
)
def test_mixture_constructor_rejects_bad_parameters_naming_them(weights, means, covs, exc, name):
    with pytest.raises(exc, match=name):
        GaussianMixture(weights, means, covs)


TARGETS = {
    "gaussian": lambda: Gaussian(GOOD_MEAN, GOOD_COV),
    "mixture": lambda: GaussianMixture(W2, M2, C2),
}


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("method", ["score", "log_prob"])
@pytest.mark.parametrize(
    "x, exc",
    [
        (np.zeros((3, 2)), TypeError),  # numpy, not a tensor
        ([[0.0, 0.0]], TypeError),  # list
        (torch.zeros(3, 2, dtype=torch.int64), TypeError),  # integer tensor
        (torch.zeros(3, 3), ValueError),  # wrong d
        (torch.zeros(2, 1), ValueError),
        (torch.tensor(0.0), ValueError),  # 0-d
    ],
)
def test_methods_reject_bad_points_naming_x(kind, method, x, exc):
    target = TARGETS[kind]()
    with pytest.raises(exc, match=r"\bx\b"):
        getattr(target, method)(x, 0.5)


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("s", [-1.0, -1e-12, float("nan"), float("inf"), torch.tensor([0.5, -0.1])])
def test_negative_or_non_finite_time_is_rejected_naming_s(kind, s):
    target = TARGETS[kind]()
    x = torch.zeros(2, 2, dtype=torch.float64)
    for call in (
        lambda: target.score(x, s),
        lambda: target.log_prob(x, s),
        lambda: target.marginal(s),
        lambda: target.sample(3, s),
        lambda: target.lipschitz(s, **({"radius": 1.0} if kind == "mixture" else {})),
    ):
        with pytest.raises(ValueError, match=r"\bs\b"):
            call()


@pytest.mark.parametrize("kind", TARGETS)
def test_non_scalar_time_rejected_where_a_single_law_is_meant(kind):
    target = TARGETS[kind]()
    with pytest.raises(ValueError, match=r"\bs\b"):
        target.marginal(torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"\bs\b"):
        target.sample(4, torch.tensor([0.1, 0.2]))


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10"])
def test_sample_rejects_bad_sample_count_naming_n(kind, n):
    with pytest.raises(ValueError, match=r"\bn\b"):
        TARGETS[kind]().sample(n, 0.1)


@pytest.mark.parametrize("kind", TARGETS)
def test_time_that_does_not_broadcast_against_points_is_rejected(kind):
    target = TARGETS[kind]()
    with pytest.raises(ValueError, match=r"^s of shape \(3,\) does not broadcast"):
        target.score(torch.zeros(4, 2, dtype=torch.float64), torch.ones(3))
    with pytest.raises(TypeError, match=r"^s must be a real number"):
        target.score(torch.zeros(4, 2, dtype=torch.float64), None)


def test_from_eigen_rejects_a_mean_or_basis_that_does_not_fit_the_eigenvalues():
    lam = torch.ones(3, dtype=torch.float64)
    for mean, eigvecs, match in [
        (torch.full((3,), math.nan, dtype=torch.float64), None, "mean must be finite"),
        (torch.zeros(2, dtype=torch.float64), None, r"mean must be finite with shape \(d,\) = \(3,\)"),
        (torch.zeros(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64), r"eigvecs must have shape \(3, 3\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            Gaussian.from_eigen(mean, lam, eigvecs)
