"""PIADM-SDE and its sequential exponential-integrator reference (docs/mathematics.md §4)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ..core.checks import check_v, positive_int, positive_number
from ..core.grid import GridBlock, TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from .common import (Workspace, cumsum_, evaluate_score, increments, resolve_score, scaled_cumsum_, setup, start,
                     writes_into)
from .result import NonFiniteError, RoundLog, SamplerResult

__all__ = ["piadm_sde", "sequential_sde", "picard_block", "sequential_block"]


def picard_block(
    score,
    block: GridBlock,
    y0: torch.Tensor,
    K: int,
    scheme: SDEScheme,
    v: float,
    noise,
    max_points: int | None = None,
    sampler: str = "piadm_sde",
    reference=None,
    log: RoundLog | None = None,
    tol: float | None = None,
    measure: bool = True,
    workspace: Workspace | None = None,
) -> "BlockOutput":
    """K Picard iterations on one block (docs/mathematics.md §4); returns :class:`BlockOutput`
    ``(Y^{(K)}_{M_n}, residuals (K,), path_kl, converged)``.

    With a tolerance ``tol`` (adaptive PIADM), K is the most iterations allowed and the block stops
    after the first iteration whose change meets ParaDiGMS's normalisation (docs/mathematics.md §11):
    ``max over samples and points ‖Y^{(k+1)}_{j+1} − Y^{(k)}_{j+1}‖² ≤ tol² d σ̃²_j``, σ̃²_j the step's
    SDE noise variance ``Var ζ_j`` (also for v = 0), so tolerances mean the same for both samplers.
    At most ``M_n + 1`` iterations are needed: after ``M_n`` the iterate is the sequential one.
    ``measure=False`` skips the residuals (NaN in the result) when nothing reads them (no trace, no
    callback, no tolerance): one pass less per iteration. ``workspace``: the run's
    :class:`~piadm_verify.samplers.common.Workspace`, whose buffers the blocks share (None: fresh ones).

    ``Y^{(0)}_j ≡ y0``; iteration k evaluates ``S_j = score(Y^{(k)}_j, s_{n,j})`` for all ``j < M_n`` in
    one batched call, then solves the linear recursion
    ``Y^{(k+1)}_{j+1} = d_j Y^{(k+1)}_j + c_j S_j + v ζ_j`` in closed form,
    ``Y_m = D_m [y0 + Σ_{j<m} D_{j+1}^{-1} (c_j S_j + v ζ_j)]`` with ``D_m = Π_{i<m} d_i``
    (``= e^{τ_m/2}`` for the exponential integrator): a weighted cumulative sum, no loop over j.
    The ``ζ`` of the block (its steps' normals from ``noise``, docs/mathematics.md §10) are drawn
    once, before the first iteration, and shared by all K.

    With a ``reference`` score (the true ``∇log p``), ``path_kl`` is the block's Girsanov path
    quantity (docs/mathematics.md §9) ``½ Σ_j ε_j mean_i ‖S^{(K-1)}_j − ∇log p̄(Y^{(K)}_j)‖²``: the score the
    last iteration used, at the previous iterate, against the true score on the final path.
    Every iteration is one round of ``log`` (``M_n`` points).
    """
    eps = block.steps
    n_steps = eps.shape[0]
    as_t = lambda a: torch.as_tensor(a, dtype=y0.dtype, device=y0.device)
    log_growth = np.concatenate([[0.0], np.cumsum(scheme.log_decay(eps))])
    grow = as_t(np.exp(log_growth[1:]))[:, None, None]
    shrink = np.exp(-log_growth[1:])
    weight = scheme.score_weight(eps, v) * shrink
    offset = scheme.score_offset
    times = as_t(block.horizon - (block.start + block.taus[offset : offset + n_steps]))[:, None]

    def fixed_term(key=None):
        # D_m (y0 + v Σ_{j<m} D_{j+1}^{-1} ζ_j), built in place in the increments' fresh tensor (a block of
        # a large batch costs page faults for every new tensor); the same operations, in the same order,
        # as writing it out
        zeta = increments(noise, block, scheme.noise_variance(eps), key)
        cumsum_(zeta.mul_(as_t(shrink)[:, None, None])).mul_(v)
        total = zeta.add_(y0) if zeta.shape == (n_steps, *y0.shape) else zeta + y0  # a probe's (M, 1, d) draw
        return total.mul_(grow)

    # Y^{(k+1)}_{m+1} = D_{m+1} (y0 + Σ_{j≤m} D_{j+1}^{-1} v ζ_j) + D_{m+1} Σ_{j≤m} w_j S_j, w_j = D_{j+1}^{-1} c_j:
    # the first term ("base") does not change between iterations, so an iteration is one in-place scaled cumulative
    # sum of the scores, u_m = Σ_{j≤m} (w_j/w_m) S_j (samplers.common.scaled_cumsum_), and one fused multiply-add
    # Y = base + (D w) ⊙ u, all in buffers the run's blocks share (docs/mathematics.md §4). Weights that are zero
    # or not finite (a scheme of someone else's) are multiplied in first instead, and u is a plain cumulative sum.
    measure = measure or tol is not None
    redraw = v != 0.0 and not scheme.shared_noise
    base = fixed_term() if v != 0.0 and scheme.shared_noise else grow * y0
    scaled = bool(np.all(np.isfinite(weight)) and np.all(weight != 0.0))
    coefficient = grow * as_t(weight)[:, None, None] if scaled else grow
    workspace = workspace or Workspace()
    buffer = lambda name, rows: workspace.get(name, (rows, *y0.shape), y0)
    path, new, sums = buffer("path", n_steps + 1), buffer("new", n_steps + 1), buffer("sums", n_steps)
    path[:] = y0
    new[0] = y0
    # a score that takes out= (the analytic targets) writes into the sums' buffer; another one's tensor is copied there
    into = sums if writes_into(score) else None
    raw = buffer("raw scores", n_steps) if reference is not None else None  # for the path KL
    residuals = torch.full((K,), math.nan, dtype=y0.dtype, device=y0.device)
    if tol is not None:
        scale = tol * tol * y0.shape[-1] * as_t(scheme.noise_variance(eps))[:, None]
    converged = tol is None
    for k in range(K):
        scores = evaluate_score(score, path[offset : offset + n_steps], times, max_points, out=into)
        if raw is not None:
            raw.copy_(scores)
        if scores is not sums:
            sums.copy_(scores)
        if scaled:
            scaled_cumsum_(sums, weight)
        else:
            cumsum_(sums.mul_(as_t(weight)[:, None, None]))
        if redraw:
            base = fixed_term(("redraw", block.index, k))
        torch.addcmul(base, coefficient, sums, out=new[1:])
        if measure:
            # ‖ΔY_j‖ per point and sample; a NaN or inf anywhere in the iterate reaches the residual, so
            # checking the residual checks the iterate (one device sync per iteration)
            difference = torch.sub(new[1:], path[1:], out=buffer("difference", n_steps))
            norms = torch.linalg.vector_norm(difference, dim=-1)
            residuals[k] = norms.square().mean(-1).sqrt().max()
            finite = bool(torch.isfinite(residuals[k]))
        else:
            # without a residual, the block's last point suffices: through the cumulative sum a non-finite
            # score at any point reaches it
            finite = bool(torch.isfinite(new[-1]).all())
        if not finite:
            # "score": the score term (the scores, or their running sum) is not finite; "iterate": it is, and
            # the iterate is not
            what = "score" if not torch.isfinite(sums).all() else "iterate"
            raise NonFiniteError(sampler, what, block.index, k)
        path, new = new, path
        if log is not None:
            log.round(block.index, k, n_steps, residuals[k] if measure else None)
        if tol is not None and bool((norms.square() <= scale).all()):
            residuals, converged = residuals[:k + 1], True
            break
    path_kl = None
    if reference is not None:
        true = evaluate_score(reference, path[offset : offset + n_steps], times, max_points)
        gap = (raw - true).pow(2).sum(-1).mean(-1)
        path_kl = 0.5 * float((as_t(np.array(eps)) * gap).sum())
    return BlockOutput(path[-1].clone(), residuals, path_kl, converged)


def sequential_block(
    score,
    block: GridBlock,
    y: torch.Tensor,
    scheme: SDEScheme,
    v: float,
    noise,
    sampler: str = "sequential_sde",
    log: RoundLog | None = None,
    reference=None,
) -> tuple[torch.Tensor, float | None]:
    """One block of the sequential sampler (docs/mathematics.md §4), one score call per step:
    ``y_{j+1} = d_j y_j + c_j score(y_j, s_{n,j}) + v ζ_j``, with the block's ``ζ`` (its steps'
    normals from ``noise``, as :func:`picard_block` draws them) taken in one tensor (M_n, n, d)
    before the first step (none for v = 0). Returns ``(y_{M_n}, path_kl)``, with
    ``path_kl = ½ Σ_j ε_j mean_i ‖score(y_j) − reference(y_j)‖²`` when a ``reference`` score is given
    (else None); raises :class:`NonFiniteError` naming the block and step where a score or the
    iterate stops being finite. Every step is one round of ``log`` (one point).
    """
    as_t = lambda a: torch.as_tensor(a, dtype=y.dtype, device=y.device)
    eps = block.steps
    decay, weight, times = as_t(scheme.decay(eps)), as_t(scheme.score_weight(eps, v)), as_t(block.score_times)
    zeta = increments(noise, block, scheme.noise_variance(eps)) if v != 0.0 else None
    path_kl = None if reference is None else 0.0
    for j in range(eps.shape[0]):
        time = times[j].reshape(1, 1)
        s_j = evaluate_score(score, y[None], time, None)[0]
        if not torch.isfinite(s_j).all():
            raise NonFiniteError(sampler, "score", block.index, j, stage="step")
        if reference is not None:
            true = evaluate_score(reference, y[None], time, None)[0]
            path_kl += 0.5 * float(eps[j]) * float((s_j - true).pow(2).sum(-1).mean())
        y = decay[j] * y + weight[j] * s_j
        if zeta is not None:
            y = y + v * zeta[j]
        if not torch.isfinite(y).all():
            raise NonFiniteError(sampler, "iterate", block.index, j, stage="step")
        if log is not None:
            log.round(block.index, j, 1, stage="step")
    return y, path_kl


class BlockOutput(NamedTuple):
    """What :func:`picard_block` returns: the block's end value, residuals per iteration (their number
    is the iterations run), path KL, and whether an adaptive block met its tolerance."""

    value: torch.Tensor
    residuals: torch.Tensor
    path_kl: float | None
    converged: bool = True


def picard_counts(K, tol, max_K) -> tuple[int | None, float | None, int | None]:
    """Check the iteration arguments of a Picard sampler: fixed ``K``, or adaptive (``K=None`` with a
    tolerance ``tol`` and an optional cap ``max_K``; None: until the block converges, ≤ M_n + 1)."""
    if K is not None:
        if tol is not None or max_K is not None:
            raise ValueError("pass K (a fixed number of Picard iterations) or tol and max_K (adaptive), not both")
        return positive_int(K, "K"), None, None
    if tol is None:
        raise ValueError("pass K (Picard iterations per block) or, for adaptive PIADM, tol (and optionally max_K)")
    return None, positive_number(tol, "tol"), None if max_K is None else positive_int(max_K, "max_K")


@torch.no_grad()
def piadm_sde(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    K: int | None = None,
    tol: float | None = None,
    max_K: int | None = None,
    x0: torch.Tensor | None = None,
    generator=None,
    noise=None,
    v: float = 1.0,
    dtype: torch.dtype | None = None,
    device=None,
    max_points_per_call: int | None = None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    trace: bool = False,
    reference_score=None,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """PIADM-SDE: K Picard iterations per block, all grid points of a block scored in one batch (docs/mathematics.md §4).

    Parameters
    ----------
    score : callable ``score(x, s)`` (x of shape (..., d), forward time ``s`` broadcastable to
        ``x.shape[:-1]``), or a target with a ``.score`` method.
    grid : the :class:`~piadm_verify.core.grid.TimeGrid` (blocks ``t_n``, sub-grids ``τ_{n,m}``).
    n, dim : number of samples and dimension (or give ``x0``).
    K : Picard iterations per block (fixed, the theorems' setting). ``K ≥ max M_n`` reproduces
        :func:`sequential_sde`.
    tol, max_K : adaptive PIADM instead of a fixed K: each block iterates until its change meets
        ParaDiGMS's normalisation (:func:`picard_block`), at most ``max_K`` times (default: until it
        converges, at most M_n + 1); ``iterations`` reports the count per block, ``converged``
        whether every block met ``tol``. Adaptive runs are not affine in their inputs.
    x0 : optional initial values ``ŷ_{t_0}`` (n, d); drawn from ``N(0, I)`` otherwise.
    generator : ``torch.Generator`` or int seed of the :class:`~piadm_verify.core.noise.StepNoise` the
        sampler draws from (step j of the grid takes ``steps(j, j + 1)``, shared with
        :func:`sequential_sde` and every other sampler on the grid).
    noise : a :class:`~piadm_verify.core.noise.StepNoise` (or an object with its interface, such as
        the probing oracle's) instead of ``generator``; it fixes n, dim, dtype and device.
    v : noise level of the backward dynamics ``dx = [½x + (1+v²)/2 ∇log p̄] dt + v dw`` (1: SDE).
    dtype, device : float64 (default) or float32; CPU or CUDA (default: that of x0 or generator).
    max_points_per_call : split each round's batch into chunks of this many grid points (bounds
        memory; the result is unchanged and it still counts as one round).
    scheme : the step's coefficients (:class:`~piadm_verify.core.schemes.ExponentialIntegrator`).
    trace : record the per-iteration residuals ``‖Y^{(k+1)} - Y^{(k)}‖`` of every block.
    reference_score : the true score (callable or target); when given, ``path_kl`` of the result
        is the Girsanov path quantity summed over blocks (docs/mathematics.md §9), an upper bound on
        ``KL(p_η ‖ q̂)`` up to the initialisation term, computable for any target.
    callback : called after every round with a :class:`~piadm_verify.samplers.result.RoundInfo`
        (round, block, Picard iteration, residual).
    progress : a tqdm bar over the ``K·N`` rounds on stderr.

    Returns a :class:`~piadm_verify.samplers.result.SamplerResult` with ``rounds = K·N``,
    ``score_evals = K·Σ M_n``, ``peak_points = max M_n`` (adaptive: the sums of the iterations run),
    ``iterations`` (per block). Raises
    :class:`~piadm_verify.samplers.result.NonFiniteError` naming the block and iteration where a
    score or an iterate stops being finite.
    """
    K, tol, max_K = picard_counts(K, tol, max_K)
    v = check_v(v)
    if max_points_per_call is not None:
        positive_int(max_points_per_call, "max_points_per_call")
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    y = start(env, scheme.initial_variance)
    reference = None if reference_score is None else resolve_score(reference_score)
    residuals, path_kl, converged, workspace = [], 0.0, True, Workspace()
    with RoundLog("piadm_sde", None if K is None else K * grid.blocks, callback, progress) as log:
        for block in grid:
            limit = K if K is not None else (max_K or block.n_steps + 1)
            out = picard_block(env.score, block, y, limit, scheme, v, env.noise, max_points_per_call,
                               reference=reference, log=log, tol=tol, measure=trace or callback is not None,
                               workspace=workspace)
            y = out.value
            residuals.append(out.residuals)
            converged &= out.converged
            path_kl = None if out.path_kl is None else path_kl + out.path_kl
        return log.result(y, trace=tuple(residuals) if trace else None, path_kl=path_kl,
                          iterations=tuple(int(r.shape[0]) for r in residuals), converged=converged)


@torch.no_grad()
def sequential_sde(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    x0: torch.Tensor | None = None,
    generator=None,
    noise=None,
    v: float = 1.0,
    dtype: torch.dtype | None = None,
    device=None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    reference_score=None,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """The sequential exponential-integrator sampler on the same grid (docs/mathematics.md §4).

    ``x_{j+1} = e^{ε_j/2} x_j + (1+v²)(e^{ε_j/2} - 1) score(x_j, s_j) + v ζ_j``, one score call per
    step. It draws ``ζ_j`` from the same step-keyed noise as :func:`piadm_sde` (``generator`` or
    ``noise``), so one seed drives both with the same Brownian path. ``rounds = score_evals = Σ M_n``,
    ``peak_points = 1``. ``reference_score`` gives ``path_kl = ½ Σ_j ε_j mean_i ‖score(x_j) − ∇log p̄(x_j)‖²``;
    ``callback`` and ``progress`` as for :func:`piadm_sde` (every step is a round).
    """
    v = check_v(v)
    if scheme.score_point != "left":
        raise ValueError("sequential_sde needs an explicit scheme (score_point='left')")
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    y = start(env, scheme.initial_variance)
    reference = None if reference_score is None else resolve_score(reference_score)
    path_kl = None if reference is None else 0.0
    with RoundLog("sequential_sde", grid.total_steps, callback, progress) as log:
        for block in grid:
            y, block_kl = sequential_block(env.score, block, y, scheme, v, env.noise, log=log, reference=reference)
            if block_kl is not None:
                path_kl += block_kl
        return log.result(y, path_kl=path_kl)
