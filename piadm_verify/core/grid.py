"""Time grids for the block-wise samplers (docs/mathematics.md §3).

Backward time ``t`` runs from 0 to ``t_N = T - η``. Blocks ``0 = t_0 < … < t_N`` have lengths
``h_n = t_{n+1} - t_n``; inside block n the sub-grid ``0 = τ_{n,0} < … < τ_{n,M_n} = h_n`` has steps
``ε_{n,m} = τ_{n,m+1} - τ_{n,m}``. Scores are evaluated at the left end of each step, i.e. at the
forward times ``s_{n,m} = T - (t_n + τ_{n,m})`` for ``m < M_n``.

A uniform block is stored as ``(h_n, M_n)`` and expanded only on request, so that the theorem's
presets (millions of points per block) cost no memory until a block is processed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import positive_int

__all__ = ["TimeGrid", "GridBlock"]

_REL_TOL = 1e-9


@dataclass(frozen=True)
class GridBlock:
    """One block of a ``TimeGrid``: index ``n``, start ``t_n``, sub-grid ``τ`` (M_n + 1), steps ``ε`` (M_n).

    ``uniform`` is True when all steps are equal by construction (``TimeGrid.uniform`` blocks);
    ``first_step`` is the global index ``Σ_{m<n} M_m`` of the block's first step (docs/mathematics.md
    §10: step j of the grid draws ``StepNoise.steps(j, j + 1)``).
    """

    index: int
    start: float
    taus: np.ndarray
    steps: np.ndarray
    horizon: float
    uniform: bool = False
    first_step: int = 0

    @property
    def step_range(self) -> tuple[int, int]:
        """``(j0, j1)``: the global indices of the block's steps are ``j0 … j1 − 1``."""
        return self.first_step, self.first_step + self.n_steps

    @property
    def length(self) -> float:
        """``h_n``."""
        return float(self.taus[-1])

    @property
    def n_steps(self) -> int:
        """``M_n``."""
        return self.steps.shape[0]

    @property
    def score_times(self) -> np.ndarray:
        """Forward times ``s_{n,m} = T - (t_n + τ_{n,m})`` for ``m < M_n``."""
        return self.horizon - (self.start + self.taus[:-1])

    @property
    def end_time(self) -> float:
        """Forward time at the block's end, ``s = T - t_{n+1}``."""
        return self.horizon - (self.start + self.length)


def _check_horizon(T, eta, *, allow_zero_eta: bool = False) -> tuple[float, float]:
    """``T`` and ``η`` as floats: finite, ``0 < η < T`` (``0 <= η < T`` with ``allow_zero_eta``)."""
    for name, val in (("T", T), ("eta", eta)):
        if isinstance(val, bool) or not isinstance(val, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name} must be a real number, got {type(val).__name__}")
        if not math.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val!r}")
    T, eta = float(T), float(eta)
    if allow_zero_eta and eta == 0.0 and T > 0.0:
        return T, 0.0
    if not 0.0 < eta < T:
        bound = "0 <= eta < T" if allow_zero_eta else "0 < eta < T"
        raise ValueError(f"eta must satisfy {bound}, got eta={eta!r}, T={T!r}")
    return T, eta


