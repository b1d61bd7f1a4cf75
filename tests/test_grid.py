"""TimeGrid / GridBlock (docs/mathematics.md §3): block structure, the early-stopping schedule, validation.

Conventions checked everywhere (``_check_structure``): backward block times ``0 = t_0 < … < t_N
= T - η``; per block a sub-grid ``0 = τ_{n,0} < … < τ_{n,M_n} = h_n`` with positive steps summing
to ``h_n``; scores at forward times ``s_{n,m} = T - (t_n + τ_{n,m})`` for ``m < M_n``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piadm_verify import GridBlock, TimeGrid
from piadm_verify import ode_preset, sde_preset

RTOL = 1e-12


def _check_structure(grid: TimeGrid, h_max: float | None = None) -> None:
    """Every structural invariant of a valid grid (docs/mathematics.md §3)."""
    T, eta = grid.T, grid.eta
    bt = np.asarray(grid.block_times)
    assert bt.ndim == 1 and bt.shape[0] == grid.blocks + 1
    assert bt[0] == 0.0
    assert bt[-1] == pytest.approx(T - eta, rel=RTOL, abs=RTOL)
    assert np.all(np.diff(bt) > 0)
    np.testing.assert_allclose(grid.block_lengths, np.diff(bt), rtol=0, atol=0)
    assert grid.h == pytest.approx(np.diff(bt).max())
    if h_max is not None:
        assert np.all(grid.block_lengths <= h_max * (1 + 1e-9) + 1e-12)
    m = grid.steps_per_block
    assert len(m) == grid.blocks and all(isinstance(x, int) and x >= 1 for x in m)
    assert grid.total_steps == sum(m) and grid.max_steps == max(m)
    blocks = list(grid)
    assert len(blocks) == grid.blocks
    for n, blk in enumerate(blocks):
        assert isinstance(blk, GridBlock)
        h_n = bt[n + 1] - bt[n]
        assert blk.index == n and blk.start == bt[n] and blk.horizon == T
        taus, steps = blk.taus, blk.steps
        assert taus.shape == (m[n] + 1,) and steps.shape == (m[n],) and blk.n_steps == m[n]
        assert taus[0] == 0.0
        assert taus[-1] == pytest.approx(h_n, rel=RTOL, abs=RTOL)
        assert blk.length == pytest.approx(h_n, rel=RTOL, abs=RTOL)
        assert np.all(np.diff(taus) > 0)
        assert np.all(steps > 0)
        assert steps.sum() == pytest.approx(h_n, rel=RTOL, abs=RTOL)
        np.testing.assert_allclose(np.diff(taus), steps, rtol=1e-9, atol=1e-14)
        np.testing.assert_array_equal(grid.steps(n), steps)
        np.testing.assert_array_equal(grid.taus(n), taus)
        expected_s = T - (bt[n] + taus[:-1])
        np.testing.assert_allclose(blk.score_times, expected_s, rtol=0, atol=1e-12 * max(T, 1))
        np.testing.assert_allclose(grid.score_times(n), expected_s, rtol=0, atol=1e-12 * max(T, 1))
        assert blk.end_time == pytest.approx(T - bt[n + 1], abs=1e-12 * max(T, 1))
        # score times lie in (η, T] and decrease
        assert np.all(np.diff(blk.score_times) < 0)
        assert blk.score_times[0] <= T + 1e-12 and blk.score_times[-1] > eta - 1e-12
    assert grid.all_steps().shape == (grid.total_steps,)
    assert grid.all_steps().sum() == pytest.approx(T - eta, rel=1e-10)
    assert grid.all_score_times().shape == (grid.total_steps,)


def _remaining_times(grid: TimeGrid) -> np.ndarray:
    """All grid points as remaining forward times ``r = T - t`` (decreasing, from T to η)."""
    pts = [0.0]
    for blk in grid:
        pts.extend(blk.start + blk.taus[1:])
    return grid.T - np.asarray(pts)


# --------------------------------------------------------------------------------------------------
# uniform
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T,eta,N,M", [(8.0, 1e-3, 8, 16), (1.0, 0.5, 1, 1), (3.0, 0.1, 5, 7), (0.3, 0.01, 2, 3)])
def test_uniform_structure(T, eta, N, M):
    grid = TimeGrid.uniform(T=T, eta=eta, blocks=N, steps=M)
    _check_structure(grid)
    assert grid.blocks == N and grid.steps_per_block == [M] * N
    assert grid.is_uniform
    np.testing.assert_allclose(grid.block_times, np.linspace(0, T - eta, N + 1), rtol=0, atol=1e-14)
    h = (T - eta) / N
    np.testing.assert_allclose(grid.block_lengths, h, rtol=1e-12)
    for blk in grid:
        np.testing.assert_allclose(blk.steps, h / M, rtol=1e-12)
        np.testing.assert_allclose(blk.taus, np.arange(M + 1) * h / M, rtol=1e-12, atol=1e-15)


def test_uniform_per_block_steps():
    grid = TimeGrid.uniform(T=4.0, eta=0.01, blocks=3, steps=[2, 5, 9])
    _check_structure(grid)
    assert grid.steps_per_block == [2, 5, 9]
    assert grid.total_steps == 16 and grid.max_steps == 9
    assert grid.block(2).n_steps == 9
    np.testing.assert_allclose(grid.steps(1), grid.block_lengths[1] / 5, rtol=1e-12)


def test_uniform_numpy_integers_accepted():
    grid = TimeGrid.uniform(T=2.0, eta=0.1, blocks=np.int64(2), steps=np.int32(3))
    assert grid.blocks == 2 and grid.steps_per_block == [3, 3]


def test_score_times_explicit_values():
    grid = TimeGrid.uniform(T=2.0, eta=0.5, blocks=3, steps=2)  # h = 0.5, ε = 0.25
    np.testing.assert_allclose(grid.score_times(0), [2.0, 1.75], atol=1e-14)
    np.testing.assert_allclose(grid.score_times(1), [1.5, 1.25], atol=1e-14)
    np.testing.assert_allclose(grid.score_times(2), [1.0, 0.75], atol=1e-14)
    assert grid.block(2).end_time == pytest.approx(0.5, abs=1e-14)
    np.testing.assert_allclose(grid.all_score_times(), [2.0, 1.75, 1.5, 1.25, 1.0, 0.75], atol=1e-14)


def test_block_index_checked():
    grid = TimeGrid.uniform(T=2.0, eta=0.5, blocks=3, steps=2)
    for bad in (-1, 3, 1.0, True):
        with pytest.raises(ValueError, match="block"):
            grid.block(bad)


# --------------------------------------------------------------------------------------------------
# from_arrays / direct constructor
# --------------------------------------------------------------------------------------------------
def test_from_arrays_structure():
    T, eta = 3.0, 0.2
    bt = [0.0, 0.5, 1.7, 2.8]
    taus = [[0.0, 0.1, 0.5], [0.0, 0.2, 0.3, 1.0, 1.2], [0.0, 1.1]]
    grid = TimeGrid.from_arrays(T, eta, bt, taus)
    _check_structure(grid)
    assert grid.blocks == 3 and grid.steps_per_block == [2, 4, 1]
    assert not grid.is_uniform
    for n, blk in enumerate(grid):
        np.testing.assert_allclose(blk.taus, taus[n], atol=1e-15)
        np.testing.assert_allclose(blk.steps, np.diff(taus[n]), atol=1e-15)
        np.testing.assert_allclose(blk.score_times, T - (bt[n] + np.asarray(taus[n][:-1])), atol=1e-15)


def test_constructor_mixed_int_and_array_subgrids():
    grid = TimeGrid(2.0, 0.5, [0.0, 1.0, 1.5], [4, np.array([0.0, 0.2, 0.5])])
    _check_structure(grid)
    assert grid.steps_per_block == [4, 2]
    assert not grid.is_uniform
    np.testing.assert_allclose(grid.steps(0), 0.25)
    np.testing.assert_allclose(grid.steps(1), [0.2, 0.3])


def test_constructor_snaps_roundoff_end_points():
    """A last block time / sub-grid end off by round-off is accepted and snapped exactly."""
    T, eta = 1.0, 0.1
    bt = [0.0, 0.3, 0.9 * (1 + 1e-12)]
    grid = TimeGrid.from_arrays(T, eta, bt, [[0.0, 0.3], [0.0, 0.1, 0.6 * (1 - 1e-12)]])
    assert grid.block_times[-1] == T - eta
    assert grid.steps(1).sum() == pytest.approx(grid.block_lengths[1], rel=1e-15, abs=1e-16)


def test_constructor_does_not_mutate_caller_arrays():
    """The constructor copies ``block_times``: the caller's float64 array keeps its values (the last
    entry is not snapped to T - η in place) and stays writeable (the grid's own copy is read-only)."""
    bt = np.array([0.0, 1.0, 2.0])
    before = bt.copy()
    TimeGrid(3.0, 1.0, bt, [2, 3])
    np.testing.assert_array_equal(bt, before)
    assert bt.flags.writeable, "TimeGrid() made the caller's block_times array read-only"


def test_grid_arrays_are_read_only():
    grid = TimeGrid.from_arrays(2.0, 0.5, [0.0, 1.5], [[0.0, 0.5, 1.5]])
    with pytest.raises(ValueError):
        grid.block_times[0] = 1.0
    with pytest.raises(ValueError):
        grid.steps(0)[0] = 1.0


# --------------------------------------------------------------------------------------------------
# early stopping
# --------------------------------------------------------------------------------------------------
def _check_early_stopping(grid: TimeGrid, T: float, eta: float, h: float, eps: float) -> None:
    """docs/mathematics.md §3: steps ≈ ε while r = T - t ≥ 1, then r_{k+1} = r_k (1 - ε) down to η."""
    _check_structure(grid, h_max=h)
    r = _remaining_times(grid)
    assert r[0] == pytest.approx(T, abs=1e-12) and r[-1] == pytest.approx(eta, rel=1e-12, abs=1e-15)
    assert np.all(np.diff(r) < 0)
    knee = min(T, 1.0)
    if T > 1.0 and eta < 1.0:
        # r = 1 is a grid point: the uniform part ends exactly there
        k = int(np.argmin(np.abs(r - 1.0)))
        assert r[k] == pytest.approx(1.0, abs=1e-10)
        uni = -np.diff(r[: k + 1])
        # equal steps, rounded down from ε so that they tile [T-1] exactly
        np.testing.assert_allclose(uni, uni[0], rtol=1e-9)
        assert uni[0] <= eps * (1 + 1e-9)
        assert uni[0] > eps * (T - 1.0) / (T - 1.0 + eps) * (1 - 1e-9)
        geo = r[k:]
    else:
        geo = r
    if knee > eta:
        ratios = geo[1:] / geo[:-1]
        assert geo[0] == pytest.approx(knee, abs=1e-10)
        # geometric part: every ratio except the last is exactly 1 - ε
        np.testing.assert_allclose(ratios[:-1], 1.0 - eps, rtol=1e-9)
        # the last step lands on η: shorter than a geometric step, or merged with it when the
        # remainder would be < a tenth of a step; its ratio lies in ((1-ε)(1-ε/10), 1)
        assert (1.0 - eps) * (1.0 - 0.1 * eps) * (1 - 1e-9) <= ratios[-1] < 1.0
    # greedy blocks: every block but the last would exceed h with one more point
    pts = T - r
    for n in range(grid.blocks - 1):
        end = grid.block_times[n + 1]
        nxt = pts[np.searchsorted(pts, end, side="right")]
        assert nxt - grid.block_times[n] > h * (1 + 1e-9)


@pytest.mark.parametrize(
    "T,eta,h,eps",
    [
        (8.0, 1e-3, 1.0, 0.05),
        (10.0, 1e-2, 2.0, 0.1),
        (3.0, 0.05, 0.5, 0.2),
        (2.5, 0.3, 1.0, 0.07),
        (1.0, 0.01, 0.3, 0.1),  # T = 1: no uniform part
    ],
)
def test_early_stopping_schedule(T, eta, h, eps):
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=h, eps=eps)
    _check_early_stopping(grid, T, eta, h, eps)


