"""Pieces every sampler shares: the common arguments, score evaluation and the residual."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import positive_int
from ..core.grid import TimeGrid
from ..core.noise import StepNoise
from ..core.schemes import SDEScheme

__all__ = ["Setup", "setup", "check_noise", "start", "increments", "cumsum_", "scaled_cumsum_", "Workspace",
           "resolve_score", "writes_into", "evaluate_score", "residual"]


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
    """What :func:`setup` hands a sampler: the score callable, the noise (which carries n, d, dtype
    and device) and ``x0`` converted to them (or None)."""

    score: object
    noise: object
    x0: torch.Tensor | None


NOISE_METHODS = ("initial", "steps", "extra")


def check_noise(noise) -> None:
    """A ``noise=`` argument must offer :class:`~piadm_verify.core.noise.StepNoise`'s interface."""
    missing = [m for m in NOISE_METHODS if not callable(getattr(noise, m, None))]
    missing += [a for a in ("n", "dim", "dtype", "device") if not hasattr(noise, a)]
    if missing:
        raise TypeError(f"noise must be a StepNoise (or offer its interface); {type(noise).__name__} lacks {missing}")


def setup(score, grid, n, dim, x0, generator, dtype, device, scheme=None, noise=None) -> Setup:
    """Check the common arguments and build the noise (docs/mathematics.md §4, §10): ``noise=`` as
    given (then ``generator`` must be None and n, dim, dtype and device follow it), or a
    :class:`~piadm_verify.core.noise.StepNoise` on the grid seeded by ``generator``."""
    score = resolve_score(score)
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if scheme is not None and not isinstance(scheme, SDEScheme):
        raise TypeError(f"scheme must be an SDEScheme, got {type(scheme).__name__}")
    if noise is not None:
        check_noise(noise)
        if generator is not None:
            raise ValueError("pass either noise or generator, not both")
        for name, value, given in (("n", n, noise.n), ("dim", dim, noise.dim), ("dtype", dtype, noise.dtype)):
            if value is not None and value != given:
                raise ValueError(f"{name}={value!r} does not match the noise's {name}={given!r}")
        if device is not None and torch.device(device) != torch.device(noise.device):
            raise ValueError(f"device={device!r} does not match the noise's device {noise.device}")
        n, dim, dtype, device = noise.n, noise.dim, noise.dtype, noise.device
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
    if noise is None:
        if device is None and isinstance(generator, torch.Generator):
            device = generator.device
        noise = StepNoise(grid, n, dim, generator=generator, dtype=dtype, device=device or "cpu")
    if x0 is not None:
        x0 = x0.to(dtype=dtype, device=noise.device)
    return Setup(score, noise, x0)


def start(env: Setup, variance: float = 1.0) -> torch.Tensor:
    """``ŷ_{t_0}``: the given ``x0``, or the noise's initial draw scaled to ``N(0, variance · I)``."""
    if env.x0 is not None:
        return env.x0
    z = env.noise.initial()
    return z if variance == 1.0 else z * variance**0.5


def increments(noise, block, variances, key=None) -> torch.Tensor:
    """``ζ_j ~ N(0, variances[j] I)`` for the block's steps, (M_n, n, d): the block's step normals
    ``noise.steps(j0, j1)``, or the tagged draw ``noise.extra(key, M_n)`` (a scheme that redraws ζ at
    every Picard iteration), scaled by the standard deviations."""
    z = noise.steps(*block.step_range) if key is None else noise.extra(key, block.n_steps)
    return z * torch.as_tensor(np.sqrt(variances), dtype=z.dtype, device=z.device)[:, None, None]


def cumsum_(t: torch.Tensor) -> torch.Tensor:
    """In-place cumulative sum along dim 0, returned: bit for bit ``torch.cumsum(t, 0)``.

    On the CPU, torch's cumulative sum along the leading dimension of an (M, n, d) tensor runs 5–25×
    slower than the memory traffic it needs (measured with torch 2.13: 41 ms against 1.7 ms for
    M = 64, n = 64, d = 256); adding each row to the next, in order, does the same additions in the
    same order at memory speed. Elsewhere (CUDA) torch's own kernel is used.
    """
    if t.device.type != "cpu" or t.dim() == 0:
        return torch.cumsum(t, dim=0, out=t)
    for j in range(1, t.shape[0]):
        t[j].add_(t[j - 1])
    return t


