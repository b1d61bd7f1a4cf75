"""Convergence studies as data: a sweep is a frozen configuration plus one function returning a
:class:`Table` (SPEC.md §7). The theory tests, the reports and the baseline all call these same
functions, so nothing is computed twice or two ways.

Every sweep takes a :class:`Variant`: the sampler under study. ``CORRECT`` is PIADM as the paper
defines it; the negative controls of the test suite pass deliberately broken variants (another
scheme, an error applied twice, a sampler that ignores its generator) and the claims in
:mod:`piadm_verify.claims` must then fail. Reference quantities (``p_η``, the sequential law that
Picard should converge to) always come from the correct scheme.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from analytic import Gaussian, gaussian_kl

from .errors import combine_errors, inject_error
from .grid import TimeGrid
from .oracle import exact_law, exact_laws
from .presets import sde_preset
from .schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from .sde import piadm_sde

__all__ = [
    "Table",
    "Variant",
    "CORRECT",
    "reference_target",
    "picard_target",
    "product_target",
    "PicardSweep",
    "picard_sweep",
    "DeltaSweep",
    "delta_sweep",
    "StepSweep",
    "step_sweep",
    "HorizonSweep",
    "horizon_sweep",
    "DimensionSweep",
    "dimension_sweep",
    "RoundsSweep",
    "rounds_sweep",
    "PathSweep",
    "path_sweep",
    "WorkPrecisionSweep",
    "work_precision_sweep",
]


# -- values shared by all sweeps -------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """A sweep's result: named columns of equal length, and the settings that produced them."""

    name: str
    columns: dict
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of {self.name} have different lengths {lengths}")

    def column(self, key: str) -> np.ndarray:
        return np.asarray(self.columns[key])

    def where(self, **equal) -> "Table":
        """The rows whose columns equal the given values."""
        mask = np.ones(len(next(iter(self.columns.values()))), dtype=bool)
        for key, value in equal.items():
            mask &= self.column(key) == value
        return Table(self.name, {k: list(np.asarray(v)[mask]) for k, v in self.columns.items()}, self.settings)

    def to_json(self) -> dict:
        plain = lambda v: v.item() if hasattr(v, "item") else v
        return {"name": self.name, "settings": {k: plain(v) for k, v in self.settings.items()},
                "columns": {k: [plain(x) for x in v] for k, v in self.columns.items()}}


def _sampler_default():
    return piadm_sde


def _preset_default():
    return sde_preset


@dataclass(frozen=True)
class Variant:
    """The sampler a sweep studies: PIADM as the paper defines it unless a field says otherwise.

    ``scheme``
        The discretisation the sampler and its oracle follow.
    ``applied_delta``
        Maps the calibrated δ a claim is about to the size of error the sampler actually gets
        (None: the same δ; ``lambda δ: 2 * δ`` is "δ applied twice").
    ``score_fault``
        ``target -> affine error``: a fault in score evaluation, added to every score the
        sampler sees (and given to the oracle), or None.
    ``grid_policy``
        ``TimeGrid -> TimeGrid``: how the sampler turns the requested grid into the one it runs
        (None: as requested).
    ``preset``
        The function giving the theorem's parameters (:func:`~piadm_verify.presets.sde_preset`).
    ``sampler``
        The function Monte Carlo sweeps call, with :func:`~piadm_verify.sde.piadm_sde`'s signature.
    ``corrector_policy``, ``ode_preset``
        For PIADM-ODE sweeps: ``Corrector -> Corrector`` (how the sampler alters the corrector it
        is given) and the ODE preset function (:func:`~piadm_verify.presets.ode_preset`).

    Reference quantities (``p_η``, the sequential law of the correct scheme) never depend on the
    variant, so a broken variant is measured against the truth.
    """

    name: str = "piadm"
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR
    applied_delta: Callable | None = field(default=None, compare=False)
    score_fault: Callable | None = field(default=None, compare=False)
    grid_policy: Callable | None = field(default=None, compare=False)
    preset: Callable = field(default_factory=_preset_default, compare=False)
    sampler: Callable = field(default_factory=_sampler_default, compare=False)
    corrector_policy: Callable | None = field(default=None, compare=False)
    ode_preset: Callable | None = field(default=None, compare=False)

    def grid(self, grid: TimeGrid) -> TimeGrid:
        return grid if self.grid_policy is None else self.grid_policy(grid)

    def corrector(self, corrector):
        """The PIADM-ODE corrector the sampler actually runs (``corrector_policy``: Corrector -> Corrector)."""
        return corrector if self.corrector_policy is None or corrector is None else self.corrector_policy(corrector)

    def applied(self, injected):
        """The injected score at the size the sampler actually gets."""
        if injected is None or self.applied_delta is None:
            return injected
        return injected.at_delta(self.applied_delta(injected.delta))

    def error(self, target, injected=None):
        """The affine error the oracle adds to the exact score: the applied injected error and/or the fault."""
        applied = self.applied(injected)
        parts = [p for p in (None if applied is None else applied.error,
                             None if self.score_fault is None else self.score_fault(target)) if p is not None]
        return None if not parts else parts[0] if len(parts) == 1 else combine_errors(*parts)

    def score(self, target, injected=None):
        """The score function the sampler is given: exact score + applied injected error + fault."""
        applied = self.applied(injected)
        fault = None if self.score_fault is None else self.score_fault(target)
        if applied is None and fault is None:
            return target

        def score(x, s):
            out = target.score(x, s)
            if applied is not None:
                out = out + applied.error_at(x, s)
            if fault is not None:
                out = out + fault(x, s)
            return out

        return score


