"""The exact law of any affine sampler by probing (docs/mathematics.md §10): it agrees with the
algebraic oracle to round-off, and refuses samplers whose output is not affine in their inputs."""

from __future__ import annotations

import pytest
import torch

from analytic import Gaussian, GaussianMixture
from piadm_verify import (
    EXPONENTIAL_INTEGRATOR,
    NotAffineError,
    TimeGrid,
    exact_law,
    exact_law_of,
    inject_error,
    piadm_ode,
    piadm_sde,
    sequential_ode,
    sequential_sde,
)
from piadm_verify.samplers.sde import picard_block
from piadm_verify.studies.base import product_target

GRID = TimeGrid.uniform(4.0, 1e-2, 4, 6)
ES_GRID = TimeGrid.early_stopping(3.0, 2e-2, 1.0, 0.25)
DIAGONAL = Gaussian([0.5, -1.0, 0.2], [0.7, 1.3, 0.4])
FULL = Gaussian([0.5, -1.0, 0.2], [[1.0, 0.3, 0.0], [0.3, 0.6, 0.1], [0.0, 0.1, 0.4]])
CORRECTOR = dict(K=2, steps=4, sub_blocks=2, h=0.4)
RTOL = 1e-10


def _assert_same_law(a: Gaussian, b: Gaussian):
    scale = float(b.cov.abs().max())
    assert float((a.mean - b.mean).abs().max()) <= RTOL * (1.0 + float(b.mean.abs().max()))
    assert float((a.cov - b.cov).abs().max()) <= RTOL * scale


def _errors(target, grid):
    return {"none": None,
            "bias": inject_error(target, "bias", 0.2, grid, generator=1),
            "affine": inject_error(target, "affine", 0.2, grid, generator=1, mode="random")}


@pytest.mark.parametrize("target", [DIAGONAL, FULL], ids=["diagonal", "full"])
@pytest.mark.parametrize("grid", [GRID, ES_GRID], ids=["uniform", "early_stopping"])
@pytest.mark.parametrize("error", ["none", "bias", "affine"])
def test_probing_equals_the_oracle_for_piadm_and_sequential_sde(target, grid, error):
    e = _errors(target, grid)[error]
    _assert_same_law(exact_law_of(piadm_sde, target, grid, error=e, K=3), exact_law(target, grid, "sde", 3, error=e))
    _assert_same_law(exact_law_of(sequential_sde, target, grid, error=e),
                     exact_law(target, grid, "sequential_sde", error=e))


@pytest.mark.parametrize("target", [DIAGONAL, FULL], ids=["diagonal", "full"])
@pytest.mark.parametrize("error", ["none", "affine"])
def test_probing_equals_the_oracle_for_piadm_ode_with_its_corrector(target, error):
    e = _errors(target, GRID)[error]
    _assert_same_law(exact_law_of(piadm_ode, target, GRID, error=e, K=3, corrector=CORRECTOR),
                     exact_law(target, GRID, "ode", 3, error=e, corrector=CORRECTOR))
    _assert_same_law(exact_law_of(sequential_ode, target, GRID, error=e, corrector=CORRECTOR),
                     exact_law(target, GRID, "ode", GRID.max_steps, error=e,
                               corrector={**CORRECTOR, "K": CORRECTOR["steps"]}))


def test_product_target_takes_the_per_coordinate_path_at_d_10_000():
    target = product_target(10_000)
    grid = TimeGrid.uniform(8.0, 1e-3, 8, 16)
    error = inject_error(target, "bias", 0.1, grid, generator=3, direction=torch.ones(10_000))
    law = exact_law_of(piadm_sde, target, grid, error=error, K=4)
    oracle = exact_law(target, grid, "sde", 4, error=error)
    assert torch.allclose(law.mean, oracle.mean, rtol=0, atol=1e-12)
    assert torch.allclose(law.cov.diagonal(), oracle.cov.diagonal(), rtol=1e-10, atol=0)


# -- refusals -----------------------------------------------------------------------------------------------
def tolerance_stopped_picard(score, grid, n=None, dim=None, *, noise=None, tol=1e-3, **kwargs):
    """PIADM-SDE with a data-dependent stopping rule: iterate each block until the residual ≤ tol."""
    y = noise.initial()
    for block in grid:
        for K in range(1, block.n_steps + 1):
            out, res, *_ = picard_block(score, block, y, K, EXPONENTIAL_INTEGRATOR, 1.0, noise)
            if float(res[-1]) <= tol:
                break
        y = out
    return y


