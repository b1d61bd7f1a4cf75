"""Pieces every sampler shares: the common arguments, score evaluation and the residual."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import positive_int
from ..core.grid import TimeGrid
from ..core.noise import NoiseSource, make_generator
from ..core.schemes import SDEScheme

__all__ = ["Setup", "setup", "resolve_score", "evaluate_score", "residual"]


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
    """Check the common arguments and build the noise source (docs/mathematics.md §4, API.md)."""
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
