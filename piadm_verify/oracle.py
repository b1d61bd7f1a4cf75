"""Exact law of the samplers on Gaussian targets with affine scores (SPEC.md §8).

With ``p_0 = N(μ, Σ)`` and a score that is affine in x at every grid time — the exact score
``-Σ_s^{-1}(x - μ_s)`` plus an optional affine error ``e(x, s) = E_s x + f_s`` — every Picard
iterate is affine in the Gaussian inputs (the initial draw and the ζ's), so the output is exactly
Gaussian. Per block the output is ``A y_0 + Σ_j B_j ζ_j + c``; the laws compose block by block:
``m ← A m + c``, ``P ← A P Aᵀ + V`` with ``V = Σ_j Var(ζ_j) B_j B_jᵀ``.

**Final-row coefficients by backward scans.** Write one Picard iteration of a block (SPEC.md §4)
as ``Y^{(k+1)} = L Y^{(k)} + f`` with ``(L Y)_m = D_m Σ_{j<m} D_{j+1}^{-1} c_j J_j Y_{j+o}``
(``D_m = Π_{i<m} d_i = e^{τ_m/2}`` for the exponential integrator, ``c_j`` the score weight,
``J_j`` the score's Jacobian at the evaluation time, ``o = 0`` for ``g_n(τ) = τ_{n,m}``), and
``f_m = D_m [y_0 + Σ_{j<m} D_{j+1}^{-1}(c_j b_j + v ζ_j)]``. With ``Y^{(0)} ≡ y_0``,
``e_Mᵀ Y^{(K)} = e_Mᵀ L^K 1 y_0 + Σ_{i<K} e_Mᵀ L^i f``. The rows ``r_i = e_Mᵀ L^i`` obey
``r_{i+1}[j+o] = ρ_i[j] D_{j+1}^{-1} c_j J_j`` with ``ρ_i[j] = Σ_{m>j} r_i[m] D_m``: one reverse
cumulative sum per iteration, so K iterations cost O(K·M) per coordinate and block, and every
K ≤ K_max comes out of the same sweep. In terms of them
``A = Σ_m r_K[m] + Σ_{i<K} Σ_m r_i[m] D_m``, ``B_j = v D_{j+1}^{-1} Σ_{i<K} ρ_i[j]``,
``c = Σ_j D_{j+1}^{-1} c_j Σ_{i<K} ρ_i[j] b_j``. A scheme that redraws ζ every iteration gets
``V = Σ_i Σ_j Var(ζ_j) v² D_{j+1}^{-2} ρ_i[j] ρ_i[j]ᵀ`` instead.

The sequential reference is the product of the per-step affine maps
``x ← (d_j + c_j J_j) x + c_j b_j + v ζ_j``.

**Two paths.** *Fast*: the target's covariance and the error share an eigenbasis (diagonal
targets are the usual case): every quantity above is a scalar per coordinate, vectorised over
coordinates, and coordinates with equal parameters are computed once. *Dense*: d×d coefficient
matrices for full covariances with non-commuting errors (meant for d ≤ 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from analytic import Gaussian

from ._common import check_v, positive_ints
from ._kernels import picard_maps, sequential_maps, time_factors
from .grid import GridBlock, TimeGrid
from .schemes import EXPONENTIAL_INTEGRATOR, SDEScheme

__all__ = ["exact_law", "exact_laws", "BlockMap"]

_DIAGONAL_TOL = 1e-12
_WORK = torch.float64


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
class _AffineScore:
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
        self.error = _resolve_error(error)
        d = target.dim
        basis = target.eigvecs
        self.basis = None if basis is None else basis.to(device="cpu", dtype=_WORK)
        self.mean = target.mean.to(device="cpu", dtype=_WORK)
        self.eigvals = target.eigvals.to(device="cpu", dtype=_WORK)
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
            return torch.zeros(d, dtype=_WORK), torch.full((d,), float(variance), dtype=_WORK)
        m, P = initial.mean.to(device="cpu", dtype=_WORK), initial.cov.to(device="cpu", dtype=_WORK)
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
        t = torch.as_tensor(s, dtype=_WORK)[:, None]
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
                E = torch.as_tensor(E, dtype=_WORK)
                J = J + (torch.diag_embed(E) if E.dim() == 2 else E)
            if f is not None:
                b = b + torch.as_tensor(f, dtype=_WORK)
        return J[:, None], b[:, None]

    def _error_terms_eig(self, s):
        """Diagonal error terms ``(E, f)`` of the class representatives in eigen-coordinates, (M, C) each."""
        E, f = self.error.eigen_terms(s, self.representatives.numpy())
        as_t = lambda a: None if a is None else torch.as_tensor(a, dtype=_WORK)
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


def _resolve_error(error):
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


# -- one block ---------------------------------------------------------------------------------------
def _block_coefficients(block: GridBlock, scheme: SDEScheme, v: float):
    """``log D_m`` (M+1), ``D_{j+1}^{-1}``, ``c_j``, ``v² Var ζ_j`` and the score's evaluation times.

    A uniform block evaluates the scheme once and broadcasts (the presets have ~5·10⁶ steps).
    """
    eps = block.steps
    M = eps.shape[0]
    o = scheme.score_offset
    s_eval = block.horizon - (block.start + block.taus[o : o + M])
    if block.uniform:
        one = eps[:1]
        log_grow = np.arange(M + 1) * scheme.log_decay(one)[0]
        weight = np.broadcast_to(scheme.score_weight(one, v), (M,))
        noise_var = np.broadcast_to(scheme.noise_variance(one) * v * v, (M,))
    else:
        log_grow = np.concatenate([[0.0], np.cumsum(scheme.log_decay(eps))])
        weight, noise_var = scheme.score_weight(eps, v), scheme.noise_variance(eps) * v * v
    return log_grow, np.exp(-log_grow[1:]), weight, noise_var, s_eval


def _outer_sum(weights: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """``Σ_l w_l R_l R_lᵀ`` for R (L, C, p, p)."""
    return torch.einsum("l,lcik,lcjk->cij", weights, R, R)


def picard_block_maps(block: GridBlock, model: _AffineScore, scheme: SDEScheme, v: float, Ks: list[int]) -> dict[int, BlockMap]:
    """The block's affine-Gaussian map after K Picard iterations, for every K in ``Ks`` (one sweep)."""
    log_grow, shrink, weight, noise_var, s_eval = _block_coefficients(block, scheme, v)
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(s_eval)
        A, c, V = picard_maps(time_factors(s_eval), np.exp(log_grow), shrink, weight, noise_var, scheme.score_offset,
                              lam, mu, E, f, np.asarray(Ks, dtype=np.int64), scheme.shared_noise)
        as_t = lambda a: torch.as_tensor(a, dtype=_WORK)
        return {K: BlockMap(as_t(A[q])[:, None, None], as_t(c[q])[:, None], as_t(V[q])[:, None, None])
                for q, K in enumerate(Ks)}
    return _dense_picard_maps(model, log_grow, shrink, weight, noise_var, s_eval, scheme, Ks)