def test_early_stopping_T_below_one():
    """T < 1: the whole grid is geometric, starting from r = T."""
    T, eta, h, eps = 0.6, 0.01, 0.25, 0.1
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=h, eps=eps)
    _check_early_stopping(grid, T, eta, h, eps)
    r = _remaining_times(grid)
    # first step is eps * T, not eps
    assert r[0] - r[1] == pytest.approx(eps * T, rel=1e-12)
    n_geom = math.ceil(math.log(eta / T) / math.log1p(-eps) - 1e-9)
    assert grid.total_steps in (n_geom, n_geom - 1)


def test_early_stopping_counts():
    T, eta, eps = 8.0, 1e-3, 0.05
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=1.0, eps=eps)
    n_uniform = math.ceil((T - 1) / eps - 1e-9)
    n_geom = math.ceil(math.log(eta) / math.log1p(-eps) - 1e-9)
    assert grid.total_steps in (n_uniform + n_geom, n_uniform + n_geom - 1)
    # the geometric part crowds the last block(s): more points there than in a uniform block
    m = grid.steps_per_block
    assert m[-1] > m[0]


def test_early_stopping_merged_last_step():
    """η chosen just past a geometric point (remainder < ε/10 of a step): the last step is merged."""
    eps, T = 0.1, 3.0
    eta = (1 - eps) ** 5 * (1 - 0.05 * eps)
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=1.0, eps=eps)
    _check_early_stopping(grid, T, eta, 1.0, eps)
    r = _remaining_times(grid)
    geo = r[r <= 1.0 + 1e-12]
    assert geo.shape[0] == 6  # 1, .9, .81, .729, .6561, then η (the point .59049 is merged away)
    assert geo[-1] / geo[-2] < 1 - eps


