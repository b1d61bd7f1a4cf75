"""PIADM-ODE convergence studies as data (SPEC.md §5, §7): configurations plus functions returning
:class:`~piadm_verify.sweeps.Table`, read by :mod:`piadm_verify.claims`, the tests and the reports.

The ODE theorem bounds TV, so the error here is ``TV`` (exact, :func:`analytic.gaussian_tv`), with
KL alongside where the two exponents differ. Every sweep takes a
:class:`~piadm_verify.sweeps.Variant`; its ``scheme`` drives the predictor and its
``corrector_policy`` the corrector, and the oracle follows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from analytic import Gaussian, gaussian_tv

from .errors import inject_error
from .grid import TimeGrid
from .ode import (
    Corrector,
    _force_terms,
    _kinetic_map,
    _KineticMaps,
    _push,
    exact_law_ode,
    exact_laws_ode,
    joint_with_fresh_velocity,
)
from .oracle import _AffineScore
from .presets import ode_preset
from .sweeps import CORRECT, Table, Variant, _kl, continuous_k_star, delta_target, product_target, reference_target

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
    "ODERoundsSweep",
    "ode_rounds_sweep",
    "ode_exact_sweep",
]

_WORK = torch.float64


def _tv(p: Gaussian, q: Gaussian | None) -> float:
    """TV(p, q), 1 for a blown-up q."""
    return 1.0 if q is None else gaussian_tv(p, q)


def _ode_law(target, grid, variant: Variant, K=None, corrector=None, injected=None, initial=None) -> Gaussian | None:
    """The variant's exact PIADM-ODE law (K None: K = max M_n), None if its iteration blew up."""
    grid = variant.grid(grid)
    K = grid.max_steps if K is None else K
    try:
        return exact_law_ode(target, grid, K, variant.corrector(corrector), variant.error(target, injected),
                             initial=initial, scheme=variant.scheme)
    except FloatingPointError:
        return None


def _ode_laws(target, grid, variant: Variant, Ks, corrector, corrector_Ks) -> dict:
    """``{(K, K†): law or None}`` in one pass (see :func:`~piadm_verify.ode.exact_laws_ode`)."""
    try:
        return exact_laws_ode(target, variant.grid(grid), Ks, variant.corrector(corrector), variant.error(target),
                              corrector_Ks=corrector_Ks, scheme=variant.scheme)
    except FloatingPointError:
        return {(K, Kc): None for K in Ks for Kc in corrector_Ks}


# -- the corrector on its own -----------------------------------------------------------------------
@dataclass(frozen=True)
class LangevinBiasSweep:
    """The corrector with force ``F(x) = -x`` (target N(0, 1)) for unit time from N(0, I) ⊗ N(0, I)."""

    steps: tuple = (0.2, 0.1, 0.05, 0.025)
    gamma: float = 2.0
    duration: float = 1.0


