"""Exact output laws of diffusers' schedulers on Gaussian targets (docs/mathematics.md §10, §13).

With a Gaussian target and an affine score every scheduler here is affine in its Gaussian inputs
(unless it clips or thresholds), so its output law is Gaussian. Two routes compute it:

- **probe** (:func:`~piadm_verify.oracle.probe.exact_law_of`): where the configuration draws no
  noise, or ``step`` takes the noise vector itself (``variance_noise=``): DDIM (η = 0 and η > 0),
  Euler (``s_churn = 0``), Heun, DPM-Solver (2M and the SDE variants), UniPC, and the parallel
  classes' ParaDiGMS path with a fixed stride (its noise enters through ``noise.steps``).
- **propagate** (:func:`propagate_law`): where ``step`` draws its own noise from ``generator=``
  (DDPM and DDPM-Parallel ``step()``, Euler-ancestral, Euler with ``s_churn > 0``): a unit vector
  cannot be injected, so each step ``x ↦ A_k x + c_k + std_k z`` is probed on its own (its
  deterministic map on the rows ``0, e_1 … e_d, 2e_1`` that all draw the same ``z`` from
  identically seeded generators) and ``std_k`` is taken from the scheduler's own draw (a second
  seed's row and the two seeds' normals re-drawn); mean and covariance are then pushed through
  ``m ← A_k m + c_k``, ``P ← A_k P A_kᵀ + std_k² I``.

:func:`diffusers_law` picks the route (:func:`law_route`). Also here: the ε-frozen exponential
integrator that DDIM (η = 0) must equal (:func:`epsilon_frozen_law`), DDPM's step on the OU clock
(:func:`ancestral_law`), the law of a bare loop that
no grid can describe (:func:`loop_law`), and the precision of a float64 run (:func:`affinity_residual`).
"""

from __future__ import annotations

import copy
import math

import torch

from analytic import Gaussian

from ..oracle.affine import resolve_error
from ..oracle.probe import NotAffineError, exact_law_of
from .diffusers_driver import DiffusersSampler, denoising_loop, draws_noise, kind_of, network, require_diffusers, to_vp

__all__ = ["law_route", "diffusers_law", "propagate_law", "epsilon_frozen_law", "ancestral_law", "loop_law",
           "affinity_residual"]

PROPAGATE_RTOL = {False: 1e-9, True: 1e-5}  # per-step affinity, by float32_state


def _score_with(target: Gaussian, error):
    if error is None:
        return target.score
    inner = resolve_error(error)

    def score(x, s):
        return target.score(x, s) + inner(x, s)

    return score


def _check_sampler(sampler) -> DiffusersSampler:
    if not isinstance(sampler, DiffusersSampler):
        raise TypeError(f"sampler must be a sampler from diffusers_sampler, got {type(sampler).__name__}")
    return sampler


def law_route(sampler: DiffusersSampler, **options) -> str:
    """``"probe"``, ``"propagate"`` or ``"monte carlo"`` (a tolerance-stopped ParaDiGMS run, not affine)
    for ``sampler`` called with ``options``."""
    _check_sampler(sampler)
    if options.get("window") is not None:
        return "probe" if options.get("tol") is None else "monte carlo"
    return "propagate" if sampler.noise_input == "generator" else "probe"


def diffusers_law(sampler: DiffusersSampler, target: Gaussian, error=None, *, prior: Gaussian | None = None,
                  **options) -> Gaussian:
    """The exact output law of ``sampler(…, prior=prior, **options)`` on ``target`` with the score
    ``target.score + error`` (``error``: None or affine, as for ``exact_law_of``), by the route
    :func:`law_route` names. ``prior`` is the law of ``x_T`` (default ``N(0, I)``). Raises
    :class:`~piadm_verify.oracle.probe.NotAffineError` when the run is not affine (clipping,
    thresholding, a tolerance-stopped ParaDiGMS run: use Monte Carlo)."""
    route = law_route(sampler, **options)
    if route == "monte carlo":
        raise NotAffineError("a tolerance-stopped ParaDiGMS run is not affine in its inputs: use Monte Carlo "
                             "(or tol=None with a stride)")
    if route == "propagate":
        return propagate_law(sampler, target, error, prior=prior)
    return exact_law_of(sampler, target, sampler.grid, error, rtol=sampler.probe_rtol, prior=prior, **options)


def _same_generators(seed: int, rows: int) -> list:
    return [torch.Generator().manual_seed(seed) for _ in range(rows)]


def _check_step_affine(predicted, actual, rtol: float, what: str) -> None:
    scale = max(1.0, float(actual.abs().max()))
    residual = float((predicted - actual).abs().max()) / scale
    if not residual <= rtol:
        raise NotAffineError(f"{what}: the step is not affine to rtol {rtol:g} (relative residual {residual:.3g}); "
                             f"clipping or thresholding make the law non-Gaussian: use Monte Carlo")