def test_early_stopping_eta_above_one():
    """With T > 1 and η > 1 the uniform part stops at r = η (docs/mathematics.md §3: the geometric part is
    empty): a valid grid with steps ≤ ε tiling [0, T - η]."""
    T, eta, h, eps = 5.0, 2.0, 1.0, 0.1
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=h, eps=eps)
    _check_structure(grid, h_max=h)
    steps = grid.all_steps()
    assert np.all(steps <= eps * (1 + 1e-9))
    assert steps.sum() == pytest.approx(T - eta)


def test_early_stopping_h_equal_eps():
    """``h >= eps`` suffices, as documented: a short last geometric step is not merged when the
    merged step would be longer than h. Input: T=5, eta=0.895, h=0.1, eps=0.1 (r: 1 → 0.9 → η =
    0.895; merging 0.9 away would leave one step of 0.105 > h), which gives a valid grid."""
    grid = TimeGrid.early_stopping(T=5.0, eta=0.895, h=0.1, eps=0.1)
    _check_structure(grid, h_max=0.1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    T=st.floats(0.05, 12.0),
    eta_frac=st.floats(1e-4, 0.9),
    h_factor=st.floats(1.2, 40.0),
    eps=st.floats(0.02, 0.6),
)
def test_early_stopping_property(T, eta_frac, h_factor, eps):
    """Every early-stopping grid validates, tiles [0, T - η] and follows the schedule.

    η ranges over (0, min(T, 1)) here (η ≥ 1 with T > 1 is covered by
    ``test_early_stopping_eta_above_one``); ``h ≥ 1.2 ε`` stays clear of the h = ε edge
    (covered by ``test_early_stopping_h_equal_eps``).
    """
    eta = eta_frac * min(T, 1.0)
    h = h_factor * eps
    grid = TimeGrid.early_stopping(T=T, eta=eta, h=h, eps=eps)
    _check_early_stopping(grid, T, eta, h, eps)
    # tiling: consecutive blocks share end points, steps tile [0, T - η]
    assert grid.all_steps().sum() == pytest.approx(T - eta, rel=1e-10)
    np.testing.assert_allclose(
        grid.block_times[1:], grid.block_times[:-1] + grid.block_lengths, rtol=0, atol=1e-12 * T
    )


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        (dict(T=1.0, eta=1.0, blocks=2, steps=2), ValueError, "eta"),
        (dict(T=1.0, eta=2.0, blocks=2, steps=2), ValueError, "eta"),
        (dict(T=1.0, eta=0.0, blocks=2, steps=2), ValueError, "eta"),
        (dict(T=1.0, eta=-0.1, blocks=2, steps=2), ValueError, "eta"),
        (dict(T=1.0, eta=float("nan"), blocks=2, steps=2), ValueError, "eta"),
        (dict(T=float("inf"), eta=0.1, blocks=2, steps=2), ValueError, "T"),
        (dict(T="8", eta=0.1, blocks=2, steps=2), TypeError, "T"),
        (dict(T=1.0, eta=0.1, blocks=0, steps=2), ValueError, "blocks"),
        (dict(T=1.0, eta=0.1, blocks=-1, steps=2), ValueError, "blocks"),
        (dict(T=1.0, eta=0.1, blocks=2.0, steps=2), ValueError, "blocks"),
        (dict(T=1.0, eta=0.1, blocks=2, steps=0), ValueError, "steps"),
        (dict(T=1.0, eta=0.1, blocks=2, steps=-3), ValueError, "steps"),
        (dict(T=1.0, eta=0.1, blocks=2, steps=[2, 2.0]), ValueError, "steps"),
        (dict(T=1.0, eta=0.1, blocks=2, steps=[2, 0]), ValueError, "steps"),
        (dict(T=1.0, eta=0.1, blocks=2, steps=[2, 2, 2]), ValueError, "steps"),
        (dict(T=1.0, eta=0.1, blocks=True, steps=2), ValueError, "blocks"),
    ],
)
def test_uniform_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        TimeGrid.uniform(**kwargs)


