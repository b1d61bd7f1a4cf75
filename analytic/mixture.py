"""Gaussian mixtures under the OU forward process (docs/mathematics.md §2)."""

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
)
from .gaussian import Gaussian

__all__ = ["GaussianMixture"]

WEIGHT_SUM_TOL = 1e-8
WEIGHT_SUM_TOL_FLOAT32 = 1e-6


class GaussianMixture:
    """``p_0 = Σ_k w_k N(μ_k, Σ_k)`` moved by the OU process; each component moves as a Gaussian.

    Parameters
    ----------
    weights : (k,), entries >= 0 summing to 1 (within 1e-8; 1e-6 in float32), renormalised.
    means : (k, d).
    covs : (k, d, d) full covariances, or (k, d) diagonals.

    The score ``Σ_k r_k(x) (-Σ_{k,s}^{-1}(x - μ_{k,s}))`` uses responsibilities
    ``r = softmax_k(log w_k + log N_k(x))`` by log-sum-exp, so it stays finite for points far out
    in the tails and for modes far apart.
    """

    def __init__(self, weights, means, covs, *, dtype=None, device=None):
        means = as_float_tensor(means, "means", dtype, device)
        if means.dim() != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(f"means must have shape (k, d), got {tuple(means.shape)}")
        k, d = means.shape
        # Weights given in float32 (or for a float32 target) may carry float32 rounding (~1e-7 per
        # weight); the sum is checked in float64 with the tolerance of that dtype, then renormalised.
        single = means.dtype == torch.float32 or str(getattr(weights, "dtype", "")) in ("float32", "torch.float32")
        tol = WEIGHT_SUM_TOL_FLOAT32 if single else WEIGHT_SUM_TOL
        weights = as_float_tensor(weights, "weights", torch.float64, means.device)
        if weights.shape != (k,):
            raise ValueError(f"weights must have shape ({k},) to match means, got {tuple(weights.shape)}")
        if (weights < 0).any():
            raise ValueError("weights must be >= 0")
        if abs(float(weights.sum()) - 1.0) > tol:
            raise ValueError(f"weights must sum to 1 (within {tol}), got {float(weights.sum())!r}")
        weights = (weights / weights.sum()).to(means.dtype)
        covs = as_float_tensor(covs, "covs", means.dtype, means.device)
        if covs.dim() not in (2, 3) or covs.shape[0] != k:
            raise ValueError(f"covs must have shape ({k}, {d}, {d}) or ({k}, {d}), got {tuple(covs.shape)}")
        pairs = [eigen_covariance(covs[i], d, name=f"covs[{i}]") for i in range(k)]
        eigvals = torch.stack([p[0] for p in pairs])
        eigvecs = None if covs.dim() == 2 else torch.stack([p[1] for p in pairs])
        self._set(weights, means, eigvals, eigvecs)

    @classmethod
    def _from_parts(cls, weights, means, eigvals, eigvecs) -> "GaussianMixture":
        obj = cls.__new__(cls)
        obj._set(weights, means, eigvals, eigvecs)
        return obj

    def _set(self, weights, means, eigvals, eigvecs):
        self._weights = weights
        self._means = means
        self._eigvals = eigvals
        self._eigvecs = eigvecs
        self._cache: dict = {}

    # -- parameters ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._means.shape[1]

    @property
    def n_components(self) -> int:
        return self._means.shape[0]

    @property
    def weights(self) -> torch.Tensor:
        return self._weights

    @property
    def means(self) -> torch.Tensor:
        """Component means (k, d)."""
        return self._means

    @property
    def covs(self) -> torch.Tensor:
        """Component covariances as dense (k, d, d) matrices."""
        return dense_covariance(self._eigvals, self._eigvecs)

    @property
    def dtype(self) -> torch.dtype:
        return self._means.dtype

    @property
    def device(self) -> torch.device:
        return self._means.device

    @property
    def components(self) -> list[Gaussian]:
        """The components as ``Gaussian`` objects."""
        return [
            Gaussian.from_eigen(self._means[i], self._eigvals[i], None if self._eigvecs is None else self._eigvecs[i])
            for i in range(self.n_components)
        ]

    @property
    def mean(self) -> torch.Tensor:
        """``Σ_k w_k μ_k``."""
        return self._weights @ self._means

    @property
    def cov(self) -> torch.Tensor:
        """Law of total covariance: ``Σ_k w_k (Σ_k + μ_k μ_kᵀ) - μ μᵀ``."""
        mu = self.mean
        second = torch.einsum("k,kij->ij", self._weights, self.covs + self._means[:, :, None] * self._means[:, None, :])
        return second - torch.outer(mu, mu)

    def to(self, dtype=None, device=None) -> "GaussianMixture":
        conv = lambda t: None if t is None else t.to(dtype=dtype or t.dtype, device=device or t.device)
        return GaussianMixture._from_parts(conv(self._weights), conv(self._means), conv(self._eigvals), conv(self._eigvecs))

    def _params(self, like: torch.Tensor):
        key = (like.dtype, like.device)
        if key not in self._cache:
            conv = lambda t: None if t is None else t.to(dtype=like.dtype, device=like.device)
            self._cache[key] = (conv(self._weights.log()), conv(self._means), conv(self._eigvals), conv(self._eigvecs))
        return self._cache[key]

    def __repr__(self) -> str:
        return f"GaussianMixture(components={self.n_components}, dim={self.dim}, dtype={self.dtype})"

    # -- the OU family ----------------------------------------------------------------------------
    def marginal(self, s) -> "GaussianMixture":
        """The law ``p_s`` (a scalar ``s``): same weights, each component OU-moved."""
        means_s, eigvals_s = marginal_terms(s, self._means, self._means, self._eigvals)
        if means_s.dim() != 2:
            raise ValueError("s must be a scalar for marginal(s)")
        return GaussianMixture._from_parts(self._weights, means_s, eigvals_s, self._eigvecs)

    def _component_terms(self, x: torch.Tensor, s):
        """Per-component eigen coordinates, log-weight + log-density, eigenvalues at ``s``."""
        x = check_points(x, self.dim)
        log_w, means, eigvals, eigvecs = self._params(x)
        means_s, eigvals_s = marginal_terms(s, x, means, eigvals)
        diff = x.unsqueeze(-2) - means_s
        z, log_dens = gaussian_log_density_terms(diff, eigvals_s, eigvecs)
        return z, log_w + log_dens, eigvals_s, eigvecs

    def log_prob(self, x: torch.Tensor, s=0.0) -> torch.Tensor:
        """``log p_s(x) = logsumexp_k(log w_k + log N_k(x))``, shape ``x.shape[:-1]``."""
        return torch.logsumexp(self._component_terms(x, s)[1], dim=-1)

    def responsibilities(self, x: torch.Tensor, s=0.0) -> torch.Tensor:
        """``r_k(x) = softmax_k(log w_k + log N_k(x))``, shape ``x.shape[:-1] + (k,)``."""
        return torch.softmax(self._component_terms(x, s)[1], dim=-1)

    def score(self, x: torch.Tensor, s=0.0) -> torch.Tensor:
        """Exact ``∇ log p_s(x) = Σ_k r_k(x) (-Σ_{k,s}^{-1}(x - μ_{k,s}))``."""
        z, logits, eigvals_s, eigvecs = self._component_terms(x, s)
        resp = torch.softmax(logits, dim=-1)
        comp = -from_eigen(z / eigvals_s, eigvecs)
        return (resp.unsqueeze(-1) * comp).sum(-2)

    def sample(self, n: int, s=0.0, generator: torch.Generator | None = None, dtype=None) -> torch.Tensor:
        """``n`` draws from ``p_s``, shape ``(n, d)``: a component by its weight, then a Gaussian draw."""
        check_count(n)
        device = generator.device if generator is not None else self.device
        like = torch.empty((), dtype=dtype or self.dtype, device=device)
        _, means, eigvals, eigvecs = self._params(like)
        means_s, eigvals_s = marginal_terms(s, like, means, eigvals)
        if means_s.dim() != 2:
            raise ValueError("s must be a scalar for sample()")
        labels = torch.multinomial(self._weights.to(device=device), n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=like.dtype, device=device)
        scaled = z * eigvals_s[labels].sqrt()
        return means_s[labels] + from_eigen(scaled, None if eigvecs is None else eigvecs[labels])

    def lipschitz(self, s=0.0, radius: float | None = None) -> float:
        """A bound on the Lipschitz constant of ``x ↦ ∇ log p_s(x)``.

        The Jacobian is ``Σ_k r_k(-P_k) + Cov_r(g)`` with ``P_k = Σ_{k,s}^{-1}`` and
        ``g_k = -P_k(x - μ_{k,s})``; ``‖Cov_r(g)‖ ≤ ¼ max_{k,l} ‖g_k - g_l‖²``. Hence

        * components sharing one covariance (``P_k = P``): the global bound
          ``‖P‖ + ¼ max_{k,l} ‖P(μ_{k,s} - μ_{l,s})‖²``;
        * otherwise ``g_k - g_l`` grows linearly in ``x`` and no global constant exists: pass
          ``radius`` to get the bound on the ball ``‖x‖ ≤ radius``,
          ``max_k ‖P_k‖ + ¼ max_{k,l} (‖P_k - P_l‖ radius + ‖P_k μ_{k,s} - P_l μ_{l,s}‖)²``.
        """
        means_s, eigvals_s = marginal_terms(s, self._means, self._means, self._eigvals)
        prec = dense_covariance(1.0 / eigvals_s, self._eigvecs)
        prec_norm = float((1.0 / eigvals_s.min(dim=-1).values).max())
        shared = bool(torch.allclose(prec, prec[:1].expand_as(prec), rtol=1e-12, atol=0.0))
        pm = (prec @ means_s.unsqueeze(-1)).squeeze(-1)
        if shared:
            spread = torch.cdist(pm, pm).max()
            return prec_norm + 0.25 * float(spread) ** 2
        if radius is None:
            raise ValueError(
                "radius is required for components with different covariances: their score has no global "
                "Lipschitz constant; pass radius > 0 for the bound on the ball ||x|| <= radius"
            )
        if not radius > 0:
            raise ValueError(f"radius must be > 0, got {radius!r}")
        diff_p = torch.linalg.matrix_norm(prec[:, None] - prec[None, :], ord=2)
        diff_m = torch.cdist(pm, pm)
        return prec_norm + 0.25 * float((diff_p * radius + diff_m).max()) ** 2
