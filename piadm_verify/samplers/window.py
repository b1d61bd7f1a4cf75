"""Sliding-window parallel samplers on the flattened chain: ParaDiGMS (docs/mathematics.md §11) and
ParaTAA (§12).

Flatten a grid into the sequential chain ``x_{j+1} = Φ_j(x_j) + σ_j z_j``, ``j = 0 … J−1``: for an
:class:`~piadm_verify.core.schemes.SDEScheme`, ``Φ_j(x) = d_j x + c_j s(x, s_j)`` and
``σ_j² = v² Var ζ_j`` (:class:`GridChain`); the same loop drives any other chain with this
interface (a library scheduler's noise-free step, :mod:`piadm_verify.external`). ``z_j`` is the
step's normal from a :class:`~piadm_verify.core.noise.StepNoise`, so a window sampler, PIADM and the
sequential sampler on one seed meet the same Brownian path and converge to the same chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_v, positive_int, positive_number
from ..core.grid import TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from .common import cumsum_, evaluate_score, resolve_score, setup, start
from .result import NonFiniteError, RoundLog, SamplerResult

__all__ = ["GridChain", "ChainRun", "window_options", "paradigms_chain", "paradigms", "parataa_chain", "parataa"]


class GridChain:
    """The sequential chain of a grid and a scheme (docs/mathematics.md §11).

    ``drift(x, j)``: ``Φ_j(x_j)`` for window states x (p, n, d) and step indices j (p,), one batched
    score call; ``noise_std`` σ_j = v·√(Var ζ_j); ``tolerance_variance`` σ̃²_j, the step's SDE noise
    variance ``Var ζ_j`` (whatever v: the ODE's tolerances are normalised like the SDE's, as in
    ParaDiGMS).
    """

    def __init__(self, score, grid: TimeGrid, scheme: SDEScheme = EXPONENTIAL_INTEGRATOR, v: float = 1.0,
                 max_points: int | None = None):
        if scheme.score_point != "left":
            raise ValueError("a window sampler needs an explicit scheme (score_point='left')")
        eps = grid.all_steps()
        self.score, self.max_points = score, max_points
        self.steps = int(eps.shape[0])
        self.decay = scheme.decay(eps)
        self.weight = scheme.score_weight(eps, v)
        self.times = grid.all_score_times()
        self.tolerance_variance = scheme.noise_variance(eps)
        self.noise_std = v * np.sqrt(self.tolerance_variance)

    def drift(self, x: torch.Tensor, j: np.ndarray) -> torch.Tensor:
        """``Φ_j(x_j) = d_j x_j + c_j s(x_j, s_j)`` for x (p, n, d) and j (p,), in one batched score call."""
        as_t = lambda a: torch.as_tensor(a, dtype=x.dtype, device=x.device)
        scores = evaluate_score(self.score, x, as_t(self.times[j])[:, None], self.max_points)
        return as_t(self.decay[j])[:, None, None] * x + as_t(self.weight[j])[:, None, None] * scores


@dataclass(frozen=True)
class ChainRun:
    """What :func:`paradigms_chain` returns: the chain's end value, whether it converged, the sweeps
    and the trace (per sweep: window start, accepted stride, per-step normalised errors)."""

    value: torch.Tensor
    sweeps: int
    converged: bool
    trace: tuple


def _window_noise(noise, chain, j0: int, j1: int, like: torch.Tensor) -> torch.Tensor:
    """``σ_j z_j`` for steps j0 … j1 − 1, (j1 − j0, n, d) (zeros, drawing nothing, where σ_j = 0: the ODE)."""
    if not np.any(chain.noise_std[j0:j1]):
        return torch.zeros(j1 - j0, *like.shape, dtype=like.dtype, device=like.device)
    z = noise.steps(j0, j1)
    return z * torch.as_tensor(chain.noise_std[j0:j1], dtype=like.dtype, device=like.device)[:, None, None]


def paradigms_chain(chain, x0: torch.Tensor, noise, window: int, tol: float | None = None, stride: int | None = None,
                    max_sweeps: int | None = None, log: RoundLog | None = None, sampler: str = "paradigms",
                    record: bool = False) -> ChainRun:
    """ParaDiGMS on a chain (docs/mathematics.md §11): a window ``[b, b + p)`` of the states
    ``x_b … x_{b+p}`` (all starting at ``x_0``; points entering the window start at the last state).

    One sweep is one round: ``Φ_{b+i}(x_{b+i})`` for all ``i < p`` in one batched call, then the
    Picard update ``x_{b+i+1} ← x_b + Σ_{l≤i} (Φ_{b+l}(x_{b+l}) − x_{b+l} + σ_{b+l} z_{b+l})``, the
    errors ``e_i = max over samples ‖x^new_{b+i+1} − x^old_{b+i+1}‖² / (d σ̃²_{b+i})``, and the slide
    ``b ← b + min(p, 1 + first i with e_i > tol²)`` (all accepted: ``p``). Without a tolerance
    (``tol=None``) the window slides by the fixed ``stride``, so the run is affine in its inputs
    (docs/mathematics.md §10). Stops when ``b = J`` (then ``x_J`` is the chain's end value) or after
    ``max_sweeps`` sweeps (``converged=False``; the value is the window's last state). Each sweep
    moves b by at least one step, so at most J sweeps are needed, and ``p = 1`` is the sequential
    chain.
    """
    J = chain.steps
    p = window
    x0 = x0.detach()
    n, d = x0.shape
    width = min(p, J)
    states = x0.expand(width + 1, n, d).clone()
    increments_noise = _window_noise(noise, chain, 0, width, x0)
    b = sweeps = 0
    trace = []
    while b < J:
        if max_sweeps is not None and sweeps >= max_sweeps:
            return ChainRun(states[-1].clone(), sweeps, False, tuple(trace))
        js = np.arange(b, b + width)
        mapped = chain.drift(states[:width], js)
        new = states[0] + cumsum_(mapped - states[:width] + increments_noise)
        if not bool(torch.isfinite(new).all()):
            what = "drift" if not bool(torch.isfinite(mapped).all()) else "iterate"
            raise NonFiniteError(sampler, what, b, sweeps, stage="window at step")
        variance = torch.as_tensor(chain.tolerance_variance[js], dtype=new.dtype, device=new.device)
        errors = ((new - states[1:]).pow(2).sum(-1) / (d * variance[:, None])).amax(dim=1)
        states[1:] = new
        sweeps += 1
        if tol is None:
            accepted = min(stride, width)
        else:
            bad = torch.nonzero(errors > tol * tol)
            accepted = width if bad.numel() == 0 else min(width, 1 + int(bad[0, 0]))
        if log is not None:
            log.round(b, sweeps - 1, width, errors.max().sqrt())
        if record:
            trace.append((b, accepted, errors.cpu()))
        b += accepted
        if b >= J:
            return ChainRun(states[accepted].clone(), sweeps, True, tuple(trace))
        kept = width + 1 - accepted
        new_width = min(p, J - b)
        fresh = new_width + 1 - kept
        # fresh ≥ 0: the window's end never passes J, so the kept states fit the next window
        states = torch.cat([states[accepted:], states[-1:].expand(fresh, n, d)]) if fresh else states[accepted:].clone()
        noise_kept = increments_noise[accepted:accepted + new_width]
        if noise_kept.shape[0] < new_width:
            extra = _window_noise(noise, chain, b + noise_kept.shape[0], b + new_width, x0)
            noise_kept = torch.cat([noise_kept, extra])
        increments_noise = noise_kept
        width = new_width
    return ChainRun(states[0].clone(), sweeps, True, tuple(trace))


def window_options(window, tol, stride, max_sweeps) -> tuple[int, float | None, int | None, int | None]:
    """Check ParaDiGMS's window arguments (shared with the diffusers driver's batch path): a window of
    ``window ≥ 1`` points, and either a tolerance ``tol > 0`` or, for the fixed-stride variant
    (``tol=None``), a ``stride`` in ``[1, window]``; ``max_sweeps ≥ 1`` or None."""
    window = positive_int(window, "window")
    if tol is None:
        if stride is None:
            raise ValueError("pass tol (the acceptance tolerance) or, for the fixed-stride variant, stride")
        stride = positive_int(stride, "stride")
        if stride > window:
            raise ValueError(f"stride must lie in [1, window = {window}], got {stride}")
    else:
        tol = positive_number(tol, "tol")
        if stride is not None:
            raise ValueError("stride is for the fixed-stride variant (tol=None); with a tolerance the window slides "
                             "by the acceptance rule")
    if max_sweeps is not None:
        max_sweeps = positive_int(max_sweeps, "max_sweeps")
    return window, tol, stride, max_sweeps


@torch.no_grad()
def paradigms(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    window: int = 16,
    tol: float | None = 0.1,
    stride: int | None = None,
    max_sweeps: int | None = None,
    v: float = 1.0,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    x0: torch.Tensor | None = None,
    generator=None,
    noise=None,
    dtype: torch.dtype | None = None,
    device=None,
    max_points_per_call: int | None = None,
    trace: bool = False,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """ParaDiGMS (Shih, Belkhale, Ermon, Sadigh, Anari, NeurIPS 2023) on the project's grid: sliding-window
    Picard iteration of the sequential chain of ``scheme`` (docs/mathematics.md §11; see
    :func:`paradigms_chain` for the update and the acceptance rule).

    Parameters beyond the sampler contract: ``window`` p (≥ 1); ``tol`` τ of the acceptance rule
    ``‖Δx_{b+i+1}‖² ≤ τ² d σ̃²_{b+i}`` (σ̃² the step's SDE noise variance, also for the ODE ``v = 0``;
    the max over the batch decides, so the sweeps depend on the batch size) or None for the affine
    fixed-``stride`` variant; ``max_sweeps`` caps the sweeps (the result then has
    ``converged=False``); ``v`` (1: SDE, 0: probability-flow ODE) and ``scheme`` as for
    :func:`~piadm_verify.samplers.sde.piadm_sde`. ``trace=True`` records per sweep the window
    start, the accepted stride and the normalised errors ``e_i``.

    Returns ``rounds = iterations =`` the sweeps, ``score_evals = Σ`` window sizes, ``peak_points =
    window`` (or J if smaller).
    """
    window, tol, stride, max_sweeps = window_options(window, tol, stride, max_sweeps)
    v = check_v(v)
    if max_points_per_call is not None:
        positive_int(max_points_per_call, "max_points_per_call")
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    chain = GridChain(env.score, grid, scheme, v, max_points_per_call)
    y = start(env, scheme.initial_variance)
    with RoundLog("paradigms", None, callback, progress) as log:
        run = paradigms_chain(chain, y, env.noise, window, tol, stride, max_sweeps, log, record=trace)
        return log.result(run.value, trace=run.trace if trace else None, iterations=run.sweeps,
                          converged=run.converged)


def parataa_chain(chain, x0: torch.Tensor, noise, window: int, order: int, memory: int, ridge: float, tol: float,
                  max_sweeps: int | None = None, log: RoundLog | None = None, sampler: str = "parataa",
                  record: bool = False) -> ChainRun:
    """ParaTAA on a chain (docs/mathematics.md §12): a window of ``w`` unknown states after the frontier f.

    One sweep is one round: the increments ``F_l = Φ_{f+l}(x_{f+l}) − x_{f+l} + σ_{f+l} z_{f+l}`` of the
    window in one batched call; the order-k residual of state ``i`` (``i = 1 … w``) from its anchor
    ``a = max(i − k, 0)``: ``R_i = x_a + Σ_{a ≤ l < i} F_l − x_i`` (k = 1: Jacobi; k = w: Picard);
    state i is finished when ``max over samples ‖R_i‖² ≤ tol² d σ̃²_{f+i−1}`` (ParaDiGMS's
    normalisation). With u the first unfinished state, states ``i ≤ u`` take the plain step
    ``x_i ← x_i + R_i`` (the safeguard: they are then exact, so the frontier advances by u) and
    states ``i > u`` the triangular Anderson step ``x_i ← x_i + R_i − (ΔX_i + ΔR_i) γ_i`` with
    ``(Σ_{l ≤ i} ΔR_lᵀΔR_l + λI) γ_i = Σ_{l ≤ i} ΔR_lᵀ R_l``, per sample, over the last ``m − 1``
    differences of iterates and residuals, newest first (so ``m = 1`` is the plain order-k
    iteration). The published code takes its history oldest first, which with m ≥ 3 mixes stale,
    zero-padded differences; here it is newest first, as the method describes. States that enter
    the window start at the last state and have no history yet (zero differences).
    """
    J = chain.steps
    x0 = x0.detach()
    n, d = x0.shape
    width = min(window, J)
    states = x0.expand(width + 1, n, d).clone()
    increments_noise = _window_noise(noise, chain, 0, width, x0)
    history = memory - 1
    dX = x0.new_zeros(history, width, n, d)
    dR = x0.new_zeros(history, width, n, d)
    previous_x = previous_r = None
    known = torch.zeros(width, dtype=torch.bool, device=x0.device)  # states with a previous iterate
    eye = torch.eye(history, dtype=x0.dtype, device=x0.device) if history else None
    f = sweeps = 0
    trace = []
    while f < J:
        if max_sweeps is not None and sweeps >= max_sweeps:
            return ChainRun(states[-1].clone(), sweeps, False, tuple(trace))
        js = np.arange(f, f + width)
        increments = chain.drift(states[:width], js) - states[:width] + increments_noise
        if not bool(torch.isfinite(increments).all()):
            raise NonFiniteError(sampler, "drift", f, sweeps, stage="window at step")
        totals = torch.cat([increments.new_zeros(1, n, d), cumsum_(increments.clone())])  # Σ_{l<i} F_l
        index = torch.arange(1, width + 1, device=x0.device)
        anchor = torch.clamp(index - order, min=0)
        residual = states[anchor] + totals[index] - totals[anchor] - states[1:]
        variance = torch.as_tensor(chain.tolerance_variance[js], dtype=x0.dtype, device=x0.device)
        errors = (residual.pow(2).sum(-1) / (d * variance[:, None])).amax(dim=1)
        unfinished = torch.nonzero(errors > tol * tol)
        first = width if unfinished.numel() == 0 else int(unfinished[0, 0]) + 1  # u, 1-based
        if history and previous_r is not None:
            mask = known[:, None, None].to(x0.dtype)  # a state new to the window has no difference yet
            dX = torch.cat([((states[1:] - previous_x) * mask)[None], dX[:-1]])
            dR = torch.cat([((residual - previous_r) * mask)[None], dR[:-1]])
        previous_x, previous_r = states[1:].clone(), residual
        known[:] = True
        step = residual.clone()
        if history and first < width:
            # per (window state, sample): Gram matrices of the newest-first differences, summed over the
            # window from the frontier (triangular), then one batched solve
            gram = torch.cumsum(torch.einsum("aind,bind->inab", dR, dR), dim=0)
            rhs = torch.cumsum(torch.einsum("aind,ind->ina", dR, residual), dim=0)
            gamma = torch.linalg.solve(gram + ridge * eye, rhs[..., None])[..., 0]  # (w, n, m−1)
            anderson = residual - torch.einsum("aind,ina->ind", dX + dR, gamma)
            step[first:] = anderson[first:]
        new = states[1:] + step
        if not bool(torch.isfinite(new).all()):
            raise NonFiniteError(sampler, "iterate", f, sweeps, stage="window at step")
        states[1:] = new
        sweeps += 1
        if log is not None:
            log.round(f, sweeps - 1, width, errors.max().sqrt())
        if record:
            trace.append((f, first, errors.cpu()))
        f += first
        if f >= J:
            return ChainRun(states[first].clone(), sweeps, True, tuple(trace))
        kept = width + 1 - first
        new_width = min(window, J - f)
        fresh = new_width + 1 - kept
        states = torch.cat([states[first:], states[-1:].expand(fresh, n, d)]) if fresh else states[first:].clone()
        shift = lambda t, pad: torch.cat([t[first:], t.new_zeros(pad, *t.shape[1:])]) if pad else t[first:].clone()
        previous_x = shift(previous_x, fresh)
        previous_r = shift(previous_r, fresh)
        known = torch.cat([known[first:], known.new_zeros(fresh)])
        if history:
            dX = torch.cat([dX[:, first:], dX.new_zeros(history, fresh, n, d)], dim=1)
            dR = torch.cat([dR[:, first:], dR.new_zeros(history, fresh, n, d)], dim=1)
        noise_kept = increments_noise[first:first + new_width]
        if noise_kept.shape[0] < new_width:
            noise_kept = torch.cat([noise_kept, _window_noise(noise, chain, f + noise_kept.shape[0], f + new_width, x0)])
        increments_noise = noise_kept
        width = new_width
    return ChainRun(states[0].clone(), sweeps, True, tuple(trace))


@torch.no_grad()
def parataa(
    score,
    grid: TimeGrid,
    n: int | None = None,
    dim: int | None = None,
    *,
    window: int = 16,
    order: int | None = None,
    memory: int = 2,
    ridge: float = 1e-3,
    tol: float = 1e-3,
    max_sweeps: int | None = None,
    v: float = 1.0,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    x0: torch.Tensor | None = None,
    generator=None,
    noise=None,
    dtype: torch.dtype | None = None,
    device=None,
    max_points_per_call: int | None = None,
    trace: bool = False,
    callback=None,
    progress: bool = False,
) -> SamplerResult:
    """ParaTAA (Tang, Tang, Luo, Wang, Chang, ICML 2024) on the project's grid: order-k residuals and
    triangular Anderson acceleration on a sliding window (docs/mathematics.md §12; see
    :func:`parataa_chain`).

    Parameters beyond the sampler contract: ``window`` w (≥ 1), ``order`` k (1 … w; default w:
    Picard residuals), ``memory`` m (≥ 1; m − 1 differences; 1 is no acceleration), ``ridge`` λ
    (≥ 0), ``tol`` (> 0, ParaDiGMS's normalisation: a state is finished when
    ``‖R‖² ≤ tol² d σ̃²`` for every sample), ``max_sweeps`` (the result then has
    ``converged=False``), ``v`` and ``scheme`` as for :func:`~piadm_verify.samplers.sde.piadm_sde`.
    The Anderson coefficients are solved per sample in one batched solve. Tolerance runs are not
    affine in their inputs (their law comes from Monte Carlo).
    """
    window = positive_int(window, "window")
    order = window if order is None else positive_int(order, "order")
    if order > window:
        raise ValueError(f"order must lie in [1, window = {window}], got {order}")
    memory = positive_int(memory, "memory")
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not (math.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    tol = positive_number(tol, "tol")
    if max_sweeps is not None:
        max_sweeps = positive_int(max_sweeps, "max_sweeps")
    v = check_v(v)
    if max_points_per_call is not None:
        positive_int(max_points_per_call, "max_points_per_call")
    env = setup(score, grid, n, dim, x0, generator, dtype, device, scheme, noise)
    chain = GridChain(env.score, grid, scheme, v, max_points_per_call)
    y = start(env, scheme.initial_variance)
    with RoundLog("parataa", None, callback, progress) as log:
        run = parataa_chain(chain, y, env.noise, window, order, memory, float(ridge), tol, max_sweeps, log,
                            record=trace)
        return log.result(run.value, trace=run.trace if trace else None, iterations=run.sweeps,
                          converged=run.converged)
