"""The conformance run: diffusers' schedulers checked on exact Gaussian targets (docs/mathematics.md §13).

``piadm-verify conformance [--out DIR]`` runs :func:`run_conformance` and writes ``conformance.md``
and ``results.json`` (``{"checks": [{"scheduler", "config", "check", "passed", "value",
"tolerance", …}, …]}``) through :func:`write_conformance`. Every scheduler is driven by
:func:`~piadm_verify.external.diffusers_sampler` on the analytic score of the target, in float64 on
the CPU, and every law is exact (probing or propagation) unless the run is not affine (clipping),
where it is the moment-matched Gaussian of a Monte Carlo run. The checks (value ≤ tolerance unless
stated):

- **grid**: each state is evaluated at the noise level ``step()`` landed it at (``|Δs| ≤ 1e-6``);
  the first timestep lies within one stride ``⌈N/n⌉`` of the top of the schedule;
  ``set_timesteps(n)`` keeps every timestep in ``[0, N − 1]`` for all ``n ≤ N`` (count of ``n`` that
  do not, ≤ 0); ``init_noise_sigma`` makes ``x_T ~ N(0, I)`` the VP prior (VE classes); the class's
  default betas are DDPMScheduler's.
- **law**: ``KL(p_η ‖ q) ≤ 25 ×`` the KL of the project's first-order exponential integrator on the
  same OU grid (SDE for a stochastic scheduler, probability-flow ODE otherwise), on a target with a
  mean outside [−1, 1] (every configuration) and one inside (the clipping configurations). A
  consistent first-order scheduler sits within a factor 2.3–10.5 of that reference here; a
  destroyed law thousands of times above it.
- **order**: ``p̂ = −slope/2`` of ``log KL`` against ``log n`` on ``n = 100, 200, 500`` from the
  exact start ``x_T ~ p_T`` (no prior floor), ``p̂ ≥ nominal − 0.5``, in the class's default
  configuration and in one that keeps every step at full order (trailing spacing; DPM-Solver and
  UniPC also with ``final_sigmas_type="sigma_min"``, UniPC with ``lower_order_final=False``).
- **identity** (exact up to float32 round-off, ``KL ≤ 1e-8``): DDIM (η = 0) = the ε-frozen
  exponential integrator on its grid; DDPM = the ancestral OU step on its grid; on the leading grid
  DDIM = Euler and DDPM = Euler-ancestral = DDIM (η = 1).
- **float64**: a float64 run is affine in its inputs to round-off (``1e-12``); DDPM/DDIM equal their
  OU forms evaluated in float64 (``KL ≤ 1e-12``: float32 coefficients allowed, no cancellation).
- **parity**: each parallel scheduler's batch path in the project's ParaDiGMS loop, window 1 and the
  full window converged (fixed stride 1), equals its sequential ``step()`` path by path (same noise;
  ``max |Δ| ≤ 1e-10`` relative).
- **passes**: ParaDiGMS (full window, tolerance 0.1) needs fewer sweeps than the sequential steps,
  for batch sizes 1 and 1000.
- **import**: ``from diffusers import *`` works.
- **monte carlo**: per scheduler, in its default configuration with clipping off and
  ``REFERENCE_STEPS`` steps (a parallel class through ParaDiGMS, full window, stride 1),
  ``MC_CHECK_SAMPLES`` runs of the real code against the exact law: the known-covariance Hotelling χ²
  test of the mean and the Bartlett-corrected LRT of the covariance (:func:`gaussian_pvalues`), every
  scheduler's two tests in one Holm family at α = ``MC_ALPHA`` (value: the Holm-adjusted p).

The same per-scheduler run gives the summary in ``conformance.md`` and ``results.json``'s
``extras["schedulers"]``: the route to the exact law (probe or propagate,
:func:`~piadm_verify.external.law_route`) and the exact KL of the output law q from the target p_0,
from p_η and from the law of the continuous-time process on [η, T] started at N(0, I)
(:func:`continuous_law`: the reverse SDE for a stochastic scheduler, the probability-flow ODE otherwise).

A check that fails in the library is a *finding* (:data:`FINDINGS`): the failing rows carry its
number and ``conformance.md`` a paragraph with the smallest reproducing configuration. A failure no
finding explains is *unexplained* (the CLI then exits 1): the library or this project changed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from analytic import Gaussian, gaussian_kl

from ..external import (
    KINDS,
    affinity_residual,
    law_route,
    ancestral_law,
    diffusers_law,
    diffusers_sampler,
    epsilon_frozen_law,
    loop_law,
    ou_schedule,
    require_diffusers,
)
from ..oracle import NotAffineError, exact_law
from ..verification.stats import holm
from .environment import environment, json_safe, torch_threads
from .report import atomic_directory

__all__ = ["Variant", "VARIANTS", "CheckRow", "Finding", "FINDINGS", "ConformanceResult", "run_conformance",
           "write_conformance", "continuous_law", "gaussian_pvalues", "CONFORMANCE_FORMAT", "DEFAULT_OUT"]

CONFORMANCE_FORMAT = "piadm-verify-conformance"
DEFAULT_OUT = Path("reports") / "conformance"

TARGET_OUTSIDE = Gaussian([2.5, -0.5], [[1.5, 0.3], [0.3, 0.4]])  # mean outside [−1, 1]
TARGET_INSIDE = Gaussian([0.3, -0.2], [[0.1, 0.02], [0.02, 0.05]])  # mean inside, little mass outside
SPACINGS = ("leading", "trailing", "linspace")
STEPS = (50, 13, 200)
ORDER_STEPS = (100, 200, 500)
LAW_FACTOR = 25.0
IDENTITY_KL = 1e-8
FLOAT64_KL = 1e-12
AFFINE_RTOL = 1e-12
PARITY_RTOL = 1e-10
GAP_TOL = 1e-6
SCALE_TOL = 1e-6  # |σ_init²/(σ_max² + 1) − 1|: float32 round-off of the sigma table is ~1e-7
ORDER_MARGIN = 0.5
MC_SAMPLES = 2000
PASS_BATCHES = (1, 1000)
PASS_TOL = 0.1
REFERENCE_STEPS = 50  # the per-scheduler summary: each class's default configuration (clipping off), n = 50
MC_CHECK_SAMPLES = 4000
MC_ALPHA = 1e-4


@dataclass(frozen=True)
class Variant:
    """A scheduler configuration family: class, constructor options beyond the sweep's, ``step``
    options, nominal order (of the law's convergence in the number of steps) and whether it is stochastic."""

    label: str
    cls: str
    options: dict = field(default_factory=dict)
    step: dict = field(default_factory=dict)
    nominal_order: float = 1.0
    stochastic: bool = False
    isolating: dict = field(default_factory=dict)  # options that keep every step at full order

    def make(self, **options):
        module = require_diffusers()
        return getattr(module, self.cls)(**{**self.options, **options})

    def defaults(self) -> dict:
        return dict(self.make().config)


_FINAL = {"final_sigmas_type": "sigma_min"}
VARIANTS = (
    Variant("DDPM", "DDPMScheduler", stochastic=True),
    Variant("DDIM (eta=0)", "DDIMScheduler"),
    Variant("DDIM (eta=1)", "DDIMScheduler", step={"eta": 1.0}, stochastic=True),
    Variant("Euler", "EulerDiscreteScheduler"),
    Variant("Euler-ancestral", "EulerAncestralDiscreteScheduler", stochastic=True),
    Variant("Heun", "HeunDiscreteScheduler", nominal_order=2.0),
    Variant("DPM-Solver++ 2M", "DPMSolverMultistepScheduler", nominal_order=2.0, isolating=_FINAL),
    Variant("SDE-DPM-Solver++ 2M", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"},
            nominal_order=1.0, stochastic=True, isolating=_FINAL),
    Variant("UniPC (bh2, order 2 + corrector)", "UniPCMultistepScheduler", nominal_order=3.0,
            isolating={**_FINAL, "lower_order_final": False}),
    Variant("DDPM-Parallel", "DDPMParallelScheduler", stochastic=True),
    Variant("DDIM-Parallel", "DDIMParallelScheduler"),
)


@dataclass(frozen=True)
class CheckRow:
    """One check of one configuration. ``config``: the constructor options (beyond the class's
    defaults) and ``num_inference_steps`` (plus ``step_options`` where ``step`` takes any);
    ``finding``: the number of the library finding that explains a failure (None: passed, or unexplained)."""

    variant: str
    scheduler: str
    config: dict
    check: str
    passed: bool
    value: float
    tolerance: float
    detail: str = ""
    finding: int | None = None

    def to_json(self) -> dict:
        return {"scheduler": self.scheduler, "config": self.config, "check": self.check, "passed": bool(self.passed),
                "value": float(self.value), "tolerance": float(self.tolerance), "variant": self.variant,
                "finding": self.finding, "detail": self.detail}


@dataclass(frozen=True)
class Finding:
    number: int
    title: str
    text: str


FINDINGS = {f.number: f for f in (
    Finding(1, "`trailing` spacing adds a timestep t = −1",
            "`set_timesteps` computes `np.arange(N, 0, −N/n)` with a float step, keeps a last element ≈ −6e-13 that "
            "rounds to 0 and becomes −1 after `timesteps -= 1`: n + 1 timesteps (Heun: 2n + 1 calls) ending at "
            "t = −1, in every class. DDPM and DDIM then read `alphas_cumprod[-1] = ᾱ_999` at their last step, i.e. "
            "treat an almost clean sample as pure noise; Euler and DPM-Solver interpolate σ(−1) = σ(0) and take an "
            "extra tiny step, but still call the network at t = −1. `diffusers_sampler` refuses these schedules."),
    Finding(2, "DDIM's `step` lands at t − ⌊N/n⌋ whatever the spacing",
            "DDIMScheduler and DDIMParallelScheduler compute the previous timestep as `t − N // n`. With `linspace` "
            "spacing, or `trailing` with n ∤ N, that is not the next timestep, so the next call evaluates the state "
            "at another noise level than the one it was moved to, and DDIM is no longer the ε-frozen exponential "
            "integrator on the grid it lands on (docs/mathematics.md §13); the last landing can be ᾱ_0 although "
            "`set_alpha_to_one=True`. DDPM uses `previous_timestep` and is not affected."),
    Finding(3, "DDPMParallelScheduler's batch path and `step()` take different steps",
            "`batch_step_no_noise` steps to `t − N // n` while `step()` steps to the next timestep "
            "(`previous_timestep`): with `linspace` spacing, or `trailing` with n ∤ N, ParaDiGMS converges to "
            "another chain than the sequential sampler it parallelises (same noise, any window)."),
    Finding(4, "DDIMParallelScheduler's batch path ignores `set_alpha_to_one=False`",
            "`batch_step_no_noise` sets ᾱ_prev = 1 below t = 0 where `step()` uses `final_alpha_cumprod = ᾱ_0`: "
            "ParaDiGMS and the sequential sampler part at the last step."),
    Finding(5, "`init_noise_sigma` depends on the spacing (Euler, Euler-ancestral, Heun)",
            "It is σ_max for `linspace`/`trailing` but √(σ_max² + 1) for `leading`. Only the latter makes the "
            "pipelines' `randn · init_noise_sigma` the VP prior y = x/√ᾱ_T with x ~ N(0, I); with σ_max the "
            "initial VP variance is σ_max²/(σ_max² + 1) < 1 (a small effect on the law)."),
    Finding(6, "float64 inputs are computed partly in float32",
            "The schedule tables are float32 and so are most coefficients; Euler, Euler-ancestral and DPM-Solver "
            "also cast the *sample* to float32 in every `step` (DPM-Solver its `variance_noise` too), so a float64 "
            "run is affine only to ~1e-7; and DDPMScheduler forms β_t = 1 − ᾱ_t/ᾱ_prev in float32, a cancellation "
            "that moves its law off the same step evaluated in float64 (DDIM, computed from the same table, "
            "agrees to 1e-14). Identities between classes therefore hold to float32 round-off only."),
    Finding(7, "`clip_sample=True` by default destroys the law for means outside [−1, 1]",
            "DDPM, DDIM and their Parallel versions clamp the predicted x̂₀ to [−1, 1] at every step by default. "
            "This is documented ('Clip the predicted sample for numerical stability') and meant for images in "
            "[−1, 1], so it is a configuration hazard rather than a bug; it is reported because it is the default "
            "and it changes the sampled distribution, not only its numerics."),
    Finding(8, "HeunDiscreteScheduler's default betas differ",
            "Its defaults are `beta_start=0.00085, beta_end=0.012`; every other class here defaults to (1e-4, 0.02). "
            "The same constructor call gives a shorter schedule (T = 6.45 instead of 10.12) and a prior mismatch "
            "KL(p_T ‖ N(0, I)) forty times larger, which dominates Heun's error from n ≈ 20 on."),
    Finding(9, "the final step caps the order",
            "Every class ends with a first-order step to σ = 0: DPM-Solver's `final_sigmas_type='zero'` forces "
            "`lower_order_final` for the last step, UniPC's `lower_order_final=True` (default) makes the last step "
            "first order with no corrector after it, Heun's last step is plain Euler; with `linspace` spacing "
            "Heun's last evaluation sits at t = 0 for every n, so that step's error does not shrink. The default "
            "configurations then do not show their nominal order; `final_sigmas_type='sigma_min'` (and "
            "`lower_order_final=False` for UniPC) does for DPM-Solver and UniPC, nothing does for Heun."),
    Finding(10, "`leading` spacing starts below the top of the schedule",
            "`leading` spaces `n` (DPM-Solver, UniPC: n + 1) points by ⌊N/n⌋ from t = 0, so the first timestep "
            "is (n − 1)·⌊N/n⌋ (DPM-Solver/UniPC: n·⌊N/(n + 1)⌋), more than one stride below t = N − 1: the "
            "sampler starts at a smaller T, from a worse prior (documented in the 'Common diffusion noise "
            "schedules and sample steps are flawed' discussion that introduced `trailing`)."),
    Finding(11, "`from diffusers import *` raises without transformers",
            "The star import walks every lazily declared pipeline and fails on one that needs `transformers`; "
            "explicit imports work."),
)}


@dataclass
class ConformanceResult:
    """The rows, the run's time, diffusers' version, and the numbers the findings quote (``extras``)."""

    rows: list
    seconds: float
    version: str
    extras: dict = field(default_factory=dict)

    @property
    def failed(self) -> list:
        return [r for r in self.rows if not r.passed]

    @property
    def unexplained(self) -> list:
        return [r for r in self.failed if r.finding is None]

    @property
    def findings(self) -> list:
        return sorted({r.finding for r in self.failed if r.finding is not None})

    def summary(self) -> str:
        n, failed = len(self.rows), len(self.failed)
        text = (f"conformance of diffusers {self.version}: {n - failed} of {n} checks pass; {failed} fail, explained by "
                f"findings {', '.join(f'F{k}' for k in self.findings) or 'none'}")
        if self.unexplained:
            text += f"; {len(self.unexplained)} UNEXPLAINED (" + "; ".join(
                f"{r.scheduler} {r.check} {r.config}" for r in self.unexplained[:3]) + ")"
        return text + f" ({self.seconds:.0f} s)"

    def to_json(self) -> dict:
        return {"format": CONFORMANCE_FORMAT, "version": 1, "diffusers": self.version, "seconds": self.seconds,
                "summary": self.summary(), "findings": {str(k): FINDINGS[k].title for k in self.findings},
                "extras": self.extras, "checks": [r.to_json() for r in self.rows]}

    def markdown(self) -> str:
        return _markdown(self)


# -- helpers ----------------------------------------------------------------------------------------
def _config(variant: Variant, options: dict, steps, *, step: dict | None = None) -> dict:
    out = {**variant.options, **options, "num_inference_steps": steps}
    step = variant.step if step is None else step
    if step:
        out["step_options"] = dict(step)
    return out


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _monte_carlo_law(sampler, grid, target: Gaussian, seed: int) -> tuple[Gaussian | None, str]:
    samples = sampler(target.score, grid, MC_SAMPLES, target.dim, generator=seed).samples
    cov = torch.cov(samples.T)
    if float(torch.linalg.eigvalsh(cov).min()) <= 1e-12 * float(cov.diagonal().max()):
        return None, (f"Monte Carlo ({MC_SAMPLES} runs, not affine): singular law, per-coordinate sd "
                      f"{[float(f'{v:.3g}') for v in samples.std(0)]}")
    return Gaussian(samples.mean(0), cov), f"Monte Carlo ({MC_SAMPLES} runs, not affine): moment-matched KL"


def _law_and_route(sampler, grid, target: Gaussian, seed: int, **options):
    """``(law or None, KL to p_η, route text)``."""
    p_eta = target.marginal(grid.eta)
    try:
        law = diffusers_law(sampler, target, **options)
        return law, gaussian_kl(p_eta, law), "exact (" + ("propagate" if sampler.noise_input == "generator" else
                                                         "probe") + ")"
    except NotAffineError:
        law, route = _monte_carlo_law(sampler, grid, target, seed)
        return law, (math.inf if law is None else gaussian_kl(p_eta, law)), route


def _clips(scheduler) -> bool:
    return bool(scheduler.config.get("clip_sample", False)) or bool(scheduler.config.get("thresholding", False))


def _sweep_options(variant: Variant) -> list[dict]:
    """The constructor options swept for ``variant`` besides the spacing: set_alpha_to_one where the class
    has it, clip_sample at its default and off where it defaults on."""
    defaults = variant.defaults()
    options = [{}]
    if defaults.get("clip_sample"):
        options = [{"clip_sample": True}, {"clip_sample": False}]
    if "set_alpha_to_one" in defaults:
        options = [dict(o, set_alpha_to_one=a) for o in options for a in (True, False)]
    return options


# -- the checks ----------------------------------------------------------------------------------------
def _grid_and_law_checks(variant: Variant, spacing: str, steps: int, options: dict, seed: int) -> list[CheckRow]:
    rows = []
    scheduler = variant.make(timestep_spacing=spacing, **options)
    config = _config(variant, dict(options, timestep_spacing=spacing), steps)
    name = variant.cls
    schedule = ou_schedule(scheduler, steps)
    gap_finding = 2 if schedule.evaluation_gap > GAP_TOL and name.startswith("DDIM") else None
    rows.append(CheckRow(variant.label, name, config, "grid: each state is evaluated where step() landed it (|Δs|)",
                         schedule.evaluation_gap <= GAP_TOL, schedule.evaluation_gap, GAP_TOL,
                         "; ".join(schedule.notes), gap_finding))
    n_train = schedule.num_train_timesteps
    below_top = n_train - 1 - float(schedule.timesteps[0])
    stride = math.ceil(n_train / steps)
    rows.append(CheckRow(variant.label, name, config, "grid: first timestep within one stride of the top (N − 1 − t_0)",
                         below_top <= stride, below_top, stride, f"t_0 = {schedule.timesteps[0]:g}, T = {schedule.T:.4f}",
                         10 if below_top > stride and spacing == "leading" else None))
    sampler, grid = diffusers_sampler(scheduler, steps, step_options=variant.step or None)
    targets = [("mean outside [-1, 1]", TARGET_OUTSIDE)]
    if _clips(scheduler) and steps == STEPS[0]:
        targets.append(("mean inside [-1, 1]", TARGET_INSIDE))
    for what, target in targets:
        law, kl, route = _law_and_route(sampler, grid, target, seed)
        reference = exact_law(target, grid, method="sequential_sde", v=1.0 if variant.stochastic else 0.0)
        ref_kl = gaussian_kl(target.marginal(grid.eta), reference)
        tolerance = LAW_FACTOR * ref_kl
        passed = kl <= tolerance
        kind = "SDE" if variant.stochastic else "ODE"
        rows.append(CheckRow(variant.label, name, config, f"law: KL(p_η ‖ q) ≤ {LAW_FACTOR:g} × first-order {kind} "
                             f"reference ({what})", passed, kl, tolerance,
                             f"{route}; reference KL {_fmt(ref_kl)}; T = {grid.T:.4f}, η = {_fmt(grid.eta)}",
                             7 if not passed and _clips(scheduler) else None))
    return rows


def _identity_rows(variant: Variant, spacing: str, steps: int, options: dict) -> list[CheckRow]:
    """DDIM (η = 0) = ε-frozen exponential integrator and DDPM = ancestral step, on the scheduler's own grid."""
    name = variant.cls
    if options.get("clip_sample", False) or variant.step:
        return []
    if name in ("DDIMScheduler", "DDIMParallelScheduler"):
        reference, what = epsilon_frozen_law, "identity: DDIM (η = 0) = ε-frozen exponential integrator on its grid"
    elif name in ("DDPMScheduler", "DDPMParallelScheduler"):
        reference, what = ancestral_law, "identity: DDPM = ancestral OU step on its grid"
    else:
        return []
    scheduler = variant.make(timestep_spacing=spacing, **options)
    sampler, _ = diffusers_sampler(scheduler, steps)
    kl = gaussian_kl(reference(TARGET_OUTSIDE, sampler.schedule.state_times), diffusers_law(sampler, TARGET_OUTSIDE))
    passed = kl <= IDENTITY_KL
    finding = 2 if not passed and sampler.schedule.evaluation_gap > 0 else None
    return [CheckRow(variant.label, name, _config(variant, dict(options, timestep_spacing=spacing), steps), what, passed,
                     kl, IDENTITY_KL, "KL(reference ‖ scheduler), exact", finding)]


def _cross_identity_rows(steps: int) -> list[CheckRow]:
    """On the leading grid: DDIM (η = 0) = Euler; DDPM = Euler-ancestral = DDIM (η = 1)."""
    module = require_diffusers()
    laws = {}
    for key, make, step in (("ddim", lambda: module.DDIMScheduler(clip_sample=False), None),
                            ("euler", lambda: module.EulerDiscreteScheduler(timestep_spacing="leading"), None),
                            ("ddpm", lambda: module.DDPMScheduler(clip_sample=False), None),
                            ("ancestral", lambda: module.EulerAncestralDiscreteScheduler(timestep_spacing="leading"),
                             None),
                            ("ddim1", lambda: module.DDIMScheduler(clip_sample=False), {"eta": 1.0})):
        sampler, _ = diffusers_sampler(make(), steps, step_options=step)
        laws[key] = diffusers_law(sampler, TARGET_OUTSIDE)
    rows = []
    for a, b, cls, label, config, text in (
        ("ddim", "euler", "EulerDiscreteScheduler", "Euler", {"timestep_spacing": "leading"},
         "identity: Euler = DDIM (η = 0) on the leading grid"),
        ("ddpm", "ancestral", "EulerAncestralDiscreteScheduler", "Euler-ancestral", {"timestep_spacing": "leading"},
         "identity: Euler-ancestral = DDPM on the leading grid"),
        ("ddpm", "ddim1", "DDIMScheduler", "DDIM (eta=1)", {"clip_sample": False, "step_options": {"eta": 1.0}},
         "identity: DDIM (η = 1) = DDPM on the leading grid"),
    ):
        kl = gaussian_kl(laws[a], laws[b])
        rows.append(CheckRow(label, cls, {**config, "num_inference_steps": steps}, text, kl <= IDENTITY_KL, kl,
                             IDENTITY_KL, "KL between the two exact laws (float32 round-off allowed)"))
    return rows


def _order_rows(variant: Variant, order_steps) -> list[CheckRow]:
    rows = []
    base = {"clip_sample": False} if variant.defaults().get("clip_sample") else {}
    for label, options in (("default configuration", base),
                           ("full-order configuration", dict(base, timestep_spacing="trailing", **variant.isolating))):
        kls = []
        for steps in order_steps:
            sampler, grid = diffusers_sampler(variant.make(**options), steps, step_options=variant.step or None)
            law = diffusers_law(sampler, TARGET_OUTSIDE, prior=TARGET_OUTSIDE.marginal(grid.T))
            kls.append(gaussian_kl(TARGET_OUTSIDE.marginal(grid.eta), law))
        logn, logk = np.log(order_steps), np.log(kls)
        order = float(-np.polyfit(logn, logk, 1)[0] / 2)
        local = [round(float(v), 2) for v in -np.diff(logk) / np.diff(logn) / 2]
        bound = variant.nominal_order - ORDER_MARGIN
        passed = order >= bound
        finding = 9 if not passed and (variant.nominal_order > 1) else None
        rows.append(CheckRow(variant.label, variant.cls, _config(variant, options, list(order_steps)),
                             f"order: measured order ≥ nominal {variant.nominal_order:g} − {ORDER_MARGIN:g} ({label})",
                             passed, order, bound, f"exact start x_T ~ p_T; KL {[_fmt(k) for k in kls]}; local orders "
                                                   f"{local}", finding))
    return rows


# -- the per-scheduler summary: exact KLs, the route, and Monte Carlo of the real code -------------------
def continuous_law(target: Gaussian, T: float, eta: float, *, stochastic: bool) -> Gaussian:
    """Law at ``η`` of the exact continuous-time reverse process on ``target`` started from ``N(0, I)``
    at ``T``: the reverse SDE (``stochastic``) or the probability-flow ODE, exact score, no
    discretisation. What a consistent scheduler on ``[η, T]`` tends to as its steps shrink.

    In the eigenbasis of Σ (eigenvalues λ), ``λ_s = e^{−s}λ + 1 − e^{−s}``; the deviation from the
    marginal's mean obeys ``dz/d(−s) = a z`` with ``a = ½ − 1/λ_s`` (SDE) or ``½(1 − 1/λ_s)`` (ODE), and
    ``∫_η^T ds/λ_s = log(e^T λ_T / (e^η λ_η))``. Hence, from ``z_T ~ N(−e^{−T/2} m, I − λ_T)`` relative
    to ``p_T``: SDE mean factor ``e^{(η−T)/2} λ_η/λ_T`` and variance ``λ_η + (1 − λ_T)·factor²``; ODE
    mean factor ``√(λ_η/λ_T)`` and variance ``λ_η/λ_T``."""
    lam, U = torch.linalg.eigh(target.cov.double())
    m = target.mean.double()
    lam_T = math.exp(-T) * lam + 1 - math.exp(-T)
    lam_eta = math.exp(-eta) * lam + 1 - math.exp(-eta)
    start = -math.exp(-T / 2) * (U.T @ m)
    if stochastic:
        factor = math.exp((eta - T) / 2) * lam_eta / lam_T
        var = lam_eta + (1 - lam_T) * factor**2
    else:
        factor = torch.sqrt(lam_eta / lam_T)
        var = lam_eta / lam_T
    mean = math.exp(-eta / 2) * m + U @ (factor * start)
    return Gaussian(mean, U @ torch.diag(var) @ U.T)


def gaussian_pvalues(x: torch.Tensor, law: Gaussian) -> dict[str, float]:
    """Exact tests of ``x_1 … x_n ~iid law``: the mean by the known-covariance Hotelling statistic
    ``n (x̄ − m)ᵀ S⁻¹ (x̄ − m) ~ χ²_d``, the covariance by the Bartlett-corrected likelihood-ratio test of
    Σ = S with the mean estimated (Anderson 2003, §10.8; the same tests as tests/agreement.py)."""
    X = x.double().numpy()
    n, d = X.shape
    mean, cov = law.mean.double().numpy(), law.cov.double().numpy()
    Z = np.linalg.solve(np.linalg.cholesky(cov), (X - mean).T).T
    zbar = Z.mean(axis=0)
    p_mean = float(stats.chi2.sf(n * zbar @ zbar, d))
    C = Z - zbar
    W = C.T @ C / (n - 1)
    dof = n - 1
    rho = 1.0 - (2 * d * d + 3 * d - 1) / (6.0 * dof * (d + 1))
    omega = d * (2 * d**4 + 6 * d**3 + d * d - 12 * d - 13) / (288.0 * (d + 1)) / (rho * dof) ** 2
    f = d * (d + 1) // 2
    stat = rho * dof * (np.trace(W) - np.linalg.slogdet(W)[1] - d)
    p_cov = stats.chi2.sf(stat, f) + omega * (stats.chi2.sf(stat, f + 4) - stats.chi2.sf(stat, f))
    return {"mean": p_mean, "cov": float(min(1.0, max(p_cov, 0.0)))}


def _reference_summary(variant: Variant, steps: int, seed: int) -> dict:
    """The per-scheduler numbers: the class's default configuration with clipping off, ``steps`` steps
    (a parallel class through the project's ParaDiGMS loop, full window, fixed stride 1): the route to
    the exact law, KL to p_0, to p_η and to the continuous-time law, and the Monte Carlo p-values of
    ``MC_CHECK_SAMPLES`` runs of the real code against the exact law."""
    options = {"clip_sample": False} if variant.defaults().get("clip_sample") else {}
    scheduler = variant.make(**options)
    sampler, grid = diffusers_sampler(scheduler, steps, step_options=variant.step or None)
    run = {"window": steps, "tol": None, "stride": 1} if KINDS[variant.cls].parallel else {}
    target = TARGET_OUTSIDE
    route = law_route(sampler, **run)
    law = diffusers_law(sampler, target, **run)
    samples = sampler(target.score, grid, MC_CHECK_SAMPLES, target.dim, generator=seed + 1, **run).samples
    return {"scheduler": variant.cls, "config": _config(variant, dict(options, timestep_spacing=
                                                                        scheduler.config.timestep_spacing), steps),
            "route": route + (" (ParaDiGMS, full window, stride 1)" if run else ""),
            "T": grid.T, "eta": grid.eta,
            "kl_target": gaussian_kl(target, law), "kl_p_eta": gaussian_kl(target.marginal(grid.eta), law),
            "kl_continuous": gaussian_kl(continuous_law(target, grid.T, grid.eta, stochastic=variant.stochastic), law),
            "continuous": "reverse SDE" if variant.stochastic else "probability-flow ODE",
            "p_values": gaussian_pvalues(samples, law)}


def _monte_carlo_rows(summaries: dict) -> list[CheckRow]:
    """One Holm family over every scheduler's two tests at α = ``MC_ALPHA``: value = the Holm-adjusted p."""
    names, p_values = [], []
    for label, info in summaries.items():
        for test, p in info["p_values"].items():
            names.append((label, test))
            p_values.append(p)
    if not p_values:
        return []
    family = holm(p_values, MC_ALPHA)
    rows = []
    for (label, test), p, adjusted, ok in zip(names, p_values, family.adjusted_p_values, family.member_passed):
        info = summaries[label]
        what = ("mean (known-covariance Hotelling χ²)" if test == "mean" else "covariance (Bartlett LRT)")
        info.setdefault("holm", {})[test] = {"adjusted": adjusted, "passed": bool(ok)}
        rows.append(CheckRow(label, info["scheduler"], info["config"], f"monte carlo: {MC_CHECK_SAMPLES} runs of the "
                             f"real code match the exact law, {what}; Holm-adjusted p > α", bool(ok), adjusted,
                             MC_ALPHA, f"raw p {_fmt(p)}; family of {len(p_values)} at α = {MC_ALPHA:g}; "
                                       f"route {info['route']}"))
    return rows


def _parallel_rows(variant: Variant, spacing: str, steps: int, options: dict, seed: int) -> list[CheckRow]:
    scheduler = variant.make(timestep_spacing=spacing, **options)
    sampler, grid = diffusers_sampler(scheduler, steps)
    config = _config(variant, dict(options, timestep_spacing=spacing), steps)
    score = TARGET_OUTSIDE.score
    sequential = sampler(score, grid, 16, 2, generator=seed).samples
    scale = max(1.0, float(sequential.abs().max()))
    rows = []
    if variant.cls == "DDPMParallelScheduler":  # the batch path lands at t − ⌊N/n⌋, step() at the next timestep
        ratio = sampler.schedule.num_train_timesteps // steps
        ts = [int(t) for t in sampler.schedule.timesteps]
        explained = 3 if any(t - ratio != following for t, following in zip(ts[:-1], ts[1:])) else None
    else:
        explained = 4 if not scheduler.config.set_alpha_to_one else None
    for window, what in ((1, "window 1"), (steps, "full window, converged")):
        out = sampler(score, grid, 16, 2, generator=seed, window=window, tol=None, stride=1)
        gap = float((out.samples - sequential).abs().max()) / scale
        passed = gap <= PARITY_RTOL
        rows.append(CheckRow(variant.label, variant.cls, config, f"parity: ParaDiGMS on the batch path ({what}) = "
                             f"step()", passed, gap, PARITY_RTOL,
                             f"16 paths, same noise; {out.rounds} sweeps", None if passed else explained))
    for batch in PASS_BATCHES:
        out = sampler(score, grid, batch, 2, generator=seed, window=steps, tol=PASS_TOL)
        honest = out.rounds == out.iterations and out.converged
        passed = out.rounds < steps and honest
        rows.append(CheckRow(variant.label, variant.cls, config, f"passes: ParaDiGMS sweeps < sequential steps "
                             f"(window {steps}, tol {PASS_TOL:g}, batch {batch})", passed, out.rounds, steps - 1,
                             f"{out.rounds} sweeps for {steps} steps ({steps / out.rounds:.1f}×), "
                             f"{out.score_evals} network evaluations per sample"))
    return rows


def _class_rows(labels: dict, seed: int) -> tuple[list[CheckRow], dict]:
    """Checks made once per class (``labels``: class name → the variant label its rows are listed under):
    timesteps in range, initial scale, default betas, float64 state and coefficients."""
    module = require_diffusers()
    rows, extras = [], {}
    ddpm_betas = module.DDPMScheduler().betas
    for name, label in labels.items():
        cls = getattr(module, name)
        kind = KINDS[name]
        for spacing in SPACINGS:
            scheduler = cls(timestep_spacing=spacing)
            n_train = scheduler.config.num_train_timesteps
            bad = []
            for steps in range(1, n_train + 1):
                scheduler.set_timesteps(steps)
                ts = scheduler.timesteps
                if float(ts.min()) < 0 or float(ts.max()) > n_train - 1:
                    bad.append(steps)
            rows.append(CheckRow(label, name, {"timestep_spacing": spacing, "num_inference_steps": f"1…{n_train}"},
                                 f"grid: timesteps stay in [0, N − 1] for every n ≤ N (count of n that do not)",
                                 not bad, len(bad), 0, f"first: {bad[:6]}" if bad else "",
                                 1 if bad and spacing == "trailing" else None))
            if bad:
                extras.setdefault("trailing_out_of_range", {"count": len(bad), "smallest": bad[:6]})
            if kind.coords == "ve":
                scheduler.set_timesteps(50)
                sigma_max = float(scheduler.sigmas.max())
                variance = float(scheduler.init_noise_sigma) ** 2 / (sigma_max ** 2 + 1.0)
                off = abs(variance - 1.0)
                rows.append(CheckRow(label, name, {"timestep_spacing": spacing, "num_inference_steps": 50},
                                     "grid: init_noise_sigma makes x_T ~ N(0, I) the VP prior (|VP variance − 1|)",
                                     off <= SCALE_TOL, off, SCALE_TOL, f"VP variance of the initial draw {variance:.8f}",
                                     5 if off > SCALE_TOL else None))
        betas = cls().betas
        gap = float((betas.double() - ddpm_betas.double()).abs().max()) if betas.shape == ddpm_betas.shape else math.inf
        rows.append(CheckRow(label, name, {"num_inference_steps": None}, "grid: default betas are DDPMScheduler's "
                             "(max |Δβ|)", gap == 0.0, gap, 0.0,
                             f"beta_start {cls().config.beta_start}, beta_end {cls().config.beta_end}",
                             8 if gap > 0 else None))
        options = {"clip_sample": False} if cls().config.get("clip_sample") else {}
        sampler, _ = diffusers_sampler(cls(timestep_spacing="trailing", **options), STEPS[0])
        residual = affinity_residual(sampler, TARGET_OUTSIDE, seed=seed)
        rows.append(CheckRow(label, name, {**options, "timestep_spacing": "trailing", "num_inference_steps": STEPS[0]},
                             "float64: a float64 run is affine to round-off", residual <= AFFINE_RTOL, residual,
                             AFFINE_RTOL, "|f(2x) − 2f(x) + f(0)| / |f|, noise fixed",
                             6 if residual > AFFINE_RTOL and kind.float32_state else None))
        reference = {"DDPMScheduler": ancestral_law, "DDPMParallelScheduler": ancestral_law,
                     "DDIMScheduler": epsilon_frozen_law, "DDIMParallelScheduler": epsilon_frozen_law}.get(name)
        if reference is not None:
            kl = gaussian_kl(reference(TARGET_OUTSIDE, sampler.schedule.state_times),
                             diffusers_law(sampler, TARGET_OUTSIDE))
            rows.append(CheckRow(label, name, {**options, "timestep_spacing": "trailing",
                                              "num_inference_steps": STEPS[0]},
                                 "float64: law = its OU form evaluated in float64 (KL)", kl <= FLOAT64_KL, kl,
                                 FLOAT64_KL, f"reference: {reference.__name__}",
                                 6 if kl > FLOAT64_KL and name.startswith("DDPM") else None))
    return rows, extras


def _trailing_consequence() -> dict:
    """F1's effect on the law: DDIM (η = 0) trailing, n = 61 (t = −1 answered as t = 0) against n = 60."""
    module = require_diffusers()
    out = {}
    for steps in (60, 61):
        law = loop_law(module.DDIMScheduler(timestep_spacing="trailing", clip_sample=False), steps, TARGET_OUTSIDE)
        out[steps] = gaussian_kl(TARGET_OUTSIDE.marginal(0.0), law)
    return {"ddim_trailing_kl_n60": out[60], "ddim_trailing_kl_n61": out[61]}


def _import_row() -> CheckRow:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", "from diffusers import *"], capture_output=True,
                         text=True, timeout=600)
    last = (out.stderr.strip().splitlines() or [""])[-1]
    return CheckRow("diffusers", "diffusers", {"num_inference_steps": None}, "import: `from diffusers import *` works",
                    out.returncode == 0, float(out.returncode != 0), 0.0, last[:200],
                    11 if out.returncode != 0 else None)


