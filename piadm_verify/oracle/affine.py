"""The affine score the exact-law oracle works with (docs/mathematics.md §8).

With ``p_0 = N(μ, Σ)`` and a score that is affine in x at every grid time — the exact score
``-Σ_s^{-1}(x - μ_s)`` plus an optional affine error ``e(x, s) = E_s x + f_s`` — every sampler
step is affine, and a block of any sampler is an affine-Gaussian map ``y ↦ A y + c + N(0, V)``
(:class:`BlockMap`). :class:`AffineScore` gives the score's terms ``J_s x + b_s`` in a working
basis: per eigen-coordinate class (fast path) or as d×d matrices (dense path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from analytic import Gaussian

__all__ = ["WORK_DTYPE", "BlockMap", "AffineScore", "resolve_error"]

WORK_DTYPE = torch.float64  # the oracle computes in float64 whatever the target's dtype
_DIAGONAL_TOL = 1e-12


@dataclass(frozen=True)
class BlockMap:
    """The affine-Gaussian map of one block: ``y ↦ A y + c + N(0, V)`` (per class: (C, p, p), (C, p), (C, p, p))."""

    A: torch.Tensor
    c: torch.Tensor
    V: torch.Tensor

    def push(self, mean: torch.Tensor, cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A m + c, A P Aᵀ + V)``."""
        new_mean = (self.A @ mean.unsqueeze(-1)).squeeze(-1) + self.c
        return new_mean, self.A @ cov @ self.A.transpose(-1, -2) + self.V