def test_uniform_non_integer_steps_named():
    """A scalar non-integer ``steps=2.5`` is rejected with an error whose message names ``steps``
    (not treated as a per-block sequence)."""
    with pytest.raises((ValueError, TypeError), match="steps"):
        TimeGrid.uniform(T=1.0, eta=0.1, blocks=2, steps=2.5)


@pytest.mark.parametrize(
    "kwargs,word",
    [
        (dict(T=1.0, eta=1.0, h=0.5, eps=0.1), "eta"),
        (dict(T=1.0, eta=0.0, h=0.5, eps=0.1), "eta"),
        (dict(T=1.0, eta=0.1, h=0.5, eps=0.0), "eps"),
        (dict(T=1.0, eta=0.1, h=0.5, eps=1.0), "eps"),
        (dict(T=1.0, eta=0.1, h=0.5, eps=-0.1), "eps"),
        (dict(T=1.0, eta=0.1, h=0.5, eps=1.5), "eps"),
        (dict(T=1.0, eta=0.1, h=0.05, eps=0.1), "h"),
        (dict(T=1.0, eta=0.1, h=0.0, eps=0.1), "h"),
        (dict(T=1.0, eta=0.1, h=float("inf"), eps=0.1), "h"),
    ],
)
def test_early_stopping_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        TimeGrid.early_stopping(**kwargs)