# -- the run -------------------------------------------------------------------------------------------
def run_conformance(*, variants=VARIANTS, steps=STEPS, spacings=SPACINGS, order_steps=ORDER_STEPS, seed: int = 0,
                    reference_steps: int | None = REFERENCE_STEPS, star_import: bool = True, quiet: bool = True,
                    threads: int | None = 1) -> ConformanceResult:
    """Run every check (module docstring) on ``variants``; the arguments shrink the run for tests
    (``reference_steps=None``: no per-scheduler summary and no Monte Carlo cross-check)."""
    diffusers = require_diffusers()
    start = time.perf_counter()
    jobs: list[tuple[str, Callable[[], list]]] = []
    extras: dict = {}
    summaries: dict = {}
    if reference_steps:
        for variant in variants:
            def summary(v=variant):
                summaries[v.label] = _reference_summary(v, reference_steps, seed)
                return []
            jobs.append((f"{variant.label} summary", summary))
    for variant in variants:
        for spacing in spacings:
            for n in steps:
                for options in _sweep_options(variant):
                    jobs.append((f"{variant.label} {spacing} {n}",
                                 lambda v=variant, s=spacing, n=n, o=options: _grid_and_law_checks(v, s, n, o, seed)
                                 + _identity_rows(v, s, n, o)))
                    if KINDS[variant.cls].parallel and not options.get("clip_sample", False):
                        jobs.append((f"{variant.label} {spacing} {n} ParaDiGMS",
                                     lambda v=variant, s=spacing, n=n, o=options: _parallel_rows(v, s, n, o, seed)))
        if not KINDS[variant.cls].parallel and order_steps:
            jobs.append((f"{variant.label} order", lambda v=variant: _order_rows(v, order_steps)))
    present = {variant.label for variant in variants}
    if present & {"Euler", "Euler-ancestral", "DDIM (eta=1)"}:
        for n in steps:
            jobs.append((f"leading-grid identities {n}",
                         lambda n=n: [r for r in _cross_identity_rows(n) if r.variant in present]))
    labels = {}
    for variant in variants:
        labels.setdefault(variant.cls, variant.label)

    def class_checks():
        rows, found = _class_rows(labels, seed)
        extras.update(found)
        if found.get("trailing_out_of_range"):
            extras.update(_trailing_consequence())
        return rows

    jobs.append(("per-class checks", class_checks))
    if star_import:
        jobs.append(("star import", lambda: [_import_row()]))
    rows = []
    with torch_threads(threads), torch.no_grad():
        bar = tqdm(jobs, desc="conformance", unit="config", disable=quiet, file=sys.stderr, leave=False)
        for label, job in bar:
            bar.set_postfix_str(label)
            rows.extend(job())
        bar.close()
    rows.extend(_monte_carlo_rows(summaries))
    if summaries:
        extras["schedulers"] = summaries
    return ConformanceResult(rows, time.perf_counter() - start, diffusers.__version__, extras)


