"""PIADM-ODE convergence studies (docs/mathematics.md §5, §7): configurations, sweeps returning
:class:`~piadm_verify.verification.tables.Table` s, and the studies' declarations (:data:`STUDIES`).

The ODE theorem bounds TV, so the error here is ``TV`` (exact, :func:`analytic.gaussian_tv`), with
KL alongside where the two exponents differ. Every sweep takes a
:class:`~piadm_verify.studies.base.Variant`; its ``scheme`` drives the predictor and its
``corrector_policy`` the corrector, and the oracle follows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from analytic import Gaussian, gaussian_tv

from ..core.grid import TimeGrid
from ..core.presets import ode_preset
from ..core.schemes import Corrector
from ..oracle.affine import WORK_DTYPE, AffineScore
from ..oracle.ode import (
    KineticMaps,
    exact_law_ode,
    exact_laws_ode,
    force_terms,
    joint_with_fresh_velocity,
    kinetic_map,
)
from ..scores.errors import inject_error
from ..verification.claims import ode as claims
from ..verification.tables import Table
from .base import (
    CORRECT,
    Plot,
    Study,
    Variant,
    continuous_k_star,
    delta_target,
    kl_or_inf,
    loglog,
    product_target,
    reference_target,
    tv_or_one,
    unless_blown_up,
)

__all__ = [
    "LangevinBiasSweep",
    "langevin_bias_sweep",
    "RelaxationSweep",
    "relaxation_sweep",
    "ODEDeltaSweep",
    "ode_delta_sweep",
    "ODEStepSweep",
    "ode_step_sweep",
    "ODEDimensionSweep",
    "ode_dimension_sweep",
    "ODEExactSweep",
    "ode_exact_sweep",
    "ODERoundsSweep",
    "ode_rounds_sweep",
    "STUDIES",
]


def _ode_law(target, grid, variant: Variant, K=None, corrector=None, injected=None, initial=None) -> Gaussian | None:
    """The variant's exact PIADM-ODE law (K None: K = max M_n), None if its iteration blew up."""
    grid = variant.grid(grid)
    K = grid.max_steps if K is None else K
    return unless_blown_up(exact_law_ode, target, grid, K, variant.corrector(corrector),
                           variant.error(target, injected), initial=initial, scheme=variant.scheme)


def _ode_laws(target, grid, variant: Variant, Ks, corrector, corrector_Ks) -> dict:
    """``{(K, K†): law or None}`` in one pass (see :func:`~piadm_verify.oracle.ode.exact_laws_ode`)."""
    return unless_blown_up(exact_laws_ode, target, variant.grid(grid), Ks, variant.corrector(corrector),
                           variant.error(target), corrector_Ks=corrector_Ks, scheme=variant.scheme,
                           fallback={(K, Kc): None for K in Ks for Kc in corrector_Ks})


# -- the corrector on its own -----------------------------------------------------------------------
@dataclass(frozen=True)
class LangevinBiasSweep:
    """The corrector with force ``F(x) = -x`` (target N(0, 1)) for unit time from N(0, I) ⊗ N(0, I)."""

    steps: tuple = (0.2, 0.1, 0.05, 0.025)
    gamma: float = 2.0
    duration: float = 1.0