class TimeGrid:
    """Blocks and sub-grids of backward time on ``[0, T - η]`` (docs/mathematics.md §3).

    Build one with :meth:`uniform`, :meth:`early_stopping` or :meth:`from_arrays`. The direct
    constructor takes ``block_times`` (``t_0 … t_N``) and, per block, either an array of sub-grid
    points ``τ_{n,0} = 0 < … < τ_{n,M_n} = h_n`` or an integer ``M_n`` (uniform steps).
    Everything is validated: monotone times, positive steps, ``t_N = T - η``, ``0 <= η < T``.
    The direct constructor and :meth:`from_arrays` accept ``η = 0`` (a grid that runs to the
    data, as a discrete schedule with ``ᾱ = 1`` at its end does, docs/mathematics.md §13; the
    last step then ends at ``s = 0`` while every score is still evaluated at ``s > 0``);
    :meth:`uniform` and :meth:`early_stopping` need ``η > 0``.
    """

    def __init__(self, T: float, eta: float, block_times, sub_grids):
        T, eta = _check_horizon(T, eta, allow_zero_eta=True)
        block_times = np.array(block_times, dtype=np.float64)
        if block_times.ndim != 1 or block_times.shape[0] < 2:
            raise ValueError("block_times must be a 1-D array t_0 < ... < t_N with N >= 1")
        if not np.all(np.isfinite(block_times)):
            raise ValueError("block_times must be finite")
        if block_times[0] != 0.0:
            raise ValueError(f"block_times must start at t_0 = 0, got {block_times[0]!r}")
        if not np.all(np.diff(block_times) > 0):
            raise ValueError("block_times must be strictly increasing (positive block lengths)")
        if abs(block_times[-1] - (T - eta)) > _REL_TOL * T:
            raise ValueError(f"block_times must end at T - eta = {T - eta!r}, got {block_times[-1]!r}")
        block_times[-1] = T - eta
        lengths = np.diff(block_times)
        sub_grids = list(sub_grids)
        if len(sub_grids) != lengths.shape[0]:
            raise ValueError(f"sub_grids must have one entry per block ({lengths.shape[0]}), got {len(sub_grids)}")
        blocks: list = []
        for n, (h, sub) in enumerate(zip(lengths, sub_grids)):
            if isinstance(sub, (int, np.integer)) and not isinstance(sub, bool):
                blocks.append((float(h), positive_int(sub, f"sub_grids[{n}]")))
                continue
            taus = np.array(sub, dtype=np.float64)
            if taus.ndim != 1 or taus.shape[0] < 2:
                raise ValueError(f"sub_grids[{n}] must be an integer or a 1-D array 0 = tau_0 < ... < tau_M")
            if not np.all(np.isfinite(taus)) or taus[0] != 0.0:
                raise ValueError(f"sub_grids[{n}] must be finite and start at tau_0 = 0")
            steps = np.diff(taus)
            if not np.all(steps > 0):
                raise ValueError(f"sub_grids[{n}] must be strictly increasing (positive steps)")
            if abs(taus[-1] - h) > _REL_TOL * max(h, 1.0):
                raise ValueError(f"sub_grids[{n}] must end at the block length h_{n} = {h!r}, got {taus[-1]!r}")
            steps[-1] += h - steps.sum()
            steps.setflags(write=False)
            blocks.append(steps)
        self.T = T
        self.eta = eta
        block_times.setflags(write=False)
        self._block_times = block_times
        self._blocks = blocks

    # -- constructors -----------------------------------------------------------------------------
    @classmethod
    def uniform(cls, T: float, eta: float, blocks: int, steps) -> "TimeGrid":
        """``blocks`` equal blocks on ``[0, T - η]``, each with ``steps`` equal steps (an int, or one per block)."""
        T, eta = _check_horizon(T, eta)
        n_blocks = positive_int(blocks, "blocks")
        if isinstance(steps, (int, np.integer, float, np.floating)) or isinstance(steps, bool):
            per_block = [positive_int(steps, "steps")] * n_blocks
        else:
            per_block = [positive_int(m, "steps") for m in steps]
            if len(per_block) != n_blocks:
                raise ValueError(f"steps must be an int or have one entry per block ({n_blocks})")
        return cls(T, eta, np.linspace(0.0, T - eta, n_blocks + 1), per_block)

    @classmethod
    def early_stopping(cls, T: float, eta: float, h: float, eps: float) -> "TimeGrid":
        """The early-stopping schedule of docs/mathematics.md §3 (Benton et al.).

        Steps of size ``eps`` (rounded so they tile exactly) while the remaining forward time
        ``r = T - t`` is at least ``max(1, η)``, then geometric steps ``r_{k+1} = r_k (1 - eps)``
        down to ``r = η`` (a last step shorter than a tenth of a geometric step is merged into the
        one before, unless that would make it longer than ``h``). The points are cut greedily
        into blocks of length ``≤ h``.
        """
        T, eta = _check_horizon(T, eta)
        if not (isinstance(eps, (int, float)) and 0.0 < eps < 1.0):
            raise ValueError(f"eps must satisfy 0 < eps < 1, got {eps!r}")
        if not (isinstance(h, (int, float)) and h >= eps and math.isfinite(h)):
            raise ValueError(f"h must be finite and >= eps, got {h!r}")
        knee = max(min(T, 1.0), eta)
        remaining = []
        if T > knee:
            n_uniform = max(1, math.ceil((T - knee) / eps - 1e-9))
            remaining.append(np.linspace(T, knee, n_uniform + 1)[:-1])
        if knee > eta:
            n_geom = max(1, math.ceil(math.log(eta / knee) / math.log1p(-eps) - 1e-9))
            geom = knee * (1.0 - eps) ** np.arange(n_geom)
            if n_geom > 1 and geom[-1] - eta < 0.1 * eps * geom[-1] and geom[-2] - eta <= h:
                geom = geom[:-1]
            remaining.append(geom)
        remaining.append(np.array([eta]))
        times = T - np.concatenate(remaining)
        times[0] = 0.0
        times[-1] = T - eta
        return cls._from_points(T, eta, times, h)

    @classmethod
    def _from_points(cls, T: float, eta: float, times: np.ndarray, h: float) -> "TimeGrid":
        """Cut the increasing backward times ``times`` (from 0 to T - η) greedily into blocks ``≤ h``."""
        tol = _REL_TOL * max(h, 1.0)
        starts, subs, i = [0], [], 0
        while i < times.shape[0] - 1:
            j = int(np.searchsorted(times, times[i] + h + tol, side="right")) - 1
            if j <= i:
                raise ValueError(f"h={h!r} is shorter than a single step at t={times[i]!r}")
            subs.append(times[i : j + 1] - times[i])
            starts.append(j)
            i = j
        return cls(T, eta, times[starts], subs)

    @classmethod
    def from_arrays(cls, T: float, eta: float, block_times, taus) -> "TimeGrid":
        """Explicit blocks ``t_0 … t_N`` and, per block, the sub-grid ``τ_{n,0} … τ_{n,M_n}`` (``η = 0`` allowed)."""
        return cls(T, eta, block_times, [np.asarray(t, dtype=np.float64) for t in taus])

    # -- views --------------------------------------------------------------------------------------
    @property
    def blocks(self) -> int:
        """``N``, the number of blocks."""
        return len(self._blocks)

    @property
    def steps_per_block(self) -> list[int]:
        """``[M_0, …, M_{N-1}]``."""
        return [b[1] if isinstance(b, tuple) else b.shape[0] for b in self._blocks]

    @property
    def block_times(self) -> np.ndarray:
        """``t_0 = 0 < … < t_N = T - η`` (backward time)."""
        return self._block_times

    @property
    def block_lengths(self) -> np.ndarray:
        """``h_n = t_{n+1} - t_n``."""
        return np.diff(self._block_times)

    @property
    def h(self) -> float:
        """The longest block, ``max h_n``."""
        return float(self.block_lengths.max())

    @property
    def total_steps(self) -> int:
        """``Σ_n M_n``: the step count of the sequential sampler on this grid."""
        return int(sum(self.steps_per_block))

    @property
    def max_steps(self) -> int:
        """``max_n M_n``: the points PIADM evaluates in one round."""
        return int(max(self.steps_per_block))

    @property
    def is_uniform(self) -> bool:
        """True when every block is stored as uniform steps."""
        return all(isinstance(b, tuple) for b in self._blocks)

    def steps(self, n: int) -> np.ndarray:
        """``ε_{n,m}``, ``m = 0 … M_n - 1``."""
        b = self._blocks[self._check_block(n)]
        if isinstance(b, tuple):
            h, m = b
            return np.full(m, h / m)
        return b

    def taus(self, n: int) -> np.ndarray:
        """``τ_{n,m}``, ``m = 0 … M_n`` (the cumulative sum of the steps)."""
        b = self._blocks[self._check_block(n)]
        if isinstance(b, tuple):
            h, m = b
            return np.arange(m + 1) * (h / m)
        return np.concatenate([[0.0], np.cumsum(b)])

    def score_times(self, n: int) -> np.ndarray:
        """Forward times ``s_{n,m} = T - (t_n + τ_{n,m})`` at which block n evaluates scores."""
        return self.block(n).score_times

    def block(self, n: int) -> GridBlock:
        """Block ``n`` as a :class:`GridBlock`."""
        n = self._check_block(n)
        uniform = isinstance(self._blocks[n], tuple)
        first = int(sum(self.steps_per_block[:n]))
        return GridBlock(n, float(self._block_times[n]), self.taus(n), self.steps(n), self.T, uniform, first)

    def __iter__(self):
        return (self.block(n) for n in range(self.blocks))

    def all_steps(self) -> np.ndarray:
        """All steps ``ε_{n,m}`` in order (block-major)."""
        return np.concatenate([self.steps(n) for n in range(self.blocks)])

    def all_score_times(self) -> np.ndarray:
        """All forward score times ``s_{n,m}`` in order (block-major)."""
        return np.concatenate([self.score_times(n) for n in range(self.blocks)])

    def _check_block(self, n) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < self.blocks:
            raise ValueError(f"block index must be an integer in [0, {self.blocks}), got {n!r}")
        return int(n)

    def __repr__(self) -> str:
        m = self.steps_per_block
        return (
            f"TimeGrid(T={self.T:g}, eta={self.eta:g}, blocks={self.blocks}, "
            f"steps_per_block=[{min(m)}..{max(m)}], total_steps={self.total_steps})"
        )
