"""Deliberately broken PIADM-SDE samplers: the negative controls of the theory suite.

Each is a :class:`~piadm_verify.studies.base.Variant`. Faults in the scheme, the score, the grid or the
preset are written in the language the oracle reads, so the exact-law sweeps see them; a fault
outside it (ignoring the generator) only shows in Monte Carlo sweeps. Every variant must make at
least one theory claim fail, and every claim must be failed by at least one variant
(``tests/test_theory_sde.py``).

A broken sampler can trip a claim in two ways: with a finite estimate on the wrong side of the
theorem's bound, or by leaving the claim nothing to evaluate (a blown-up law, a Picard count that
never reaches the tolerance). Only the first shows that the comparison itself can fail; the suites
count it alone, and show each claim that the samplers trip only the second way failing on the
correct sampler's table with its rate made wrong (:func:`distorted`, ``WRONG_RATES`` in each suite).
"""

import math
from dataclasses import dataclass

import numpy as np

from piadm_verify import TimeGrid, piadm_sde, sde_preset
from piadm_verify.core.schemes import ExponentialIntegrator
from piadm_verify.studies import Variant, study
from piadm_verify.verification import Table


def distorted(table: Table, column: str, values) -> Table:
    """``table`` with ``column`` replaced by ``values`` (a wrong-rate control's data)."""
    return table.replace_column(column, np.asarray(values, dtype=float))


def finitely_tripped(results) -> set[str]:
    """Names of the failed claims among ``results`` whose estimate is finite (the comparison failed)."""
    return {c.name for c in results if not c.passed and math.isfinite(c.estimate)}


def check_wrong_rate(tables: dict, name: str, table_name: str, distort) -> None:
    """Assert that claim ``name`` fails, with a finite estimate, once ``distort`` has made the rate of
    ``tables[table_name]`` wrong (the claims are the registered study's)."""
    wrong = distort(tables[table_name])
    check = {c.name: c for c in study(table_name).judge(wrong)}[name]
    assert not check.passed and math.isfinite(check.estimate), check.summary()


@dataclass(frozen=True)
class MissingHalfDrift(ExponentialIntegrator):
    """Drops the ½y drift: ``Y_{j+1} = Y_j + 2(e^{ε/2}-1) S_j + ζ_j``."""

    def decay(self, eps):
        return np.ones_like(np.asarray(eps, dtype=np.float64))

    def log_decay(self, eps):
        return np.zeros_like(np.asarray(eps, dtype=np.float64))


@dataclass(frozen=True)
class NoiseVarianceEps(ExponentialIntegrator):
    """Noise variance ε instead of e^ε − 1."""

    def noise_variance(self, eps):
        return np.asarray(eps, dtype=np.float64).copy()


def sampler_ignoring_generator(score, grid, n=None, dim=None, *, generator=None, **kwargs):
    """PIADM-SDE that draws from torch's global generator whatever it is given."""
    return piadm_sde(score, grid, n, dim, generator=None, **kwargs)


class CoordinateSumFault:
    """A reduction over the wrong axis: every coordinate of the score receives the sum of the true
    score's coordinates, ``s_bug = 1 1ᵀ ∇log p_s``; as an affine error ``e = (1 1ᵀ − I) ∇log p_s``."""

    def __init__(self, target):
        self.target = target

    def __call__(self, x, s):
        score = self.target.score(x, s)
        return score.sum(-1, keepdim=True) - score

    def affine_terms(self, s):
        s = np.asarray(s, dtype=np.float64)
        d = self.target.dim
        lam, U = self.target.eigvals.numpy(), self.target.eigvecs
        U = np.eye(d) if U is None else U.numpy()
        lam_s = np.exp(-s)[:, None] * lam[None, :] - np.expm1(-s)[:, None]
        prec = np.einsum("ik,mk,jk->mij", U, 1.0 / lam_s, U)
        mix = np.ones((d, d)) - np.eye(d)
        mean_s = np.exp(-0.5 * s)[:, None] * self.target.mean.numpy()[None, :]
        return -mix @ prec, np.einsum("ij,mjk,mk->mi", mix, prec, mean_s)


def one_block(grid: TimeGrid) -> TimeGrid:
    """Ignores the block structure: the whole horizon becomes one Picard block."""
    times = np.concatenate([[0.0]] + [block.start + block.taus[1:] for block in grid])
    return TimeGrid(grid.T, grid.eta, [0.0, grid.T - grid.eta], [times])