@pytest.mark.parametrize(
    "block_times,subs,word",
    [
        ([0.0, 0.5, 0.4, 0.9], [2, 2, 2], "block_times"),  # non-monotone
        ([0.0, 0.5, 0.5, 0.9], [2, 2, 2], "block_times"),  # zero-length block
        ([0.0, 0.5, 0.8], [2, 2], "block_times"),  # does not end at T - eta
        ([0.0, 0.5, 1.0], [2, 2], "block_times"),  # past T - eta
        ([0.1, 0.5, 0.9], [2, 2], "block_times"),  # does not start at 0
        ([0.9], [], "block_times"),  # no block
        ([0.0, float("nan"), 0.9], [2, 2], "block_times"),
        ([0.0, 0.5, 0.9], [2], "sub_grids"),  # wrong count
        ([0.0, 0.5, 0.9], [2, 0], r"sub_grids\[1\]"),  # non-positive step count
        ([0.0, 0.5, 0.9], [2, -1], r"sub_grids\[1\]"),
        ([0.0, 0.5, 0.9], [2, 2.5], r"sub_grids\[1\]"),  # non-integer step count
        ([0.0, 0.5, 0.9], [[0.0, 0.3, 0.2, 0.5], 2], r"sub_grids\[0\]"),  # non-monotone sub-grid
        ([0.0, 0.5, 0.9], [[0.0, 0.3, 0.3, 0.5], 2], r"sub_grids\[0\]"),  # zero step
        ([0.0, 0.5, 0.9], [[0.0, 0.3, 0.45], 2], r"sub_grids\[0\]"),  # does not end at h_0
        ([0.0, 0.5, 0.9], [[0.0, 0.3, 0.6], 2], r"sub_grids\[0\]"),  # past h_0
        ([0.0, 0.5, 0.9], [[0.1, 0.3, 0.5], 2], r"sub_grids\[0\]"),  # does not start at 0
        ([0.0, 0.5, 0.9], [[0.5], 2], r"sub_grids\[0\]"),  # no step
    ],
)
def test_constructor_bad_input(block_times, subs, word):
    with pytest.raises(ValueError, match=word):
        TimeGrid(1.0, 0.1, block_times, subs)


