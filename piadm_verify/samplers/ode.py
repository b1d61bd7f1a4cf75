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
from .common import Workspace, evaluate_score, setup, start, writes_into
from .result import NonFiniteError, RoundLog, SamplerResult
from .sde import picard_block, picard_counts, sequential_block

__all__ = ["piadm_ode", "sequential_ode"]



# -- samplers ----------------------------------------------------------------------------------------
def _corrector_noise(noise, corrector: Corrector, key):
    """``(ξ_x, ξ_v)``, each (M†, n, d), from the tagged draw ``noise.extra(key, 2, M†)`` of standard normals."""
    sigma_v, rho_x, sigma_x = corrector.noise_coefficients
    z = noise.extra(key, 2, corrector.steps)
    return rho_x * z[0] + sigma_x * z[1], sigma_v * z[0]


DECOUPLED_MIN_GAMMA = 0.5
"""Friction from which the parallel corrector runs its recursion in decoupled coordinates
``(p, v) = (x + v/γ, v)`` (one row operation per step); below it, ``x = p − v/γ`` would lose about
``log10(1/γ)`` digits to cancellation, and the coupled form (three row operations per step) is used."""


def _picard_corrector(score, level: float, x: torch.Tensor, v: torch.Tensor, corrector: Corrector, noise,
                      max_points, block: int, residuals: list, log: RoundLog, measure: bool = True,
                      workspace: Workspace | None = None):
    """The parallel corrector at forward level ``s* = level``; returns the final (x, v) and whether an
    adaptive corrector met its tolerance in every sub-block.

    An iteration scores all M† positions of the previous iterate in one batched call, then runs the
    frozen-force recursion ``v_{j+1} = a v_j + b F_j + ξ_{v,j}``, ``x_{j+1} = x_j + b v_j + c F_j + ξ_{x,j}``
    row by row into preallocated buffers, with nothing that can overflow (``a ≤ 1``). Since
    ``b = (1 − a)/γ``, the pair ``(p, v) = (x + v/γ, v)`` decouples it (docs/mathematics.md §5):
    ``p_{j+1} = p_j + (ε†/γ) F_j + ξ_{x,j} + ξ_{v,j}/γ`` and ``v_{j+1} = a v_j + b F_j + ξ_{v,j}``, one
    row operation per step on the stacked pair, then ``x = p − v/γ`` in one pass; for
    ``γ < DECOUPLED_MIN_GAMMA`` the coupled recursion is run as written. Without a residual to
    report, the last point alone is checked for non-finite values: a non-finite force at any point
    reaches it through the recursion.
    """
    k = corrector.kinetic
    M = corrector.steps
    times = torch.full((M, 1), level, dtype=x.dtype, device=x.device)
    a, b, c, gamma = k.a, k.velocity_force, k.position_force, k.gamma
    decoupled = gamma >= DECOUPLED_MIN_GAMMA
    converged = True
    measure = measure or corrector.tol is not None
    if corrector.tol is not None:  # ParaDiGMS's normalisation with the SDE variance of a step of length ε†
        tolerance = corrector.tol ** 2 * x.shape[-1] * math.expm1(k.step)
    workspace = workspace or Workspace()
    buffer = lambda name, *rows: workspace.get(f"corrector {name}", (*rows, *x.shape), x)
    path, new = buffer("path", M + 1), buffer("new", M + 1)
    into = buffer("forces", M) if writes_into(score) else None
    if decoupled:
        # state[j] = (p_{j+1}, v_{j+1}); per step state[j] = drive[j] + factor ⊙ state[j-1]
        state = buffer("state", M, 2)
        factor = torch.tensor([1.0, a], dtype=x.dtype, device=x.device)[:, None, None]
        weights = torch.tensor([k.step / gamma, b], dtype=x.dtype, device=x.device)[:, None, None]
        rows = state.unbind(0)
    else:
        velocities, drive, shift = buffer("velocities", M + 1), buffer("drive", M), buffer("shift", M)
    for sub in range(corrector.sub_blocks):
        shared = _corrector_noise(noise, corrector, ("corrector", block, sub)) if corrector.shared_noise else None
        path[:] = x
        new[0] = x
        if decoupled:
            initial = torch.stack((x + v / gamma, v))
            stacked = None if shared is None else torch.stack((shared[0] + shared[1] / gamma, shared[1]), 1)
        else:
            velocities[0] = v
        res = torch.full((corrector.iteration_limit,), math.nan, dtype=x.dtype, device=x.device)
        for it in range(corrector.iteration_limit):
            if shared is None:  # noise redrawn at every Picard iteration (a negative control)
                xi_x, xi_v = _corrector_noise(noise, corrector, ("corrector", block, sub, it))
                if decoupled:
                    stacked = torch.stack((xi_x + xi_v / gamma, xi_v), 1)
            else:
                xi_x, xi_v = shared
            force = evaluate_score(score, path[:M], times, max_points, out=into)
            if decoupled:
                torch.addcmul(stacked, weights, force.unsqueeze(1), out=state)
                rows[0].addcmul_(factor, initial)
                for j in range(1, M):
                    rows[j].addcmul_(factor, rows[j - 1])
                torch.add(state[:, 0], state[:, 1], alpha=-1.0 / gamma, out=new[1:])
            else:
                torch.add(xi_v, force, alpha=b, out=drive)  # b F_j + ξ_{v,j}
                torch.add(xi_x, force, alpha=c, out=shift)  # c F_j + ξ_{x,j}
                for j in range(M):
                    torch.add(new[j], shift[j], out=new[j + 1])
                    new[j + 1].add_(velocities[j], alpha=b)
                    torch.add(drive[j], velocities[j], alpha=a, out=velocities[j + 1])
            if measure:
                scratch = state[:, 0] if decoupled else shift  # no longer needed this iteration
                norms = torch.linalg.vector_norm(torch.sub(new[1:], path[1:], out=scratch), dim=-1)
                res[it] = norms.square().mean(-1).sqrt().max()
                finite = bool(torch.isfinite(res[it]))
            else:
                finite = bool(torch.isfinite(new[-1]).all())
            if not finite:
                what = "force" if not torch.isfinite(force).all() else "corrector iterate"
                raise NonFiniteError("piadm_ode", what, block, it, stage=f"corrector sub-block {sub}, Picard iteration")
            path, new = new, path
            log.round(block, it, M, res[it] if measure else None, stage="corrector", sub_block=sub)
            if corrector.tol is not None and bool((norms.square() <= tolerance).all()):
                res = res[:it + 1]
                break
        else:
            converged = converged and corrector.tol is None
        residuals.append(res)
        x, v = path[-1].clone(), (state[-1, 1] if decoupled else velocities[-1]).clone()
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
             callback, progress, tol=None, max_K=None, measure=True):
    corrector = Corrector.make(corrector)
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    y = start(env, scheme.initial_variance)
    velocity = None
    residuals: list = []
    workspace = Workspace()
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
                                   log=log, tol=tol, measure=measure, workspace=workspace)
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
                                                      max_points, block.index, residuals, log, measure, workspace)
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
                   scheme, callback, progress, tol, max_K, measure=trace or callback is not None)
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
