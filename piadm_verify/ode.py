"""PIADM-ODE: a Picard predictor on the probability-flow ODE plus a parallel underdamped-Langevin
corrector (SPEC.md §5), its sequential reference, and its exact law on Gaussian targets.

Predictor: the blocks of :func:`~piadm_verify.sde.picard_block` with ``v = 0`` (no noise):
``Y_{j+1} = e^{ε_j/2} Y_j + (e^{ε_j/2} - 1) S_j``.

Corrector, after each predictor block, at the block's end level ``s* = T - t_{n+1}`` with force
``F(x) = score(x, s*)``: underdamped Langevin ``dx = v du``, ``dv = (F - γ v) du + √(2γ) dB`` for
``N†`` sub-blocks of ``M†`` steps ``ε† = h†/M†``, integrated with the force frozen over each step
(:class:`~piadm_verify.schemes.KineticStep`):
``v_{j+1} = a v_j + b F_j + ξ_{v,j}``, ``x_{j+1} = x_j + b v_j + c F_j + ξ_{x,j}``,
``a = e^{-γε†}``, ``b = (1-a)/γ``, ``c = (ε† - b)/γ``. Parallelised like the predictor: in each
sub-block, ``K†`` Picard iterations evaluate the forces of all ``M†`` points in one batch from the
previous iterate's positions (the first iterate puts every point at the sub-block's start), the
noise is drawn once per sub-block and shared by all ``K†`` iterations, the velocity carries over
from one sub-block to the next, a fresh velocity ``v ~ N(0, I)`` starts each corrector, and the
corrector passes its positions on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from analytic import Gaussian

from ._common import NonFiniteError, SamplerResult, evaluate_score, positive_int, positive_ints, residual, setup
from .grid import TimeGrid
from .noise import NoiseSource
from .oracle import BlockMap, _AffineScore, picard_block_maps, sequential_block_map
from .schemes import EXPONENTIAL_INTEGRATOR, KineticStep, SDEScheme
from .sde import picard_block, sequential_block

__all__ = ["Corrector", "piadm_ode", "sequential_ode", "exact_law_ode", "exact_laws_ode"]

_WORK = torch.float64
_SCAN_EXPONENT = 20.0  # largest γ ε† L of one span of the corrector's velocity scan (e^20 ≈ 5·10⁸)


@dataclass(frozen=True)
class Corrector:
    """The corrector's parameters (API.md: ``corrector=dict(K, steps, sub_blocks, h, gamma)``).

    ``K``: Picard iterations per sub-block (K†); ``steps``: steps per sub-block (M†);
    ``sub_blocks``: N†; ``h``: the length of ONE sub-block (h†; the corrector runs for N†·h†);
    ``gamma``: the friction γ.

    The last three fields describe the algorithm of SPEC.md §5 by default; the others exist so
    that the suite can express corrector faults in the language the oracle reads:
    ``shared_noise`` (False: noise redrawn at every Picard iteration), ``refresh_velocity``
    (False: the velocity carries over from one corrector to the next instead of being redrawn),
    ``noise_correlation`` (the factor on ``Cov(ξ_x, ξ_v)``; 1 is correct, 0 drops the correlation),
    ``temperature`` (the factor on the noise covariance; 1 samples the score's own law ``p_{s*}``,
    any other value a tempered one).
    """

    K: int = 4
    steps: int = 32
    sub_blocks: int = 1
    h: float = 1.0
    gamma: float = 2.0
    shared_noise: bool = True
    refresh_velocity: bool = True
    noise_correlation: float = 1.0
    temperature: float = 1.0

    def __post_init__(self):
        positive_int(self.K, "corrector K")
        positive_int(self.steps, "corrector steps")
        positive_int(self.sub_blocks, "corrector sub_blocks")
        for name in ("h", "gamma"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not (math.isfinite(val) and val > 0):
                raise ValueError(f"corrector {name} must be a finite number > 0, got {val!r}")
        if not (isinstance(self.noise_correlation, (int, float)) and -1.0 <= self.noise_correlation <= 1.0):
            raise ValueError(f"corrector noise_correlation must lie in [-1, 1], got {self.noise_correlation!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"corrector temperature must be a finite number > 0, got {self.temperature!r}")

    @classmethod
    def make(cls, corrector) -> "Corrector | None":
        """From None, a ``Corrector`` or a dict of its fields."""
        if corrector is None or isinstance(corrector, Corrector):
            return corrector
        if isinstance(corrector, dict):
            unknown = set(corrector) - set(cls.__dataclass_fields__)
            if unknown:
                raise ValueError(f"unknown corrector options {sorted(unknown)}; allowed: {sorted(cls.__dataclass_fields__)}")
            return cls(**corrector)
        raise TypeError(f"corrector must be None, a dict or a Corrector, got {type(corrector).__name__}")

    @property
    def kinetic(self) -> KineticStep:
        """The frozen-force step of length ``ε† = h†/M†``."""
        return KineticStep(self.h / self.steps, float(self.gamma))

    @property
    def noise_coefficients(self) -> tuple[float, float, float]:
        """``(σ_v, ρ_x, σ_x)`` with ``ξ_v = σ_v z₁``, ``ξ_x = ρ_x z₁ + σ_x z₂`` for standard normals z."""
        k = self.kinetic
        cov = self.noise_correlation * k.cov_xv
        sigma_v = math.sqrt(k.var_v)
        rho_x = cov / sigma_v
        scale = math.sqrt(self.temperature)
        return scale * sigma_v, scale * rho_x, scale * math.sqrt(max(k.var_x - rho_x**2, 0.0))

    @property
    def noise_covariance(self) -> torch.Tensor:
        """``Cov(ξ_x, ξ_v)`` per coordinate as a 2×2 matrix (temperature and correlation applied)."""
        k = self.kinetic
        cov = self.noise_correlation * k.cov_xv
        return self.temperature * torch.tensor([[k.var_x, cov], [cov, k.var_v]], dtype=_WORK)

    @property
    def rounds_per_block(self) -> int:
        """``N† K†``."""
        return self.sub_blocks * self.K


# -- samplers ----------------------------------------------------------------------------------------
def _corrector_noise(noise: NoiseSource, corrector: Corrector):
    """``(ξ_x, ξ_v)``, each (M†, n, d), from two standard-normal draws (one tensor (2, M†, n, d))."""
    sigma_v, rho_x, sigma_x = corrector.noise_coefficients
    z = noise.standard(2, corrector.steps)
    return rho_x * z[0] + sigma_x * z[1], sigma_v * z[0]


def _velocity_scan(v: torch.Tensor, drive: torch.Tensor, grow: torch.Tensor, shrink: torch.Tensor) -> torch.Tensor:
    """All velocities of ``v_{j+1} = a v_j + drive_j``, (M+1, n, d) from v (n, d) and drive (M, n, d).

    Over a span of L steps from ``v_s``, ``v_{s+i} = a^i (v_s + Σ_{j<i} a^{-(j+1)} drive_{s+j})``: a
    cumulative sum, with ``grow[i] = a^i`` (L+1) and ``shrink[i] = a^{-(i+1)}`` (L). Spans restart
    from their last velocity, so the factors stay within ``e^{±γ ε† L}`` however long the sub-block.
    """
    span = shrink.shape[0]
    pieces = []
    for start in range(0, drive.shape[0], span):
        u = drive[start : start + span]
        piece = grow[: u.shape[0] + 1] * torch.cat([v[None], v + torch.cumsum(shrink[: u.shape[0]] * u, dim=0)])
        pieces.append(piece[:-1])
        v = piece[-1]
    return torch.cat(pieces + [v[None]])


def _picard_corrector(score, level: float, x: torch.Tensor, v: torch.Tensor, corrector: Corrector, noise: NoiseSource,
                      max_points, block: int, residuals: list):
    """The parallel corrector at forward level ``s* = level``; returns the final (x, v)."""
    k = corrector.kinetic
    M = corrector.steps
    times = torch.full((M, 1), level, dtype=x.dtype, device=x.device)
    # a^{-(j+1)} turns the velocity recursion into a cumulative sum; a span of L steps scales by up
    # to a^{-L} = e^{γ ε† L}, kept ≤ e^{_SCAN_EXPONENT} (one span, L = M†, unless γ h† exceeds it).
    span = min(M, max(1, int(_SCAN_EXPONENT / (k.gamma * k.step))))
    powers = torch.arange(span + 1, dtype=x.dtype, device=x.device)
    grow = torch.exp(-k.gamma * k.step * powers)[:, None, None]
    shrink = torch.exp(k.gamma * k.step * powers[1:])[:, None, None]
    b, c = k.velocity_force, k.position_force
    for sub in range(corrector.sub_blocks):
        shared = _corrector_noise(noise, corrector) if corrector.shared_noise else None
        path = x.expand(M + 1, *x.shape)
        res = torch.zeros(corrector.K, dtype=x.dtype, device=x.device)
        for it in range(corrector.K):
            xi_x, xi_v = shared if shared is not None else _corrector_noise(noise, corrector)
            force = evaluate_score(score, path[:M], times, max_points)
            velocities = _velocity_scan(v, b * force + xi_v, grow, shrink)
            new = torch.cat([x[None], x + torch.cumsum(b * velocities[:M] + c * force + xi_x, dim=0)])
            if not torch.isfinite(new).all():
                what = "force" if not torch.isfinite(force).all() else "corrector iterate"
                raise NonFiniteError("piadm_ode", what, block, it, stage=f"corrector sub-block {sub}, Picard iteration")
            res[it] = residual(new, path)
            path = new
        residuals.append(res)
        x, v = path[-1], velocities[-1]
    return x, v


def _sequential_corrector(score, level: float, x: torch.Tensor, v: torch.Tensor, corrector: Corrector,
                          noise: NoiseSource, block: int):
    """The corrector step by step (one force call per step) at forward level ``s* = level``; returns (x, v)."""
    k = corrector.kinetic
    time = torch.tensor([[level]], dtype=x.dtype, device=x.device)
    a, b, c = k.a, k.velocity_force, k.position_force
    for sub in range(corrector.sub_blocks):
        xi_x, xi_v = _corrector_noise(noise, corrector)
        stage = f"corrector sub-block {sub}, step"
        for j in range(corrector.steps):
            force = evaluate_score(score, x[None], time, None)[0]
            if not torch.isfinite(force).all():
                raise NonFiniteError("sequential_ode", "force", block, j, stage=stage)
            x, v = x + b * v + c * force + xi_x[j], a * v + b * force + xi_v[j]
            if not torch.isfinite(x).all():
                raise NonFiniteError("sequential_ode", "corrector iterate", block, j, stage=stage)
    return x, v


def _run_ode(parallel: bool, score, grid, K, n, dim, x0, generator, dtype, device, corrector, max_points, scheme):
    corrector = Corrector.make(corrector)
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme)
    y = env.x0 if env.x0 is not None else env.noise.initial(scheme.initial_variance)
    velocity = None
    residuals: list = []
    name = "piadm_ode" if parallel else "sequential_ode"
    for block in grid:
        if parallel:
            y, res, _ = picard_block(env.score, block, y, K, scheme, 0.0, env.noise, max_points, sampler=name)
            residuals.append(res)
        else:
            y = sequential_block(env.score, block, y, scheme, 0.0, env.noise, sampler=name)
        if corrector is None:
            continue
        if velocity is None or corrector.refresh_velocity:
            velocity = env.noise.standard()
        if parallel:
            y, velocity = _picard_corrector(env.score, block.end_time, y, velocity, corrector, env.noise, max_points,
                                            block.index, residuals)
        else:
            y, velocity = _sequential_corrector(env.score, block.end_time, y, velocity, corrector, env.noise, block.index)
    return y, corrector, residuals


@torch.no_grad()
def piadm_ode(
    score,
    grid: TimeGrid,
    K: int,
    n: int | None = None,
    dim: int | None = None,
    *,
    corrector=None,
    x0: torch.Tensor | None = None,
    generator=None,
    dtype: torch.dtype | None = None,
    device=None,
    max_points_per_call: int | None = None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    trace: bool = False,
) -> SamplerResult:
    """PIADM-ODE: Picard predictor on the probability-flow ODE and a parallel underdamped-Langevin
    corrector after every block (SPEC.md §5; see the module docstring for the formulas).

    Parameters as :func:`~piadm_verify.sde.piadm_sde` (the predictor uses ``v = 0``), plus
    ``corrector``: None (bare predictor), a :class:`Corrector` or a dict
    ``dict(K=K†, steps=M†, sub_blocks=N†, h=h†, gamma=γ)``.

    Noise layout (shared with :func:`sequential_ode`): the initial draw, then per block a fresh
    velocity (n, d) and per sub-block one (2, M†, n, d) standard-normal tensor. Returns a
    :class:`~piadm_verify._common.SamplerResult` with ``rounds = N (K + N† K†)``,
    ``score_evals = K Σ M_n + N N† K† M†``, ``peak_points = max(max M_n, M†)``.
    """
    K = positive_int(K, "K")
    if max_points_per_call is not None:
        positive_int(max_points_per_call, "max_points_per_call")
    y, corr, residuals = _run_ode(True, score, grid, K, n, dim, x0, generator, dtype, device, corrector,
                                  max_points_per_call, scheme)
    per_block = 0 if corr is None else corr.rounds_per_block
    return SamplerResult(
        samples=y,
        rounds=grid.blocks * (K + per_block),
        score_evals=K * grid.total_steps + grid.blocks * per_block * (0 if corr is None else corr.steps),
        peak_points=max(grid.max_steps, 0 if corr is None else corr.steps),
        trace=tuple(residuals) if trace else None,
    )


@torch.no_grad()
def sequential_ode(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    corrector=None,
    x0: torch.Tensor | None = None,
    generator=None,
    dtype: torch.dtype | None = None,
    device=None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
) -> SamplerResult:
    """The sequential predictor (exponential integrator, ``v = 0``) and sequential corrector on the
    same grid, with :func:`piadm_ode`'s noise layout (one seed, one Brownian path for both).
    ``rounds = score_evals = Σ M_n + N N† M†``, ``peak_points = 1``."""
    if scheme.score_point != "left":
        raise ValueError("sequential_ode needs an explicit scheme (score_point='left')")
    y, corr, _ = _run_ode(False, score, grid, 1, n, dim, x0, generator, dtype, device, corrector, None, scheme)
    steps = grid.total_steps + (0 if corr is None else grid.blocks * corr.sub_blocks * corr.steps)
    return SamplerResult(samples=y, rounds=steps, score_evals=steps, peak_points=1)


# -- exact law ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _KineticMaps:
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
    def cached(cls, corrector: Corrector) -> "_KineticMaps":
        """:meth:`build`, remembered for the last few correctors (the matrices are (M†+1)² each)."""
        return cls.build(corrector)

    @classmethod
    def build(cls, corrector: Corrector) -> "_KineticMaps":
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


def _kinetic_maps(maps: _KineticMaps, J: torch.Tensor, f: torch.Tensor, corrector: Corrector, Ks: list[int]) -> dict:
    """One sub-block after K† iterations, for every K† in ``Ks``: ``{K†: (A, c, V)}`` with
    ``(x, v) ↦ A (x, v) + c + N(0, V)`` per class.

    J (C, p, p) and f (C, p) give the force ``F = J x + f``. Row recurrences ``r_{i+1} = r_i L``
    from ``r_0 = e_M`` (end position) and ``u_0 = w`` (end velocity), as in the predictor's oracle;
    one sweep serves every K†.
    """
    C, p = J.shape[0], J.shape[-1]
    k_max = max(Ks)
    as_t = lambda a: torch.as_tensor(a, dtype=_WORK)
    G, phi, Px, Pv, w = as_t(maps.G), as_t(maps.phi), as_t(maps.Px), as_t(maps.Pv), as_t(maps.w)
    M = w.shape[0]
    eye = torch.eye(p, dtype=_WORK).expand(C, p, p)

    def against(rows, matrix):  # Σ_m rows[:, m] matrix[m, j] for rows (C, M+1, p, p)
        return (rows.permute(0, 2, 3, 1) @ matrix).permute(0, 3, 1, 2)

    def step(r):  # r (C, M+1, p, p) -> r L
        out = torch.zeros_like(r)
        out[:, :M] = against(r, G) @ J[:, None]
        return out

    r = [torch.zeros(C, M + 1, p, p, dtype=_WORK)]
    r[0][:, M] = eye
    u = [torch.zeros(C, M + 1, p, p, dtype=_WORK)]
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
    sigma = torch.kron(corrector.noise_covariance, torch.eye(p, dtype=_WORK))

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
        out[K] = (A, torch.cat([const_x, const_v], -1), V)
    return out


def _kinetic_map(maps: _KineticMaps, J: torch.Tensor, f: torch.Tensor, corrector: Corrector):
    """:func:`_kinetic_maps` at the corrector's own K†."""
    return _kinetic_maps(maps, J, f, corrector, [corrector.K])[corrector.K]


