"""Exact law of the samplers on Gaussian targets with affine scores (docs/mathematics.md §8).

With ``p_0 = N(μ, Σ)`` and a score that is affine in x at every grid time — the exact score
``-Σ_s^{-1}(x - μ_s)`` plus an optional affine error ``e(x, s) = E_s x + f_s`` — every Picard
iterate is affine in the Gaussian inputs (the initial draw and the ζ's), so the output is exactly
Gaussian. Per block the output is ``A y_0 + Σ_j B_j ζ_j + c``; the laws compose block by block:
``m ← A m + c``, ``P ← A P Aᵀ + V`` with ``V = Σ_j Var(ζ_j) B_j B_jᵀ``.

**Final-row coefficients by backward scans.** Write one Picard iteration of a block (docs/mathematics.md §4)
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

import numpy as np
import torch

from analytic import Gaussian

from ..core.checks import check_v, positive_ints
from ..core.grid import GridBlock, TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from .affine import WORK_DTYPE, AffineScore, BlockMap
from .kernels import picard_maps, sequential_maps, time_factors

__all__ = ["exact_laws", "picard_block_maps", "sequential_block_map"]


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


def picard_block_maps(block: GridBlock, model: AffineScore, scheme: SDEScheme, v: float, Ks: list[int]) -> dict[int, BlockMap]:
    """The block's affine-Gaussian map after K Picard iterations, for every K in ``Ks`` (one sweep)."""
    log_grow, shrink, weight, noise_var, s_eval = _block_coefficients(block, scheme, v)
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(s_eval)
        A, c, V = picard_maps(time_factors(s_eval), np.exp(log_grow), shrink, weight, noise_var, scheme.score_offset,
                              lam, mu, E, f, np.asarray(Ks, dtype=np.int64), scheme.shared_noise)
        as_t = lambda a: torch.as_tensor(a, dtype=WORK_DTYPE)
        return {K: BlockMap(as_t(A[q])[:, None, None], as_t(c[q])[:, None], as_t(V[q])[:, None, None])
                for q, K in enumerate(Ks)}
    return _dense_picard_maps(model, log_grow, shrink, weight, noise_var, s_eval, scheme, Ks)


def _dense_picard_maps(model, log_grow, shrink, weight, noise_var, s_eval, scheme, Ks) -> dict[int, BlockMap]:
    """The backward scans with d×d coefficient blocks, in reversed point order (l = M-1-j)."""
    M = shrink.shape[0]
    o = scheme.score_offset
    rev = lambda a: torch.as_tensor(np.ascontiguousarray(a[::-1]), dtype=WORK_DTYPE)
    J, b = model.terms(s_eval)
    J, b = J.flip(0), b.flip(0)
    shrink_w = rev(shrink * weight)
    noise_w = rev(noise_var * shrink * shrink)
    step_matrix = rev(np.exp(log_grow[o : o + M]) * shrink * weight)[:, None, None, None] * J
    inv_grow = rev(np.exp(-log_grow))
    C, p = model.C, model.p
    eye = torch.eye(p, dtype=WORK_DTYPE).expand(C, p, p)
    u = torch.zeros(M + 1, C, p, p, dtype=WORK_DTYPE)  # u_i[m] = r_i[m] D_m, reversed in m
    u[0] = float(np.exp(log_grow[-1])) * eye
    rho = torch.empty_like(u)
    R = torch.zeros(M, C, p, p, dtype=WORK_DTYPE)
    alpha_sum = torch.zeros(C, p, p, dtype=WORK_DTYPE)
    redraw_V = torch.zeros(C, p, p, dtype=WORK_DTYPE)
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


def sequential_block_map(block: GridBlock, model: AffineScore, scheme: SDEScheme, v: float) -> BlockMap:
    """The block's map under the sequential scheme: the product of ``x ↦ (d_j + c_j J_j) x + c_j b_j + v ζ_j``."""
    eps = block.steps
    decay, weight = scheme.decay(eps), scheme.score_weight(eps, v)
    noise_var = scheme.noise_variance(eps) * v * v
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(block.score_times)
        A, c, V = sequential_maps(time_factors(block.score_times), decay, weight, noise_var, lam, mu, E, f)
        as_t = lambda a: torch.as_tensor(a, dtype=WORK_DTYPE)
        return BlockMap(as_t(A)[:, None, None], as_t(c)[:, None], as_t(V)[:, None, None])
    J, b = model.terms(block.score_times)
    eye = torch.eye(model.p, dtype=WORK_DTYPE)
    A = eye.expand(model.C, -1, -1).clone()
    c = torch.zeros(model.C, model.p, dtype=WORK_DTYPE)
    V = torch.zeros(model.C, model.p, model.p, dtype=WORK_DTYPE)
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
    model = AffineScore(target, error, path, scheme.initial_variance, initial)
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