def squashing_sampler(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    """The sequential sampler followed by tanh: not affine."""
    return torch.tanh(sequential_sde(score, grid, noise=noise).samples)


def own_noise_sampler(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    """Draws its noise from torch's global generator instead of ``noise``."""
    out = sequential_sde(score, grid, noise=noise).samples
    return out + 0.1 * torch.randn(out.shape, dtype=out.dtype)


def coupling_sampler(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    """Affine, but every coordinate receives the mean over coordinates: the per-coordinate path must refuse."""
    out = sequential_sde(score, grid, noise=noise).samples
    return out + 0.1 * out.mean(-1, keepdim=True)


@pytest.mark.parametrize("sampler, cause", [
    (tolerance_stopped_picard, "data-dependent|not affine"),
    (squashing_sampler, "not affine"),
    (own_noise_sampler, "not affine"),
])
def test_non_affine_samplers_raise_not_affine_error(sampler, cause):
    with pytest.raises(NotAffineError, match=cause):
        exact_law_of(sampler, FULL, GRID)
    assert issubclass(NotAffineError, ValueError)


def test_coupling_sampler_is_refused_by_the_per_coordinate_path_and_probed_densely():
    with pytest.raises(NotAffineError, match="couples coordinates"):
        exact_law_of(coupling_sampler, DIAGONAL, GRID)
    law = exact_law_of(coupling_sampler, DIAGONAL, GRID, path="dense")
    base = exact_law(DIAGONAL, GRID, "sequential_sde")
    mix = torch.eye(3, dtype=torch.float64) + 0.1 / 3
    _assert_same_law(law, Gaussian(mix @ base.mean, mix @ base.cov @ mix.T))


def float32_state_sampler(score, grid, n=None, dim=None, *, noise=None, **kwargs):
    """Affine, but its output is rounded to float32 (as some library schedulers round their state)."""
    return sequential_sde(score, grid, noise=noise).samples.to(torch.float32).to(torch.float64)


def test_rtol_admits_a_sampler_that_rounds_to_float32():
    """Refused at the default tolerance (float64 round-off), probed with rtol=1e-6; the law is then
    right to float32 precision."""
    with pytest.raises(NotAffineError, match="tolerance 1e-09"):
        exact_law_of(float32_state_sampler, FULL, GRID)
    law = exact_law_of(float32_state_sampler, FULL, GRID, rtol=1e-6)
    base = exact_law(FULL, GRID, "sequential_sde")
    assert float((law.mean - base.mean).abs().max()) <= 1e-6 and float((law.cov - base.cov).abs().max()) <= 1e-6
    for bad in (0.0, 1.0, -1e-3, True, "1e-6"):
        with pytest.raises(ValueError, match="rtol"):
            exact_law_of(sequential_sde, FULL, GRID, rtol=bad)


def test_bad_input():
    with pytest.raises(TypeError, match="target"):
        exact_law_of(piadm_sde, GaussianMixture([0.5, 0.5], [[0.0], [1.0]], [[1.0], [1.0]]), GRID, K=2)
    with pytest.raises(TypeError, match="grid"):
        exact_law_of(piadm_sde, FULL, [0.0, 1.0], K=2)
    with pytest.raises(TypeError, match="sampler"):
        exact_law_of(None, FULL, GRID)
    with pytest.raises(ValueError, match="path"):
        exact_law_of(piadm_sde, FULL, GRID, path="quick", K=2)
    with pytest.raises(ValueError, match="path='fast'"):
        exact_law_of(piadm_sde, FULL, GRID, path="fast", K=2)
    with pytest.raises(TypeError, match="affine error"):
        exact_law_of(piadm_sde, FULL, GRID, error=inject_error(FULL, "fourier", 0.1, GRID, generator=0), K=2)
    with pytest.raises(ValueError, match="MAX_PROBE_INPUTS"):
        exact_law_of(sequential_sde, product_target(64), TimeGrid.uniform(8.0, 1e-3, 8, 512), path="dense")