def _sequential_kinetic_map(J: torch.Tensor, f: torch.Tensor, corrector: Corrector):
    """One sub-block of the sequential corrector (= K† ≥ M† with shared noise): the product of the
    per-step maps ``(x, v) ↦ [[I + cJ, bI], [bJ, aI]] (x, v) + (c f, b f) + (ξ_x, ξ_v)``."""
    C, p = J.shape[0], J.shape[-1]
    k = corrector.kinetic
    a, b, c = k.a, k.velocity_force, k.position_force
    eye = torch.eye(p, dtype=_WORK).expand(C, p, p)
    S = torch.cat([torch.cat([eye + c * J, b * eye], -1), torch.cat([b * J, a * eye], -1)], -2)
    shift = torch.cat([c * f, b * f], -1)
    sigma = torch.kron(corrector.noise_covariance, torch.eye(p, dtype=_WORK))
    A = torch.eye(2 * p, dtype=_WORK).repeat(C, 1, 1)
    const = torch.zeros(C, 2 * p, dtype=_WORK)
    V = torch.zeros(C, 2 * p, 2 * p, dtype=_WORK)
    for _ in range(corrector.steps):
        A, const, V = S @ A, (S @ const[..., None])[..., 0] + shift, S @ V @ S.transpose(-1, -2) + sigma
    return A, const, V


