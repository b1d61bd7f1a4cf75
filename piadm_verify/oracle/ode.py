"""The exact law of PIADM-ODE on Gaussian targets with affine scores (docs/mathematics.md §5, §8).

The predictor blocks are the SDE oracle's block maps with ``v = 0``
(:func:`~piadm_verify.oracle.sde.picard_block_maps`); the corrector is linear in the joint
position–velocity state, so each sub-block is an affine-Gaussian map of (x, v)
(:class:`~piadm_verify.oracle.affine.BlockMap` on 2p coordinates), computed by the same backward
row recurrences (:class:`KineticMaps`). Fast per-coordinate path or dense path as for the SDE.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from analytic import Gaussian

from ..core.checks import positive_ints
from ..core.grid import TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, Corrector, SDEScheme
from .affine import WORK_DTYPE, AffineScore, BlockMap
from .sde import picard_block_maps, sequential_block_map

__all__ = ["KineticMaps", "kinetic_maps", "kinetic_map", "force_terms", "joint_with_fresh_velocity", "exact_laws_ode",
           "exact_law_ode"]


@dataclass(frozen=True)
class KineticMaps:
    """The corrector's per-sub-block matrices on the M† + 1 positions (shared by every class).

    With ``F_j = J x_j + f`` the Picard iteration on positions is ``X ← L X + g`` where
    ``(L X)_m = Σ_{j<m} G[m, j] J X_j``, ``G[m, j] = c + b² (1 - a^{m-1-j})/(1 - a)``; the start
    enters as ``x₀ 1 + v₀ φ`` with ``φ_m = b Σ_{j<m} a^j``, the noise as ``Px ξ_x + Pv ξ_v`` with
    ``Px[m, j] = 1`` and ``Pv[m, i] = b (1 - a^{m-1-i})/(1 - a)`` for ``j, i < m``, and the end
    velocity reads the positions through ``w_j = a^{M-1-j}``.
    """

    G: np.ndarray
    phi: np.ndarray
    Px: np.ndarray
    Pv: np.ndarray
    w: np.ndarray
    a_M: float
    b: float

    @classmethod
    @functools.lru_cache(maxsize=8)
    def cached(cls, corrector: Corrector) -> "KineticMaps":
        """:meth:`build`, remembered for the last few correctors (the matrices are (M†+1)² each)."""
        return cls.build(corrector)

    @classmethod
    def build(cls, corrector: Corrector) -> "KineticMaps":
        k = corrector.kinetic
        M, a, b, c = corrector.steps, k.a, k.velocity_force, k.position_force
        m = np.arange(M + 1)[:, None]
        j = np.arange(M)[None, :]
        lag = m - 1 - j
        below = lag >= 0
        # (1 - a^n)/(1 - a) = Σ_{i<n} a^i, evaluated stably as -expm1(n log a)/(1 - a).
        geometric = np.where(below, -np.expm1(np.maximum(lag, 0) * math.log(a)) / k.one_minus_a, 0.0)
        G = np.where(below, c + b * b * geometric, 0.0)
        Pv = np.where(below, b * geometric, 0.0)
        Px = below.astype(np.float64)
        phi = b * (-np.expm1(np.arange(M + 1) * math.log(a)) / k.one_minus_a)
        w = a ** (M - 1 - np.arange(M))
        return cls(G, phi, Px, Pv, w, a**M, b)


def kinetic_maps(maps: KineticMaps, J: torch.Tensor, f: torch.Tensor, corrector: Corrector, Ks: list[int]) -> dict:
    """One sub-block after K† iterations, for every K† in ``Ks``: ``{K†: BlockMap(A, c, V)}`` with
    ``(x, v) ↦ A (x, v) + c + N(0, V)`` per class.

    J (C, p, p) and f (C, p) give the force ``F = J x + f``. Row recurrences ``r_{i+1} = r_i L``
    from ``r_0 = e_M`` (end position) and ``u_0 = w`` (end velocity), as in the predictor's oracle;
    one sweep serves every K†.
    """
    C, p = J.shape[0], J.shape[-1]
    k_max = max(Ks)
    as_t = lambda a: torch.as_tensor(a, dtype=WORK_DTYPE)
    G, phi, Px, Pv, w = as_t(maps.G), as_t(maps.phi), as_t(maps.Px), as_t(maps.Pv), as_t(maps.w)
    M = w.shape[0]
    eye = torch.eye(p, dtype=WORK_DTYPE).expand(C, p, p)

    def against(rows, matrix):  # Σ_m rows[:, m] matrix[m, j] for rows (C, M+1, p, p)
        return (rows.permute(0, 2, 3, 1) @ matrix).permute(0, 3, 1, 2)

    def step(r):  # r (C, M+1, p, p) -> r L
        out = torch.zeros_like(r)
        out[:, :M] = against(r, G) @ J[:, None]
        return out

    r = [torch.zeros(C, M + 1, p, p, dtype=WORK_DTYPE)]
    r[0][:, M] = eye
    u = [torch.zeros(C, M + 1, p, p, dtype=WORK_DTYPE)]
    u[0][:, :M] = w[None, :, None, None] * eye[:, None]
    for _ in range(k_max):
        r.append(step(r[-1]))
    for _ in range(k_max - 1):
        u.append(step(u[-1]))
    zeros = torch.zeros_like(u[0])
    total = lambda rows: rows.sum(1)  # Σ_m row[m] (C, p, p)
    dot = lambda rows, vec: torch.einsum("cmab,m->cab", rows, vec)
    g1 = G.sum(1)  # Σ_j G[m, j]
    bJ = maps.b * J
    sigma = torch.kron(corrector.noise_covariance, torch.eye(p, dtype=WORK_DTYPE))

    # Noise: draw q of the K† draws loads the end position through r_{K-1-q} and the end velocity
    # through b J u_{K-2-q} (and w for the last draw); a shared draw sums the loadings.
    def loadings(x_rows, v_rows, last):
        Lxx, Lxv = against(x_rows, Px), against(x_rows, Pv)
        Lvx, Lvv = bJ[:, None] @ against(v_rows, Px), bJ[:, None] @ against(v_rows, Pv)
        if last:
            Lvv = Lvv + w[None, :, None, None] * eye[:, None]
        return torch.cat([torch.cat([Lxx, Lxv], -1), torch.cat([Lvx, Lvv], -1)], -2)  # (C, M, 2p, 2p)

    out = {}
    for K in Ks:
        R = sum(r[:K])
        U = sum(u[: K - 1]) if K > 1 else zeros
        A_xx = total(r[K]) + total(R)
        A_xv = dot(R, phi)
        A_vx = bJ @ (total(u[K - 1]) + total(U))
        A_vv = maps.a_M * eye + bJ @ dot(U, phi)
        const_x = (dot(R, g1) @ f[..., None])[..., 0]
        const_v = (bJ @ dot(U, g1) @ f[..., None])[..., 0] + maps.b * float(w.sum()) * f
        A = torch.cat([torch.cat([A_xx, A_xv], -1), torch.cat([A_vx, A_vv], -1)], -2)
        if corrector.shared_noise:
            blocks = [loadings(R, U, True)]
        else:
            blocks = [loadings(r[K - 1 - q], u[K - 2 - q] if K - 2 - q >= 0 else zeros, q == K - 1) for q in range(K)]
        V = sum(torch.einsum("cjab,bd,cjed->cae", L, sigma, L) for L in blocks)
        out[K] = BlockMap(A, torch.cat([const_x, const_v], -1), V)
    return out


def kinetic_map(maps: KineticMaps, J: torch.Tensor, f: torch.Tensor, corrector: Corrector):
    """:func:`kinetic_maps` at the corrector's own K†."""
    return kinetic_maps(maps, J, f, corrector, [corrector.K])[corrector.K]


