"""ParaDiGMS, ParaTAA and adaptive PIADM (docs/mathematics.md §11, §12): their fixed point is the
sequential chain, their sliding and Anderson rules do what the formulas say, and bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analytic import Gaussian
from piadm_verify import (
    NotAffineError,
    StepNoise,
    TimeGrid,
    exact_law,
    exact_law_of,
    paradigms,
    parataa,
    piadm_ode,
    piadm_sde,
    sde_preset,
    sequential_ode,
    sequential_sde,
)
from piadm_verify.samplers.window import GridChain, paradigms_chain
from piadm_verify.studies.base import product_target

TARGET = Gaussian([0.5, -1.0, 0.2], [[1.0, 0.3, 0.0], [0.3, 0.6, 0.1], [0.0, 0.1, 0.4]])
GRIDS = {"uniform": TimeGrid.uniform(4.0, 1e-2, 4, 6), "early_stopping": TimeGrid.early_stopping(3.0, 2e-2, 1.0, 0.25)}
PARITY = 1e-12


def _sequential(grid, v, seed=4):
    run = sequential_sde if v else sequential_ode
    return run(TARGET, grid, 40, 3, generator=seed, **({"v": v} if v else {})).samples


@pytest.mark.parametrize("grid_name", sorted(GRIDS))
@pytest.mark.parametrize("v", [1.0, 0.0])
def test_window_one_is_the_sequential_chain(grid_name, v):
    grid = GRIDS[grid_name]
    reference = _sequential(grid, v)
    out = paradigms(TARGET, grid, 40, 3, window=1, tol=0.5, v=v, generator=4)
    assert (out.samples - reference).abs().max() < PARITY
    assert out.rounds == out.iterations == grid.total_steps and out.peak_points == 1
    taa = parataa(TARGET, grid, 40, 3, window=1, order=1, memory=1, tol=0.5, v=v, generator=4)
    assert (taa.samples - reference).abs().max() < PARITY


@pytest.mark.parametrize("grid_name", sorted(GRIDS))
@pytest.mark.parametrize("v", [1.0, 0.0])
def test_converged_windows_reach_the_sequential_chain(grid_name, v):
    """With a tolerance at round-off, every window sampler's fixed point is the sequential chain under
    the same StepNoise, in at most J sweeps."""
    grid = GRIDS[grid_name]
    reference = _sequential(grid, v)
    for out in (paradigms(TARGET, grid, 40, 3, window=8, tol=1e-13, v=v, generator=4),
                parataa(TARGET, grid, 40, 3, window=8, memory=3, tol=1e-13, v=v, generator=4),
                parataa(TARGET, grid, 40, 3, window=5, order=2, memory=2, tol=1e-13, v=v, generator=4)):
        assert (out.samples - reference).abs().max() < 1e-11
        assert out.converged and out.rounds <= grid.total_steps


def test_fixed_stride_paradigms_is_affine_and_stride_one_is_exact():
    grid = GRIDS["uniform"]
    law = exact_law_of(paradigms, TARGET, grid, window=6, tol=None, stride=1)
    sequential = exact_law(TARGET, grid, "sequential_sde")
    assert torch.allclose(law.mean, sequential.mean, atol=1e-12) and torch.allclose(law.cov, sequential.cov, atol=1e-12)
    exact_law_of(paradigms, TARGET, grid, window=6, tol=None, stride=3)  # affine: no NotAffineError
    with pytest.raises(NotAffineError):
        exact_law_of(paradigms, TARGET, grid, window=6, tol=0.05)


class _LinearChain:
    """x_{j+1} = x_j + 1 (no noise): the Picard window after one sweep from x ≡ 0 has x_{b+i} = i·… so the
    error of state b+i+1 is known in closed form; used to check the slide by hand."""

    def __init__(self, J, variance):
        self.steps = J
        self.noise_std = np.zeros(J)
        self.tolerance_variance = np.asarray(variance, dtype=float)

    def drift(self, x, j):
        return x + 1.0


class _ZeroNoise:
    def steps(self, j0, j1):
        raise AssertionError("a chain without noise draws nothing")


def test_sliding_rule_on_a_hand_built_chain():
    """From x ≡ 0 the first sweep sets x_{i+1} = i + 1 and its errors are e_i = (i + 1)² / σ̃²_i (d = 1).
    With σ̃² = (1, 4, 1e6, 1, …) and tol = 1: e = (1, 1, ~0, 16, …): the first error above tol² is i = 3,
    so the window slides by 1 + 3 = 4 (the prefix x_1 … x_4 is accepted)."""
    chain = _LinearChain(12, [1.0, 4.0, 1e6] + [1.0] * 9)
    run = paradigms_chain(chain, torch.zeros(1, 1, dtype=torch.float64), _ZeroNoise(), window=6, tol=1.0, record=True)
    start, stride, errors = run.trace[0]
    assert (start, stride) == (0, 4)
    np.testing.assert_allclose(errors.numpy()[:4], [1.0, 1.0, 9.0 / 1e6, 16.0])
    assert float(run.value[0, 0]) == 12.0 and run.converged
    assert [t[0] for t in run.trace] == sorted({t[0] for t in run.trace})  # the window only moves forward


def test_max_sweeps_returns_an_unconverged_result():
    out = paradigms(TARGET, GRIDS["uniform"], 10, 3, window=4, tol=1e-12, max_sweeps=2, generator=0, trace=True)
    assert not out.converged and out.rounds == 2 and len(out.trace) == 2
    out = parataa(TARGET, GRIDS["uniform"], 10, 3, window=4, tol=1e-12, max_sweeps=2, generator=0)
    assert not out.converged and out.rounds == 2


def test_parataa_order_one_memory_one_is_jacobi_and_order_window_is_picard():
    """Order 1, memory 1: after one sweep from x ≡ x_0, x_{f+i} = Φ(x_{f+i−1}) + σz evaluated at the old
    iterates, i.e. x_{f+1} exact and the rest one step from x_0 (Jacobi). Order = window, memory 1:
    ParaDiGMS with the same tolerance (same sweeps, same samples to round-off)."""
    grid = GRIDS["early_stopping"]
    a = paradigms(TARGET, grid, 30, 3, window=8, tol=0.05, generator=2)
    b = parataa(TARGET, grid, 30, 3, window=8, order=8, memory=1, tol=0.05, generator=2)
    assert a.rounds == b.rounds and (a.samples - b.samples).abs().max() < 1e-13
    one = parataa(TARGET, grid, 30, 3, window=4, order=1, memory=1, tol=1e-9, max_sweeps=1, generator=2)
    noise = StepNoise(grid, 30, 3, generator=2)
    x0 = noise.initial()
    chain = GridChain(TARGET.score, grid)
    jacobi = chain.drift(x0[None], np.array([3]))[0] + float(chain.noise_std[3]) * noise.steps(3, 4)[0]
    assert not one.converged and (one.samples - jacobi).abs().max() < 1e-14


@pytest.mark.parametrize("window", [16, 64])
def test_anderson_never_slows_picard_residuals_on_the_gaussian_preset(window):
    """ParaTAA with order = window on the SDE preset (d = 4, δ = 0.5, J = 123): the sweeps with memory
    m ∈ {2, 3, 4} are never more than with memory 1 (measured: 15 → 14 at w = 32; 11 → 8 at w = 128)."""
    preset = sde_preset(4, 0.5)
    grid, target = preset.grid(), product_target(4)
    sweeps = [parataa(target, grid, 100, 4, window=window, memory=m, tol=1e-3, generator=4).rounds for m in (1, 2, 3, 4)]
    assert all(s <= sweeps[0] for s in sweeps[1:]), sweeps


def test_paradigms_sweeps_depend_on_the_batch_through_the_max():
    """The acceptance rule takes the max over samples, so a larger batch needs at least as many sweeps
    (B = 1 versus B = 1000 on one seed's noise; reported in the head-to-head study)."""
    grid = sde_preset(4, 0.5).grid()
    small = paradigms(product_target(4), grid, 1, 4, window=32, tol=0.05, generator=1).rounds
    large = paradigms(product_target(4), grid, 1000, 4, window=32, tol=0.05, generator=1).rounds
    assert small <= large


# -- adaptive PIADM ---------------------------------------------------------------------------------------------
def test_adaptive_piadm_stops_each_block_at_its_tolerance():
    grid = GRIDS["early_stopping"]
    reference = sequential_sde(TARGET, grid, 40, 3, generator=4).samples
    loose = piadm_sde(TARGET, grid, 40, 3, tol=0.1, generator=4)
    tight = piadm_sde(TARGET, grid, 40, 3, tol=1e-10, generator=4)
    assert len(loose.iterations) == grid.blocks and loose.rounds == sum(loose.iterations)
    assert all(a <= b for a, b in zip(loose.iterations, tight.iterations))
    assert all(k <= m + 1 for k, m in zip(tight.iterations, grid.steps_per_block))
    assert (tight.samples - reference).abs().max() < 1e-10 < (loose.samples - reference).abs().max()
    capped = piadm_sde(TARGET, grid, 40, 3, tol=1e-12, max_K=2, generator=4)
    assert capped.iterations == (2,) * grid.blocks and not capped.converged
    fixed = piadm_sde(TARGET, grid, 40, 3, K=3, generator=4)
    assert fixed.iterations == (3,) * grid.blocks and fixed.converged


def test_adaptive_piadm_ode_predictor_and_corrector():
    grid = GRIDS["uniform"]
    corrector = dict(K=5, steps=5, sub_blocks=2, h=0.4)
    reference = sequential_ode(TARGET, grid, 30, 3, corrector=corrector, generator=6).samples
    out = piadm_ode(TARGET, grid, 30, 3, tol=1e-11, corrector={**corrector, "K": None, "tol": 1e-11}, generator=6)
    assert out.converged and (out.samples - reference).abs().max() < 1e-10
    assert len(out.iterations) == grid.blocks * (1 + 2)


@pytest.mark.parametrize("call, word", [
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, window=0), "window"),
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, tol=0.0), "tol"),
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, tol=float("nan")), "tol"),
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, tol=None), "stride"),
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, window=4, tol=None, stride=5), "stride"),
    (lambda: paradigms(TARGET, GRIDS["uniform"], 4, 3, max_sweeps=0), "max_sweeps"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, window=4, order=5), "order"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, order=0), "order"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, memory=0), "memory"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, ridge=-1.0), "ridge"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, tol=-1.0), "tol"),
    (lambda: parataa(TARGET, GRIDS["uniform"], 4, 3, max_sweeps=0), "max_sweeps"),
    (lambda: piadm_sde(TARGET, GRIDS["uniform"], 4, 3), "tol"),
    (lambda: piadm_sde(TARGET, GRIDS["uniform"], 4, 3, K=3, tol=0.1), "not both"),
    (lambda: piadm_sde(TARGET, GRIDS["uniform"], 4, 3, tol=0.1, max_K=0), "max_K"),
    (lambda: piadm_ode(TARGET, GRIDS["uniform"], 4, 3, K=2, corrector=dict(K=None)), "tol"),
])
def test_bad_input_names_the_parameter(call, word):
    with pytest.raises((ValueError, TypeError), match=word):
        call()