def write_conformance(out_dir=DEFAULT_OUT, **options) -> ConformanceResult:
    """Run :func:`run_conformance` and write ``conformance.md`` and ``results.json`` into ``out_dir``
    (replaced atomically once complete; an unusable location raises
    :class:`~piadm_verify.reporting.report.ReportError` before anything runs)."""
    require_diffusers()
    with atomic_directory(Path(out_dir)) as tmp:
        result = run_conformance(**options)
        data = {**result.to_json(), "environment": {**environment(options.get("seed", 0)), "diffusers": result.version}}
        (tmp / "results.json").write_text(json.dumps(json_safe(data), indent=1, allow_nan=False) + "\n",
                                          encoding="utf-8")
        (tmp / "conformance.md").write_text(result.markdown(), encoding="utf-8")
    return result


# -- conformance.md ----------------------------------------------------------------------------------------
_FAMILIES = ("grid", "law", "monte carlo", "identity", "order", "float64", "parity", "passes", "import")


def _family(check: str) -> str:
    return check.split(":", 1)[0]


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _config_text(config: dict) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in config.items())


_CHARACTERISTIC = {2: "identity", 3: "parity", 4: "parity", 5: "grid", 6: "float64", 7: "law", 9: "order", 10: "grid"}
FINDING_TESTS = {
    1: "test_trailing_spacing_gives_n_timesteps_in_the_training_range",
    2: "test_ddim_lands_on_its_next_timestep",
    3: "test_ddpm_parallel_batch_path_takes_the_step_of_step",
    4: "test_ddim_parallel_batch_path_honours_set_alpha_to_one",
    5: "test_init_noise_sigma_makes_the_initial_draw_the_vp_prior",
    6: "test_float64_samples_stay_float64` and `test_ddpm_matches_its_ou_form_to_float64_round_off",
    7: "test_default_ddim_samples_a_mean_outside_the_unit_interval",
    8: "test_heun_has_the_same_default_schedule_as_the_other_schedulers",
    9: "test_dpm_solver_2m_shows_its_order_by_default",
    10: "test_leading_spacing_covers_the_top_of_the_schedule",
    11: "test_star_import_works",
}