def langevin_bias_sweep(config: LangevinBiasSweep = LangevinBiasSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``eps`` (ε†), ``var_bias`` = Var x − 1 and ``var_bias_v`` = Var v − 1 after ``duration``."""
    rows = []
    for eps in config.steps:
        M = round(config.duration / eps)
        corrector = variant.corrector(Corrector(K=M, steps=M, h=config.duration, gamma=config.gamma))
        step = kinetic_map(KineticMaps.build(corrector), -torch.ones(1, 1, 1, dtype=WORK_DTYPE),
                           torch.zeros(1, 1, dtype=WORK_DTYPE), corrector)
        _, P = step.push(torch.zeros(1, 2, dtype=WORK_DTYPE), torch.eye(2, dtype=WORK_DTYPE)[None])
        rows.append(dict(eps=float(eps), var_bias=float(P[0, 0, 0]) - 1.0, var_bias_v=float(P[0, 1, 1]) - 1.0))
    return Table.from_rows("langevin_bias", rows, {"gamma": config.gamma, "duration": config.duration,
                                                   "variant": variant.name})


@dataclass(frozen=True)
class RelaxationSweep:
    """The corrector at level ``s*`` from the mis-scaled start ``N(μ_{s*} + shift, scale · Σ_{s*})``."""

    level: float = 0.5
    scale: float = 3.0
    shift: float = 1.0
    sub_blocks: int = 8
    steps: int = 16
    h: float = 0.5
    gamma: float = 2.0


def relaxation_sweep(config: RelaxationSweep = RelaxationSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``time`` (corrector time N†·h†) and ``tv`` = TV(p_{s*}, law of x)."""
    target = reference_target()
    p_level = target.marginal(config.level)
    start = Gaussian(p_level.mean + config.shift, config.scale * p_level.cov)
    corrector = variant.corrector(Corrector(K=config.steps, steps=config.steps, h=config.h, gamma=config.gamma))
    model = AffineScore(target, None, "auto", 1.0, start)
    p = model.p
    joint_mean, joint_cov = joint_with_fresh_velocity(*model.initial_law())
    step = kinetic_map(KineticMaps.build(corrector), *force_terms(model, config.level), corrector)
    rows = []
    for sub in range(config.sub_blocks + 1):
        law = model.to_gaussian(joint_mean[:, :p], joint_cov[:, :p, :p], torch.float64)
        rows.append(dict(time=sub * config.h, tv=gaussian_tv(p_level, law)))
        joint_mean, joint_cov = step.push(joint_mean, joint_cov)
    return Table.from_rows("relaxation", rows, {"level": config.level, "scale": config.scale, "variant": variant.name})


# -- δ, ε, d ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ODEDeltaSweep:
    """L^∞-calibrated affine errors of sizes ``deltas``; predictor and corrector converged."""

    kinds: tuple = ("bias", "affine")
    deltas: tuple = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    T: float = 6.0
    eta: float = 1e-3
    blocks: int = 6
    steps: int = 24
    corrector_steps: int = 8
    corrector_h: float = 0.5
    seed: int = 0


def ode_delta_sweep(config: ODEDeltaSweep = ODEDeltaSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``kind``, ``delta`` (δ_∞), ``tv`` = TV(q̂_0, q̂_δ), ``kl`` = KL(q̂_0 ‖ q̂_δ)."""
    target = delta_target()
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    corrector = Corrector(K=config.corrector_steps, steps=config.corrector_steps, h=config.corrector_h)
    free = _ode_law(target, grid, variant, corrector=corrector)
    rows = []
    for kind in config.kinds:
        unit = inject_error(target, kind, 1.0, grid, "Linf", generator=config.seed)
        for delta in config.deltas:
            law = _ode_law(target, grid, variant, corrector=corrector, injected=unit.at_delta(delta))
            rows.append(dict(kind=kind, delta=float(delta), tv=1.0 if free is None else tv_or_one(free, law),
                             kl=math.inf if free is None else kl_or_inf(free, law)))
    return Table.from_rows("ode_delta", rows, {"T": config.T, "eta": config.eta, "variant": variant.name})


@dataclass(frozen=True)
class ODEStepSweep:
    """Uniform grids with ``steps`` per block (predictor and corrector step ε = ε† = h/M), exact start p_T."""

    T: float = 6.0
    eta: float = 1e-3
    blocks: int = 6
    steps: tuple = (4, 8, 16, 32, 64)
    corrector_h: float = 0.5


def ode_step_sweep(config: ODEStepSweep = ODEStepSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``eps`` and ``tv`` = TV(p_η, q̂) with converged Picard iterations."""
    target = reference_target()
    p_eta = target.marginal(config.eta)
    rows = []
    for M in config.steps:
        grid = TimeGrid.uniform(config.T, config.eta, config.blocks, M)
        eps = float(grid.steps(0)[0])
        corrector_steps = max(1, round(config.corrector_h / eps))
        corrector = Corrector(K=corrector_steps, steps=corrector_steps, h=config.corrector_h)
        law = _ode_law(target, grid, variant, corrector=corrector, initial=target.marginal(config.T))
        rows.append(dict(eps=eps, tv=tv_or_one(p_eta, law), kl=kl_or_inf(p_eta, law)))
    return Table.from_rows("ode_eps", rows, {"T": config.T, "eta": config.eta, "variant": variant.name})


@dataclass(frozen=True)
class ODEDimensionSweep:
    """Product targets of dimension ``dims`` on one fixed grid and corrector (fast oracle path)."""

    dims: tuple = (4, 16, 64, 256, 1024, 4096, 16384)
    T: float = 6.0
    eta: float = 1e-3
    blocks: int = 6
    steps: int = 6
    K: int = 6
    corrector_steps: int = 4
    corrector_h: float = 0.5


def ode_dimension_sweep(config: ODEDimensionSweep = ODEDimensionSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``d``, ``tv`` = TV(p_η, q̂), ``kl`` = KL(p_η ‖ q̂) at fixed ε and K."""
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    corrector = Corrector(K=config.corrector_steps, steps=config.corrector_steps, h=config.corrector_h)
    rows = []
    for d in config.dims:
        target = product_target(d)
        law = _ode_law(target, grid, variant, K=config.K, corrector=corrector)
        p_eta = target.marginal(config.eta)
        rows.append(dict(d=d, tv=tv_or_one(p_eta, law), kl=kl_or_inf(p_eta, law)))
    return Table.from_rows("ode_dimension", rows, {"T": config.T, "eta": config.eta, "steps": config.steps,
                                                   "K": config.K, "variant": variant.name})


# -- exactness, rounds and space ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ODEExactSweep:
    """A small grid (``blocks`` blocks of ``steps`` steps on ``[0, T − η]``) and a corrector of
    ``corrector_steps`` steps over ``corrector_h``, at Picard counts below, at and above M and M†."""

    T: float = 4.0
    eta: float = 1e-2
    blocks: int = 4
    steps: int = 6
    corrector_steps: int = 5
    corrector_h: float = 0.5


def ode_exact_sweep(config: ODEExactSweep = ODEExactSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``K``, ``corrector_K``, ``tv`` = TV(correct sequential ODE law, the variant's law) for
    Picard counts below and at/above M and M† on a small grid (the parity invariant, exactly)."""
    target = reference_target()
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    steps, h = config.corrector_steps, config.corrector_h
    sequential = exact_law_ode(target, grid, grid.max_steps, Corrector(K=steps, steps=steps, h=h))
    rows = []
    for K, Kc in ((2, 2), (grid.max_steps, steps), (grid.max_steps + 2, steps + 2)):
        law = _ode_law(target, grid, variant, K=K, corrector=Corrector(K=Kc, steps=steps, h=h))
        rows.append(dict(K=K, corrector_K=Kc, converged=K >= grid.max_steps and Kc >= steps,
                         tv=tv_or_one(sequential, law)))
    return Table.from_rows("ode_exact", rows, {"M": grid.max_steps, "corrector_steps": steps, "variant": variant.name})


@dataclass(frozen=True)
class ODERoundsSweep:
    """``d`` over ≥ 2.5 decades under :func:`~piadm_verify.core.presets.ode_preset` at fixed δ.

    ``K*`` (predictor, corrector converged) and ``K†*`` (corrector, predictor converged) are the
    least continuous counts at which TV to the sequential law falls to ``picard_tolerance · δ``.
    ``picard=False`` tabulates the presets' counts (rounds, space) only, without any law.
    """

    dims: tuple = (4, 16, 64, 256, 1024, 4096)
    delta: float = 0.3
    eta: float = 1e-3
    k_max: int = 10
    picard_tolerance: float = 1e-2
    picard: bool = True


def ode_rounds_sweep(config: ODERoundsSweep = ODERoundsSweep(), variant: Variant = CORRECT) -> Table:
    """Columns per d: the preset (``T``, ``N``, ``M``, ``K``, ``corrector_steps``, ``corrector_K``),
    ``tv_preset``, ``k_star``, ``corrector_k_star``, ``rounds`` = (K* + N†K†*)·N,
    ``sequential_steps`` = N(M + N†M†), ``peak_points`` = M ∨ M†, ``space`` = d(M ∨ M†)."""
    rows = []
    make_preset = variant.ode_preset or ode_preset
    Ks = list(range(1, config.k_max + 1))
    for d in config.dims:
        preset = make_preset(d, config.delta, eta=config.eta)
        counts = dict(d=d, T=preset.T, N=preset.N, M=preset.M, K=preset.K, corrector_steps=preset.corrector_steps,
                      corrector_K=preset.corrector_K,
                      sequential_steps=preset.N * (preset.M + preset.corrector_sub_blocks * preset.corrector_steps),
                      peak_points=preset.peak_points, space=preset.space, log_term=preset.log_term)
        if not config.picard:
            rows.append(counts)
            continue
        target, grid = product_target(d), preset.grid()
        full = Corrector(**{**preset.corrector, "K": preset.corrector_steps})
        sequential = exact_law_ode(target, grid, grid.max_steps, full)
        p_eta = target.marginal(config.eta)
        threshold = config.picard_tolerance * config.delta
        by_k = _ode_laws(target, grid, variant, Ks, full, [full.K])
        by_kc = _ode_laws(target, grid, variant, [grid.max_steps], full, Ks)
        tv_k = [tv_or_one(sequential, by_k[(K, full.K)]) for K in Ks]
        tv_kc = [tv_or_one(sequential, by_kc[(grid.max_steps, Kc)]) for Kc in Ks]
        k_star, kc_star = continuous_k_star(Ks, tv_k, threshold), continuous_k_star(Ks, tv_kc, threshold)
        at_preset = _ode_law(target, grid, variant, K=preset.K, corrector=Corrector(**preset.corrector))
        rows.append(dict(counts, tv_preset=tv_or_one(p_eta, at_preset), tv_sequential=tv_or_one(p_eta, sequential),
                         k_star=k_star, corrector_k_star=kc_star,
                         rounds=(k_star + preset.corrector_sub_blocks * kc_star) * preset.N))
    return Table.from_rows("ode_rounds", rows, {"delta": config.delta, "eta": config.eta,
                                                "picard_tolerance": config.picard_tolerance, "variant": variant.name})


# -- the declarations ---------------------------------------------------------------------------------------
LANGEVIN_BIAS = Study(
    name="langevin_bias", title="Corrector bias with F = −x (ε†)", sweep=langevin_bias_sweep,
    config=LangevinBiasSweep(), judge=claims.langevin_bias_claims, claims=(claims.LANGEVIN_BIAS_FIRST_ORDER,),
    plots=(loglog("langevin_bias", "eps", "var_bias", theory_slope=1.0, theory_label="theory: slope 1",
                   claims={None: claims.LANGEVIN_BIAS_FIRST_ORDER.name}, xlabel="corrector step ε†",
                   ylabel="Var x − 1", title="Frozen-force bias after unit time"),),
    reading=(
        "The corrector alone with the force F(x) = −x of a standard normal, run for unit time from the invariant "
        "law. The force is frozen over each step, so the variance of x drifts by O(ε†): 0.0168, 0.0083, 0.0041 "
        "for ε† = 0.2, 0.1, 0.05 (γ = 2), first order (dashed: slope 1)."))

RELAXATION = Study(
    name="relaxation", title="Corrector relaxation", sweep=relaxation_sweep, config=RelaxationSweep(),
    judge=claims.relaxation_claims, claims=(claims.CORRECTOR_RELAXES,), plots=(Plot("relaxation"),),
    reading=(
        "The corrector at a fixed level s* started from a shifted, three-times-too-wide law: its TV to p_{s*} "
        "falls at every sub-block, which is the corrector's job in PIADM-ODE (docs/mathematics.md §5)."))

ODE_DELTA = Study(
    name="ode_delta", title="PIADM-ODE: score error (δ_∞)", sweep=ode_delta_sweep, config=ODEDeltaSweep(),
    judge=claims.ode_delta_claims, claims=(claims.ODE_DELTA_TV, claims.ODE_DELTA_KL),
    plots=tuple(loglog("ode_delta", "delta", column, group="kind", filename=f"ode_delta_{column}.png",
                        theory_slope=slope, theory_label=f"theory: slope {slope:g}", claims=claim.name,
                        xlabel="calibrated δ_∞", ylabel=label, title=f"{column.upper()} against δ_∞")
                for column, slope, label, claim in (("tv", 1.0, "TV(q̂_0, q̂_δ)", claims.ODE_DELTA_TV),
                                                    ("kl", 2.0, "KL(q̂_0 ‖ q̂_δ)", claims.ODE_DELTA_KL))),
    reading=(
        "L^∞-calibrated affine score errors (docs/mathematics.md §6) with converged predictor and corrector. TV "
        "between the error-free and perturbed laws is linear in δ_∞ (the ODE theorem bounds TV by δ) while KL is "
        "quadratic: two exponents for the same perturbations."))

ODE_EPS = Study(
    name="ode_eps", title="PIADM-ODE: step (ε)", sweep=ode_step_sweep, config=ODEStepSweep(),
    judge=claims.ode_eps_claims, claims=(claims.ODE_EPS_FLOOR,),
    plots=(loglog("ode_eps", "eps", "tv", theory_slope=1.0, theory_label="theorem: slope 1",
                   claims={None: claims.ODE_EPS_FLOOR.name}, xlabel="step ε = ε†", ylabel="TV(p_η, q̂)",
                   title="PIADM-ODE discretisation floor"),),
    reading=(
        "The error-free TV floor of PIADM-ODE against the step ε = ε† from the exact start p_T: first order, "
        "as the theorem's √d ε T term says (dashed: slope 1)."))

ODE_DIMENSION = Study(
    name="ode_dimension", title="PIADM-ODE: dimension at fixed ε (d)", sweep=ode_dimension_sweep,
    config=ODEDimensionSweep(), judge=claims.ode_dimension_claims,
    claims=(claims.ODE_TV_SQRT_D, claims.ODE_TV_SATURATES),
    plots=(loglog("ode_dimension", "d", "tv", theory_slope=0.5, theory_label="theory: slope ½",
                   claims={None: claims.ODE_TV_SQRT_D.name}, xlabel="dimension d", ylabel="TV(p_η, q̂)",
                   title="PIADM-ODE error against dimension"),),
    reading=(
        "TV at fixed ε against d for product targets: it grows like √d while small (dashed: slope ½) and "
        "saturates below 1."))

ODE_EXACT = Study(
    name="ode_exact", title="PIADM-ODE: converged Picard equals the sequential law", sweep=ode_exact_sweep,
    config=ODEExactSweep(), judge=claims.ode_exact_claims, claims=(claims.ODE_EXACT_WHEN_CONVERGED,),
    reading="Converged Picard counts (K ≥ M, K† ≥ M†) reproduce the sequential ODE law exactly.")

ODE_ROUNDS = Study(
    name="ode_rounds", title="PIADM-ODE: rounds and space under the presets (d)", sweep=ode_rounds_sweep,
    config=ODERoundsSweep(), judge=claims.ode_rounds_claims,
    claims=(claims.ODE_ROUNDS_ERROR_BOUNDED, claims.ODE_ROUNDS_ERROR_FLAT, claims.ODE_ROUNDS_LOG_GROWTH_K_STAR,
            claims.ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR, claims.ODE_PEAK_POINTS_SQRT_D,
            claims.ODE_SPACE_D_THREE_HALVES),
    reading=(
        "The ODE presets (ε ∝ δ/√d) over three decades of d: the least Picard counts K* (predictor) and K†* "
        "(corrector) grow like log d, the points per round M ∨ M† like √d, so space d(M ∨ M†) grows like d^{3/2} "
        "against PIADM-SDE's d² (both curves are in the rounds plot), and TV at the preset counts stays below δ."))

STUDIES = (LANGEVIN_BIAS, RELAXATION, ODE_DELTA, ODE_EPS, ODE_DIMENSION, ODE_EXACT, ODE_ROUNDS)
