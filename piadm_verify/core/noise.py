"""The Gaussian inputs of every sampler, keyed by grid step (docs/mathematics.md §10).

Number the steps of a grid globally, ``j = 0 … J−1`` with ``J = Σ_n M_n``, in the order of backward
time. A :class:`StepNoise` hands out

* ``initial()``: the initial draw, (n, d) standard normals;
* ``steps(j0, j1)``: the standard normals of steps ``j0 … j1−1``, (j1 − j0, n, d);
* ``extra(key, *shape)``: standard normals of shape (*shape, n, d) for a method-specific draw
  identified by a hashable ``key`` (the ODE corrector's velocities and noise pairs).

Each value depends only on (master seed, what it is): the initial draw, the step index j or the
key. Every request seeds a fresh generator from a 64-bit hash of those, so the values of a step
are the same however the calls are ordered or grouped (a block sampler asks for a block, a
sliding-window sampler for a window, a sequential sampler for one step), nothing proportional
to the grid is stored, and a sampler driven by one seed meets the same Brownian path as every
other sampler on that grid. The normals are drawn in float64 on the noise's device and rounded
to its dtype, so float32 and float64 runs of one seed see the same path to float32 rounding.
(On CUDA torch's generator is another algorithm: CUDA values follow the same keys but differ
from the CPU's.)

Where each sampler takes its noise (the samplers scale the standard normals themselves):

* SDE samplers (v ≠ 0): step j's increment is ``ζ_j = √(Var ζ_j) · steps(j, j+1)``; a scheme
  that redraws ζ at every Picard iteration (a negative control) uses ``extra(("redraw", n, k), M_n)``;
* ODE corrector after block n: a fresh velocity ``extra(("velocity", n))`` (``refresh_velocity=False``:
  ``extra(("velocity", 0))`` once), and per sub-block m the pair of normals that builds
  ``(ξ_x, ξ_v)``: ``extra(("corrector", n, m), 2, M†)`` (redrawn per iteration k as a negative
  control: ``extra(("corrector", n, m, k), 2, M†)``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .checks import positive_int

__all__ = ["StepNoise", "make_generator", "DRAW_DTYPE"]

DRAW_DTYPE = torch.float64  # every normal is drawn in float64, then rounded to the run's dtype
_MASK = (1 << 64) - 1
_STREAMS = {"initial": 1, "step": 2, "extra": 3}


def make_generator(generator=None, device=None) -> torch.Generator | None:
    """A ``torch.Generator``: passed through, seeded from an int, or None (torch's global RNG)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        g = torch.Generator(device=device or "cpu")
        g.manual_seed(int(generator))
        return g
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


def _splitmix(x: int) -> int:
    """One round of SplitMix64: a bijective 64-bit mixer with good avalanche."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _key_hash(key) -> int:
    """A 64-bit hash of a hashable key that is the same in every process (``hash`` of a str is not)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little")


class StepNoise:
    """Standard normals keyed by (seed, step) or (seed, tag) (see the module docstring).

    ``StepNoise(grid, n, dim, generator=0, dtype=torch.float64, device="cpu")``: ``grid`` fixes the
    number of steps J (``steps`` refuses indices outside ``[0, J)``); ``generator`` is an int seed,
    a ``torch.Generator`` (the master seed is drawn from it, so a generator object that is used twice
    gives two different paths, and ``torch.Generator().manual_seed(s)`` gives the same as ``s``) or
    None (drawn from torch's global generator).
    """

    def __init__(self, grid, n: int, dim: int, generator=0, dtype: torch.dtype = torch.float64, device="cpu"):
        if not hasattr(grid, "total_steps"):
            raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
        self.n = positive_int(n, "n")
        self.dim = positive_int(dim, "dim")
        self.total_steps = int(grid.total_steps)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.dtype = dtype
        self.device = torch.device(device)
        g = make_generator(generator, self.device if generator is not None else None)
        if g is not None and g.device.type != self.device.type:
            raise ValueError(f"generator is on {g.device} but the noise is drawn on {self.device}")
        self.seed = int(torch.randint(0, 2**62, (1,), generator=g, device=g.device if g is not None else "cpu"))

    def _generator(self, stream: str, index: int) -> torch.Generator:
        """A generator seeded from (master seed, stream, index) alone."""
        key = _splitmix(_splitmix(self.seed ^ (_STREAMS[stream] << 60)) ^ (index & _MASK)) & ((1 << 63) - 1)
        g = torch.Generator(device=self.device)
        g.manual_seed(key)
        return g

    def _draw(self, stream: str, index: int, shape: tuple) -> torch.Tensor:
        z = torch.randn(*shape, self.n, self.dim, generator=self._generator(stream, index), dtype=DRAW_DTYPE,
                        device=self.device)
        return z if self.dtype == DRAW_DTYPE else z.to(self.dtype)

    def step_generator(self, j: int) -> torch.Generator:
        """A fresh generator whose first ``(n, d)`` float64 standard-normal draw on the noise's device is
        ``steps(j, j + 1)[0]`` (before rounding): for code that takes a generator rather than values,
        such as a library scheduler that draws its own noise."""
        if not 0 <= j < self.total_steps:
            raise ValueError(f"j must satisfy 0 <= j < J = {self.total_steps}, got {j}")
        return self._generator("step", j)

    def initial(self) -> torch.Tensor:
        """The initial draw, (n, d) standard normals."""
        return self._draw("initial", 0, ())

    def steps(self, j0: int, j1: int) -> torch.Tensor:
        """Standard normals of global steps ``j0 … j1 − 1``, shape (j1 − j0, n, d)."""
        if not (0 <= j0 <= j1 <= self.total_steps):
            raise ValueError(f"steps must satisfy 0 <= j0 <= j1 <= J = {self.total_steps}, got j0={j0}, j1={j1}")
        out = torch.empty(j1 - j0, self.n, self.dim, dtype=DRAW_DTYPE, device=self.device)
        for i, j in enumerate(range(j0, j1)):
            torch.randn(self.n, self.dim, generator=self._generator("step", j), dtype=DRAW_DTYPE, device=self.device,
                        out=out[i])
        return out if self.dtype == DRAW_DTYPE else out.to(self.dtype)

    def extra(self, key, *shape: int) -> torch.Tensor:
        """Standard normals of shape (*shape, n, d) keyed by the hashable ``key``."""
        return self._draw("extra", _key_hash(key), tuple(int(s) for s in shape))
