"""The samplers, targets and injected errors on a CUDA device, float64 and float32.

These run only where CUDA is available (they are skipped on CPU-only machines, CI's included); the
project's GPU check runs them on a lent accelerator. Statistical checks state α ≤ 1e-4 (Holm).
"""

import pytest
import torch

from agreement import gaussian_pvalues
from analytic import Gaussian, GaussianMixture
from piadm_verify import (
    NonFiniteError,
    TimeGrid,
    exact_law,
    inject_error,
    piadm_ode,
    piadm_sde,
    sequential_ode,
    sequential_sde,
)
from piadm_verify.verification import stats

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TARGET = Gaussian([0.5, -1.0, 0.2, 1.0], [[1.0, 0.3, 0.0, 0.1], [0.3, 0.6, 0.1, 0.0], [0.0, 0.1, 0.4, 0.0],
                                         [0.1, 0.0, 0.0, 1.5]])
CORRECTOR = dict(K=3, steps=6, sub_blocks=2, h=0.5, gamma=2.0)


def _cuda_generator(seed):
    return torch.Generator(device="cuda").manual_seed(seed)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-11), (torch.float32, 2e-3)])
def test_converged_picard_reproduces_sequential_on_cuda(dtype, tol):
    """K ≥ M: PIADM-SDE and PIADM-ODE equal their sequential references path by path on the GPU."""
    grid = TimeGrid.early_stopping(4.0, 1e-2, 1.0, 0.2)
    K = grid.max_steps
    a = piadm_sde(TARGET, grid, 512, 4, K=K, generator=_cuda_generator(1), dtype=dtype)
    b = sequential_sde(TARGET, grid, 512, 4, generator=_cuda_generator(1), dtype=dtype)
    assert a.samples.device.type == "cuda" and a.samples.dtype == dtype
    assert (a.samples - b.samples).abs().max().item() < tol
    c = piadm_ode(TARGET, grid, 512, 4, K=K, corrector={**CORRECTOR, "K": 6}, generator=_cuda_generator(2), dtype=dtype)
    d = sequential_ode(TARGET, grid, 512, 4, corrector=CORRECTOR, generator=_cuda_generator(2), dtype=dtype)
    assert (c.samples - d.samples).abs().max().item() < tol


def test_cuda_samplers_agree_with_their_exact_laws():
    """PIADM-SDE (with an injected affine error) and PIADM-ODE on the GPU (float64, n = 20000) against
    the CPU oracle: χ² mean and likelihood-ratio covariance tests, Holm at α_family = 1e-4."""
    grid = TimeGrid.uniform(4.0, 1e-2, 4, 8)
    score = inject_error(TARGET, "affine", 0.2, grid, "L2", generator=0)
    sde = piadm_sde(score, grid, 20000, 4, K=3, generator=_cuda_generator(3)).samples.cpu()
    ode = piadm_ode(TARGET, grid, 20000, 4, K=3, corrector=CORRECTOR, generator=_cuda_generator(4)).samples.cpu()
    p = list(gaussian_pvalues(sde, exact_law(TARGET, grid, "sde", 3, error=score)).values())
    p += list(gaussian_pvalues(ode, exact_law(TARGET, grid, "ode", 3, corrector=CORRECTOR)).values())
    family = stats.holm(p, 1e-4)
    assert family.passed, family.summary()


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_targets_and_errors_evaluate_on_cuda_like_on_cpu(dtype, rtol):
    """Scores and log-densities of targets and injected errors agree between CPU and CUDA."""
    mixture = GaussianMixture([0.3, 0.7], [[0.0, 0.0, 0.0, 0.0], [8.0, -8.0, 8.0, 0.0]], [[1.0] * 4, [0.5] * 4])
    grid = TimeGrid.uniform(4.0, 1e-2, 4, 8)
    fourier = inject_error(mixture, "fourier", 0.1, grid, "Linf", generator=0, samples=2000)
    x = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 4.0
    s = torch.rand(64, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3.0
    for fn in (TARGET.score, TARGET.log_prob, mixture.score, mixture.log_prob, fourier):
        cpu = fn(x.to(dtype), s.to(dtype))
        gpu = fn(x.to(dtype).cuda(), s.to(dtype).cuda())
        assert gpu.device.type == "cuda" and gpu.dtype == dtype
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=rtol, atol=rtol)
    draws = mixture.sample(1000, 0.5, generator=_cuda_generator(0), dtype=dtype)
    assert draws.device.type == "cuda" and draws.shape == (1000, 4)


def test_non_finite_values_are_reported_on_cuda():
    """A NaN score on the GPU is reported with its block and iteration."""
    grid = TimeGrid.uniform(2.0, 1e-2, 2, 4)
    calls = {"n": 0}

    def score(x, s):
        calls["n"] += 1
        out = TARGET.score(x, s)
        return out * float("nan") if calls["n"] == 3 else out

    with pytest.raises(NonFiniteError) as info:
        piadm_sde(score, grid, 8, 4, K=2, generator=_cuda_generator(0))
    assert (info.value.block, info.value.iteration) == (1, 0)