def langevin_bias_sweep(config: LangevinBiasSweep = LangevinBiasSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``eps`` (ε†), ``var_bias`` = Var x − 1 and ``var_bias_v`` = Var v − 1 after ``duration``."""
    cols = {"eps": [], "var_bias": [], "var_bias_v": []}
    for eps in config.steps:
        M = round(config.duration / eps)
        corrector = variant.corrector(Corrector(K=M, steps=M, h=config.duration, gamma=config.gamma))
        A, c, V = _kinetic_map(_KineticMaps.build(corrector), -torch.ones(1, 1, 1, dtype=_WORK),
                               torch.zeros(1, 1, dtype=_WORK), corrector)
        _, P = _push(A, c, V, torch.zeros(1, 2, dtype=_WORK), torch.eye(2, dtype=_WORK)[None])
        cols["eps"].append(float(eps))
        cols["var_bias"].append(float(P[0, 0, 0]) - 1.0)
        cols["var_bias_v"].append(float(P[0, 1, 1]) - 1.0)
    return Table("langevin_bias", cols, {"gamma": config.gamma, "duration": config.duration, "variant": variant.name})


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
    model = _AffineScore(target, None, "auto", 1.0, start)
    p = model.p
    joint_mean, joint_cov = joint_with_fresh_velocity(*model.initial_law())
    A, c, V = _kinetic_map(_KineticMaps.build(corrector), *_force_terms(model, config.level), corrector)
    cols = {"time": [], "tv": []}
    for sub in range(config.sub_blocks + 1):
        law = model.to_gaussian(joint_mean[:, :p], joint_cov[:, :p, :p], torch.float64)
        cols["time"].append(sub * config.h)
        cols["tv"].append(gaussian_tv(p_level, law))
        joint_mean, joint_cov = _push(A, c, V, joint_mean, joint_cov)
    return Table("relaxation", cols, {"level": config.level, "scale": config.scale, "variant": variant.name})


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
    cols = {"kind": [], "delta": [], "tv": [], "kl": []}
    for kind in config.kinds:
        unit = inject_error(target, kind, 1.0, grid, "Linf", generator=config.seed)
        for delta in config.deltas:
            law = _ode_law(target, grid, variant, corrector=corrector, injected=unit.at_delta(delta))
            cols["kind"].append(kind)
            cols["delta"].append(float(delta))
            cols["tv"].append(1.0 if free is None else _tv(free, law))
            cols["kl"].append(math.inf if free is None else _kl(free, law))
    return Table("ode_delta", cols, {"T": config.T, "eta": config.eta, "variant": variant.name})


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
    cols = {"eps": [], "tv": [], "kl": []}
    for M in config.steps:
        grid = TimeGrid.uniform(config.T, config.eta, config.blocks, M)
        eps = float(grid.steps(0)[0])
        corrector_steps = max(1, round(config.corrector_h / eps))
        corrector = Corrector(K=corrector_steps, steps=corrector_steps, h=config.corrector_h)
        law = _ode_law(target, grid, variant, corrector=corrector, initial=target.marginal(config.T))
        cols["eps"].append(eps)
        cols["tv"].append(_tv(p_eta, law))
        cols["kl"].append(_kl(p_eta, law))
    return Table("ode_eps", cols, {"T": config.T, "eta": config.eta, "variant": variant.name})


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
    cols = {"d": [], "tv": [], "kl": []}
    for d in config.dims:
        target = product_target(d)
        law = _ode_law(target, grid, variant, K=config.K, corrector=corrector)
        p_eta = target.marginal(config.eta)
        cols["d"].append(d)
        cols["tv"].append(_tv(p_eta, law))
        cols["kl"].append(_kl(p_eta, law))
    return Table("ode_dimension", cols, {"T": config.T, "eta": config.eta, "steps": config.steps, "K": config.K,
                                         "variant": variant.name})


# -- exactness, rounds and space ------------------------------------------------------------------------------
def ode_exact_sweep(variant: Variant = CORRECT) -> Table:
    """Columns: ``K``, ``corrector_K``, ``tv`` = TV(correct sequential ODE law, the variant's law) for
    Picard counts below and at/above M and M† on a small grid (the parity invariant, exactly)."""
    target = reference_target()
    grid = TimeGrid.uniform(4.0, 1e-2, 4, 6)
    steps = 5
    sequential = exact_law_ode(target, grid, grid.max_steps, Corrector(K=steps, steps=steps, h=0.5))
    cols = {"K": [], "corrector_K": [], "converged": [], "tv": []}
    for K, Kc in ((2, 2), (grid.max_steps, steps), (grid.max_steps + 2, steps + 2)):
        law = _ode_law(target, grid, variant, K=K, corrector=Corrector(K=Kc, steps=steps, h=0.5))
        cols["K"].append(K)
        cols["corrector_K"].append(Kc)
        cols["converged"].append(K >= grid.max_steps and Kc >= steps)
        cols["tv"].append(_tv(sequential, law))
    return Table("ode_exact", cols, {"M": grid.max_steps, "corrector_steps": steps, "variant": variant.name})


@dataclass(frozen=True)
class ODERoundsSweep:
    """``d`` over ≥ 2.5 decades under :func:`~piadm_verify.presets.ode_preset` at fixed δ.

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
    names = ("d", "T", "N", "M", "K", "corrector_steps", "corrector_K", "sequential_steps", "peak_points", "space",
             "log_term") + (("tv_preset", "tv_sequential", "k_star", "corrector_k_star", "rounds") if config.picard else ())
    cols = {k: [] for k in names}
    make_preset = variant.ode_preset or ode_preset
    Ks = list(range(1, config.k_max + 1))
    for d in config.dims:
        preset = make_preset(d, config.delta, eta=config.eta)
        counts = dict(d=d, T=preset.T, N=preset.N, M=preset.M, K=preset.K, corrector_steps=preset.corrector_steps,
                      corrector_K=preset.corrector_K,
                      sequential_steps=preset.N * (preset.M + preset.corrector_sub_blocks * preset.corrector_steps),
                      peak_points=preset.peak_points, space=preset.space, log_term=preset.log_term)
        if not config.picard:
            for k in names:
                cols[k].append(counts[k])
            continue
        target, grid = product_target(d), preset.grid()
        full = Corrector(**{**preset.corrector, "K": preset.corrector_steps})
        sequential = exact_law_ode(target, grid, grid.max_steps, full)
        p_eta = target.marginal(config.eta)
        threshold = config.picard_tolerance * config.delta
        by_k = _ode_laws(target, grid, variant, Ks, full, [full.K])
        by_kc = _ode_laws(target, grid, variant, [grid.max_steps], full, Ks)
        tv_k = [_tv(sequential, by_k[(K, full.K)]) for K in Ks]
        tv_kc = [_tv(sequential, by_kc[(grid.max_steps, Kc)]) for Kc in Ks]
        k_star, kc_star = continuous_k_star(Ks, tv_k, threshold), continuous_k_star(Ks, tv_kc, threshold)
        at_preset = _ode_law(target, grid, variant, K=preset.K, corrector=Corrector(**preset.corrector))
        row = dict(counts, tv_preset=_tv(p_eta, at_preset), tv_sequential=_tv(p_eta, sequential), k_star=k_star,
                   corrector_k_star=kc_star, rounds=(k_star + preset.corrector_sub_blocks * kc_star) * preset.N)
        for k in names:
            cols[k].append(row[k])
    return Table("ode_rounds", cols, {"delta": config.delta, "eta": config.eta,
                                      "picard_tolerance": config.picard_tolerance, "variant": variant.name})
