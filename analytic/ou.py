"""The Ornstein-Uhlenbeck forward process of docs/mathematics.md §1.

``dx_s = -½ x_s ds + dw_s``: given ``x_0``, ``x_s ~ N(e^{-s/2} x_0, (1 - e^{-s}) I)``.
All times here are forward (noise) times ``s >= 0``.
"""

from __future__ import annotations

import torch

__all__ = ["ou_mean_factor", "ou_noise_variance", "as_time"]


def as_time(s, like: torch.Tensor, name: str = "s") -> torch.Tensor:
    """``s`` as a tensor of ``like``'s dtype and device, checked to be finite and ``>= 0``."""
    try:
        t = torch.as_tensor(s, dtype=like.dtype, device=like.device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be a real number or a tensor of them, got {s!r}") from exc
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {s!r}")
    if (t < 0).any():
        raise ValueError(f"{name} must be a forward time >= 0, got {s!r}")
    return t


def ou_mean_factor(s: torch.Tensor) -> torch.Tensor:
    """``e^{-s/2}``: the factor that carries the mean from time 0 to forward time ``s``."""
    return torch.exp(-0.5 * s)


def ou_noise_variance(s: torch.Tensor) -> torch.Tensor:
    """``1 - e^{-s}`` (computed as ``-expm1(-s)``): the variance the OU transition adds by time ``s``."""
    return -torch.expm1(-s)