CORRECT = Variant()


def reference_target() -> Gaussian:
    """A 3-d full-covariance Gaussian with an anisotropic spectrum (used by the δ, ε, T sweeps)."""
    return Gaussian([0.5, -0.5, 1.0], [[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.2]])


def picard_target() -> Gaussian:
    """SPEC.md §7's Picard example: 3-d diagonal Gaussian with variances 0.5, 2, 0.1."""
    return Gaussian([0.0, 0.0, 0.0], [0.5, 2.0, 0.1])


PRODUCT_PAIRS = ((0.5, 0.5), (-0.5, 1.5), (1.0, 0.8), (0.0, 1.2))


def product_target(d: int, pairs=PRODUCT_PAIRS) -> Gaussian:
    """A product Gaussian whose coordinates cycle through a few (mean, variance) pairs (cov ≈ I)."""
    reps = math.ceil(d / len(pairs))
    means = torch.tensor([m for m, _ in pairs], dtype=torch.float64).repeat(reps)[:d]
    variances = torch.tensor([v for _, v in pairs], dtype=torch.float64).repeat(reps)[:d]
    return Gaussian(means, variances)


def _picard_law(target, grid, variant: Variant, K: int | None = None, injected=None, initial=None) -> Gaussian | None:
    """The variant's exact output law with K Picard iterations (None: K = max M_n, converged), or
    None when the variant's iteration blows up (non-finite or non-positive output covariance)."""
    grid = variant.grid(grid)
    K = grid.max_steps if K is None else K
    try:
        return exact_law(target, grid, "sde", K, error=variant.error(target, injected), scheme=variant.scheme,
                         initial=initial)
    except FloatingPointError:
        return None


def _picard_laws(target, grid, variant: Variant, Ks, injected=None) -> dict:
    """``{K: law or None}`` for several K in one sweep (None where the iteration blew up)."""
    grid = variant.grid(grid)
    try:
        return exact_laws(target, grid, Ks, error=variant.error(target, injected), scheme=variant.scheme)
    except FloatingPointError:
        return {K: None for K in Ks}


def _kl(p: Gaussian, q: Gaussian | None) -> float:
    """KL(p ‖ q), ``inf`` for a blown-up q (including one whose covariance overflows the divergence)."""
    if q is None:
        return math.inf
    with np.errstate(all="ignore"):
        value = gaussian_kl(p, q)
    return value if math.isfinite(value) else math.inf


# -- K: Picard convergence -----------------------------------------------------------------------
@dataclass(frozen=True)
class PicardSweep:
    """Picard iterations K = 1 … M+2 on uniform grids with block lengths ``hs`` (SPEC.md §7)."""

    T: float = 8.0
    eta: float = 1e-3
    hs: tuple = (1.0, 2.0, 4.0)
    steps_per_unit: int = 16


