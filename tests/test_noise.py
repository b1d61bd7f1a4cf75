"""Step-keyed noise (docs/mathematics.md §10): the values of a step depend on (seed, step) alone, so
every sampler on a grid meets the same Brownian path whatever the order or grouping of its draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from analytic import Gaussian
from piadm_verify import StepNoise, TimeGrid, piadm_ode, piadm_sde, sequential_ode, sequential_sde

GRID = TimeGrid.uniform(6.0, 1e-3, 6, 16)
TARGET = Gaussian([0.5, -1.0, 0.2], [[1.0, 0.3, 0.0], [0.3, 0.6, 0.1], [0.0, 0.1, 0.4]])


def test_a_step_has_the_same_values_however_the_calls_are_grouped():
    """Blocks, single steps, sliding windows, reversed order: step j's normals are equal, bit for bit."""
    a, b, c = (StepNoise(GRID, 8, 3, generator=4) for _ in range(3))
    whole = a.steps(0, GRID.total_steps)
    singles = torch.stack([b.steps(j, j + 1)[0] for j in reversed(range(GRID.total_steps))][::-1])
    windows = torch.cat([c.steps(j, min(j + 7, GRID.total_steps)) for j in range(0, GRID.total_steps, 7)])
    blocks = torch.cat([a.steps(*blk.step_range) for blk in GRID])
    for other in (singles, windows, blocks):
        assert torch.equal(whole, other)


def test_extra_draws_are_keyed_by_their_tag_and_independent_of_the_steps():
    a, b = StepNoise(GRID, 8, 3, generator=4), StepNoise(GRID, 8, 3, generator=4)
    b.steps(0, 10)  # drawing steps first changes nothing
    assert torch.equal(a.extra(("velocity", 2)), b.extra(("velocity", 2)))
    assert torch.equal(a.extra(("corrector", 1, 0), 2, 5), b.extra(("corrector", 1, 0), 2, 5))
    assert a.extra(("corrector", 1, 0), 2, 5).shape == (2, 5, 8, 3)
    assert not torch.equal(a.extra(("velocity", 2)), a.extra(("velocity", 3)))
    assert not torch.equal(a.extra(("velocity", 2)), a.initial())


def test_seeds_and_generators():
    """An int seed equals a generator seeded with it; different seeds differ; one generator object used
    twice gives two different paths (it is consumed), as a generator should."""
    g = torch.Generator().manual_seed(7)
    assert torch.equal(StepNoise(GRID, 4, 2, generator=7).steps(0, 3), StepNoise(GRID, 4, 2, generator=g).steps(0, 3))
    assert not torch.equal(StepNoise(GRID, 4, 2, generator=7).steps(0, 3), StepNoise(GRID, 4, 2, generator=8).steps(0, 3))
    g = torch.Generator().manual_seed(7)
    first, second = StepNoise(GRID, 4, 2, generator=g), StepNoise(GRID, 4, 2, generator=g)
    assert not torch.equal(first.initial(), second.initial())


def test_float32_gets_the_float64_values_rounded():
    a = StepNoise(GRID, 16, 3, generator=2)
    b = StepNoise(GRID, 16, 3, generator=2, dtype=torch.float32)
    assert b.steps(3, 9).dtype == torch.float32
    assert torch.equal(a.steps(3, 9).float(), b.steps(3, 9))
    assert torch.equal(a.extra("k", 2).float(), b.extra("k", 2))


def test_float32_and_float64_runs_share_their_path():
    """One seed, two precisions: the sampler's outputs differ by float32 rounding, not by a different path."""
    out64 = piadm_sde(TARGET, GRID, 64, 3, K=4, generator=5).samples
    out32 = piadm_sde(TARGET, GRID, 64, 3, K=4, generator=5, dtype=torch.float32).samples
    assert (out64 - out32.double()).abs().max() < 1e-4


def test_draws_are_standard_normal():
    """Kolmogorov–Smirnov against N(0, 1) on 60 000 draws of steps and extras (false-failure rate 1e-4 each)."""
    noise = StepNoise(GRID, 500, 4, generator=11)
    for values in (noise.steps(0, 30), noise.extra("x", 30)):
        assert stats.kstest(values.flatten().numpy(), "norm").pvalue > 1e-4