def _dense_picard_maps(model, log_grow, shrink, weight, noise_var, s_eval, scheme, Ks) -> dict[int, BlockMap]:
    """The backward scans with d×d coefficient blocks, in reversed point order (l = M-1-j)."""
    M = shrink.shape[0]
    o = scheme.score_offset
    rev = lambda a: torch.as_tensor(np.ascontiguousarray(a[::-1]), dtype=_WORK)
    J, b = model.terms(s_eval)
    J, b = J.flip(0), b.flip(0)
    shrink_w = rev(shrink * weight)
    noise_w = rev(noise_var * shrink * shrink)
    step_matrix = rev(np.exp(log_grow[o : o + M]) * shrink * weight)[:, None, None, None] * J
    inv_grow = rev(np.exp(-log_grow))
    C, p = model.C, model.p
    eye = torch.eye(p, dtype=_WORK).expand(C, p, p)
    u = torch.zeros(M + 1, C, p, p, dtype=_WORK)  # u_i[m] = r_i[m] D_m, reversed in m
    u[0] = float(np.exp(log_grow[-1])) * eye
    rho = torch.empty_like(u)
    R = torch.zeros(M, C, p, p, dtype=_WORK)
    alpha_sum = torch.zeros(C, p, p, dtype=_WORK)
    redraw_V = torch.zeros(C, p, p, dtype=_WORK)
    out: dict[int, BlockMap] = {}
    for i in range(max(Ks) + 1):
        if i in Ks:
            r_sum = torch.einsum("m,mcij->cij", inv_grow, u)
            c = torch.einsum("l,lcij,lcj->ci", shrink_w, R, b)
            V = _outer_sum(noise_w, R) if scheme.shared_noise else redraw_V.clone()
            out[i] = BlockMap(r_sum + alpha_sum, c, V)
        torch.cumsum(u, dim=0, out=rho)
        alpha_sum += rho[M]
        R += rho[:M]
        if not scheme.shared_noise:
            redraw_V += _outer_sum(noise_w, rho[:M])
        u[M if o else 0] = 0.0
        u[1 - o : M + 1 - o] = rho[:M] @ step_matrix
    return out