def _smallest(number: int, rows: list) -> CheckRow:
    """The failing row to quote: the finding's characteristic check, a sequential class before its Parallel
    twin, the fewest steps, clipping off unless the finding is about clipping, the fewest options."""
    def key(row):
        n = row.config.get("num_inference_steps")
        n = n[0] if isinstance(n, list) else (n if isinstance(n, int) else 10**6)
        clipped = bool(row.config.get("clip_sample")) and number != 7
        return (_family(row.check) != _CHARACTERISTIC.get(number, _family(row.check)), "Parallel" in row.scheduler,
                n, clipped, len(row.config), row.scheduler, row.check)

    return min(rows, key=key)


def _finding_paragraph(number: int, result: ConformanceResult) -> list[str]:
    finding = FINDINGS[number]
    rows = [r for r in result.failed if r.finding == number]
    lines = [f"### F{number}. {finding.title}", "", finding.text, ""]
    classes = sorted({r.scheduler for r in rows})
    example = _smallest(number, rows)
    if number == 1 and "trailing_out_of_range" in result.extras:
        info = result.extras["trailing_out_of_range"]
        lines.append(f"Affected: {info['count']} values of n ≤ 1000 (smallest {info['smallest']}) in {len(classes)} "
                     f"classes. Smallest reproducing configuration: "
                     f"`DDIMScheduler(timestep_spacing=\"trailing\", clip_sample=False)`, n = {info['smallest'][0]}: "
                     f"KL(p_0 ‖ q) = {_fmt(result.extras.get('ddim_trailing_kl_n61', math.nan))} against "
                     f"{_fmt(result.extras.get('ddim_trailing_kl_n60', math.nan))} at n = 60 (the network answering "
                     f"t = −1 as t = 0).")
    elif number == 8:
        lines.append(f"Reproducing configuration: `HeunDiscreteScheduler().betas` against `DDPMScheduler().betas`: "
                     f"max |Δβ| = {_fmt(example.value)} ({example.detail}).")
    elif number == 11:
        lines.append(f"Reproducing configuration: `python -c \"from diffusers import *\"` in an environment without "
                     f"transformers: {example.detail}")
    else:
        options = {k: v for k, v in example.config.items() if k not in ("num_inference_steps", "step_options")}
        step = f", step options {example.config['step_options']}" if "step_options" in example.config else ""
        lines.append(f"Failing rows: {len(rows)} ({', '.join(classes)}). Smallest reproducing configuration: "
                     f"`{example.scheduler}({_config_text(options)})`, num_inference_steps = "
                     f"{example.config.get('num_inference_steps')}{step}: {example.check.split(': ', 1)[1]}: "
                     f"{_fmt(example.value)} (tolerance {_fmt(example.tolerance)})"
                     f"{'; ' + example.detail if example.detail else ''}.")
    lines.append(f"Test: `tests/test_diffusers_findings.py::{FINDING_TESTS[number]}` (strict xfail asserting the "
                 f"correct behaviour).")
    return lines + [""]