def _sequential_kinetic_map(J: torch.Tensor, f: torch.Tensor, corrector: Corrector):
    """One sub-block of the sequential corrector (= K† ≥ M† with shared noise): the product of the
    per-step maps ``(x, v) ↦ [[I + cJ, bI], [bJ, aI]] (x, v) + (c f, b f) + (ξ_x, ξ_v)``."""
    C, p = J.shape[0], J.shape[-1]
    k = corrector.kinetic
    a, b, c = k.a, k.velocity_force, k.position_force
    eye = torch.eye(p, dtype=WORK_DTYPE).expand(C, p, p)
    S = torch.cat([torch.cat([eye + c * J, b * eye], -1), torch.cat([b * J, a * eye], -1)], -2)
    shift = torch.cat([c * f, b * f], -1)
    sigma = torch.kron(corrector.noise_covariance, torch.eye(p, dtype=WORK_DTYPE))
    A = torch.eye(2 * p, dtype=WORK_DTYPE).repeat(C, 1, 1)
    const = torch.zeros(C, 2 * p, dtype=WORK_DTYPE)
    V = torch.zeros(C, 2 * p, 2 * p, dtype=WORK_DTYPE)
    for _ in range(corrector.steps):
        A, const, V = S @ A, (S @ const[..., None])[..., 0] + shift, S @ V @ S.transpose(-1, -2) + sigma
    return BlockMap(A, const, V)


def joint_with_fresh_velocity(mean: torch.Tensor, cov: torch.Tensor):
    """The law of (x, v) with x ~ N(mean, cov) (per class: (C, p), (C, p, p)) and an independent v ~ N(0, I)."""
    C, p = mean.shape
    joint_mean = torch.cat([mean, torch.zeros(C, p, dtype=WORK_DTYPE)], -1)
    joint_cov = torch.zeros(C, 2 * p, 2 * p, dtype=WORK_DTYPE)
    joint_cov[:, :p, :p] = cov
    joint_cov[:, p:, p:] = torch.eye(p, dtype=WORK_DTYPE)
    return joint_mean, joint_cov


