"""What every study shares (docs/mathematics.md §7): the :class:`Study` declaration, the
:class:`Variant` of the sampler under study, the Gaussian targets of the studies and small helpers.

A study is declared once: its configuration (a frozen dataclass of parameter values), the sweep
function that turns the configuration into a :class:`~piadm_verify.verification.tables.Table`,
the judge that turns the table into verdicts, the claims it judges (their names and theory
strings), its plots (as data, drawn by :mod:`piadm_verify.reporting.plots`) and a short reading.
The theory tests, the reports, the baseline and the audits all read that declaration
(:mod:`piadm_verify.studies.registry`), so nothing is computed twice or two ways.

Every sweep takes a :class:`Variant`: the sampler under study. ``CORRECT`` is PIADM as the paper
defines it; the negative controls of the test suite pass deliberately broken variants (another
scheme, an error applied twice, a sampler that ignores its generator) and the claims must then
fail. Reference quantities (``p_η``, the sequential law that Picard should converge to) always
come from the correct scheme.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from analytic import Gaussian, gaussian_kl, gaussian_tv

from ..core.presets import sde_preset
from ..core.schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from ..core.grid import TimeGrid
from ..samplers.sde import piadm_sde
from ..samplers.window import paradigms, parataa
from ..scores.errors import combine_errors
from ..verification.claims.base import ALPHA, Claim
from ..verification.stats import CheckResult
from ..verification.tables import Table

__all__ = [
    "Plot",
    "loglog",
    "Study",
    "no_claims",
    "Variant",
    "CORRECT",
    "reference_target",
    "picard_target",
    "product_target",
    "delta_target",
    "anisotropic_target",
    "PRODUCT_PAIRS",
    "continuous_k_star",
    "kl_or_inf",
    "tv_or_one",
    "unless_blown_up",
]


# -- the declaration -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plot:
    """A plot declared as data: ``kind`` names a drawing function of
    :mod:`piadm_verify.reporting.plots` (``"loglog"``, ``"picard"``, …), ``options`` its keyword
    arguments (the table, the columns, the claims whose fitted slopes the legend shows)."""

    kind: str
    options: Mapping = field(default_factory=dict)


def loglog(table: str, x: str, y: str, **options) -> Plot:
    """A log-log plot of ``table``'s column ``y`` against ``x`` (file ``<table>.png`` unless
    ``filename`` is given); the options of :func:`piadm_verify.reporting.plots.loglog_plot`."""
    return Plot("loglog", dict(table=table, x=x, y=y, **{"filename": f"{table}.png", **options}))


def no_claims(table: Table, alpha: float = ALPHA) -> list[CheckResult]:
    """For a study that only shows its table (no claim judges it)."""
    return []


@dataclass(frozen=True)
class Study:
    """One study, declared once.

    ``name``
        The name of the table the sweep returns; plots, the baseline and ``results.json`` find it so.
    ``title``, ``reading``
        The heading of its report section, and a short paragraph of Markdown: what the plot shows
        and what the theory predicts.
    ``sweep``, ``config``
        ``sweep(config, variant) -> Table`` and its configuration (the theory tests' one; suites
        and the baseline derive others with :meth:`configured`).
    ``judge``, ``claims``
        ``judge(table, alpha) -> list[CheckResult]``: the claims judging the table, each at level
        α; ``claims`` declares them (:class:`~piadm_verify.verification.claims.base.Claim`: name
        and theory string). Every check the judge returns is an instance of one of them.
    ``plots``
        :class:`Plot` declarations.
    ``markdown``
        ``markdown(table) -> str``: Markdown that the report prints in the study's section after
        the reading (a table derived from the study's table, such as the head-to-head study's rounds
        to a target accuracy), or None.
    """

    name: str
    title: str
    sweep: Callable
    config: object
    judge: Callable[[Table, float], list[CheckResult]] = no_claims
    claims: tuple[Claim, ...] = ()
    plots: tuple[Plot, ...] = ()
    reading: str = ""
    markdown: Callable[[Table], str] | None = None

    def run(self, seed: int = 0, variant: "Variant | None" = None) -> Table:
        """The study's table for ``variant`` (default :data:`CORRECT`). ``seed`` shifts the
        configuration's own ``seed`` field, if it has one (0: the configuration's seed, the one
        the theory tests use); deterministic studies ignore it."""
        config = self.config
        if seed and hasattr(config, "seed"):
            config = replace(config, seed=config.seed + seed)
        return self.sweep(config, CORRECT if variant is None else variant)

    def configured(self, **changes) -> "Study":
        """The same study with configuration fields changed (``rounds.configured(dims=(4, 16))``)."""
        return replace(self, config=replace(self.config, **changes))

    def theory_of(self, claim_name: str) -> str | None:
        """The theory string of the declared claim that ``claim_name`` is an instance of (None if none)."""
        return next((c.theory for c in self.claims if c.matches(claim_name)), None)

    def config_json(self) -> dict | None:
        """The configuration for ``results.json`` (None for a study without one)."""
        return None if self.config is None else dataclasses.asdict(self.config)


# -- the sampler under study --------------------------------------------------------------------------------
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
        The function giving the theorem's parameters (:func:`~piadm_verify.core.presets.sde_preset`).
    ``sampler``
        The function Monte Carlo sweeps call, with :func:`~piadm_verify.samplers.sde.piadm_sde`'s signature.
    ``corrector_policy``, ``ode_preset``
        For PIADM-ODE sweeps: ``Corrector -> Corrector`` (how the sampler alters the corrector it
        is given) and the ODE preset function (:func:`~piadm_verify.core.presets.ode_preset`).
    ``paradigms``, ``parataa``
        The window samplers the head-to-head sweeps run (:mod:`piadm_verify.studies.head_to_head`),
        with :func:`~piadm_verify.samplers.window.paradigms`' and
        :func:`~piadm_verify.samplers.window.parataa`'s signatures.

    Reference quantities (``p_η``, the sequential law of the correct scheme) never depend on the
    variant, so a broken variant is measured against the truth.
    """

    name: str = "piadm"
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR
    applied_delta: Callable | None = field(default=None, compare=False)
    score_fault: Callable | None = field(default=None, compare=False)
    grid_policy: Callable | None = field(default=None, compare=False)
    preset: Callable = field(default=sde_preset, compare=False)
    sampler: Callable = field(default=piadm_sde, compare=False)
    corrector_policy: Callable | None = field(default=None, compare=False)
    ode_preset: Callable | None = field(default=None, compare=False)
    paradigms: Callable = field(default=paradigms, compare=False)
    parataa: Callable = field(default=parataa, compare=False)

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
    """docs/mathematics.md §7's Picard example: 3-d diagonal Gaussian with variances 0.5, 2, 0.1."""
    return Gaussian([0.0, 0.0, 0.0], [0.5, 2.0, 0.1])