def scaled_cumsum_(t: torch.Tensor, weights) -> torch.Tensor:
    """In place along dim 0, ``t_j ← (1/w_j) Σ_{i≤j} w_i t_i``, returned, for one finite nonzero
    weight per row (a 1-D array or tensor of length ``t.shape[0]``); afterwards ``w_j t_j`` is the
    weighted cumulative sum.

    On the CPU each row is one in-place ``t_j += (w_{j−1}/w_j) t_{j−1}``: in place, a row costs half
    what writing a separate sum costs (no second output stream), and the weights go into whatever
    multiplies the result next. Elsewhere (CUDA) ``cumsum(w t) / w``.
    """
    w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
    if not bool(torch.isfinite(w).all()) or bool((w == 0).any()):
        raise ValueError("weights must be finite and nonzero")
    if t.device.type != "cpu" or t.dim() == 0:
        w = w.to(dtype=t.dtype, device=t.device).reshape(-1, *([1] * (t.dim() - 1)))
        return torch.cumsum(t.mul_(w), dim=0, out=t).div_(w)
    ratios = (w[:-1] / w[1:]).tolist()
    rows = t.unbind(0)
    for j in range(1, t.shape[0]):
        rows[j].add_(rows[j - 1], alpha=ratios[j - 1])
    return t


class Workspace:
    """Buffers that the blocks of one run share: ``get(name, shape, like)`` is a tensor of ``shape``
    with ``like``'s dtype and device, the same memory on every call while the shape fits (a shorter
    leading dimension is a view of the first rows). On the CPU a fresh tensor of a large batch costs
    the kernel's page faults, several times the arithmetic that fills it; a run with many blocks
    pays them once. The contents are not kept: every caller fills what it reads."""

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple, like: torch.Tensor) -> torch.Tensor:
        buffer = self._buffers.get(name)
        if (buffer is None or buffer.shape[0] < shape[0] or buffer.shape[1:] != tuple(shape[1:])
                or buffer.dtype != like.dtype or buffer.device != like.device):
            buffer = self._buffers[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buffer[: shape[0]]


def writes_into(score) -> bool:
    """Whether ``score`` takes an ``out=`` keyword (as the analytic targets' ``score`` methods do):
    then the samplers hand it one preallocated buffer shaped like the points for every round."""
    try:
        parameter = inspect.signature(score).parameters.get("out")
    except (TypeError, ValueError):  # builtins and other callables without a signature
        return False
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)


def evaluate_score(score, points: torch.Tensor, times: torch.Tensor, max_points: int | None,
                   out: torch.Tensor | None = None) -> torch.Tensor:
    """``score(points, times)`` for points (M, n, d) and times (M, 1), in chunks of ``max_points``.

    ``out``: a buffer shaped like ``points`` for a score that :func:`writes_into` it (passed as
    ``out=``, chunk by chunk); None, or a score without ``out=``, gets a fresh tensor back.
    """
    if max_points is None or points.shape[0] <= max_points:
        return _shaped_like(points, score(points, times) if out is None else score(points, times, out=out))
    chunks = range(0, points.shape[0], max_points)
    if out is None:
        return _shaped_like(points, torch.cat([score(points[i : i + max_points], times[i : i + max_points])
                                               for i in chunks]))
    for i in chunks:
        view = out[i : i + max_points]
        part = _shaped_like(view, score(points[i : i + max_points], times[i : i + max_points], out=view))
        if part.data_ptr() != view.data_ptr():  # a score that returned its own tensor after all
            view.copy_(part)
    return out


def _shaped_like(points: torch.Tensor, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.shape != points.shape:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"score(x, s) must return a tensor shaped like x {tuple(points.shape)}, got {shape}")
    return value


def residual(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``max_j (mean_i ‖new_ij - old_ij‖²)^{1/2}`` for tensors (points, n, d)."""
    return (new - old).pow(2).sum(-1).mean(-1).sqrt().max()