def test_constructor_bad_horizon():
    with pytest.raises(ValueError, match="eta"):
        TimeGrid(1.0, 1.0, [0.0, 0.5], [2])
    with pytest.raises(ValueError, match="eta"):
        TimeGrid(1.0, -0.5, [0.0, 1.5], [2])
    with pytest.raises(TypeError, match="eta"):
        TimeGrid(1.0, None, [0.0, 0.5], [2])


def test_from_arrays_and_the_constructor_accept_eta_zero():
    """η = 0 (a discrete schedule that ends at ᾱ = 1, docs/mathematics.md §13) is allowed in the direct
    constructor and ``from_arrays`` only; every score time stays > 0, the last step ends at s = 0, and the
    sequential sampler's probed law equals the oracle's on such a grid (so nothing downstream assumes η > 0)."""
    import torch

    from analytic import Gaussian
    from piadm_verify import exact_law, exact_law_of, gaussian_kl, sequential_sde

    grid = TimeGrid.from_arrays(2.0, 0.0, [0.0, 1.2, 2.0], [[0.0, 0.5, 1.2], [0.0, 0.3, 0.8]])
    _check_structure(grid)
    assert grid.eta == 0.0 and grid.block_times[-1] == 2.0 and grid.block(1).end_time == 0.0
    assert min(grid.all_score_times()) > 0.0
    assert TimeGrid(2.0, 0.0, [0.0, 2.0], [4]).eta == 0.0
    target = Gaussian([1.5, -0.5], [[1.0, 0.2], [0.2, 0.5]])
    oracle = exact_law(target, grid, method="sequential_sde")
    probed = exact_law_of(sequential_sde, target, grid)
    assert gaussian_kl(oracle, probed) < 1e-12
    assert 0.0 < gaussian_kl(target.marginal(0.0), oracle) < 1.0
    out = sequential_sde(target.score, grid, n=5, dim=2, generator=0)
    assert torch.isfinite(out.samples).all()
    for bad in (dict(T=1.0, eta=0.0, blocks=2, steps=2),):
        with pytest.raises(ValueError, match="0 < eta < T"):
            TimeGrid.uniform(**bad)
    with pytest.raises(ValueError, match="0 <= eta < T"):
        TimeGrid.from_arrays(1.0, -1e-3, [0.0, 1.001], [[0.0, 1.001]])


