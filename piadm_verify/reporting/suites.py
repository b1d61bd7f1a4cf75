"""The report suites (docs/mathematics.md §7): which registered studies a report runs, at which
configurations, and how a study's claims become the report's verdicts.

The studies themselves (configuration, sweep, claims, plots, reading) are declared once in
:mod:`piadm_verify.studies`; a suite only picks them and, for the full suite, widens their
configurations. Any list of studies makes a report::

    from piadm_verify.reporting.report import write_report
    from piadm_verify.studies import study

    eps = study("eps").configured(steps=(5, 10, 20, 40, 80))
    write_report([eps], "reports/eps")
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..studies.base import Study
from ..studies.registry import REGISTRY, study
from ..verification.stats import CheckResult
from ..verification.tables import Table

__all__ = ["CI_LEVEL", "Verdict", "evaluate_claims", "verdicts", "SUITES"]

CI_LEVEL = 0.95


@dataclass(frozen=True)
class Verdict:
    """A claim as a report shows it.

    ``check`` is the claim's :class:`~piadm_verify.verification.stats.CheckResult` at the report's level α (the
    verdict, and the (1 − 2α) interval the check compared with its bound); ``ci95`` is the same
    estimate's two-sided 95% interval (the same claim function evaluated at α = 0.025, whose
    (1 − 2α) interval is the 95% one); ``exact`` says the estimate has no sampling error (an oracle
    value or an exact fit), so its interval is a point. ``theory`` is what the theorem says about
    the quantity (its exponent or bound).
    """

    study: str
    theory: str
    check: CheckResult
    ci95: tuple[float, float]

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def exact(self) -> bool:
        return self.check.alpha == 0 or self.ci95[0] == self.ci95[1]

    def to_json(self) -> dict:
        c = self.check
        return {"name": c.name, "study": self.study, "claim": c.claim, "theory": self.theory,
                "estimate": c.estimate, "ci": list(c.ci), "ci95": list(self.ci95), "exact": self.exact,
                "alpha": c.alpha, "p_value": c.p_value, "false_failure_rate": c.false_failure_rate,
                "passed": bool(c.passed), "detail": c.detail}


def evaluate_claims(study: Study, table: Table, alpha: float) -> list[CheckResult]:
    """``study.judge(table, alpha)``; a judge that raises gives one failed check carrying the error,
    so that a report still shows every other result."""
    try:
        return list(study.judge(table, alpha))
    except Exception as error:  # reported as a failed check, with its message
        return [CheckResult(f"{study.name}_claims", f"the claims on the {study.name} table can be evaluated", math.nan,
                            (math.nan, math.nan), 0.0, False, detail=f"{type(error).__name__}: {error}",
                            false_failure_rate=0.0)]


def verdicts(study: Study, table: Table, alpha: float) -> list[Verdict]:
    """The study's claims on its table at level ``alpha``, each with its 95% interval."""
    checks = evaluate_claims(study, table, alpha)
    intervals = evaluate_claims(study, table, (1.0 - CI_LEVEL) / 2.0)
    if [c.name for c in checks] != [c.name for c in intervals]:
        raise RuntimeError(f"study {study.name}: its claims differ between levels (names must not depend on α)")
    return [Verdict(study.name, study.theory_of(c.name) or c.claim, c, (float(w.ci[0]), float(w.ci[1])))
            for c, w in zip(checks, intervals)]


# The quick suite runs the theory tests' configurations (the registry's), so its report shows exactly
# what ``pytest -m theory`` checks, and leaves out the minutes-long histogram study; the full suite
# extends every axis.
_FULL = {
    "picard": dict(hs=(1.0, 2.0, 3.0, 4.0)),
    "delta": dict(deltas=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1), steps=128),
    "eps": dict(steps=(5, 10, 20, 40, 80, 160, 320)),
    "horizon": dict(Ts=tuple(float(T) for T in range(1, 15))),
    "dimension": dict(dims=(4, 16, 64, 256, 1024, 4096, 16384), dense_dims=(2, 4, 8, 16, 32, 64, 128)),
    "rounds": dict(dims=tuple(2**k for k in range(2, 15))),
    "path": dict(deltas=(0.01, 0.02, 0.04, 0.08, 0.16), replicates=16, n=2000),
    "work_precision": dict(d=64, deltas=(0.5, 0.3, 0.2, 0.1, 0.05), k_max=12),
    "langevin_bias": dict(steps=(0.4, 0.2, 0.1, 0.05, 0.025, 0.0125)),
    "relaxation": dict(sub_blocks=16),
    "ode_delta": dict(deltas=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)),
    "ode_eps": dict(steps=(4, 8, 16, 32, 64, 128)),
    "ode_dimension": dict(dims=tuple(4**k for k in range(1, 9))),
    "ode_exact": dict(),
    "ode_rounds": dict(dims=tuple(4**k for k in range(1, 8))),
    "mixture_fit": dict(n=4000, eps=0.025),
    "mixture_picard": dict(targets=("trimodal_1d", "separated_1d", "mixture_2d", "separated_2d", "mixture_10d"),
                           Ks=(1, 2, 3, 4, 5, 6, 7, 8), n=500),
    "mixture_delta": dict(targets=("trimodal_1d", "separated_1d", "mixture_2d", "separated_2d", "mixture_10d"),
                          deltas=(0.005, 0.01, 0.02), replicates=24, n=500, msd_targets=("trimodal_1d",)),
    "mixture_separation": dict(separations=(2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0), replicates=8, steps_per_unit=16),
    "mixture_histogram": dict(),
    "learned": dict(n=2000, n_parity=200, delta_samples_linf=20000),
    # The head-to-head studies' quick configurations are the registry's (d = 4, 64; δ = 0.1; Monte
    # Carlo at d = 4); the full suite widens d to 16384 and δ to 0.03, exact throughout, with the
    # tolerance-stopped samplers' Monte Carlo at d = 4, exact fixed-stride ParaDiGMS up to 3200 steps and
    # the rotated target at d = 32 (the SDE study without the rotated target: 802 s on one loaded core).
    "head_to_head": dict(dims=(4, 64, 1024, 16384), deltas=(0.1, 0.03), k_max=12, window_max_steps=3200,
                         anisotropic_dim=32, mc_dims=(4,)),
    "head_to_head_ode": dict(dims=(4, 64, 1024, 16384), deltas=(0.1, 0.03), window_max_steps=3200, mc_dims=(4,)),
    "head_to_head_mixture": dict(targets=("trimodal_1d", "mixture_2d"), n=10_000),
}

SUITES: dict[str, list[Study]] = {
    "quick": [s for name, s in REGISTRY.items() if name != "mixture_histogram"],
    "full": [study(name).configured(**changes) for name, changes in _FULL.items()],
}