def _initial_law(prior, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    if prior is None:
        return torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)
    if not isinstance(prior, Gaussian) or prior.dim != d:
        raise TypeError(f"prior must be an analytic.Gaussian of dimension {d}")
    return prior.mean.to(torch.float64), prior.cov.to(torch.float64)


@torch.no_grad()
def propagate_law(sampler: DiffusersSampler, target: Gaussian, error=None, *, prior: Gaussian | None = None) -> Gaussian:
    """The exact law of a single-step scheduler whose ``step`` draws from ``generator=`` (module docstring).

    Step k is probed on the rows ``0, e_1 … e_d, 2e_1`` (one list of identically seeded generators,
    which ``randn_tensor`` accepts, so every row draws the same ``z_a``) and a row ``0`` with a second
    seed (``z_b``): ``A_k`` from differences, the doubled row checks affinity, and
    ``std_k (z_a − z_b) = y_0 − y_b`` with ``z_a``, ``z_b`` re-drawn from the seeds; a residual
    checks that the noise is ``std_k`` times the draw. Runs in the scheduler's coordinates from
    ``x_T ~ prior`` (default ``N(0, I)``) scaled by ``init_noise_sigma``; returns the VP law at ``η``.
    """
    sampler = _check_sampler(sampler)
    if sampler.kind.multistep:
        raise ValueError(f"{sampler.name} keeps a history between steps: propagation handles single-step schedulers")
    if not isinstance(target, Gaussian):
        raise TypeError(f"target must be an analytic.Gaussian, got {type(target).__name__}")
    rtol = PROPAGATE_RTOL[sampler.kind.float32_state]
    d, dtype = target.dim, torch.float64
    exact = target.to(dtype=dtype, device="cpu")
    net = network(_score_with(exact, error), sampler.scheduler)
    sch = sampler.fresh_scheduler()
    scale = float(sch.init_noise_sigma)
    m, P = _initial_law(prior, d)
    m, P = scale * m, scale * scale * P
    eye = torch.eye(d, dtype=dtype)
    rows = torch.cat([torch.zeros(1, d, dtype=dtype), eye, 2.0 * eye[:1], torch.zeros(1, d, dtype=dtype)])
    draws = sampler.noise_input == "generator"
    for k, t in enumerate(sch.timesteps):
        out = net(sch.scale_model_input(rows, t), t)
        extra = {}
        seed_a, seed_b = 2 * k + 1, 2 * k + 2
        if draws:
            extra["generator"] = _same_generators(seed_a, d + 2) + _same_generators(seed_b, 1)
        y = sch.step(out, t, rows, **sampler.step_options, **extra).prev_sample.to(dtype)
        base = y[0]
        A = (y[1:1 + d] - base).T
        _check_step_affine(base + 2.0 * A[:, 0], y[1 + d], rtol, f"{sampler.name} step {k}, doubled probe")
        std, c = 0.0, base
        if draws:
            z_a = torch.randn((1, d), generator=torch.Generator().manual_seed(seed_a), dtype=dtype)[0]
            z_b = torch.randn((1, d), generator=torch.Generator().manual_seed(seed_b), dtype=dtype)[0]
            dz = z_a - z_b
            std = float((base - y[-1]) @ dz / (dz @ dz))
            _check_step_affine(std * dz, base - y[-1], rtol, f"{sampler.name} step {k}: noise is std·z")
            c = base - std * z_a
        m = A @ m + c
        P = A @ P @ A.T + std * std * eye
    factor = 1.0 if sampler.kind.coords == "vp" else 1.0 / math.sqrt(1.0 + float(sch.sigmas[-1]) ** 2)
    return Gaussian(factor * m, factor * factor * 0.5 * (P + P.T))


def epsilon_frozen_law(target: Gaussian, state_times, *, prior: Gaussian | None = None) -> Gaussian:
    """The probability-flow ODE solved exactly with ``ε̂ = −σ(s_k) score(x_k, s_k)`` frozen over each step,
    on the grid ``state_times`` (``s_0 > … > s_J``, from ``x_{s_0} ~ prior``, default ``N(0, I)``).

    ``dx/ds = −x/2 + ε̂/(2σ(s))`` integrates (``∫ e^{u/2}/√(1 − e^{−u}) du = 2√(e^u − 1)``) to
    ``x' = e^{h/2} x + (σ(s_{k+1}) − e^{h/2} σ(s_k)) ε̂``, ``h = s_k − s_{k+1}``: DDIM (η = 0)'s step
    written on the OU clock (docs/mathematics.md §13), so DDIM must equal it on the grid it lands on.
    Computed in float64 from the schedule's (float32) ``ᾱ`` values.
    """
    d = target.dim
    eye = torch.eye(d, dtype=torch.float64)
    m, P = _initial_law(prior, d)
    s = [float(v) for v in state_times]
    for s0, s1 in zip(s[:-1], s[1:]):
        h = s0 - s1
        c = target.score(torch.zeros(1, d, dtype=torch.float64), s0)[0]
        L = target.score(eye, s0).T - c[:, None]  # score(x) = L x + c
        sigma0 = math.sqrt(-math.expm1(-s0))
        sigma1 = math.sqrt(-math.expm1(-s1)) if s1 > 0 else 0.0
        w = -sigma0 * (sigma1 - math.exp(h / 2) * sigma0)  # weight of the score
        A = math.exp(h / 2) * eye + w * L
        m = A @ m + w * c
        P = A @ P @ A.T
    return Gaussian(m, 0.5 * (P + P.T))


