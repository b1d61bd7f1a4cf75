"""PIADM-ODE: a Picard predictor on the probability-flow ODE plus a parallel underdamped-Langevin
corrector (docs/mathematics.md §5), and its sequential reference. Their exact law on Gaussian
targets is in :mod:`piadm_verify.oracle.ode`.

Predictor: the blocks of :func:`~piadm_verify.samplers.sde.picard_block` with ``v = 0`` (no noise):
``Y_{j+1} = e^{ε_j/2} Y_j + (e^{ε_j/2} - 1) S_j``.

Corrector, after each predictor block, at the block's end level ``s* = T - t_{n+1}`` with force
``F(x) = score(x, s*)``: underdamped Langevin ``dx = v du``, ``dv = (F - γ v) du + √(2γ) dB`` for
``N†`` sub-blocks of ``M†`` steps ``ε† = h†/M†``, integrated with the force frozen over each step
(:class:`~piadm_verify.core.schemes.KineticStep`; parameters in :class:`~piadm_verify.core.schemes.Corrector`):
``v_{j+1} = a v_j + b F_j + ξ_{v,j}``, ``x_{j+1} = x_j + b v_j + c F_j + ξ_{x,j}``,
``a = e^{-γε†}``, ``b = (1-a)/γ``, ``c = (ε† - b)/γ``. Parallelised like the predictor: in each
sub-block, ``K†`` Picard iterations evaluate the forces of all ``M†`` points in one batch from the
previous iterate's positions (the first iterate puts every point at the sub-block's start), the
noise is drawn once per sub-block and shared by all ``K†`` iterations, the velocity carries over
from one sub-block to the next, a fresh velocity ``v ~ N(0, I)`` starts each corrector, and the
corrector passes its positions on.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..core.checks import positive_int
from ..core.grid import TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, Corrector, SDEScheme
from .common import evaluate_score, residual, setup, start
from .result import NonFiniteError, RoundLog, SamplerResult
from .sde import picard_block, picard_counts, sequential_block

__all__ = ["piadm_ode", "sequential_ode"]

_SCAN_EXPONENT = 20.0  # largest γ ε† L of one span of the corrector's velocity scan (e^20 ≈ 5·10⁸)


# -- samplers ----------------------------------------------------------------------------------------
def _corrector_noise(noise, corrector: Corrector, key):
    """``(ξ_x, ξ_v)``, each (M†, n, d), from the tagged draw ``noise.extra(key, 2, M†)`` of standard normals."""
    sigma_v, rho_x, sigma_x = corrector.noise_coefficients
    z = noise.extra(key, 2, corrector.steps)
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


def _picard_corrector(score, level: float, x: torch.Tensor, v: torch.Tensor, corrector: Corrector, noise,
                      max_points, block: int, residuals: list, log: RoundLog):
    """The parallel corrector at forward level ``s* = level``; returns the final (x, v) and whether an
    adaptive corrector met its tolerance in every sub-block."""
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
    converged = True
    if corrector.tol is not None:  # ParaDiGMS's normalisation with the SDE variance of a step of length ε†
        tolerance = corrector.tol ** 2 * x.shape[-1] * math.expm1(k.step)
    for sub in range(corrector.sub_blocks):
        shared = _corrector_noise(noise, corrector, ("corrector", block, sub)) if corrector.shared_noise else None
        path = x.expand(M + 1, *x.shape)
        res = torch.zeros(corrector.iteration_limit, dtype=x.dtype, device=x.device)
        for it in range(corrector.iteration_limit):
            if shared is None:  # noise redrawn at every Picard iteration (a negative control)
                xi_x, xi_v = _corrector_noise(noise, corrector, ("corrector", block, sub, it))
            else:
                xi_x, xi_v = shared
            force = evaluate_score(score, path[:M], times, max_points)
            velocities = _velocity_scan(v, b * force + xi_v, grow, shrink)
            new = torch.cat([x[None], x + torch.cumsum(b * velocities[:M] + c * force + xi_x, dim=0)])
            if not torch.isfinite(new).all():
                what = "force" if not torch.isfinite(force).all() else "corrector iterate"
                raise NonFiniteError("piadm_ode", what, block, it, stage=f"corrector sub-block {sub}, Picard iteration")
            res[it] = residual(new, path)
            change = (new[1:] - path[1:]).pow(2).sum(-1) if corrector.tol is not None else None
            path = new
            log.round(block, it, M, res[it], stage="corrector", sub_block=sub)
            if change is not None and bool((change <= tolerance).all()):
                res = res[:it + 1]
                break
        else:
            converged = converged and corrector.tol is None
        residuals.append(res)
        x, v = path[-1], velocities[-1]
    return x, v, converged


def _sequential_corrector(score, level: float, x: torch.Tensor, v: torch.Tensor, corrector: Corrector,
                          noise, block: int, log: RoundLog):
    """The corrector step by step (one force call per step) at forward level ``s* = level``; returns (x, v)."""
    k = corrector.kinetic
    time = torch.tensor([[level]], dtype=x.dtype, device=x.device)
    a, b, c = k.a, k.velocity_force, k.position_force
    for sub in range(corrector.sub_blocks):
        xi_x, xi_v = _corrector_noise(noise, corrector, ("corrector", block, sub))
        stage = f"corrector sub-block {sub}, step"
        for j in range(corrector.steps):
            force = evaluate_score(score, x[None], time, None)[0]
            if not torch.isfinite(force).all():
                raise NonFiniteError("sequential_ode", "force", block, j, stage=stage)
            x, v = x + b * v + c * force + xi_x[j], a * v + b * force + xi_v[j]
            if not torch.isfinite(x).all():
                raise NonFiniteError("sequential_ode", "corrector iterate", block, j, stage=stage)
            log.round(block, j, 1, stage="corrector", sub_block=sub)
    return x, v


def _run_ode(parallel: bool, score, grid, K, n, dim, x0, generator, noise, dtype, device, corrector, max_points, scheme,
             callback, progress, tol=None, max_K=None):
    corrector = Corrector.make(corrector)
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    y = start(env, scheme.initial_variance)
    velocity = None
    residuals: list = []
    converged = True
    name = "piadm_ode" if parallel else "sequential_ode"
    adaptive = K is None or (corrector is not None and corrector.K is None)
    total = None
    if not adaptive:
        per_block = 0 if corrector is None else corrector.sub_blocks * (corrector.K if parallel else corrector.steps)
        total = grid.blocks * (K + per_block) if parallel else grid.total_steps + grid.blocks * per_block
    with RoundLog(name, total, callback, progress) as log:
        for block in grid:
            if parallel:
                limit = K if K is not None else (max_K or block.n_steps + 1)
                out = picard_block(env.score, block, y, limit, scheme, 0.0, env.noise, max_points, sampler=name,
                                   log=log, tol=tol)
                y, converged = out.value, converged and out.converged
                residuals.append(out.residuals)
            else:
                y, _ = sequential_block(env.score, block, y, scheme, 0.0, env.noise, sampler=name, log=log)
            if corrector is None:
                continue
            if velocity is None or corrector.refresh_velocity:
                velocity = env.noise.extra(("velocity", block.index))
            if parallel:
                y, velocity, done = _picard_corrector(env.score, block.end_time, y, velocity, corrector, env.noise,
                                                      max_points, block.index, residuals, log)
                converged = converged and done
            else:
                y, velocity = _sequential_corrector(env.score, block.end_time, y, velocity, corrector, env.noise,
                                                    block.index, log)
        if not parallel:
            return log.result(y)
        return log.result(y, trace=tuple(residuals), iterations=tuple(int(r.shape[0]) for r in residuals),
                          converged=converged)


@torch.no_grad()
def piadm_ode(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    K: int | None = None,
    tol: float | None = None,
    max_K: int | None = None,
    corrector=None,
    x0: torch.Tensor | None = None,
    generator=None,
    noise=None,
    dtype: torch.dtype | None = None,
    device=None,
    max_points_per_call: int | None = None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    trace: bool = False,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """PIADM-ODE: Picard predictor on the probability-flow ODE and a parallel underdamped-Langevin
    corrector after every block (docs/mathematics.md §5; see the module docstring for the formulas).

    Parameters as :func:`~piadm_verify.samplers.sde.piadm_sde` (the predictor uses ``v = 0``; ``K`` or
    adaptive ``tol``/``max_K``), plus ``corrector``: None (bare predictor), a
    :class:`~piadm_verify.core.schemes.Corrector` or a dict ``dict(K=K†, steps=M†, sub_blocks=N†,
    h=h†, gamma=γ)`` (adaptive: ``K=None, tol=…, max_K=…``). ``iterations``: the Picard iterations of
    every predictor block and corrector sub-block, in the order they ran. The ``callback`` sees the predictor's
    rounds (``stage="predictor"``) and the corrector's (``stage="corrector"``, with ``sub_block``).

    Noise (step-keyed, shared with :func:`sequential_ode`, :mod:`piadm_verify.core.noise`): the
    initial draw; after block n a fresh velocity ``extra(("velocity", n))`` (n, d) (with
    ``refresh_velocity=False``: ``("velocity", 0)``, once) and per sub-block m the normals
    ``extra(("corrector", n, m), 2, M†)`` that build ``(ξ_x, ξ_v)``. Returns a
    :class:`~piadm_verify.samplers.result.SamplerResult` with ``rounds = N (K + N† K†)``,
    ``score_evals = K Σ M_n + N N† K† M†``, ``peak_points = max(max M_n, M†)``.
    """
    K, tol, max_K = picard_counts(K, tol, max_K)
    if max_points_per_call is not None:
        positive_int(max_points_per_call, "max_points_per_call")
    out = _run_ode(True, score, grid, K, n, dim, x0, generator, noise, dtype, device, corrector, max_points_per_call,
                   scheme, callback, progress, tol, max_K)
    return out if trace else replace(out, trace=None)


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
    noise=None,
    dtype: torch.dtype | None = None,
    device=None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """The sequential predictor (exponential integrator, ``v = 0``) and sequential corrector on the
    same grid, with :func:`piadm_ode`'s step-keyed noise (one seed, one Brownian path for both).
    ``rounds = score_evals = Σ M_n + N N† M†``, ``peak_points = 1``; every step is a round for
    ``callback`` and ``progress``."""
    if scheme.score_point != "left":
        raise ValueError("sequential_ode needs an explicit scheme (score_point='left')")
    return _run_ode(False, score, grid, 1, n, dim, x0, generator, noise, dtype, device, corrector, None, scheme,
                    callback, progress)