def _verdict_cell(rows: list) -> str:
    if not rows:
        return "—"
    failed = [r for r in rows if not r.passed]
    if not failed:
        return f"pass ({len(rows)})"
    tags = [f"F{k}" for k in sorted({r.finding for r in failed if r.finding})]
    tags += ["UNEXPLAINED"] if any(r.finding is None for r in failed) else []
    return f"{', '.join(tags)}: {len(failed)}/{len(rows)} fail"


def _scheduler_table(result: ConformanceResult) -> list[str]:
    summaries = result.extras.get("schedulers", {})
    schedulers = list(dict.fromkeys(r.variant for r in result.rows if r.variant != "diffusers"))
    lines = ["## Per scheduler", ""]
    if summaries:
        n = next(iter(summaries.values()))["config"]["num_inference_steps"]
        lines += [f"Each class's default configuration with clipping off, n = {n} steps, target p_0 with its mean "
                  "outside [−1, 1]. Route: how the exact law q is obtained (probe: `exact_law_of` on the injected "
                  "noise; propagate: mean and covariance pushed through each `step()`, which draws its own noise). "
                  "KL(p ‖ q) to the target p_0, to p_η (η: the schedule's last ᾱ) and to the law of the exact "
                  "continuous-time process on [η, T] from N(0, I) (reverse SDE for a stochastic scheduler, "
                  "probability-flow ODE otherwise: what the scheduler tends to as its steps shrink). Monte Carlo: "
                  f"{MC_CHECK_SAMPLES} runs of the real code against q, Holm-adjusted p-values of the mean "
                  f"(Hotelling χ²) and covariance (Bartlett LRT) tests, one family of "
                  f"{2 * len(summaries)} at α = {MC_ALPHA:g}. Parity: ParaDiGMS on the batch path against "
                  "`step()`, every swept configuration. Findings: those explaining any failing row of the "
                  "scheduler (all its configurations).", "",
                  "| scheduler | config | route | KL to p_0 | KL to p_η | KL to continuous | Monte Carlo (Holm p: mean, "
                  "cov) | parity | findings |", "|---|---|---|---|---|---|---|---|---|"]
    else:
        lines += ["(Run without the per-scheduler summary.)", "", "| scheduler | parity | findings |", "|---|---|---|"]
    for label in schedulers:
        rows = [r for r in result.rows if r.variant == label]
        parity = _verdict_cell([r for r in rows if _family(r.check) == "parity"])
        numbers = sorted({r.finding for r in rows if not r.passed and r.finding})
        found = ", ".join(f"F{k}" for k in numbers) or "none"
        if any(not r.passed and r.finding is None for r in rows):
            found += ", UNEXPLAINED"
        info = summaries.get(label)
        if not summaries:
            lines.append(f"| {_cell(label)} | {parity} | {found} |")
            continue
        if info is None:
            lines.append(f"| {_cell(label)} | | | | | | | {parity} | {found} |")
            continue
        holm_info = info.get("holm", {})
        mc = ", ".join(f"{_fmt(holm_info[t]['adjusted'])}" for t in ("mean", "cov") if t in holm_info)
        mc_ok = all(v["passed"] for v in holm_info.values())
        config = {k: v for k, v in info["config"].items() if k != "num_inference_steps"}
        lines.append(f"| {_cell(label)} | {_cell(_config_text(config))} | {info['route']} | "
                     f"{_fmt(info['kl_target'])} | {_fmt(info['kl_p_eta'])} | {_fmt(info['kl_continuous'])} | "
                     f"{'pass' if mc_ok else 'FAIL'} ({mc}) | {parity} | {found} |")
    return lines + [""]