def ancestral_law(target: Gaussian, state_times, *, prior: Gaussian | None = None) -> Gaussian:
    """DDPM's step written on the OU clock (docs/mathematics.md §13), exact on the grid ``state_times``:
    ``x' = e^{h/2} x + (e^{h/2} − e^{−h/2}) score(x, s_k) + ζ``, ``Var ζ = (1 − ᾱ')(1 − e^{−h})/(1 − ᾱ_k)``
    with ``ᾱ = e^{−s}``, ``h = s_k − s_{k+1}``; from ``x_{s_0} ~ prior`` (default ``N(0, I)``), in float64.
    DDPM, Euler-ancestral and DDIM (η = 1) on the same grid are this chain."""
    d = target.dim
    eye = torch.eye(d, dtype=torch.float64)
    m, P = _initial_law(prior, d)
    s = [float(v) for v in state_times]
    for s0, s1 in zip(s[:-1], s[1:]):
        h = s0 - s1
        c = target.score(torch.zeros(1, d, dtype=torch.float64), s0)[0]
        L = target.score(eye, s0).T - c[:, None]
        w = math.exp(h / 2) - math.exp(-h / 2)
        A = math.exp(h / 2) * eye + w * L
        variance = -math.expm1(-s1) * -math.expm1(-h) / -math.expm1(-s0)
        m = A @ m + w * c
        P = A @ P @ A.T + variance * eye
    return Gaussian(m, 0.5 * (P + P.T))


@torch.no_grad()
def loop_law(scheduler, num_inference_steps: int, target: Gaussian, *, step_options: dict | None = None,
             out_of_range: str = "clamp") -> Gaussian:
    """The law of the bare denoising loop of a noise-free configuration, from ``x_T ~ N(0, I)``, for
    schedules that no :class:`~piadm_verify.core.grid.TimeGrid` describes (diffusers' ``t = −1``):
    the loop runs on the rows ``0, e_1 … e_d`` (its affine map), with the network answering a
    timestep outside the training range as the nearest end of it (``out_of_range="clamp"``)."""
    require_diffusers()
    kind = kind_of(scheduler)
    options = dict(step_options or {})
    if draws_noise(scheduler, options):
        raise ValueError(f"loop_law handles noise-free configurations only; {type(scheduler).__name__} with "
                         f"{options or 'its defaults'} draws noise")
    sch = copy.deepcopy(scheduler)
    sch.set_timesteps(int(num_inference_steps))
    d = target.dim
    rows = torch.cat([torch.zeros(1, d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)])
    net = network(target.score, sch, out_of_range=out_of_range)
    y = to_vp(denoising_loop(sch, net, rows * float(sch.init_noise_sigma), options), sch, kind).to(torch.float64)
    A = (y[1:] - y[0]).T
    return Gaussian(y[0], 0.5 * (A @ A.T + (A @ A.T).T))


@torch.no_grad()
def affinity_residual(sampler: DiffusersSampler, target: Gaussian, *, n: int = 8, seed: int = 0, **options) -> float:
    """How far a float64 run is from affine in its initial samples: with the noise fixed (one seed),
    ``f(x) = A x + B z + c``, so ``f(2x) − 2 f(x) + f(0) = 0`` in exact arithmetic. Returns
    ``max |f(2x) − 2f(x) + f(0)| / max(|f(0)|, |f(x)|, |f(2x)|)`` for ``n`` random ``x``: ~1e-16 for a
    float64 computation, ~1e-7 where the scheduler rounds its state to float32."""
    sampler = _check_sampler(sampler)
    d = target.dim
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    outs = [sampler(target.score, sampler.grid, x0=c * x, generator=seed + 1, **options).samples for c in (0.0, 1.0, 2.0)]
    scale = max(float(o.abs().max()) for o in outs)
    return float((outs[2] - 2.0 * outs[1] + outs[0]).abs().max()) / scale
