"""Pieces every sampler shares: argument checks, the result value, score evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .grid import TimeGrid, positive_int  # positive_int lives with the grid, which needs it too
from .noise import NoiseSource, make_generator
from .schemes import SDEScheme

__all__ = ["SamplerResult", "NonFiniteError"]


@dataclass(frozen=True)
class SamplerResult:
    """What a sampler returns.

    ``samples``
        (n, d) draws of the output law ``q̂`` (to be compared with ``p_η``).
    ``rounds``
        Sequential batched score calls: the paper's "approximate time complexity".
    ``score_evals``
        Score evaluations per sample, summed over all rounds.
    ``peak_points``
        The largest number of grid points evaluated in one round (space = d × this).
    ``trace``
        With ``trace=True``: one tensor per block (the predictor blocks, then, for PIADM-ODE, the
        corrector sub-blocks in order) holding, per Picard iteration k, the residual
        ``max_j (mean_i ‖Y^{(k+1)}_{ij} - Y^{(k)}_{ij}‖²)^{1/2}`` over grid points j and samples i.
    ``path_kl``
        With a ``reference_score``: the Girsanov path quantity (SPEC.md §9), else None.
    """

    samples: torch.Tensor
    rounds: int
    score_evals: int
    peak_points: int
    trace: tuple | None = None
    path_kl: float | None = None


class NonFiniteError(FloatingPointError):
    """A sampler produced a non-finite value; ``block`` and ``iteration`` say where."""

    def __init__(self, sampler: str, what: str, block: int, iteration: int, stage: str = "Picard iteration"):
        self.block = block
        self.iteration = iteration
        super().__init__(f"{sampler}: non-finite {what} in block {block}, {stage} {iteration}")


def resolve_score(score):
    """The callable ``score(x, s)``: a function, or an object with a ``score`` method (a target)."""
    if callable(score):
        return score
    method = getattr(score, "score", None)
    if callable(method):
        return method
    raise TypeError(f"score must be a callable score(x, s) or an object with a .score method, got {type(score).__name__}")


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` hands a sampler: the score callable, the noise source (which carries n, d,
    dtype and device) and ``x0`` converted to them (or None)."""

    score: object
    noise: NoiseSource
    x0: torch.Tensor | None


def setup(score, grid, n, dim, x0, generator, dtype, device, scheme=None) -> Setup:
    """Check the common arguments and build the noise source (SPEC.md §4, API.md)."""
    score = resolve_score(score)
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if scheme is not None and not isinstance(scheme, SDEScheme):
        raise TypeError(f"scheme must be an SDEScheme, got {type(scheme).__name__}")
    if x0 is not None:
        if not isinstance(x0, torch.Tensor) or not x0.is_floating_point():
            raise TypeError("x0 must be a floating-point torch.Tensor of shape (n, d)")
        if x0.dim() != 2 or 0 in x0.shape:
            raise ValueError(f"x0 must have shape (n, d) with n, d >= 1, got {tuple(x0.shape)}")
        if n is not None and n != x0.shape[0]:
            raise ValueError(f"n={n} does not match x0.shape[0]={x0.shape[0]}")
        if dim is not None and dim != x0.shape[1]:
            raise ValueError(f"dim={dim} does not match x0.shape[1]={x0.shape[1]}")
        n, dim = x0.shape
        dtype = dtype or x0.dtype
        device = device or x0.device
        if not torch.isfinite(x0).all():
            raise ValueError("x0 must be finite")
    else:
        if n is None or dim is None:
            raise ValueError("pass either x0 or both n and dim")
        n, dim = positive_int(n, "n"), positive_int(dim, "dim")
    dtype = dtype or torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    generator = make_generator(generator, device)
    device = torch.device(device or (generator.device if generator is not None else "cpu"))
    noise = NoiseSource(n, dim, generator, dtype, device)
    if x0 is not None:
        x0 = x0.to(dtype=dtype, device=device)
    return Setup(score, noise, x0)


def positive_ints(values, name: str) -> list[int]:
    """An integer ≥ 1 or a non-empty iterable of them, as a sorted list without repeats."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        return [positive_int(values, name)]
    try:
        items = list(values)
    except TypeError:
        items = []
    if not items or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in items):
        raise ValueError(f"{name} must be a positive integer (or a non-empty list of them), got {values!r}")
    return sorted({int(k) for k in items})


def check_v(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"v must be a finite number >= 0, got {v!r}")
    return float(v)


def evaluate_score(score, points: torch.Tensor, times: torch.Tensor, max_points: int | None) -> torch.Tensor:
    """``score(points, times)`` for points (M, n, d) and times (M, 1), in chunks of ``max_points``."""
    if max_points is None or points.shape[0] <= max_points:
        out = score(points, times)
    else:
        out = torch.cat(
            [score(points[i : i + max_points], times[i : i + max_points]) for i in range(0, points.shape[0], max_points)]
        )
    if not isinstance(out, torch.Tensor) or out.shape != points.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"score(x, s) must return a tensor shaped like x {tuple(points.shape)}, got {shape}")
    return out


def residual(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``max_j (mean_i ‖new_ij - old_ij‖²)^{1/2}`` for tensors (points, n, d)."""
    return (new - old).pow(2).sum(-1).mean(-1).sqrt().max()
