"""Score ↔ model-parametrisation adapters (docs/mathematics.md §13): round trips, closed forms, bad input.

Closed forms are checked against the joint Gaussian law of ``(x_0, ε, x_s)`` for a Gaussian
target, written independently of the adapters' formulas: with ``x_s = √ᾱ x_0 + σ ε``,
``Cov(x_0, x_s) = √ᾱ Σ``, ``Cov(ε, x_s) = σ I``, ``Var x_s = Σ_s``, so
``E[x_0 | x_s] = μ + √ᾱ Σ Σ_s^{-1}(x_s - m_s)`` and ``E[ε | x_s] = σ Σ_s^{-1}(x_s - m_s)``.
Everything in float64; tolerances are round-off (1e-12 relative unless stated).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import Gaussian
from piadm_verify.scores import (
    denoiser_from_score,
    epsilon_from_score,
    ou_times,
    score_from_denoiser,
    score_from_epsilon,
    score_from_v,
    score_from_x0,
    v_from_score,
    x0_from_score,
)

TOL = 1e-12
TARGET = Gaussian([2.5, -0.5, 0.3], [[1.5, 0.3, 0.0], [0.3, 0.4, 0.1], [0.0, 0.1, 0.8]])  # float64


def _points(n=7, seed=0, d=3):
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(n, d, generator=g, dtype=torch.float64)


def _close(a, b, tol=TOL):
    scale = max(1.0, float(b.abs().max()))
    assert float((a - b).abs().max()) <= tol * scale, float((a - b).abs().max())


def _conditional_means(x, s):
    """``E[x_0 | x_s = x]`` and ``E[ε | x_s = x]`` from the joint Gaussian law (independent of the adapters)."""
    mu, cov = TARGET.mean, TARGET.cov
    ab = math.exp(-s)
    sig2 = 1.0 - ab
    cov_s = ab * cov + sig2 * torch.eye(3, dtype=torch.float64)
    w = torch.linalg.solve(cov_s, (x - math.sqrt(ab) * mu).T).T
    x0 = mu + math.sqrt(ab) * (cov @ w.T).T
    eps = math.sqrt(sig2) * w
    return x0, eps


@pytest.mark.parametrize("s", [1e-6, 0.05, 1.0, 7.0])
def test_tweedie_closed_forms_match_the_exact_score(s):
    """For a Gaussian target, ε̂, x̂₀ and v̂ from the exact score equal the conditional means."""
    x = _points()
    x0, eps = _conditional_means(x, s)
    v = math.exp(-s / 2) * eps - math.sqrt(-math.expm1(-s)) * x0
    _close(epsilon_from_score(TARGET.score)(x, s), eps, 1e-10)
    _close(x0_from_score(TARGET.score)(x, s), x0, 1e-10)
    _close(v_from_score(TARGET.score)(x, s), v, 1e-10)


@pytest.mark.parametrize("s", [1e-6, 0.05, 1.0, 7.0])
def test_models_built_from_conditional_means_give_the_exact_score(s):
    x = _points(seed=1)
    x0, eps = _conditional_means(x, s)
    v = math.exp(-s / 2) * eps - math.sqrt(-math.expm1(-s)) * x0
    exact = TARGET.score(x, s)
    # the x₀ form divides x̂₀ - x/√ᾱ by σ²: near s = 0 it loses ~1/σ² of the digits
    tol_x0 = 1e-12 / (-math.expm1(-s))
    _close(score_from_epsilon(lambda y, t: eps)(x, s), exact, 1e-10)
    _close(score_from_x0(lambda y, t: x0)(x, s), exact, max(1e-10, tol_x0))
    _close(score_from_v(lambda y, t: v)(x, s), exact, max(1e-10, tol_x0))


@pytest.mark.parametrize("forward, backward", [
    (epsilon_from_score, score_from_epsilon),
    (x0_from_score, score_from_x0),
    (v_from_score, score_from_v),
])
def test_round_trips_reproduce_the_score(forward, backward):
    """score → model → score to 1e-12 (s away from 0, where the x₀ and v forms cancel digits)."""
    x = _points(seed=2)
    s = torch.linspace(0.1, 6.0, x.shape[0], dtype=torch.float64)
    _close(backward(forward(TARGET.score))(x, s), TARGET.score(x, s))


def test_round_trips_reproduce_the_models():
    """model → score → model to 1e-12 for arbitrary (non-score) models."""
    x = _points(seed=3)
    s = torch.linspace(0.2, 5.0, x.shape[0], dtype=torch.float64)
    f = lambda y, t: torch.sin(y) + y ** 2 * torch.as_tensor(t, dtype=y.dtype).unsqueeze(-1)
    _close(epsilon_from_score(score_from_epsilon(f))(x, s), f(x, s))
    _close(x0_from_score(score_from_x0(f))(x, s), f(x, s))
    _close(v_from_score(score_from_v(f))(x, s), f(x, s))


def test_denoiser_round_trip_and_definition():
    """D(y, σ_VE) = y + σ_VE² √ᾱ score(√ᾱ y, s) and its inverse reproduce the score."""
    x = _points(seed=4)
    s = torch.linspace(0.1, 6.0, x.shape[0], dtype=torch.float64)
    _close(score_from_denoiser(denoiser_from_score(TARGET.score))(x, s), TARGET.score(x, s))
    sigma_ve = torch.sqrt(torch.expm1(s))
    y = x * torch.exp(s / 2).unsqueeze(-1)
    d = denoiser_from_score(TARGET.score)(y, sigma_ve)
    # for a Gaussian target the VE denoiser is E[x_0 | x_s] (x̂₀ does not depend on the scaling)
    for i in range(x.shape[0]):
        x0, _ = _conditional_means(x[i:i + 1], float(s[i]))
        _close(d[i:i + 1], x0, 1e-10)


def test_denoiser_at_zero_sigma_is_the_identity():
    y = _points(seed=5)
    assert torch.equal(denoiser_from_score(TARGET.score)(y, 0.0), y)


def test_ou_times_of_a_schedule():
    a = np.array([1.0, 0.5, 1e-3])
    np.testing.assert_allclose(ou_times(a), [0.0, math.log(2), -math.log(1e-3)], rtol=1e-15)
    t = ou_times(torch.tensor(a, dtype=torch.float32))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    assert ou_times([1.0])[0] == 0.0 and not np.signbit(ou_times([1.0])[0])


@settings(max_examples=40, deadline=None)
@given(s=st.floats(1e-3, 20.0), scale=st.floats(0.01, 10.0))
def test_round_trip_property_in_time_and_scale(s, scale):
    """ε and v round trips hold for any s in [1e-3, 20] and point scale (relative 1e-10)."""
    x = scale * _points(n=3, seed=6)
    exact = TARGET.score(x, s)
    for f, b in ((epsilon_from_score, score_from_epsilon), (v_from_score, score_from_v)):
        got = b(f(TARGET.score))(x, s)
        assert float((got - exact).abs().max()) <= 1e-10 * max(1.0, float(exact.abs().max()))


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [score_from_epsilon, score_from_v, score_from_x0, epsilon_from_score,
                                  v_from_score, score_from_denoiser])
@pytest.mark.parametrize("s", [0.0, -0.5, float("nan"), float("inf")])
def test_times_where_sigma_vanishes_or_is_invalid_are_refused(make, s):
    """No silent NaN: s <= 0 (σ = 0 divides, ε undefined) or non-finite s is a ValueError naming s."""
    f = make(lambda x, t: x)
    with pytest.raises(ValueError, match="s must"):
        f(_points(), s)


def test_x0_and_denoiser_accept_zero_but_not_negative_times():
    x = _points()
    assert torch.equal(x0_from_score(TARGET.score)(x, 0.0), x)
    with pytest.raises(ValueError, match="s must be a forward time >= 0"):
        x0_from_score(TARGET.score)(x, -1e-9)
    with pytest.raises(ValueError, match="sigma_ve must be a VE noise level >= 0"):
        denoiser_from_score(TARGET.score)(x, -0.1)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(TypeError, match="eps_model must be callable"):
        score_from_epsilon(3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        epsilon_from_score(TARGET.score)(np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        epsilon_from_score(TARGET.score)(_points(n=4), torch.ones(3))
    with pytest.raises(ValueError, match="must return the shape of x"):
        score_from_epsilon(lambda x, s: x[..., :1])(_points(), 1.0)
    for bad in ([0.5, 0.0], [1.5], [float("nan")], np.array([[0.2, -1.0]])):
        with pytest.raises(ValueError, match=r"alphas_cumprod must be finite with 0 < ᾱ_t <= 1"):
            ou_times(bad)
    with pytest.raises(TypeError, match="alphas_cumprod"):
        ou_times(["a"])
