"""Shared checks and eigenbasis helpers for the analytic targets (docs/mathematics.md §2).

A covariance is kept as its eigendecomposition ``Σ = U diag(λ) Uᵀ`` (``U = None`` for a
diagonal covariance), because the OU marginal ``Σ_s = e^{-s} Σ + (1 - e^{-s}) I`` shares the
eigenvectors: ``λ_s = e^{-s} λ + 1 - e^{-s}``. One decomposition serves every ``s``.
"""

from __future__ import annotations

import math

import torch

from .ou import as_time, ou_mean_factor, ou_noise_variance

LOG_2PI = math.log(2.0 * math.pi)


def as_float_tensor(value, name: str, dtype=None, device=None) -> torch.Tensor:
    """``value`` as a floating tensor (float64 unless ``dtype`` or a float tensor says otherwise)."""
    if isinstance(value, torch.Tensor):
        if dtype is None:
            dtype = value.dtype if value.is_floating_point() else torch.float64
        t = value.to(dtype=dtype, device=device if device is not None else value.device)
    else:
        try:
            t = torch.as_tensor(value, dtype=dtype or torch.float64, device=device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be array-like of numbers, got {type(value).__name__}") from exc
    if not t.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers, got {t.dtype}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite")
    return t


def check_points(x, dim: int, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a floating tensor of shape ``(..., dim)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., {dim}), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {x.dtype}")
    if x.dim() == 0 or x.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {tuple(x.shape)}")
    return x


SYMMETRY_RTOL = 1e-7  # |Σ - Σᵀ| allowed, relative to max |Σ|


def check_count(n, name: str = "n") -> int:
    """``n`` as a positive Python int, else ``ValueError`` naming it."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return n


def eigen_covariance(cov: torch.Tensor, dim: int, name: str = "cov"):
    """Eigendecomposition of a covariance given as ``(d,)`` (diagonal) or ``(d, d)``.

    Returns ``(λ, U)`` with ``U = None`` for a diagonal input. Raises ``ValueError`` for wrong
    shapes, asymmetric matrices and eigenvalues that are not strictly positive.
    """
    if cov.dim() == 1:
        if cov.shape[0] != dim:
            raise ValueError(f"{name} must have shape ({dim},) or ({dim}, {dim}), got {tuple(cov.shape)}")
        if (cov <= 0).any():
            raise ValueError(f"{name} must be positive definite: diagonal entries must be > 0")
        return cov.clone(), None
    if cov.dim() != 2 or cov.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim},) or ({dim}, {dim}), got {tuple(cov.shape)}")
    scale = cov.abs().max().clamp_min(1e-300)
    if (cov - cov.T).abs().max() > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name} must be symmetric")
    eigvals, eigvecs = torch.linalg.eigh(0.5 * (cov + cov.T))
    if (eigvals <= 0).any():
        raise ValueError(f"{name} must be positive definite: smallest eigenvalue is {eigvals.min().item():.3g}")
    return eigvals, eigvecs


def dense_covariance(eigvals: torch.Tensor, eigvecs: torch.Tensor | None) -> torch.Tensor:
    """``U diag(λ) Uᵀ`` (batched over leading dims), or ``diag(λ)`` when ``U`` is None."""
    if eigvecs is None:
        return torch.diag_embed(eigvals)
    return (eigvecs * eigvals[..., None, :]) @ eigvecs.transpose(-1, -2)


def marginal_terms(s, like: torch.Tensor, mean: torch.Tensor, eigvals: torch.Tensor):
    """OU-moved mean and eigenvalues at forward time ``s`` (docs/mathematics.md §2).

    ``s`` broadcasts against the leading dims of the result; ``mean`` and ``eigvals`` have a
    trailing ``d`` (and possibly a component axis before it). Returns ``(μ_s, λ_s)`` with
    ``μ_s = e^{-s/2} μ`` and ``λ_s = e^{-s} λ + 1 - e^{-s}``.
    """
    t = as_time(s, like)
    try:
        torch.broadcast_shapes(t.shape, like.shape[:-1])
    except RuntimeError as exc:
        raise ValueError(f"s of shape {tuple(t.shape)} does not broadcast against the points' leading "
                         f"dims {tuple(like.shape[:-1])}") from exc
    extra = mean.dim()
    t = t.reshape(t.shape + (1,) * extra)
    decay = ou_mean_factor(t)
    return decay * mean, decay * decay * eigvals + ou_noise_variance(t)


def to_eigen(v: torch.Tensor, eigvecs: torch.Tensor | None) -> torch.Tensor:
    """Coordinates of ``v`` (..., d) in the eigenbasis: ``Uᵀ v``."""
    if eigvecs is None:
        return v
    return (v.unsqueeze(-2) @ eigvecs).squeeze(-2)


def from_eigen(z: torch.Tensor, eigvecs: torch.Tensor | None) -> torch.Tensor:
    """Back from eigen coordinates: ``U z``."""
    if eigvecs is None:
        return z
    return (z.unsqueeze(-2) @ eigvecs.transpose(-1, -2)).squeeze(-2)


def gaussian_log_density_terms(diff: torch.Tensor, eigvals_s: torch.Tensor, eigvecs):
    """For ``diff = x - μ_s``: (eigen coordinates ``z``, log density ``log N(x; μ_s, Σ_s)``)."""
    z = to_eigen(diff, eigvecs)
    quad = (z * z / eigvals_s).sum(-1)
    logdet = torch.log(eigvals_s).sum(-1)
    dim = diff.shape[-1]
    return z, -0.5 * (quad + logdet + dim * LOG_2PI)
