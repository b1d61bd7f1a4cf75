"""Gaussian targets under the OU forward process (docs/mathematics.md §2)."""

from __future__ import annotations

import torch

from ._linalg import (
    as_float_tensor,
    check_count,
    check_points,
    dense_covariance,
    eigen_covariance,
    from_eigen,
    gaussian_log_density_terms,
    marginal_terms,
    to_eigen,
)

__all__ = ["Gaussian"]


class Gaussian:
    """``p_0 = N(μ, Σ)`` moved by the OU process: ``p_s = N(e^{-s/2} μ, e^{-s} Σ + (1 - e^{-s}) I)``.

    Parameters
    ----------
    mean : array-like, shape ``(d,)``
    cov : array-like, shape ``(d, d)`` (full, symmetric positive definite) or ``(d,)`` (the
        diagonal of a diagonal covariance, entries > 0).
    dtype, device : where the parameters live (float64 on the CPU by default). Methods taking
        points compute in the points' dtype and device.

    The covariance is stored as its eigendecomposition ``Σ = U diag(λ) Uᵀ`` (``U`` is None for a
    diagonal covariance); every marginal shares ``U``, with ``λ_s = e^{-s} λ + 1 - e^{-s}``.
    """

    def __init__(self, mean, cov, *, dtype=None, device=None):
        mean = as_float_tensor(mean, "mean", dtype, device)
        if mean.dim() != 1 or mean.shape[0] < 1:
            raise ValueError(f"mean must have shape (d,) with d >= 1, got {tuple(mean.shape)}")
        cov = as_float_tensor(cov, "cov", mean.dtype, mean.device)
        eigvals, eigvecs = eigen_covariance(cov, mean.shape[0])
        self._set(mean, eigvals, eigvecs)

    @classmethod
    def from_eigen(cls, mean: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor | None) -> "Gaussian":
        """Build from ``μ`` and ``Σ = U diag(λ) Uᵀ`` without a new decomposition (``U`` orthogonal)."""
        if (eigvals <= 0).any() or not torch.isfinite(eigvals).all():
            raise ValueError("eigvals must be finite and > 0")
        d = eigvals.shape[-1]
        if eigvals.dim() != 1 or mean.shape != (d,) or not torch.isfinite(mean).all():
            raise ValueError(f"mean must be finite with shape (d,) = ({d},) to match eigvals of shape "
                             f"{tuple(eigvals.shape)}, got {tuple(mean.shape)}")
        if eigvecs is not None and eigvecs.shape != (d, d):
            raise ValueError(f"eigvecs must have shape ({d}, {d}) or be None, got {tuple(eigvecs.shape)}")
        obj = cls.__new__(cls)
        obj._set(mean, eigvals, eigvecs)
        return obj

    def _set(self, mean, eigvals, eigvecs):
        self._mean = mean
        self._eigvals = eigvals
        self._eigvecs = eigvecs
        self._cache: dict = {}

    # -- parameters ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._mean.shape[0]

    @property
    def mean(self) -> torch.Tensor:
        """``μ`` (d,)."""
        return self._mean

    @property
    def cov(self) -> torch.Tensor:
        """``Σ`` as a dense (d, d) matrix."""
        return dense_covariance(self._eigvals, self._eigvecs)

    @property
    def eigvals(self) -> torch.Tensor:
        """Eigenvalues ``λ`` of ``Σ`` (for a diagonal covariance: its diagonal, in coordinate order)."""
        return self._eigvals

    @property
    def eigvecs(self) -> torch.Tensor | None:
        """Eigenvectors ``U`` (columns), or None for a diagonal covariance."""
        return self._eigvecs

    @property
    def is_diagonal(self) -> bool:
        return self._eigvecs is None

    @property
    def dtype(self) -> torch.dtype:
        return self._mean.dtype

    @property
    def device(self) -> torch.device:
        return self._mean.device

    def to(self, dtype=None, device=None) -> "Gaussian":
        """A copy with parameters in ``dtype`` on ``device``."""
        conv = lambda t: None if t is None else t.to(dtype=dtype or t.dtype, device=device or t.device)
        return Gaussian.from_eigen(conv(self._mean), conv(self._eigvals), conv(self._eigvecs))

    def _params(self, like: torch.Tensor):
        key = (like.dtype, like.device)
        if key not in self._cache:
            conv = lambda t: None if t is None else t.to(dtype=like.dtype, device=like.device)
            self._cache[key] = (conv(self._mean), conv(self._eigvals), conv(self._eigvecs))
        return self._cache[key]

    def __repr__(self) -> str:
        kind = "diagonal" if self.is_diagonal else "full"
        return f"Gaussian(dim={self.dim}, {kind} covariance, dtype={self.dtype})"

    # -- the OU family ----------------------------------------------------------------------------
    def marginal(self, s) -> "Gaussian":
        """The law ``p_s`` at forward time ``s`` (a scalar), a ``Gaussian`` sharing ``U``."""
        mean_s, eigvals_s = marginal_terms(s, self._mean, self._mean, self._eigvals)
        if mean_s.dim() != 1:
            raise ValueError("s must be a scalar for marginal(s)")
        return Gaussian.from_eigen(mean_s, eigvals_s, self._eigvecs)

    def score(self, x: torch.Tensor, s=0.0, out: torch.Tensor | None = None) -> torch.Tensor:
        """Exact ``∇ log p_s(x) = -Σ_s^{-1}(x - μ_s)``; ``x`` (..., d), ``s`` broadcastable to ``x.shape[:-1]``.

        ``out``: a tensor shaped like ``x`` (not overlapping it) that receives the result and is
        returned; the samplers pass one buffer for every round, which spares a fresh allocation
        per round (for a large batch a fresh allocation costs the kernel's page faults, several
        times the arithmetic).
        """
        x = check_points(x, self.dim)
        if out is not None and (not isinstance(out, torch.Tensor) or out.shape != x.shape or out.dtype != x.dtype):
            raise ValueError(f"out must be a tensor shaped like x {tuple(x.shape)} of dtype {x.dtype}")
        mean, eigvals, eigvecs = self._params(x)
        mean_s, eigvals_s = marginal_terms(s, x, mean, eigvals)
        if eigvecs is None:  # diagonal: -(x - μ_s)/λ_s as one fused multiply-add over x
            precision = 1.0 / eigvals_s
            return torch.addcmul(mean_s * precision, x, -precision, out=out)
        z = to_eigen(x - mean_s, eigvecs)
        value = from_eigen(z / eigvals_s, eigvecs)
        return torch.neg(value) if out is None else torch.neg(value, out=out)

    def log_prob(self, x: torch.Tensor, s=0.0) -> torch.Tensor:
        """``log p_s(x)``, shape ``x.shape[:-1]`` (broadcast with ``s``)."""
        x = check_points(x, self.dim)
        mean, eigvals, eigvecs = self._params(x)
        mean_s, eigvals_s = marginal_terms(s, x, mean, eigvals)
        return gaussian_log_density_terms(x - mean_s, eigvals_s, eigvecs)[1]

    def sample(self, n: int, s=0.0, generator: torch.Generator | None = None, dtype=None) -> torch.Tensor:
        """``n`` independent draws from ``p_s``, shape ``(n, d)``, on the generator's device."""
        check_count(n)
        device = generator.device if generator is not None else self.device
        like = torch.empty((), dtype=dtype or self.dtype, device=device)
        mean, eigvals, eigvecs = self._params(like)
        mean_s, eigvals_s = marginal_terms(s, like, mean, eigvals)
        if mean_s.dim() != 1:
            raise ValueError("s must be a scalar for sample()")
        z = torch.randn(n, self.dim, generator=generator, dtype=like.dtype, device=device)
        return mean_s + from_eigen(z * eigvals_s.sqrt(), eigvecs)

    def lipschitz(self, s=0.0) -> float:
        """Exact Lipschitz constant of ``x ↦ ∇ log p_s(x)``: ``‖Σ_s^{-1}‖ = 1 / min λ_s``."""
        _, eigvals_s = marginal_terms(s, self._mean, self._mean, self._eigvals)
        return float(1.0 / eigvals_s.min())