def picard_sweep(config: PicardSweep = PicardSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``h``, ``K``, ``distance`` = KL(sequential law ‖ K-iterate law), ``kl`` = KL(p_η ‖ K-iterate law)."""
    target = picard_target()
    p_eta = target.marginal(config.eta)
    cols = {"h": [], "K": [], "M": [], "distance": [], "kl": []}
    for h in config.hs:
        blocks = max(1, round((config.T - config.eta) / h))
        M = int(round(h * config.steps_per_unit))
        grid = TimeGrid.uniform(config.T, config.eta, blocks, M)
        sequential = exact_law(target, grid, "sequential_sde")
        Ks = list(range(1, M + 3))
        laws = _picard_laws(target, grid, variant, Ks)
        for K in Ks:
            cols["h"].append(float(h))
            cols["K"].append(K)
            cols["M"].append(M)
            cols["distance"].append(_kl(sequential, laws[K]))
            cols["kl"].append(_kl(p_eta, laws[K]))
    return Table("picard", cols, {"T": config.T, "eta": config.eta, "variant": variant.name})


# -- δ: injected score error ---------------------------------------------------------------------
@dataclass(frozen=True)
class DeltaSweep:
    """Calibrated affine errors of sizes ``deltas`` on a fine grid, K = M (converged Picard)."""

    kinds: tuple = ("bias", "affine")
    deltas: tuple = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    T: float = 6.0
    eta: float = 1e-3
    blocks: int = 6
    steps: int = 64
    seed: int = 0


def delta_target() -> Gaussian:
    """A 2-d Gaussian with variances above 1: errors are not contracted away (SPEC.md §7's example)."""
    return Gaussian([1.0, -1.0], [[3.0, 0.5], [0.5, 1.5]])


def delta_sweep(config: DeltaSweep = DeltaSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``kind``, ``delta`` (calibrated δ₂), ``excess`` = KL(q̂_0 ‖ q̂_δ) (the sampler's own
    error-free law against its perturbed law), ``kl`` = KL(p_η ‖ q̂_δ) and ``kl_free`` = KL(p_η ‖ q̂_0)."""
    target = delta_target()
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    p_eta = target.marginal(config.eta)
    free = _picard_law(target, grid, variant)
    kl_free = _kl(p_eta, free)
    cols = {"kind": [], "delta": [], "excess": [], "kl": [], "kl_free": []}
    for kind in config.kinds:
        unit = inject_error(target, kind, 1.0, grid, "L2", generator=config.seed)
        for delta in config.deltas:
            law = _picard_law(target, grid, variant, injected=unit.at_delta(delta))
            cols["kind"].append(kind)
            cols["delta"].append(float(delta))
            cols["excess"].append(math.inf if free is None else _kl(free, law))
            cols["kl"].append(_kl(p_eta, law))
            cols["kl_free"].append(kl_free)
    return Table("delta", cols, {"T": config.T, "eta": config.eta, "blocks": config.blocks, "steps": config.steps,
                                 "variant": variant.name})


# -- ε: the discretisation floor -----------------------------------------------------------------
@dataclass(frozen=True)
class StepSweep:
    """Uniform grids with ``steps`` per unit time, started from the exact ``p_T`` (no init term)."""

    T: float = 8.0
    eta: float = 1e-3
    blocks: int = 8
    steps: tuple = (5, 10, 20, 40, 80)


def step_sweep(config: StepSweep = StepSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``eps`` (the step), ``kl`` = KL(p_η ‖ q̂) with K = M and ``ŷ_{t_0} ~ p_T``."""
    target = reference_target()
    p_eta = target.marginal(config.eta)
    cols = {"eps": [], "M": [], "kl": []}
    for M in config.steps:
        grid = TimeGrid.uniform(config.T, config.eta, config.blocks, M)
        law = _picard_law(target, grid, variant, initial=target.marginal(config.T))
        cols["eps"].append(float(grid.steps(0)[0]))
        cols["M"].append(M)
        cols["kl"].append(_kl(p_eta, law))
    return Table("eps", cols, {"T": config.T, "eta": config.eta, "variant": variant.name})


# -- T: the initialisation term ------------------------------------------------------------------
@dataclass(frozen=True)
class HorizonSweep:
    """Horizons ``Ts`` with one block per unit time and a fine, fixed step."""

    Ts: tuple = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0)
    eta: float = 1e-3
    steps_per_unit: int = 400


def horizon_sweep(config: HorizonSweep = HorizonSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``T``, ``kl`` = KL(p_η ‖ q̂_T) started from N(0, I), K = M."""
    target = reference_target()
    p_eta = target.marginal(config.eta)
    cols = {"T": [], "kl": []}
    for T in config.Ts:
        blocks = max(1, round(T))
        grid = TimeGrid.uniform(T, config.eta, blocks, round(config.steps_per_unit * (T - config.eta) / blocks))
        cols["T"].append(float(T))
        cols["kl"].append(_kl(p_eta, _picard_law(target, grid, variant)))
    return Table("horizon", cols, {"eta": config.eta, "steps_per_unit": config.steps_per_unit, "variant": variant.name})


# -- d at fixed ε ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DimensionSweep:
    """Dimensions ``dims`` at a fixed grid: product targets (fast path) and rotated anisotropic
    targets (dense path, ``dense_dims``)."""

    dims: tuple = (4, 16, 64, 256, 1024, 4096)
    dense_dims: tuple = (2, 4, 8, 16, 32)
    T: float = 8.0
    eta: float = 1e-3
    blocks: int = 8
    steps: int = 20
    K: int = 6
    seed: int = 0


def anisotropic_target(d: int, seed: int = 0) -> Gaussian:
    """A randomly rotated Gaussian with eigenvalues log-spaced in [0.1, 10]."""
    g = torch.Generator().manual_seed(seed + d)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.logspace(-1.0, 1.0, d, dtype=torch.float64)
    return Gaussian(torch.randn(d, generator=g, dtype=torch.float64) * 0.5, (q * lam) @ q.T)


def dimension_sweep(config: DimensionSweep = DimensionSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``family`` ("product" or "anisotropic"), ``d``, ``kl`` = KL(p_η ‖ q̂) at fixed K and ε."""
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    cols = {"family": [], "d": [], "kl": []}
    for family, dims in (("product", config.dims), ("anisotropic", config.dense_dims)):
        for d in dims:
            target = product_target(d) if family == "product" else anisotropic_target(d, config.seed)
            law = _picard_law(target, grid, variant, K=config.K)
            cols["family"].append(family)
            cols["d"].append(d)
            cols["kl"].append(_kl(target.marginal(config.eta), law))
    return Table("dimension", cols, {"T": config.T, "eta": config.eta, "blocks": config.blocks, "steps": config.steps,
                                     "K": config.K, "variant": variant.name})


# -- rounds and space under the theorem's presets -----------------------------------------------------
@dataclass(frozen=True)
class RoundsSweep:
    """``d`` over ≥ 2.5 decades under :func:`~piadm_verify.presets.sde_preset` at fixed δ.

    ``K*`` is the least (continuous) K at which the Picard distance to the sequential law falls to
    ``picard_tolerance · δ²``: the integer K that first reaches it and the one before are joined by
    log-linear interpolation of the distance.
    """

    dims: tuple = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    delta: float = 0.3
    eta: float = 1e-3
    k_max: int = 14
    picard_tolerance: float = 1e-2


def continuous_k_star(Ks, distances, threshold: float) -> float:
    """The least K with distance ≤ threshold, interpolating ``log distance`` linearly between integers
    (``inf`` if never reached; the first K if already reached there)."""
    Ks = np.asarray(Ks, dtype=float)
    logs = np.log(np.maximum(np.asarray(distances, dtype=float), 1e-300))
    target = math.log(threshold)
    hit = np.nonzero(logs <= target)[0]
    if hit.size == 0:
        return math.inf
    i = int(hit[0])
    if i == 0:
        return float(Ks[0])
    return float(Ks[i - 1] + (logs[i - 1] - target) / (logs[i - 1] - logs[i]) * (Ks[i] - Ks[i - 1]))


def rounds_sweep(config: RoundsSweep = RoundsSweep(), variant: Variant = CORRECT) -> Table:
    """Columns per d: the preset (``T``, ``N``, ``M``, ``K``), ``kl_preset`` = KL(p_η ‖ q̂) at the
    preset's K, ``kl_sequential``, ``k_star``, ``rounds`` = K*·N, ``sequential_steps`` = N·M,
    ``peak_points`` = M and ``space`` = d·M."""
    names = ("d", "T", "N", "M", "K", "kl_preset", "kl_sequential", "k_star", "rounds", "sequential_steps",
             "peak_points", "space", "log_term")
    cols = {k: [] for k in names}
    Ks = list(range(1, config.k_max + 1))
    for d in config.dims:
        preset = variant.preset(d, config.delta, eta=config.eta)
        target, grid = product_target(d), preset.grid()
        p_eta = target.marginal(config.eta)
        sequential = exact_law(target, grid, "sequential_sde")
        laws = _picard_laws(target, grid, variant, sorted(set(Ks) | {preset.K}))
        distances = [_kl(sequential, laws[K]) for K in Ks]
        k_star = continuous_k_star(Ks, distances, config.picard_tolerance * config.delta**2)
        row = dict(d=d, T=preset.T, N=preset.N, M=preset.M, K=preset.K, kl_preset=_kl(p_eta, laws[preset.K]),
                   kl_sequential=gaussian_kl(p_eta, sequential), k_star=k_star, rounds=k_star * preset.N,
                   sequential_steps=preset.sequential_steps, peak_points=preset.M, space=preset.space,
                   log_term=preset.log_term)
        for k in names:
            cols[k].append(row[k])
    return Table("rounds", cols, {"delta": config.delta, "eta": config.eta, "picard_tolerance": config.picard_tolerance,
                                  "variant": variant.name})


# -- Monte Carlo: a non-affine error along the sampler's own paths ------------------------------------
@dataclass(frozen=True)
class PathSweep:
    """``fourier`` errors of sizes ``deltas`` under common random numbers, ``replicates`` seeds."""

    deltas: tuple = (0.02, 0.04, 0.08, 0.16)
    replicates: int = 8
    n: int = 500
    T: float = 6.0
    eta: float = 1e-3
    blocks: int = 6
    steps: int = 16
    K: int = 8
    seed: int = 2024


def path_sweep(config: PathSweep = PathSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``replicate``, ``delta``, ``msd`` = mean ‖X_δ − X_0‖² over n paths driven by the same
    noise, and ``kl_mm_excess``: moment-matched Gaussian KL(p_η ‖ ·) of X_δ minus that of X_0."""
    target = reference_target()
    grid = TimeGrid.uniform(config.T, config.eta, config.blocks, config.steps)
    unit = inject_error(target, "fourier", 1.0, grid, "L2", generator=config.seed)
    p_eta = target.marginal(config.eta)
    cols = {"replicate": [], "delta": [], "msd": [], "kl_mm_excess": []}

    def run(score, seed):
        g = torch.Generator().manual_seed(seed)
        return variant.sampler(score, variant.grid(grid), config.K, config.n, target.dim, generator=g,
                               scheme=variant.scheme).samples

    def mm_kl(x):
        return gaussian_kl(p_eta, Gaussian(x.mean(0), torch.cov(x.T)))

    for r in range(config.replicates):
        seed = config.seed + 1000 * (r + 1)
        free = run(variant.score(target), seed)
        for delta in config.deltas:
            perturbed = run(variant.score(target, unit.at_delta(delta)), seed)
            cols["replicate"].append(r)
            cols["delta"].append(float(delta))
            cols["msd"].append(float((perturbed - free).pow(2).sum(-1).mean()))
            cols["kl_mm_excess"].append(mm_kl(perturbed) - mm_kl(free))
    return Table("path", cols, {"n": config.n, "K": config.K, "fourier_delta_stderr": unit.calibration.stderr,
                                "variant": variant.name})


# -- work and precision: error against rounds and score evaluations --------------------------------------
@dataclass(frozen=True)
class WorkPrecisionSweep:
    """One product target of dimension ``d`` under :func:`~piadm_verify.presets.sde_preset` for the
    accuracies ``deltas``: PIADM-SDE at every K = 1 … ``k_max`` and the sequential sampler on the
    same grid (SPEC.md §7: rounds ``K·N`` against ``N·M``)."""

    d: int = 16
    deltas: tuple = (0.5, 0.3, 0.2, 0.1)
    eta: float = 1e-3
    k_max: int = 10


def work_precision_sweep(config: WorkPrecisionSweep = WorkPrecisionSweep(), variant: Variant = CORRECT) -> Table:
    """Columns: ``sampler`` ("piadm" or "sequential"), ``delta``, ``K`` (0 for the sequential
    sampler) and ``preset_K`` (the preset's K), ``rounds`` (``K·N``, or ``N·M``), ``score_evals``
    per sample (``K·Σ M_n``, or ``Σ M_n``), ``peak_points`` (``max M_n``, or 1) and
    ``kl`` = KL(p_η ‖ output law). The sequential sampler is the correct scheme's reference."""
    target = product_target(config.d)
    p_eta = target.marginal(config.eta)
    Ks = list(range(1, config.k_max + 1))
    names = ("sampler", "delta", "K", "preset_K", "rounds", "score_evals", "peak_points", "kl")
    cols = {k: [] for k in names}

    def add(**row):
        for k in names:
            cols[k].append(row[k])

    for delta in config.deltas:
        preset = variant.preset(config.d, delta, eta=config.eta)
        grid = preset.grid()
        run_grid = variant.grid(grid)
        laws = _picard_laws(target, grid, variant, Ks)
        for K in Ks:
            add(sampler="piadm", delta=float(delta), K=K, preset_K=preset.K, rounds=K * run_grid.blocks,
                score_evals=K * run_grid.total_steps, peak_points=run_grid.max_steps, kl=_kl(p_eta, laws[K]))
        add(sampler="sequential", delta=float(delta), K=0, preset_K=preset.K, rounds=grid.total_steps,
            score_evals=grid.total_steps, peak_points=1, kl=_kl(p_eta, exact_law(target, grid, "sequential_sde")))
    return Table("work_precision", cols, {"d": config.d, "eta": config.eta, "k_max": config.k_max,
                                          "variant": variant.name})