def preset_without_d(d, delta, *, eta):
    """The SDE preset with the 1/d dropped from ε (so M stops growing with d)."""
    good = sde_preset(d, delta, eta=eta)
    return sde_preset(d, delta, eta=eta, c_eps=good.c_eps * d)


BROKEN = {
    "redrawn_noise": Variant("redrawn_noise", ExponentialIntegrator(shared_noise=False)),
    "score_at_next_point": Variant("score_at_next_point", ExponentialIntegrator(score_point="right")),
    "missing_half_drift": Variant("missing_half_drift", MissingHalfDrift()),
    "noise_variance_eps": Variant("noise_variance_eps", NoiseVarianceEps()),
    "error_applied_twice": Variant("error_applied_twice", applied_delta=lambda delta: 2.0 * delta),
    "delta_not_squared": Variant("delta_not_squared", applied_delta=math.sqrt),
    "coordinate_sum": Variant("coordinate_sum", score_fault=CoordinateSumFault),
    "one_block": Variant("one_block", grid_policy=one_block),
    "preset_without_d": Variant("preset_without_d", preset=preset_without_d),
    "ignores_generator": Variant("ignores_generator", sampler=sampler_ignoring_generator),
}

# The sweeps each variant is run through: the Monte Carlo fault only shows there, and a dense
# score fault makes the large-d exact-law sweeps (fast path only) too expensive.
ORACLE_SWEEPS = ("picard", "delta", "eps", "horizon", "dimension", "rounds")
SWEEPS_FOR = {name: ORACLE_SWEEPS for name in BROKEN}
SWEEPS_FOR["ignores_generator"] = ("path",)
SWEEPS_FOR["coordinate_sum"] = ("picard", "delta", "eps", "horizon", "dimension")


# -- PIADM-ODE ----------------------------------------------------------------------------------------
def _corrector_fault(**change):
    from dataclasses import replace

    return lambda corrector: replace(corrector, **change)


def ode_preset_with_sde_step(d, delta, *, eta):
    """The ODE preset with the SDE's step ε ∝ δ²/d instead of δ/√d (so M grows like d, not √d)."""
    from piadm_verify import ode_preset

    good = ode_preset(d, delta, eta=eta)
    factor = delta / math.sqrt(d)
    return ode_preset(d, delta, eta=eta, c_eps=factor, c_eps_corrector=factor, c_K=good.K / good.log_term)


BROKEN_ODE = {
    "corrector_uncorrelated_noise": Variant("corrector_uncorrelated_noise",
                                            corrector_policy=_corrector_fault(noise_correlation=0.0)),
    "corrector_velocity_kept": Variant("corrector_velocity_kept", corrector_policy=_corrector_fault(refresh_velocity=False)),
    "corrector_noise_redrawn": Variant("corrector_noise_redrawn", corrector_policy=_corrector_fault(shared_noise=False)),
    "corrector_noise_doubled": Variant("corrector_noise_doubled", corrector_policy=_corrector_fault(temperature=2.0)),
    "missing_half_drift": BROKEN["missing_half_drift"],
    "delta_not_squared": BROKEN["delta_not_squared"],
    "coordinate_sum": BROKEN["coordinate_sum"],
    "ode_preset_with_sde_step": Variant("ode_preset_with_sde_step", ode_preset=ode_preset_with_sde_step),
}
# Sweeps per variant. The rounds sweep (the slowest) runs for the predictor fault that trips its
# law-based claims; the preset fault is seen in the presets' counts alone; a dense score fault has
# no fast oracle path at large d.
ODE_SWEEPS = ("langevin_bias", "relaxation", "ode_delta", "ode_eps", "ode_dimension", "ode_exact")
ODE_SWEEPS_FOR = {name: ODE_SWEEPS for name in BROKEN_ODE}
ODE_SWEEPS_FOR["missing_half_drift"] = ODE_SWEEPS + ("ode_rounds",)
ODE_SWEEPS_FOR["coordinate_sum"] = ("relaxation", "ode_delta", "ode_eps", "ode_dimension", "ode_exact")
ODE_SWEEPS_FOR["ode_preset_with_sde_step"] = ("ode_presets",)