# -- the affine score in a working basis ----------------------------------------------------------
class AffineScore:
    """``score(x, s) = J_s x + b_s`` in the working coordinates, for C independent classes of size p.

    Fast path: coordinates are the target's eigen-coordinates, p = 1, and coordinates with equal
    parameters form one class (``class_of[i]`` is coordinate i's class, ``representatives[c]``
    one of its members). Dense path: one class, p = d, original coordinates.
    """

    def __init__(self, target: Gaussian, error, path: str, initial_variance: float = 1.0, initial: Gaussian | None = None):
        if not isinstance(target, Gaussian):
            raise TypeError(f"target must be an analytic.Gaussian, got {type(target).__name__}")
        if path not in ("auto", "fast", "dense"):
            raise ValueError(f"path must be 'auto', 'fast' or 'dense', got {path!r}")
        if initial is not None and (not isinstance(initial, Gaussian) or initial.dim != target.dim):
            raise ValueError("initial must be an analytic.Gaussian of the target's dimension")
        self.target = target
        self.error = resolve_error(error)
        d = target.dim
        basis = target.eigvecs
        self.basis = None if basis is None else basis.to(device="cpu", dtype=WORK_DTYPE)
        self.mean = target.mean.to(device="cpu", dtype=WORK_DTYPE)
        self.eigvals = target.eigvals.to(device="cpu", dtype=WORK_DTYPE)
        # The initial law in eigen-coordinates: (mean, variance) per coordinate when it is diagonal there.
        self.initial_mean, self.initial_cov = self._initial(initial_variance, initial)
        initial_diagonal = self.initial_cov.dim() == 1
        error_diagonal = self.error is None or callable(getattr(self.error, "eigen_terms", None))
        fast_ok = error_diagonal and initial_diagonal
        if path == "fast" and not fast_ok:
            raise ValueError("path='fast' needs an error and an initial law that are diagonal in the target's eigenbasis")
        self.fast = fast_ok if path == "auto" else path == "fast"
        if self.fast:
            self.mean_eig = self.mean if self.basis is None else self.basis.T @ self.mean
            self._make_classes(d)
            self.p, self.C = 1, len(self.representatives)
        else:
            self.p, self.C = d, 1

    def _initial(self, variance: float, initial: Gaussian | None):
        """``ŷ_{t_0}``'s law in eigen-coordinates: (d,) mean and (d,) variances if diagonal there, else (d, d)."""
        d = self.target.dim
        if initial is None:
            return torch.zeros(d, dtype=WORK_DTYPE), torch.full((d,), float(variance), dtype=WORK_DTYPE)
        m, P = initial.mean.to(device="cpu", dtype=WORK_DTYPE), initial.cov.to(device="cpu", dtype=WORK_DTYPE)
        if self.basis is not None:
            m, P = self.basis.T @ m, self.basis.T @ P @ self.basis
        off = P - torch.diag(torch.diagonal(P))
        if off.abs().max() > _DIAGONAL_TOL * float(P.abs().max()):
            return m, P
        return m, torch.diagonal(P).clone()

    def _make_classes(self, d: int):
        """Group eigen-coordinates whose target, error and initial parameters are all equal."""
        keys = [self.mean_eig.numpy(), self.eigvals.numpy(), self.initial_mean.numpy(), self.initial_cov.numpy()]
        if self.error is not None:
            signature = getattr(self.error, "coordinate_signature", None)
            keys.append(np.asarray(signature(), dtype=np.float64).reshape(d, -1) if signature else np.arange(d, dtype=np.float64)[:, None])
        table = np.column_stack(keys)
        _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
        self.representatives = torch.as_tensor(first)
        self.class_of = torch.as_tensor(inverse.reshape(-1))

    def class_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Fast path: ``(λ, μ)`` of the class representatives in eigen-coordinates."""
        idx = self.representatives
        return self.eigvals[idx].numpy(), self.mean_eig[idx].numpy()

    def class_error_terms(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fast path: error terms ``(E, f)`` (M, C) at forward times ``s``; (0, C) arrays when absent."""
        empty = np.zeros((0, self.C))
        if self.error is None:
            return empty, empty
        E, f = self._error_terms_eig(s)
        as_np = lambda a: empty if a is None else np.ascontiguousarray(a.numpy())
        return as_np(E), as_np(f)

    def terms(self, s: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense path: ``(J, b)`` at forward times ``s`` (M,), shapes (M, 1, d, d) and (M, 1, d)."""
        t = torch.as_tensor(s, dtype=WORK_DTYPE)[:, None]
        decay = torch.exp(-0.5 * t)
        lam_s = decay * decay * self.eigvals + (-torch.expm1(-t))
        if self.basis is None:
            prec = torch.diag_embed(1.0 / lam_s)
        else:
            prec = (self.basis / lam_s[:, None, :]) @ self.basis.T
        J = -prec
        b = (prec @ (decay * self.mean)[..., None])[..., 0]
        if self.error is not None:
            E, f = self.error.affine_terms(s)
            if E is not None:
                E = torch.as_tensor(E, dtype=WORK_DTYPE)
                J = J + (torch.diag_embed(E) if E.dim() == 2 else E)
            if f is not None:
                b = b + torch.as_tensor(f, dtype=WORK_DTYPE)
        return J[:, None], b[:, None]

    def _error_terms_eig(self, s):
        """Diagonal error terms ``(E, f)`` of the class representatives in eigen-coordinates, (M, C) each."""
        E, f = self.error.eigen_terms(s, self.representatives.numpy())
        as_t = lambda a: None if a is None else torch.as_tensor(a, dtype=WORK_DTYPE)
        return as_t(E), as_t(f)

    def initial_law(self):
        """Law of ``ŷ_{t_0}`` per class: mean (C, p), covariance (C, p, p) in the working coordinates."""
        m, P = self.initial_mean, self.initial_cov
        if self.fast:
            idx = self.representatives
            return m[idx][:, None], P[idx][:, None, None]
        if self.basis is not None:
            if P.dim() == 1:
                P = torch.diag(P)
            m, P = self.basis @ m, self.basis @ P @ self.basis.T
        elif P.dim() == 1:
            P = torch.diag(P)
        return m[None], P[None]

    def to_gaussian(self, mean: torch.Tensor, cov: torch.Tensor, dtype) -> Gaussian:
        """Back to the original coordinates as an ``analytic.Gaussian``."""
        if not (torch.isfinite(mean).all() and torch.isfinite(cov).all()):
            raise FloatingPointError("exact_law: the output law is not finite (the iteration blew up)")
        if not self.fast:
            try:
                return Gaussian(mean[0], 0.5 * (cov[0] + cov[0].T), dtype=dtype)
            except ValueError as exc:
                raise FloatingPointError(f"exact_law: the output covariance is not positive definite ({exc})") from exc
        var = cov[:, 0, 0][self.class_of]
        m = mean[:, 0][self.class_of]
        if (var <= 0).any():
            raise FloatingPointError("exact_law: output variance is not positive (round-off or an unstable scheme)")
        if self.basis is None:
            return Gaussian.from_eigen(m.to(dtype), var.to(dtype), None)
        return Gaussian.from_eigen((self.basis @ m).to(dtype), var.to(dtype), self.basis.to(dtype))


def resolve_error(error):
    """The affine error: the object itself, or the ``.error`` of an injected score.

    Protocol: ``affine_terms(s) -> (E, f)`` with ``e(x, s) = E_s x + f_s`` in the original
    coordinates at forward times ``s`` (M,), ``E`` of shape (M, d) (diagonal) or (M, d, d) and
    ``f`` (M, d), either None when absent. An error that is diagonal in the target's eigenbasis
    also offers ``eigen_terms(s, coords) -> (E, f)`` (M, len(coords)) in eigen-coordinates, which
    selects the fast path, and may offer ``coordinate_signature() -> (d, q)``: coordinates with
    equal rows (and equal target parameters) get identical terms, so the oracle computes them once.
    """
    if error is None:
        return None
    if hasattr(error, "affine_terms"):
        return error
    inner = getattr(error, "error", None)
    if inner is not None and hasattr(inner, "affine_terms"):
        return inner
    raise TypeError(
        "error must be None or an affine error (an object with affine_terms(s), e.g. from inject_error with "
        f"kind 'bias', 'affine' or 'pulse'), got {type(error).__name__}"
    )