def force_terms(model: AffineScore, level: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``F = J x + f`` of the corrector at forward level ``s*``, per class: J (C, p, p), f (C, p)."""
    s = np.array([level])
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(s)
        lam_s = math.exp(-level) * lam - math.expm1(-level)
        J = -1.0 / lam_s + (E[0] if E.shape[0] else 0.0)
        off = math.exp(-0.5 * level) * mu / lam_s + (f[0] if f.shape[0] else 0.0)
        return torch.as_tensor(J, dtype=WORK_DTYPE)[:, None, None], torch.as_tensor(off, dtype=WORK_DTYPE)[:, None]
    J, b = model.terms(s)
    return J[0], b[0]


def exact_laws_ode(
    target: Gaussian,
    grid: TimeGrid,
    Ks,
    corrector=None,
    error=None,
    *,
    corrector_Ks=None,
    initial: Gaussian | None = None,
    path: str = "auto",
    dtype=torch.float64,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
) -> dict:
    """Exact PIADM-ODE laws for several predictor counts ``Ks`` and corrector counts
    ``corrector_Ks`` (default: the corrector's K†) at once: ``{(K, K†): Gaussian}``.

    Converged counts (K ≥ M_n, or K† ≥ M† with shared noise) use the sequential maps, which they
    equal exactly (the discrete Picard maps are nilpotent), at O(M) instead of O(K·M) cost.
    """
    Ks = positive_ints(Ks, "K")
    corrector = Corrector.make(corrector)
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if corrector is None:
        corrector_Ks = [0]
    else:
        corrector_Ks = positive_ints(corrector.K if corrector_Ks is None else corrector_Ks, "corrector_Ks")
    model = AffineScore(target, error, path, scheme.initial_variance, initial)
    C, p = model.C, model.p
    start = joint_with_fresh_velocity(*model.initial_law())
    laws = {(K, Kc): start for K in Ks for Kc in corrector_Ks}
    explicit = scheme.score_point == "left"
    for block in grid:
        scanned = [K for K in Ks if not (explicit and K >= block.n_steps)]
        predictor = picard_block_maps(block, model, scheme, 0.0, scanned) if scanned else {}
        if len(scanned) < len(Ks):
            sequential = sequential_block_map(block, model, scheme, 0.0)
            predictor.update({K: sequential for K in Ks if K not in predictor})
        correctors = {}
        if corrector is not None:
            J, f = force_terms(model, block.end_time)
            converged = [Kc for Kc in corrector_Ks if corrector.shared_noise and Kc >= corrector.steps]
            if converged:
                seq = _sequential_kinetic_map(J, f, corrector)
                correctors.update({Kc: seq for Kc in converged})
            rest = [Kc for Kc in corrector_Ks if Kc not in correctors]
            if rest:
                correctors.update(kinetic_maps(KineticMaps.cached(corrector), J, f, corrector, rest))
        for (K, Kc), (joint_mean, joint_cov) in laws.items():
            pred = predictor[K]
            # The predictor moves x only; v waits (and is redrawn by a refreshing corrector).
            A = torch.eye(2 * p, dtype=WORK_DTYPE).repeat(C, 1, 1)
            A[:, :p, :p] = pred.A
            c = torch.cat([pred.c, torch.zeros(C, p, dtype=WORK_DTYPE)], -1)
            V = torch.zeros(C, 2 * p, 2 * p, dtype=WORK_DTYPE)
            V[:, :p, :p] = pred.V
            joint_mean, joint_cov = BlockMap(A, c, V).push(joint_mean, joint_cov)
            if corrector is not None:
                if corrector.refresh_velocity:
                    joint_mean, joint_cov = joint_with_fresh_velocity(joint_mean[:, :p], joint_cov[:, :p, :p])
                for _ in range(corrector.sub_blocks):
                    joint_mean, joint_cov = correctors[Kc].push(joint_mean, joint_cov)
            laws[(K, Kc)] = (joint_mean, joint_cov)
    return {key: model.to_gaussian(m[:, :p], P[:, :p, :p], dtype) for key, (m, P) in laws.items()}


def exact_law_ode(
    target: Gaussian,
    grid: TimeGrid,
    K: int,
    corrector=None,
    error=None,
    *,
    initial: Gaussian | None = None,
    path: str = "auto",
    dtype=torch.float64,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
) -> Gaussian:
    """The exact law of :func:`piadm_ode`'s output on a Gaussian target with an affine score
    (docs/mathematics.md §8). Called as ``exact_law(target, grid, "ode", K, corrector=..., error=...)``.

    The predictor blocks use the SDE oracle with ``v = 0``; the corrector is linear in the joint
    position–velocity state, so each sub-block is an affine-Gaussian map of (x, v) computed by the
    same backward row recurrences (:class:`KineticMaps`). Fast per-coordinate path or dense path
    as for the SDE oracle.
    """
    laws = exact_laws_ode(target, grid, K, corrector, error, initial=initial, path=path, dtype=dtype, scheme=scheme)
    return next(iter(laws.values()))