PRODUCT_PAIRS = ((0.5, 0.5), (-0.5, 1.5), (1.0, 0.8), (0.0, 1.2))


def product_target(d: int, pairs=PRODUCT_PAIRS) -> Gaussian:
    """A product Gaussian whose coordinates cycle through a few (mean, variance) pairs (cov ≈ I)."""
    reps = math.ceil(d / len(pairs))
    means = torch.tensor([m for m, _ in pairs], dtype=torch.float64).repeat(reps)[:d]
    variances = torch.tensor([v for _, v in pairs], dtype=torch.float64).repeat(reps)[:d]
    return Gaussian(means, variances)


def delta_target() -> Gaussian:
    """A 2-d Gaussian with variances above 1: errors are not contracted away (docs/mathematics.md §7's example)."""
    return Gaussian([1.0, -1.0], [[3.0, 0.5], [0.5, 1.5]])


def anisotropic_target(d: int, seed: int = 0) -> Gaussian:
    """A randomly rotated Gaussian with eigenvalues log-spaced in [0.1, 10]."""
    g = torch.Generator().manual_seed(seed + d)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.logspace(-1.0, 1.0, d, dtype=torch.float64)
    return Gaussian(torch.randn(d, generator=g, dtype=torch.float64) * 0.5, (q * lam) @ q.T)


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


def kl_or_inf(p: Gaussian, q: Gaussian | None) -> float:
    """KL(p ‖ q), ``inf`` for a blown-up q (including one whose covariance overflows the divergence)."""
    if q is None:
        return math.inf
    with np.errstate(all="ignore"):
        value = gaussian_kl(p, q)
    return value if math.isfinite(value) else math.inf


def tv_or_one(p: Gaussian, q: Gaussian | None) -> float:
    """TV(p, q), 1 for a blown-up q (None)."""
    return 1.0 if q is None else gaussian_tv(p, q)


def unless_blown_up(compute: Callable, *args, fallback=None, **kwargs):
    """``compute(*args, **kwargs)``, or ``fallback`` when the sampler or the oracle blows up
    (a :class:`FloatingPointError`: a non-finite iterate or law), so that a study records the
    blow-up as data and its claims fail on it."""
    try:
        return compute(*args, **kwargs)
    except FloatingPointError:
        return fallback