def joint_with_fresh_velocity(mean: torch.Tensor, cov: torch.Tensor):
    """The law of (x, v) with x ~ N(mean, cov) (per class: (C, p), (C, p, p)) and an independent v ~ N(0, I)."""
    C, p = mean.shape
    joint_mean = torch.cat([mean, torch.zeros(C, p, dtype=_WORK)], -1)
    joint_cov = torch.zeros(C, 2 * p, 2 * p, dtype=_WORK)
    joint_cov[:, :p, :p] = cov
    joint_cov[:, p:, p:] = torch.eye(p, dtype=_WORK)
    return joint_mean, joint_cov


def _push(A, c, V, mean, cov):
    """:meth:`~piadm_verify.oracle.BlockMap.push` for a map given as the triple ``(A, c, V)``."""
    return BlockMap(A, c, V).push(mean, cov)


def _force_terms(model: _AffineScore, level: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``F = J x + f`` of the corrector at forward level ``s*``, per class: J (C, p, p), f (C, p)."""
    s = np.array([level])
    if model.fast:
        lam, mu = model.class_parameters()
        E, f = model.class_error_terms(s)
        lam_s = math.exp(-level) * lam - math.expm1(-level)
        J = -1.0 / lam_s + (E[0] if E.shape[0] else 0.0)
        off = math.exp(-0.5 * level) * mu / lam_s + (f[0] if f.shape[0] else 0.0)
        return torch.as_tensor(J, dtype=_WORK)[:, None, None], torch.as_tensor(off, dtype=_WORK)[:, None]
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
    model = _AffineScore(target, error, path, scheme.initial_variance, initial)
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
            J, f = _force_terms(model, block.end_time)
            converged = [Kc for Kc in corrector_Ks if corrector.shared_noise and Kc >= corrector.steps]
            if converged:
                seq = _sequential_kinetic_map(J, f, corrector)
                correctors.update({Kc: seq for Kc in converged})
            rest = [Kc for Kc in corrector_Ks if Kc not in correctors]
            if rest:
                correctors.update(_kinetic_maps(_KineticMaps.cached(corrector), J, f, corrector, rest))
        for (K, Kc), (joint_mean, joint_cov) in laws.items():
            pred = predictor[K]
            # The predictor moves x only; v waits (and is redrawn by a refreshing corrector).
            A = torch.eye(2 * p, dtype=_WORK).repeat(C, 1, 1)
            A[:, :p, :p] = pred.A
            c = torch.cat([pred.c, torch.zeros(C, p, dtype=_WORK)], -1)
            V = torch.zeros(C, 2 * p, 2 * p, dtype=_WORK)
            V[:, :p, :p] = pred.V
            joint_mean, joint_cov = _push(A, c, V, joint_mean, joint_cov)
            if corrector is not None:
                if corrector.refresh_velocity:
                    joint_mean, joint_cov = joint_with_fresh_velocity(joint_mean[:, :p], joint_cov[:, :p, :p])
                for _ in range(corrector.sub_blocks):
                    joint_mean, joint_cov = _push(*correctors[Kc], joint_mean, joint_cov)
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
    (SPEC.md §8). Called as ``exact_law(target, grid, "ode", K, corrector=..., error=...)``.

    The predictor blocks use the SDE oracle with ``v = 0``; the corrector is linear in the joint
    position–velocity state, so each sub-block is an affine-Gaussian map of (x, v) computed by the
    same backward row recurrences (:class:`_KineticMaps`). Fast per-coordinate path or dense path
    as for the SDE oracle.
    """
    laws = exact_laws_ode(target, grid, K, corrector, error, initial=initial, path=path, dtype=dtype, scheme=scheme)
    return next(iter(laws.values()))