def _markdown(result: ConformanceResult) -> str:
    env_line = (f"diffusers {result.version}, torch {torch.__version__}, Python {sys.version.split()[0]}, CPU, float64; "
                f"{result.seconds:.0f} s.")
    lines = ["# Conformance of diffusers' schedulers", "", env_line, "",
             f"**{result.summary()}.**", "",
             "Targets: p_0 = N([2.5, −0.5], [[1.5, 0.3], [0.3, 0.4]]) (mean outside [−1, 1]) for every check, and "
             "N([0.3, −0.2], [[0.1, 0.02], [0.02, 0.05]]) (mean inside) for the clipping configurations' law. Each "
             "scheduler is driven by the target's exact score through `piadm_verify.external.diffusers_sampler` "
             "(N = 1000 training steps, linear betas) and compared with p_η, η its own final time. Laws are exact "
             "(probing or propagation) unless the run clips (Monte Carlo). What each check means: "
             "`piadm_verify/reporting/conformance.py`.", ""]
    schedulers = list(dict.fromkeys(r.variant for r in result.rows))
    families = [f for f in _FAMILIES if any(_family(r.check) == f for r in result.rows)]
    lines += _scheduler_table(result)
    lines += ["## Checks by family", "", "Cells: `pass (k)` for k passing rows, or the findings that explain the "
              "failing rows (`F2: 3/18` = 3 of 18 rows fail, explained by finding 2). The checks made once per class "
              "(timesteps in range, initial scale, default betas, float64) are listed under the class's first "
              "variant.", ""]
    lines.append("| scheduler | " + " | ".join(families) + " |")
    lines.append("|---|" + "---|" * len(families))
    for scheduler in schedulers:
        cells = []
        for family in families:
            rows = [r for r in result.rows if r.variant == scheduler and _family(r.check) == family]
            if not rows:
                cells.append("")
                continue
            failed = [r for r in rows if not r.passed]
            if not failed:
                cells.append(f"pass ({len(rows)})")
                continue
            numbers = sorted({r.finding for r in failed if r.finding})
            tags = [f"F{k}" for k in numbers] + (["UNEXPLAINED"] if any(r.finding is None for r in failed) else [])
            cells.append(f"{', '.join(tags)}: {len(failed)}/{len(rows)}")
        lines.append(f"| {_cell(scheduler)} | " + " | ".join(cells) + " |")
    lines += ["", "## Findings", ""]
    if not result.findings:
        lines += ["None: every check passes.", ""]
    for number in result.findings:
        lines += _finding_paragraph(number, result)
    if result.unexplained:
        lines += ["### Unexplained failures", "", "These fail without a recorded finding: the library or this project "
                  "changed. Investigate before trusting the run.", ""]
        lines += [f"- {r.scheduler} {_config_text(r.config)}: {r.check} = {_fmt(r.value)} (tolerance "
                  f"{_fmt(r.tolerance)}) {r.detail}" for r in result.unexplained] + [""]
    lines += ["## Measured orders", "", "| scheduler | configuration | measured order | nominal | KL and local orders |",
              "|---|---|---|---|---|"]
    for r in result.rows:
        if _family(r.check) == "order":
            nominal = r.tolerance + ORDER_MARGIN
            label = r.check.rsplit("(", 1)[-1].rstrip(")")
            lines.append(f"| {_cell(r.variant)} | {label}: {_cell(_config_text(r.config))} | {r.value:.2f} "
                         f"{'' if r.passed else '(F' + str(r.finding) + ')' if r.finding else '(UNEXPLAINED)'} | "
                         f"{nominal:g} | {_cell(r.detail)} |")
    lines += ["", "## Every check", ""]
    for family in families:
        lines += [f"### {family}", "", "| scheduler | config | check | value | tolerance | verdict | detail |",
                  "|---|---|---|---|---|---|---|"]
        for r in result.rows:
            if _family(r.check) != family:
                continue
            verdict = "pass" if r.passed else (f"F{r.finding}" if r.finding else "UNEXPLAINED")
            lines.append(f"| {_cell(r.variant)} | {_cell(_config_text(r.config))} | {_cell(r.check.split(': ', 1)[1])} | "
                         f"{_fmt(r.value)} | {_fmt(r.tolerance)} | {verdict} | {_cell(r.detail)} |")
        lines.append("")
    return "\n".join(lines)