def test_neighbouring_steps_are_uncorrelated():
    """Sample correlation between consecutive steps' normals (n·d = 40 000 pairs): |r| ≤ 4.5/√N (α ≈ 7e-6)."""
    z = StepNoise(GRID, 10_000, 4, generator=3).steps(0, 12).reshape(12, -1).numpy()
    r = np.corrcoef(z)
    off = r[~np.eye(12, dtype=bool)]
    assert np.abs(off).max() <= 4.5 / np.sqrt(z.shape[1])


@pytest.mark.parametrize("bad, error", [
    (dict(n=0), ValueError), (dict(dim=-1), ValueError), (dict(dtype=torch.int64), TypeError),
    (dict(generator="seed"), TypeError), (dict(grid=[1, 2]), TypeError),
])
def test_bad_arguments_name_the_parameter(bad, error):
    args = dict(grid=GRID, n=4, dim=2, **{k: v for k, v in bad.items() if k not in ("grid", "n", "dim")})
    args.update({k: v for k, v in bad.items() if k in ("grid", "n", "dim")})
    with pytest.raises(error, match=next(iter(bad))):
        StepNoise(args.pop("grid"), args.pop("n"), args.pop("dim"), **args)


def test_steps_outside_the_grid_are_refused():
    noise = StepNoise(GRID, 4, 2)
    with pytest.raises(ValueError, match="j0"):
        noise.steps(-1, 2)
    with pytest.raises(ValueError, match="j1"):
        noise.steps(0, GRID.total_steps + 1)


def test_samplers_take_noise_instead_of_a_generator():
    """``noise=`` fixes n, d and dtype; the same StepNoise drives PIADM and the sequential sampler to the
    same path (K ≥ M), and passing both noise and generator is an error."""
    noise = StepNoise(GRID, 32, 3, generator=1)
    parallel = piadm_sde(TARGET, GRID, noise=noise, K=GRID.max_steps).samples
    sequential = sequential_sde(TARGET, GRID, noise=noise).samples
    assert (parallel - sequential).abs().max() < 1e-12
    assert torch.equal(parallel, piadm_sde(TARGET, GRID, 32, 3, K=GRID.max_steps, generator=1).samples)
    corrector = dict(K=3, steps=3, sub_blocks=2, h=0.3)
    ode = piadm_ode(TARGET, GRID, noise=noise, K=GRID.max_steps, corrector=corrector).samples
    assert (ode - sequential_ode(TARGET, GRID, noise=noise, corrector=corrector).samples).abs().max() < 1e-12
    with pytest.raises(ValueError, match="noise or generator"):
        piadm_sde(TARGET, GRID, noise=noise, generator=1, K=2)
    with pytest.raises(ValueError, match="dim"):
        piadm_sde(TARGET, GRID, 32, 4, noise=noise, K=2)
    with pytest.raises(TypeError, match="noise"):
        piadm_sde(TARGET, GRID, noise=object(), K=2)


def test_noise_memory_does_not_grow_with_the_grid():
    """Nothing proportional to the grid is kept: a noise on a preset-sized grid holds no tensor."""
    huge = TimeGrid.uniform(10.0, 1e-3, 10, 5_000_000)
    noise = StepNoise(huge, 4, 2, generator=0)
    assert noise.steps(49_999_990, 50_000_000).shape == (10, 4, 2)
    assert not any(isinstance(v, torch.Tensor) for v in vars(noise).values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_follows_the_same_keys():
    """On CUDA the values come from torch's CUDA generator (another algorithm than the CPU's) but obey
    the same keying: grouping does not change them, float32 gets the float64 values rounded."""
    a = StepNoise(GRID, 8, 3, generator=4, device="cuda")
    whole = a.steps(0, 20)
    assert whole.device.type == "cuda"
    assert torch.equal(whole, torch.cat([a.steps(0, 5), a.steps(5, 20)]))
    b = StepNoise(GRID, 8, 3, generator=4, device="cuda", dtype=torch.float32)
    assert torch.equal(whole.float(), b.steps(0, 20))


def test_step_generator_reproduces_the_step_values():
    """A library that draws its own noise from a generator gets the step's values: the first (n, d)
    float64 draw of step_generator(j) is steps(j, j + 1)."""
    noise = StepNoise(GRID, 6, 3, generator=9)
    draw = torch.randn(6, 3, generator=noise.step_generator(17), dtype=torch.float64)
    assert torch.equal(draw, noise.steps(17, 18)[0])
    with pytest.raises(ValueError, match="j must"):
        noise.step_generator(GRID.total_steps)
