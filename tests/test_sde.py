"""PIADM-SDE and its sequential reference (docs/mathematics.md §4, API.md).

Invariants: prefix exactness of the Picard iterates, ``K ≥ max M_n`` ⇒ sequential to round-off,
seed determinism, chunking invariance, the cost counters, the residual trace (nilpotency of the
discrete Picard map), dtypes, non-finite detection, argument validation, and one Monte Carlo
smoke test of the output law against ``p_η``. Everything is small: the module runs in a few
seconds on two cores.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from analytic import Gaussian
from piadm_verify import (
    EXPONENTIAL_INTEGRATOR,
    GridBlock,
    NonFiniteError,
    StepNoise,
    SamplerResult,
    TimeGrid,
    piadm_ode,
    piadm_sde,
    sequential_ode,
    sequential_sde,
)
from piadm_verify.samplers.sde import picard_block

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run this module single-threaded: its tensors are tiny, and on a shared, loaded 2-core machine
    torch's intra-op thread pool turns ~20 ms runs into ~1 s ones (threads wait for descheduled
    peers). The previous setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------
def full_target(d: int = 3, dtype=F64) -> Gaussian:
    """A full-covariance Gaussian (eigenvalues spread over ~[0.3, 2.5], non-zero mean)."""
    g = np.random.default_rng(1234)
    a = g.standard_normal((d, d))
    q, _ = np.linalg.qr(a)
    lam = np.linspace(0.3, 2.5, d)
    cov = (q * lam) @ q.T
    mean = g.standard_normal(d)
    return Gaussian(torch.tensor(mean, dtype=dtype), torch.tensor(cov, dtype=dtype))


def diag_target(d: int = 3) -> Gaussian:
    return Gaussian(torch.linspace(-1.0, 1.0, d, dtype=F64), torch.linspace(0.4, 2.0, d, dtype=F64))


def uniform_grid() -> TimeGrid:
    return TimeGrid.uniform(T=3.0, eta=0.05, blocks=3, steps=6)


def es_grid() -> TimeGrid:
    """Non-uniform early-stopping grid: M_n = [3, 3, 5, 9], unequal block lengths."""
    return TimeGrid.early_stopping(T=2.5, eta=0.02, h=0.8, eps=0.25)


GRIDS = {"uniform": uniform_grid, "early_stopping": es_grid}


class Recorder:
    """A score that records every call (points cloned) and counts calls."""

    def __init__(self, target):
        self.target = target
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, x, s):
        self.calls.append((x.clone(), torch.as_tensor(s).clone()))
        return self.target.score(x, s)


def sequential_path(score, block: GridBlock, y0: torch.Tensor, zeta: torch.Tensor | None, v: float):
    """Independent reference: the exponential-integrator recursion x_{j+1} = e^{ε/2} x_j +
    (1+v²)(e^{ε/2}-1) score(x_j, s_j) + v ζ_j, returning x_0 … x_M (written from docs/mathematics.md §4)."""
    xs = [y0]
    x = y0
    for j, (e, s) in enumerate(zip(block.steps, block.score_times)):
        x = math.exp(e / 2) * x + (1 + v * v) * math.expm1(e / 2) * score(x, float(s))
        if zeta is not None:
            x = x + v * zeta[j]
        xs.append(x)
    return torch.stack(xs)


def replay_noise(grid: TimeGrid, n: int, d: int, seed: int, with_initial: bool = True):
    """The (initial value, per-block ζ) a sampler seeded with ``seed`` draws (step-keyed noise)."""
    src = StepNoise(grid, n, d, generator=seed)
    y0 = src.initial() if with_initial else None
    zetas = [src.steps(*b.step_range) * torch.as_tensor(np.sqrt(np.expm1(b.steps)))[:, None, None] for b in grid]
    return y0, zetas


# --------------------------------------------------------------------------------------------------
# prefix exactness (docs/mathematics.md §4 invariant 1)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid_name", ["uniform", "early_stopping"])
@pytest.mark.parametrize("v", [1.0, 0.0])
def test_prefix_exactness_recorded(grid_name, v):
    """At Picard iteration k (0-based score call k of a block) the points Y^{(k)}_j for j ≤ k equal the
    sequential exponential-integrator path started at the block's start value and driven by the
    same ζ; for k ≤ 1 the first point not covered (j = k + 1) does differ (the check is not vacuous)."""
    grid, target = GRIDS[grid_name](), full_target()
    n, d, seed, K = 5, 3, 11, 3  # K ≤ M_n for every block: the iterates are not yet converged
    assert K <= min(grid.steps_per_block)
    rec = Recorder(target)
    out = piadm_sde(rec, grid, K=K, n=n, dim=d, generator=seed, v=v)
    assert len(rec.calls) == K * grid.blocks
    y_init, zetas = replay_noise(grid, n, d, seed)  # with v = 0 only y_init is consumed
    for blk in grid:
        M = blk.n_steps
        calls = rec.calls[blk.index * K : (blk.index + 1) * K]
        start = calls[0][0][0]
        # Y^{(0)} ≡ the block's start value at every grid point
        for j in range(M):
            torch.testing.assert_close(calls[0][0][j], start, rtol=0, atol=0)
        if blk.index == 0:
            torch.testing.assert_close(start, y_init, rtol=0, atol=0)
        # scores are requested at the forward times s_{n,m} = T - (t_n + τ_{n,m})
        for x, s in calls:
            assert x.shape == (M, n, d)
            np.testing.assert_allclose(s.reshape(M).numpy(), blk.score_times, rtol=0, atol=1e-15)
        ref = sequential_path(target.score, blk, start, zetas[blk.index] if v else None, v)
        for k, (x, _) in enumerate(calls):
            for j in range(min(k, M - 1) + 1):
                torch.testing.assert_close(x[j], ref[j], rtol=0, atol=1e-12)
            if k + 1 < M and k <= 1:  # later iterates are off by O((Lε)^k), below any fixed floor
                assert (x[k + 1] - ref[k + 1]).abs().max() > 1e-10
    assert out.samples.shape == (n, d)


class _FixedNoise:
    """Step-keyed noise from fixed standard normals z (M, n, d): ``steps(j0, j1)`` is ``z[j0:j1]``, so a
    truncated block sees the same ζ_0 … ζ_{M-1} as the full one."""

    def __init__(self, z: torch.Tensor):
        self.z, self.n, self.dim, self.dtype, self.device = z, z.shape[1], z.shape[2], z.dtype, z.device

    def steps(self, j0, j1):
        return self.z[j0:j1]


@pytest.mark.parametrize("v", [1.0, 0.5])
def test_prefix_exactness_picard_block_truncated(v):
    """picard_block driven directly: on the block truncated to its first j steps, K = k iterations
    return Y^{(k)}_j, which equals the sequential value x_j (same ζ) for every j ≤ k, and not for
    j > k (checked for k ≤ 1); with the full block and k ≥ M the output is the sequential end point."""
    target = full_target()
    grid = es_grid()
    blk = grid.block(3)  # 9 non-uniform (geometric) steps
    M, n, d = blk.n_steps, 4, 3
    g = torch.Generator().manual_seed(5)
    z = torch.randn(M, n, d, generator=g, dtype=F64)
    y0 = torch.randn(n, d, generator=g, dtype=F64)
    std = torch.as_tensor(np.sqrt(np.expm1(blk.steps)), dtype=F64)
    ref = sequential_path(target.score, blk, y0, z * std[:, None, None], v)
    for j in range(1, M + 1):
        trunc = GridBlock(blk.index, blk.start, blk.taus[: j + 1], blk.steps[:j], blk.horizon, first_step=0)
        for k in range(1, j + 2):
            out, res, *_ = picard_block(target.score, trunc, y0, k, EXPONENTIAL_INTEGRATOR, v, _FixedNoise(z))
            assert res.shape == (k,)
            if j <= k:
                torch.testing.assert_close(out, ref[j], rtol=0, atol=1e-12)
            elif k <= 1:
                assert (out - ref[j]).abs().max() > 1e-10
    # a real StepNoise on a fixed seed: full block, K = M and K = M + 2 ⇒ sequential end point
    for K in (M, M + 2):
        src = StepNoise(grid, n, d, generator=9)
        out, res, *_ = picard_block(target.score, blk, y0, K, EXPONENTIAL_INTEGRATOR, v, src)
        zeta = src.steps(*blk.step_range) * std[:, None, None]
        torch.testing.assert_close(out, sequential_path(target.score, blk, y0, zeta, v)[-1], rtol=0, atol=1e-12)
        assert res.shape == (K,)
        if K > M:
            assert res[M:].abs().max().item() <= 1e-12


# --------------------------------------------------------------------------------------------------
# K ≥ max M_n reproduces the sequential sampler (docs/mathematics.md §4 invariant 2)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid_name", ["uniform", "early_stopping"])
@pytest.mark.parametrize("v", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("with_x0", [False, True])
def test_k_at_least_m_equals_sequential(grid_name, v, with_x0):
    grid, target = GRIDS[grid_name](), full_target()
    n, d, seed = 64, 3, 3
    kw = dict(generator=seed, v=v)
    if with_x0:
        kw["x0"] = 2.0 * torch.randn(n, d, generator=torch.Generator().manual_seed(99), dtype=F64)
    else:
        kw.update(n=n, dim=d)
    x0_before = kw["x0"].clone() if with_x0 else None
    ref = sequential_sde(target, grid, **kw)
    for K in (grid.max_steps, grid.max_steps + 2):
        out = piadm_sde(target, grid, K=K, **kw)
        scale = max(1.0, ref.samples.abs().max().item())
        assert (out.samples - ref.samples).abs().max().item() <= 1e-12 * scale
    if with_x0:
        assert torch.equal(kw["x0"], x0_before)  # the caller's x0 is not modified
        # x0 really is the start value: a different x0 changes the output
        kw["x0"] = kw["x0"] + 1.0
        assert not torch.allclose(piadm_sde(target, grid, K=grid.max_steps, **kw).samples, ref.samples)


def test_k_below_m_differs_from_sequential():
    """Control: with K < max M_n the output is not the sequential one (the parity test is not vacuous)."""
    grid, target = es_grid(), full_target()
    ref = sequential_sde(target, grid, n=16, dim=3, generator=1)
    out = piadm_sde(target, grid, K=2, n=16, dim=3, generator=1)
    assert (out.samples - ref.samples).abs().max() > 1e-6


def test_sequential_matches_independent_recursion():
    """sequential_sde equals a hand-written recursion fed with the documented noise layout."""
    grid, target = es_grid(), full_target()
    n, d, seed, v = 7, 3, 21, 1.0
    ref = sequential_sde(target, grid, n=n, dim=d, generator=seed, v=v)
    y, zetas = replay_noise(grid, n, d, seed)
    for blk in grid:
        y = sequential_path(target.score, blk, y, zetas[blk.index], v)[-1]
    torch.testing.assert_close(ref.samples, y, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# determinism and chunking
# --------------------------------------------------------------------------------------------------
def test_same_seed_identical_different_seed_differs():
    grid, target = es_grid(), full_target()
    a = piadm_sde(target, grid, K=3, n=32, dim=3, generator=123)
    b = piadm_sde(target, grid, K=3, n=32, dim=3, generator=torch.Generator().manual_seed(123))
    c = piadm_sde(target, grid, K=3, n=32, dim=3, generator=124)
    assert torch.equal(a.samples, b.samples)
    assert not torch.allclose(a.samples, c.samples)
    s1 = sequential_sde(target, grid, n=32, dim=3, generator=123)
    s2 = sequential_sde(target, grid, n=32, dim=3, generator=123)
    s3 = sequential_sde(target, grid, n=32, dim=3, generator=124)
    assert torch.equal(s1.samples, s2.samples)
    assert not torch.allclose(s1.samples, s3.samples)


def test_generator_state_advances():
    """Reusing one generator object for two calls gives two different draws (it is consumed)."""
    grid, target = uniform_grid(), diag_target()
    g = torch.Generator().manual_seed(0)
    a = piadm_sde(target, grid, K=2, n=8, dim=3, generator=g)
    b = piadm_sde(target, grid, K=2, n=8, dim=3, generator=g)
    assert not torch.allclose(a.samples, b.samples)


@pytest.mark.parametrize("chunk", [1, 2, 4, 5])
def test_chunked_equals_unchunked(chunk):
    grid = es_grid()  # M_n = 3, 3, 5, 9: chunks that do and do not divide M_n
    for target, exact in ((diag_target(), True), (full_target(), False)):
        rec_a, rec_b = Recorder(target), Recorder(target)
        a = piadm_sde(rec_a, grid, K=4, n=16, dim=3, generator=8)
        b = piadm_sde(rec_b, grid, K=4, n=16, dim=3, generator=8, max_points_per_call=chunk)
        if exact:
            assert torch.equal(a.samples, b.samples)
        else:
            torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=1e-13)
        assert (a.rounds, a.score_evals, a.peak_points) == (b.rounds, b.score_evals, b.peak_points)
        assert len(rec_b.calls) == sum(4 * math.ceil(m / chunk) for m in grid.steps_per_block)
        assert max(x.shape[0] for x, _ in rec_b.calls) <= chunk


# --------------------------------------------------------------------------------------------------
# cost counters
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid_name", ["uniform", "early_stopping"])
@pytest.mark.parametrize("K", [1, 4])
def test_counters(grid_name, K):
    grid, target = GRIDS[grid_name](), diag_target()
    rec = Recorder(target)
    out = piadm_sde(rec, grid, K=K, n=4, dim=3, generator=0)
    assert isinstance(out, SamplerResult)
    assert out.rounds == K * grid.blocks
    assert out.score_evals == K * sum(grid.steps_per_block)
    assert out.peak_points == max(grid.steps_per_block)
    assert len(rec.calls) == out.rounds
    assert sum(x.shape[0] for x, _ in rec.calls) == out.score_evals
    assert max(x.shape[0] for x, _ in rec.calls) == out.peak_points
    rec = Recorder(target)
    seq = sequential_sde(rec, grid, n=4, dim=3, generator=0)
    assert seq.rounds == seq.score_evals == sum(grid.steps_per_block)
    assert seq.peak_points == 1
    assert len(rec.calls) == seq.rounds
    assert all(x.shape == (1, 4, 3) for x, _ in rec.calls)
    # sequential scores at the same forward times, in order
    times = np.array([float(s.reshape(-1)[0]) for _, s in rec.calls])
    np.testing.assert_allclose(times, grid.all_score_times(), rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------------------
# trace
# --------------------------------------------------------------------------------------------------
def test_trace_nilpotent():
    """trace=True: one tensor of K residuals per block; the residual of iteration k (k = 0 … K-1,
    ‖Y^{(k+1)} - Y^{(k)}‖) vanishes for k ≥ M_n: the discrete Picard map is nilpotent."""
    grid, target = es_grid(), full_target()
    K = grid.max_steps + 2
    rec = Recorder(target)
    out = piadm_sde(rec, grid, K=K, n=16, dim=3, generator=2, trace=True)
    assert isinstance(out.trace, tuple) and len(out.trace) == grid.blocks
    for blk, res in zip(grid, out.trace):
        M = blk.n_steps
        assert isinstance(res, torch.Tensor) and res.shape == (K,) and res.dtype == F64
        assert torch.all(res >= 0)
        assert res[0] > 1e-3  # iteration 0 moves every point off the start value
        assert res[M:].max() <= 1e-12
        # the residual is at least the RMS change at each recorded grid point j < M
        calls = rec.calls[blk.index * K : (blk.index + 1) * K]
        for k in range(K - 1):
            diff = calls[k + 1][0] - calls[k][0]
            lower = diff.pow(2).sum(-1).mean(-1).sqrt().max()
            assert res[k] >= lower * (1 - 1e-12) - 1e-15
    assert piadm_sde(target, grid, K=2, n=4, dim=3, generator=2).trace is None
    assert piadm_sde(target, grid, K=2, n=4, dim=3, generator=2, trace=False).trace is None


# --------------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------------
def test_float32_agrees_with_float64():
    grid, target = es_grid(), full_target()
    x0 = torch.randn(32, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    # deterministic ODE (v = 0) from the same start: float32 tracks float64 to float32 precision
    o64 = piadm_sde(target, grid, K=4, x0=x0, v=0.0)
    o32 = piadm_sde(target, grid, K=4, x0=x0.float(), v=0.0)
    assert o32.samples.dtype == torch.float32 and o64.samples.dtype == F64
    torch.testing.assert_close(o32.samples.double(), o64.samples, rtol=1e-5, atol=1e-5)
    # dtype= overrides x0's dtype
    o = piadm_sde(target, grid, K=4, x0=x0.float(), v=0.0, dtype=F64)
    assert o.samples.dtype == F64
    # float32 with noise: K ≥ M equals the float32 sequential sampler to float32 precision
    p32 = piadm_sde(target, grid, K=grid.max_steps, n=32, dim=3, generator=6, dtype=torch.float32)
    s32 = sequential_sde(target, grid, n=32, dim=3, generator=6, dtype=torch.float32)
    assert p32.samples.dtype == s32.samples.dtype == torch.float32
    torch.testing.assert_close(p32.samples, s32.samples, rtol=1e-5, atol=1e-5)
    t32 = piadm_sde(target, grid, K=3, n=8, dim=3, generator=6, dtype=torch.float32, trace=True)
    assert all(r.dtype == torch.float32 for r in t32.trace)


def test_float32_target_parameters():
    """A target built in float32 also works in a float64 run (parameters follow the points)."""
    grid = uniform_grid()
    t32, t64 = full_target(dtype=torch.float32), full_target()
    a = piadm_sde(t32, grid, K=3, n=8, dim=3, generator=1)
    b = piadm_sde(t64, grid, K=3, n=8, dim=3, generator=1)
    assert a.samples.dtype == F64
    torch.testing.assert_close(a.samples, b.samples, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------------
# non-finite detection
# --------------------------------------------------------------------------------------------------
class NaNAt:
    """Exact score, except that call number ``at`` (0-based) returns a NaN in one entry."""

    def __init__(self, target, at: int, value=float("nan")):
        self.target, self.at, self.value, self.count = target, at, value, 0

    def __call__(self, x, s):
        out = self.target.score(x, s)
        if self.count == self.at:
            out = out.clone()
            out[-1, 0, 0] = self.value
        self.count += 1
        return out


@pytest.mark.parametrize("block,iteration", [(0, 0), (1, 2), (3, 1)])
def test_nonfinite_score_piadm(block, iteration):
    grid, target, K = es_grid(), diag_target(), 3
    with pytest.raises(NonFiniteError) as info:
        piadm_sde(NaNAt(target, block * K + iteration), grid, K=K, n=4, dim=3, generator=0)
    err = info.value
    assert (err.block, err.iteration) == (block, iteration)
    assert f"block {block}" in str(err) and f"iteration {iteration}" in str(err)
    assert "score" in str(err) and str(err).startswith("piadm_sde: ")


def _overflow_x0(grid: TimeGrid, block: int) -> torch.Tensor:
    """With a zero score and v = 0 the iterate is x0·e^{t/2}: a finite x0 that overflows in ``block``."""
    x0 = torch.finfo(F64).max / math.exp(0.5 * (grid.block_times[block] + 0.5 * grid.block_lengths[block]))
    return torch.full((4, 3), x0, dtype=F64)


def test_nonfinite_iterate():
    """A finite score and x0 whose iterate overflows: reported as a non-finite iterate in that block."""
    grid, K = es_grid(), 2
    zero = lambda x, s: torch.zeros_like(x)
    with pytest.raises(NonFiniteError) as info:
        piadm_sde(zero, grid, K=K, x0=_overflow_x0(grid, 2), v=0.0)
    assert (info.value.block, info.value.iteration) == (2, 0)
    assert "iterate" in str(info.value) and "block 2" in str(info.value) and "iteration 0" in str(info.value)
    with pytest.raises(NonFiniteError) as info:
        sequential_sde(zero, grid, x0=_overflow_x0(grid, 2), v=0.0)
    assert info.value.block == 2 and "iterate" in str(info.value) and "step" in str(info.value)


@pytest.mark.parametrize("sampler", [sequential_sde, sequential_ode])
@pytest.mark.parametrize("block,step", [(0, 0), (1, 2), (3, 8)])
def test_nonfinite_score_sequential(sampler, block, step):
    """The sequential samplers (sequential_ode's predictor shares sequential_sde's step loop) report a
    NaN score as a score failure with its block and step."""
    grid, target = es_grid(), diag_target()
    call = sum(grid.steps_per_block[:block]) + step
    with pytest.raises(NonFiniteError) as info:
        sampler(NaNAt(target, call), grid, n=4, dim=3, generator=0)
    err = info.value
    assert (err.block, err.iteration) == (block, step)
    assert str(err) == f"{sampler.__name__}: non-finite score in block {block}, step {step}"


ODE_CORRECTOR = dict(K=2, steps=3, sub_blocks=2, h=0.5, gamma=2.0)


@pytest.mark.parametrize("block,sub,step", [(0, 0, 0), (1, 1, 2), (3, 0, 1)])
def test_nonfinite_force_sequential_ode_corrector(block, sub, step):
    """A NaN force in sequential_ode's corrector is reported as a force failure naming the block,
    the corrector sub-block and the step (calls per block: M_n predictor steps, then N† M†)."""
    grid, target = es_grid(), diag_target()
    per_sub = ODE_CORRECTOR["steps"]
    per_block = [m + ODE_CORRECTOR["sub_blocks"] * per_sub for m in grid.steps_per_block]
    call = sum(per_block[:block]) + grid.steps_per_block[block] + sub * per_sub + step
    with pytest.raises(NonFiniteError) as info:
        sequential_ode(NaNAt(target, call), grid, n=4, dim=3, corrector=ODE_CORRECTOR, generator=0)
    err = info.value
    assert (err.block, err.iteration) == (block, step)
    assert str(err) == f"sequential_ode: non-finite force in block {block}, corrector sub-block {sub}, step {step}"


@pytest.mark.parametrize("block,sub,iteration", [(0, 0, 0), (2, 1, 1)])
def test_nonfinite_force_piadm_ode_corrector(block, sub, iteration):
    """The same for piadm_ode: a NaN force names the block, the corrector sub-block and the Picard
    iteration (rounds per block: K predictor iterations, then N† K†)."""
    grid, target, K = es_grid(), diag_target(), 2
    per_block = K + ODE_CORRECTOR["sub_blocks"] * ODE_CORRECTOR["K"]
    call = block * per_block + K + sub * ODE_CORRECTOR["K"] + iteration
    with pytest.raises(NonFiniteError) as info:
        piadm_ode(NaNAt(target, call), grid, n=4, dim=3, K=K, corrector=ODE_CORRECTOR, generator=0)
    err = info.value
    assert (err.block, err.iteration) == (block, iteration)
    assert str(err) == (f"piadm_ode: non-finite force in block {block}, corrector sub-block {sub}, "
                        f"Picard iteration {iteration}")


@pytest.mark.parametrize(
    "dtype,gamma,h,steps,tol",
    [(torch.float32, 100.0, 1.0, 16, 1e-4), (F64, 400.0, 2.0, 64, 1e-12), (F64, 0.1, 1.0, 16, 1e-12),
     (torch.float32, 0.1, 1.0, 16, 1e-4)],
    ids=["float32-gamma_h=100", "float64-gamma_h=800", "float64-gamma=0.1-coupled", "float32-gamma=0.1-coupled"],
)
def test_converged_corrector_equals_the_sequential_one(dtype, gamma, h, steps, tol):
    """Converged piadm_ode (K ≥ M_n, K† = M†) equals sequential_ode path by path (to ``tol``), with a
    stiff corrector (γ h† = 100, 800: the recursion only ever multiplies by a ≤ 1, so nothing
    overflows) in the decoupled form (p, v) = (x + v/γ, v), and with a small friction (γ = 0.1 <
    DECOUPLED_MIN_GAMMA) in the coupled form."""
    grid, target = TimeGrid.uniform(T=2.0, eta=0.05, blocks=2, steps=4), diag_target()
    corrector = dict(K=steps, steps=steps, sub_blocks=2, h=h, gamma=gamma)
    parallel = piadm_ode(target, grid, 50, 3, K=4, corrector=corrector, generator=3, dtype=dtype).samples
    sequential = sequential_ode(target, grid, 50, 3, corrector=corrector, generator=3, dtype=dtype).samples
    assert torch.isfinite(parallel).all()
    torch.testing.assert_close(parallel, sequential, rtol=0, atol=tol)


def test_decoupled_and_coupled_corrector_agree_at_every_iteration(monkeypatch):
    """The decoupled corrector is the coupled recursion in other coordinates: with K† < M† (the
    iterates differ from the sequential corrector) both forms give the same samples and residuals
    to round-off, and the threshold really switches the form (the decoupled run's state differs
    from the coupled one's in the last bits)."""
    from piadm_verify.samplers import ode

    grid, target = uniform_grid(), diag_target()
    corrector = dict(K=2, steps=8, sub_blocks=2, h=0.8, gamma=2.0)
    run = lambda: piadm_ode(target, grid, 40, 3, K=2, corrector=corrector, generator=5, trace=True)
    decoupled = run()
    monkeypatch.setattr(ode, "DECOUPLED_MIN_GAMMA", 3.0)
    coupled = run()
    torch.testing.assert_close(decoupled.samples, coupled.samples, rtol=0, atol=1e-12)
    for a, b in zip(decoupled.trace, coupled.trace):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
    assert not torch.equal(decoupled.samples, coupled.samples)


@pytest.mark.parametrize("chunk", [None, 2])
@pytest.mark.parametrize("sampler, kwargs", [
    (piadm_sde, dict(K=3)),
    (piadm_ode, dict(K=3, corrector=dict(K=2, steps=4, sub_blocks=2, h=0.5))),
], ids=["piadm_sde", "piadm_ode"])
def test_a_score_that_takes_out_writes_into_one_buffer_with_the_same_result(sampler, kwargs, chunk):
    """A score with an ``out=`` keyword (the analytic targets) is handed the sampler's buffer at every
    round and gives bit for bit the samples of the same score without it, also when the rounds are
    chunked; diagonal and full covariance."""
    grid = uniform_grid()
    for target in (diag_target(), full_target()):
        handed = []

        def with_out(x, s, out=None):
            handed.append(out is not None)
            return target.score(x, s, out=out)

        run = lambda score: sampler(score, grid, 30, 3, generator=4, max_points_per_call=chunk, **kwargs)
        written = run(with_out)
        assert handed and all(handed)
        assert torch.equal(written.samples, run(lambda x, s: target.score(x, s)).samples)
        assert torch.equal(run(target).samples, written.samples)


def test_writes_into_and_the_out_contract():
    from piadm_verify.samplers.common import evaluate_score, writes_into

    target = diag_target()
    assert writes_into(target.score) and writes_into(lambda x, s, *, out=None: x)
    assert not writes_into(lambda x, s: x) and not writes_into(torch.neg)
    points, times = torch.randn(5, 4, 3, dtype=F64), torch.rand(5, 1, dtype=F64)
    buffer = torch.empty_like(points)
    assert evaluate_score(target.score, points, times, None, out=buffer) is buffer
    assert torch.equal(buffer, target.score(points, times))
    # a score that takes out= but hands back a tensor of its own: its value counts, chunk by chunk
    own = lambda x, s, out=None: target.score(x, s)
    assert torch.equal(evaluate_score(own, points, times, 2, out=torch.empty_like(points)), buffer)
    with pytest.raises(ValueError, match=r"must return a tensor shaped like x \(2, 4, 3\)"):
        evaluate_score(lambda x, s, out=None: x[..., :2], points, times, 2, out=torch.empty_like(points))
    with pytest.raises(ValueError, match="out must be a tensor shaped like x"):
        target.score(points, times, out=torch.empty(5, 4, 2, dtype=F64))


def test_nonfinite_error_is_floating_point_error():
    assert issubclass(NonFiniteError, FloatingPointError)


# --------------------------------------------------------------------------------------------------
# Monte Carlo smoke test of the output law
# --------------------------------------------------------------------------------------------------
def _mc_target():
    th = 0.6
    U = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    lam = np.array([0.5, 1.8])
    mu = np.array([1.0, -0.5])
    return U, lam, mu


def _exact_sequential_law(grid: TimeGrid, U, lam, mu):
    """Mean and variances (eigen coordinates of Σ) of the sequential exponential integrator's output
    from N(0, I) with the exact score; each eigen-coordinate follows a scalar affine recursion."""
    mz = U.T @ mu
    m, V = np.zeros_like(lam), np.ones_like(lam)
    for blk in grid:
        for e, s in zip(blk.steps, blk.score_times):
            lam_s = math.exp(-s) * lam - math.expm1(-s)
            gain = math.exp(e / 2) - 2 * math.expm1(e / 2) / lam_s
            m = gain * m + 2 * math.expm1(e / 2) * math.exp(-s / 2) * mz / lam_s
            V = gain * gain * V + math.expm1(e)
    return m, V


def test_monte_carlo_output_law():
    """Samples of piadm_sde match p_η = target.marginal(η) (2-d full-covariance Gaussian).

    Setup: T = 10, η = 1e-3, uniform grid of 10 blocks × 100 steps (ε ≈ 0.01), K = 12, exact score
    (an equivalent closed-form batched score, checked against ``Gaussian.score`` to 1e-13, used
    because it is ~2× cheaper), n = 10000 samples, seeded ``torch.Generator``.

    Tests, each at α = 5e-5 (Bonferroni over the family of two, so family-wise α = 1e-4):
    * mean: Hotelling T² against μ_η, (n-d)/(d(n-1)) T² ~ F(d, n-d);
    * covariance: likelihood-ratio test of Σ = Σ_η with the mean estimated,
      n[tr(Σ_η⁻¹S) - log det(Σ_η⁻¹S) - d] ~ χ²(d(d+1)/2) asymptotically.
    At this n they detect (≈50 % power) a mean shift of Mahalanobis length ≈ 0.05 and a ≈ 4 %
    relative error in a covariance eigenvalue. Systematic bias is checked to be well below that:
    the exact law of the sequential scheme on this grid (scalar recursion in the eigenbasis) gives
    noncentralities n·Maha² and n·[tr − logdet − d] both < 1 (versus ≈ 22 for 50 % power), and
    the K = 12 Picard output is checked pathwise against sequential_sde (same seed) to ≤ 1e-5.
    A control rejects the same samples against a covariance inflated by 10 %.
    """
    U, lam, mu = _mc_target()
    d, n, K, alpha = 2, 10000, 12, 1e-4 / 2
    target = Gaussian(torch.tensor(mu), torch.tensor((U * lam) @ U.T))
    grid = TimeGrid.uniform(T=10.0, eta=1e-3, blocks=10, steps=100)
    Ut, lt, mut = torch.tensor(U), torch.tensor(lam), torch.tensor(mu)

    def score(x, s):  # exact: -Σ_s^{-1}(x - μ_s), one precision matrix per grid time
        s = torch.as_tensor(s, dtype=x.dtype).reshape(-1)
        lam_s = torch.exp(-s)[:, None] * lt - torch.expm1(-s)[:, None]
        prec = (Ut[None] / lam_s[:, None, :]) @ Ut.T[None]
        mean_s = torch.exp(-s / 2)[:, None] * mut
        return -torch.bmm(x - mean_s[:, None, :], prec)

    xt = torch.randn(7, 5, d, generator=torch.Generator().manual_seed(0), dtype=F64)
    st = torch.rand(7, 1, generator=torch.Generator().manual_seed(1), dtype=F64) * 10
    torch.testing.assert_close(score(xt, st), target.score(xt, st), rtol=0, atol=1e-13)

    # bias budget: exact law of the scheme vs p_η
    p_eta = target.marginal(grid.eta)
    lam_eta = lam * math.exp(-grid.eta) - math.expm1(-grid.eta)
    m_seq, v_seq = _exact_sequential_law(grid, U, lam, mu)
    nc_mean = n * np.sum((m_seq - math.exp(-grid.eta / 2) * (U.T @ mu)) ** 2 / lam_eta)
    ratio = v_seq / lam_eta
    nc_cov = n * np.sum(ratio - 1 - np.log(ratio))
    assert nc_mean < 1.0 and nc_cov < 1.0, (nc_mean, nc_cov)

    out = piadm_sde(score, grid, K=K, n=n, dim=d, generator=torch.Generator().manual_seed(2024))
    ref = sequential_sde(score, grid, n=n, dim=d, generator=torch.Generator().manual_seed(2024))
    assert (out.samples - ref.samples).abs().max() <= 1e-5

    x = out.samples.numpy()
    mu0, cov0 = p_eta.mean.numpy(), p_eta.cov.numpy()
    xbar = x.mean(0)
    S_unb = np.cov(x, rowvar=False)
    t2 = n * (xbar - mu0) @ np.linalg.solve(S_unb, xbar - mu0)
    p_mean = stats.f.sf((n - d) / (d * (n - 1)) * t2, d, n - d)

    def lrt(cov_null):
        S = S_unb * (n - 1) / n
        A = np.linalg.solve(cov_null, S)
        stat = n * (np.trace(A) - np.linalg.slogdet(A)[1] - d)
        return stats.chi2.sf(stat, d * (d + 1) // 2)

    p_cov = lrt(cov0)
    assert p_mean >= alpha, f"Hotelling T² p = {p_mean:.3g} (mean {xbar} vs {mu0})"
    assert p_cov >= alpha, f"covariance LRT p = {p_cov:.3g} (S = {S_unb.tolist()} vs {cov0.tolist()})"
    # control: a 10 % inflated covariance is rejected by the same test on the same samples
    assert lrt(1.1 * cov0) < alpha


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------
def _call(fn, **over):
    kw = dict(score=diag_target(), grid=uniform_grid(), n=4, dim=3, generator=0)
    if fn is piadm_sde:
        kw["K"] = 2
    kw.update(over)
    kw = {k: v for k, v in kw.items() if v is not _DROP}
    return fn(**kw)


_DROP = object()


@pytest.mark.parametrize(
    "over,word",
    [
        (dict(K=0), "K"),
        (dict(K=-2), "K"),
        (dict(K=2.0), "K"),
        (dict(K=True), "K"),
        (dict(K="3"), "K"),
        (dict(max_points_per_call=0), "max_points_per_call"),
        (dict(max_points_per_call=-1), "max_points_per_call"),
        (dict(max_points_per_call=1.5), "max_points_per_call"),
    ],
)
def test_piadm_bad_input(over, word):
    with pytest.raises((ValueError, TypeError), match=word):
        _call(piadm_sde, **over)


@pytest.mark.parametrize("fn", [piadm_sde, sequential_sde])
@pytest.mark.parametrize(
    "over,word",
    [
        (dict(n=_DROP), r"\bn\b"),
        (dict(dim=_DROP), "dim"),
        (dict(n=_DROP, dim=_DROP), r"\bn\b|dim"),
        (dict(n=0), r"\bn\b"),
        (dict(dim=0), "dim"),
        (dict(n=2.5), r"\bn\b"),
        (dict(n=_DROP, dim=_DROP, x0=torch.zeros(4, 3, 1, dtype=F64)), "x0"),
        (dict(n=_DROP, dim=_DROP, x0=torch.zeros(4, dtype=F64)), "x0"),
        (dict(n=_DROP, dim=_DROP, x0=torch.zeros(0, 3, dtype=F64)), r"x0 .*n, d >= 1"),
        (dict(n=_DROP, dim=_DROP, x0=torch.zeros(4, 0, dtype=F64)), r"x0 .*n, d >= 1"),
        (dict(n=5, dim=_DROP, x0=torch.zeros(4, 3, dtype=F64)), r"\bn\b"),
        (dict(n=_DROP, dim=2, x0=torch.zeros(4, 3, dtype=F64)), "dim"),
        (dict(n=_DROP, dim=_DROP, x0=torch.zeros(4, 3, dtype=torch.int64)), "x0"),
        (dict(n=_DROP, dim=_DROP, x0=np.zeros((4, 3))), "x0"),
        (dict(n=_DROP, dim=_DROP, x0=torch.full((4, 3), float("nan"), dtype=F64)), "x0"),
        (dict(grid=[0.0, 1.0]), "grid"),
        (dict(grid=None), "grid"),
        (dict(v=-0.1), r"\bv\b"),
        (dict(v=float("nan")), r"\bv\b"),
        (dict(v="1"), r"\bv\b"),
        (dict(dtype=torch.int64), "dtype"),
        (dict(dtype=torch.float16), "dtype"),
        (dict(score=42), "score"),
        (dict(generator="seed"), "generator"),
    ],
)
def test_common_bad_input(fn, over, word):
    with pytest.raises((ValueError, TypeError), match=word):
        _call(fn, **over)


@pytest.mark.parametrize("fn", [piadm_sde, sequential_sde])
@pytest.mark.parametrize(
    "bad",
    [
        lambda x, s: x[..., :-1],  # wrong last dim
        lambda x, s: x[0],  # dropped the point axis
        lambda x, s: x.sum(-1),  # scalar per point
        lambda x, s: x.numpy(),  # not a tensor
    ],
)
def test_score_wrong_shape(fn, bad):
    with pytest.raises(ValueError, match="score"):
        _call(fn, score=bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA for a second device type")
@pytest.mark.parametrize("fn", [piadm_sde, sequential_sde])
def test_generator_device_mismatch(fn):
    g = torch.Generator(device="cuda").manual_seed(0)
    with pytest.raises(ValueError, match="generator"):
        _call(fn, generator=g, device="cpu")
    with pytest.raises(ValueError, match="generator"):
        _call(fn, generator=g, n=_DROP, dim=_DROP, x0=torch.zeros(4, 3, dtype=F64))


def test_target_object_accepted_as_score():
    """A target (object with .score) and its bound method give the same result."""
    grid, target = uniform_grid(), full_target()
    a = piadm_sde(target, grid, K=2, n=4, dim=3, generator=0)
    b = piadm_sde(target.score, grid, K=2, n=4, dim=3, generator=0)
    assert torch.equal(a.samples, b.samples)


def test_workspace_hands_out_the_same_memory_while_the_shape_fits():
    """The blocks of one run share their buffers (samplers.common.Workspace); a block with fewer steps
    gets the first rows, a larger one or another dtype a new buffer; and an early-stopping grid,
    whose blocks grow, gives the same samples as fresh buffers per block (the previous behaviour)."""
    from piadm_verify.samplers.common import Workspace

    like = torch.zeros(4, 3, dtype=F64)
    space = Workspace()
    first = space.get("path", (6, 4, 3), like)
    assert space.get("path", (5, 4, 3), like).data_ptr() == first.data_ptr()
    assert space.get("path", (5, 4, 3), like).shape == (5, 4, 3)
    assert space.get("path", (7, 4, 3), like).data_ptr() != first.data_ptr()
    assert space.get("path", (7, 4, 3), like.float()).dtype == torch.float32
    assert space.get("other", (7, 4, 3), like).data_ptr() != space.get("path", (7, 4, 3), like).data_ptr()
    grid, target = es_grid(), diag_target()
    assert len({b.n_steps for b in grid}) > 1
    noise = StepNoise(grid, 20, 3, generator=2)
    y = noise.initial()
    for block in grid:  # every block on fresh buffers (workspace=None)
        y = picard_block(target.score, block, y, 3, EXPONENTIAL_INTEGRATOR, 1.0, noise).value
    assert torch.equal(piadm_sde(target, grid, noise=noise, K=3).samples, y)


def test_scaled_cumsum_is_the_weighted_cumulative_sum_over_the_weight():
    """samplers.common.scaled_cumsum_ (the PIADM block's in-place score sum): w_j · result_j equals
    Σ_{i≤j} w_i t_i, in place; zero or non-finite weights are refused."""
    from piadm_verify.samplers.common import scaled_cumsum_

    t = torch.randn(7, 4, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    w = np.linspace(0.3, 2.0, 7) * np.exp(-np.arange(7) / 3)
    wt = torch.as_tensor(w)[:, None, None]
    expected = torch.cumsum(wt * t, 0)
    out = scaled_cumsum_(t, w)
    assert out is t
    torch.testing.assert_close(wt * out, expected, rtol=1e-13, atol=1e-14)
    for bad in (np.r_[w[:3], 0.0, w[4:]], np.r_[w[:6], np.inf]):
        with pytest.raises(ValueError, match="weights must be finite and nonzero"):
            scaled_cumsum_(t, bad)


def test_a_scheme_with_a_zero_score_weight_runs_the_plain_sum():
    """A scheme whose score weight vanishes on some steps (not the project's: someone else's) takes the
    block's other path (weights multiplied in, plain cumulative sum) and still matches its sequential
    run once K ≥ M."""
    from dataclasses import dataclass

    from piadm_verify.core.schemes import ExponentialIntegrator

    @dataclass(frozen=True)
    class EveryOtherScore(ExponentialIntegrator):
        def score_weight(self, eps, v):
            weight = super().score_weight(eps, v)
            return np.where(np.arange(weight.shape[0]) % 2 == 0, weight, 0.0)

    grid, target, scheme = uniform_grid(), diag_target(), EveryOtherScore()
    parallel = piadm_sde(target, grid, 30, 3, K=grid.max_steps, generator=6, scheme=scheme).samples
    sequential = sequential_sde(target, grid, 30, 3, generator=6, scheme=scheme).samples
    torch.testing.assert_close(parallel, sequential, rtol=0, atol=1e-12)
    assert not torch.allclose(parallel, sequential_sde(target, grid, 30, 3, generator=6).samples, atol=1e-3)