def test_from_arrays_bad_input():
    with pytest.raises(ValueError, match="block_times"):
        TimeGrid.from_arrays(1.0, 0.1, [0.0, 0.6, 0.5, 0.9], [[0, 0.6], [0, 0.1], [0, 0.4]])
    with pytest.raises(ValueError, match="sub_grids|taus"):
        TimeGrid.from_arrays(1.0, 0.1, [0.0, 0.9], [[0.0, 0.5, 0.4, 0.9]])
    with pytest.raises(ValueError, match="sub_grids|taus"):
        TimeGrid.from_arrays(1.0, 0.1, [0.0, 0.9], [[0.0, 0.5, 0.8]])
    with pytest.raises(ValueError, match="block_times"):
        TimeGrid.from_arrays(1.0, 0.1, [0.0, 0.8], [[0.0, 0.5, 0.8]])


# --------------------------------------------------------------------------------------------------
# presets (they build the theorems' grids)
# --------------------------------------------------------------------------------------------------
_POSITIVE_REALS = ("c_T", "h", "c_eps", "c_K")
_ODE_POSITIVE_REALS = _POSITIVE_REALS + ("corrector_h", "c_eps_corrector", "c_K_corrector", "gamma")
_NOT_POSITIVE = [(-1.0, ValueError), (0.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                 ("1", TypeError), (True, TypeError)]


@pytest.mark.parametrize("bad,exc", _NOT_POSITIVE, ids=lambda v: repr(v) if not isinstance(v, type) else "")
@pytest.mark.parametrize("preset,name", [(sde_preset, n) for n in _POSITIVE_REALS]
                         + [(ode_preset, n) for n in _ODE_POSITIVE_REALS])
def test_preset_constants_must_be_finite_and_positive(preset, name, bad, exc):
    """Every real constant of the presets must be a finite number > 0: anything else is rejected
    with an error naming the constant and the allowed range (not silently used, nor a bare
    ZeroDivisionError or conversion error)."""
    with pytest.raises(exc, match=rf"^{name} must be a finite number > 0"):
        preset(16, 0.1, **{name: bad})


@pytest.mark.parametrize("bad", [0, -1, 1.7, 2.0, True])
def test_ode_preset_sub_blocks_must_be_a_positive_integer(bad):
    """corrector_sub_blocks is a count: a non-integer is rejected (not truncated), naming it."""
    with pytest.raises(ValueError, match="^corrector_sub_blocks must be a positive integer"):
        ode_preset(16, 0.1, corrector_sub_blocks=bad)


def test_presets_accept_their_defaults_and_integer_constants():
    """The defaults and integer-valued constants (h=1, gamma=3) give valid presets and grids."""
    sde = sde_preset(16, 0.1, h=1, c_K=1)
    assert sde.h == 1.0 and sde.grid().blocks == sde.N
    ode = ode_preset(16, 0.1, gamma=3, corrector_sub_blocks=np.int64(2))
    assert ode.gamma == 3.0 and ode.corrector_sub_blocks == 2 and ode.corrector["sub_blocks"] == 2