def sequential_block_map(block: GridBlock, model: _AffineScore, scheme: SDEScheme, v: float) -> BlockMap:
    """The block's map under the sequential scheme: the product of ``x ↦ (d_j + c_j J_j) x + c_j b_j + v ζ_j``."""
    eps = block.steps
    decay, weight = scheme.decay(eps), scheme.score_weight(eps, v)
    noise_var = scheme.noise_variance(eps) * v * v
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(block.score_times)
        A, c, V = sequential_maps(time_factors(block.score_times), decay, weight, noise_var, lam, mu, E, f)
        as_t = lambda a: torch.as_tensor(a, dtype=_WORK)
        return BlockMap(as_t(A)[:, None, None], as_t(c)[:, None], as_t(V)[:, None, None])
    J, b = model.terms(block.score_times)
    eye = torch.eye(model.p, dtype=_WORK)
    A = eye.expand(model.C, -1, -1).clone()
    c = torch.zeros(model.C, model.p, dtype=_WORK)
    V = torch.zeros(model.C, model.p, model.p, dtype=_WORK)
    for j in range(eps.shape[0]):
        g = decay[j] * eye + weight[j] * J[j]
        A = g @ A
        c = (g @ c[..., None])[..., 0] + weight[j] * b[j]
        V = g @ V @ g.transpose(-1, -2) + noise_var[j] * eye
    return BlockMap(A, c, V)


# -- public ------------------------------------------------------------------------------------------
def exact_laws(
    target: Gaussian,
    grid: TimeGrid,
    Ks,
    method: str = "sde",
    error=None,
    *,
    v: float = 1.0,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    initial: Gaussian | None = None,
    path: str = "auto",
    dtype=torch.float64,
) -> dict[int, Gaussian]:
    """Exact output laws of PIADM for several K at once (one backward sweep per block).

    Same arguments as :func:`exact_law`; ``Ks`` is an int or a list of them. Returns
    ``{K: Gaussian}``. The cost is that of the largest K.
    """
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if not isinstance(scheme, SDEScheme):
        raise TypeError(f"scheme must be an SDEScheme, got {type(scheme).__name__}")
    v = check_v(v)
    model = _AffineScore(target, error, path, scheme.initial_variance, initial)
    if method == "sequential_sde":
        Ks = [0]
        if scheme.score_point != "left":
            raise ValueError("method='sequential_sde' needs an explicit scheme (score_point='left')")
    elif method == "sde":
        Ks = positive_ints(Ks, "K")
    elif method == "ode":
        raise ValueError("exact_laws covers method='sde' and 'sequential_sde'; use exact_law(..., method='ode')")
    else:
        raise ValueError(f"method must be 'sde', 'sequential_sde' or 'ode', got {method!r}")
    laws = {k: model.initial_law() for k in Ks}
    for block in grid:
        if method == "sequential_sde":
            maps = {0: sequential_block_map(block, model, scheme, v)}
        else:
            maps = picard_block_maps(block, model, scheme, v, Ks)
        laws = {k: maps[k].push(*laws[k]) for k in Ks}
    return {k: model.to_gaussian(m, P, dtype) for k, (m, P) in laws.items()}


def exact_law(
    target: Gaussian,
    grid: TimeGrid,
    method: str = "sde",
    K: int | None = None,
    error=None,
    *,
    v: float = 1.0,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    initial: Gaussian | None = None,
    path: str = "auto",
    dtype=torch.float64,
    **method_options,
) -> Gaussian:
    """The exact law of a sampler's output on a Gaussian target, as an ``analytic.Gaussian`` (SPEC.md §8).

    Parameters
    ----------
    target : ``analytic.Gaussian`` ``p_0``.
    grid : the sampler's :class:`TimeGrid`.
    method : ``"sde"`` (PIADM-SDE with K Picard iterations, general ``v``), ``"sequential_sde"``
        (the exponential-integrator reference), or ``"ode"`` (PIADM-ODE; see :mod:`piadm_verify.ode`).
    K : Picard iterations per block (``"sde"``, ``"ode"``).
    error : None (exact score) or an affine error: an injected score from
        :func:`~piadm_verify.errors.inject_error` with kind ``bias``/``affine``/``pulse``, or any
        object with ``affine_terms(s) -> (E, f)`` meaning ``e(x, s) = E_s x + f_s`` (E: (M, d)
        diagonal or (M, d, d); either may be None).
    v, scheme : as for :func:`~piadm_verify.sde.piadm_sde`; the oracle follows the same scheme.
    initial : law of ``ŷ_{t_0}`` (default ``N(0, scheme.initial_variance · I)``).
    path : ``"auto"`` (fast when the target, the error and the initial law share an eigenbasis),
        ``"fast"`` or ``"dense"``.

    Compare with ``p_η = target.marginal(grid.eta)``, e.g. ``gaussian_kl(p_η, law)``.
    """
    if method == "ode":
        from .ode import exact_law_ode  # the ODE module builds on this one

        if K is None:
            raise ValueError("K is required for method='ode'")
        return exact_law_ode(target, grid, K, error=error, initial=initial, path=path, dtype=dtype, scheme=scheme,
                             **method_options)
    if method_options:
        raise TypeError(f"unexpected options for method={method!r}: {sorted(method_options)}")
    if method == "sde" and K is None:
        raise ValueError("K is required for method='sde'")
    laws = exact_laws(target, grid, K if method == "sde" else 1, method, error, v=v, scheme=scheme,
                      initial=initial, path=path, dtype=dtype)
    return next(iter(laws.values()))
