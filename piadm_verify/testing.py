"""A test kit for samplers other people write (docs/mathematics.md §10).

:func:`verify_sampler` puts any sampler of the backward process on the bench: the part of the
theory suite that applies to every sampler, not only to PIADM. Write the sampler to the contract
(docs/api.md)::

    sampler(score, grid, n, dim, *, noise, dtype=None, device=None, **options) -> SamplerResult or (n, d) tensor

drawing every random number from ``noise`` (a :class:`~piadm_verify.core.noise.StepNoise`: step j
of the grid takes ``noise.steps(j, j + 1)``, the initial draw ``noise.initial()``), and call::

    result = verify_sampler(my_sampler, kind="sde")      # or kind="ode" for a probability-flow sampler
    assert result.passed, result.summary()

The battery (each check a :class:`~piadm_verify.verification.stats.CheckResult`):

* ``consistency_<target>``: the error of the output law to ``p_η`` (KL for ``kind="sde"``, TV for
  ``"ode"``) falls at least linearly as the grid refines (log-log slope in ε shown ≥ 1 − 0.1: a
  first-order method's TV slope approaches 1 from below on these grids; an inconsistent one
  stalls near 0), on a
  3-d full-covariance and a 4-d product Gaussian (and a rotated 8-d one at ``level="full"``).
  Exact laws by probing (:func:`~piadm_verify.oracle.probe.exact_law_of`); a sampler that is not
  affine in its inputs gets Monte Carlo instead (moment-matched KL over replicates).
* ``score_error_rate``: for small calibrated affine score errors the excess ``KL(q̂_0 ‖ q̂_δ)`` is
  exactly quadratic in δ (TOST on the slope, 2 ± 0.1; ``"ode"``: TV linear, 1 ± 0.1);
  ``girsanov`` (``"sde"``): the excess stays below ½δ₂²(1 + 5%). Monte Carlo samplers: the
  mean-square pathwise difference under common noise ∝ δ² (shown ≥ 1.9) instead.
* ``parity`` (with ``reference=``, another sampler the one under test claims to solve): equal
  outputs path by path under the same :class:`~piadm_verify.core.noise.StepNoise` (≤ 1e-10).
* ``mixture_<target>_<test>``: samples of two Gaussian mixtures on a fine grid pass
  Kolmogorov–Smirnov projection tests against the exact 1-D mixture laws and a χ² test of the
  mode weights (Holm within each test).
* ``determinism``: the same seed gives the same output, bit for bit.
* ``counts_rounds``, ``counts_score_evals``, ``counts_peak_points``: the counts the sampler reports
  match the score calls that were observed (the score is wrapped and counted: each call is a
  round; its points are the evaluations per sample). Skipped with a note when the sampler returns
  a tensor.

False failures: the exact checks have none (oracle values); each statistical check runs at its
Bonferroni share α/m of ``alpha`` (m statistical checks), so a correct sampler fails the kit with
probability ≤ ``alpha``. ``level="quick"`` runs in under two minutes on two cores for a sampler as
fast as PIADM; ``"full"`` adds a target, finer grids and larger samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from analytic import Gaussian, gaussian_kl, gaussian_tv

from .core.grid import TimeGrid
from .core.noise import StepNoise
from .oracle.probe import NotAffineError, exact_law_of
from .scores.errors import inject_error
from .studies.base import anisotropic_target, product_target, reference_target
from .studies.mixture import mixture_target
from .verification import stats
from .verification.claims.base import ALPHA
from .verification.estimators import mode_weight_test, projection_fit_test
from .verification.stats import CheckResult

__all__ = ["verify_sampler", "Verification", "SamplerFailure", "KINDS", "LEVELS"]

KINDS = ("sde", "ode")
LEVELS = ("quick", "full")
PARITY_TOL = 1e-10
CONSISTENCY_MARGIN = 0.1  # a first-order method's TV slope approaches 1 from below on coarse grids (0.92-0.94)
GIRSANOV_TOL = 0.05
CONSISTENCY_T = 12.0
CONSISTENCY_ETA = 1e-3
CONSISTENCY_BLOCKS = 6
STEPS = {"quick": (4, 8, 16, 32), "full": (4, 8, 16, 32, 64)}
DELTAS = (0.01, 0.03, 0.1)
MIXTURES = ("trimodal_1d", "mixture_2d")
MIXTURE_N = {"quick": 1000, "full": 2000}
MIXTURE_GRID = dict(T=10.0, eta=1e-3, h=0.5, eps=0.05)
MC_REPLICATES, MC_N = 4, 20_000


class SamplerFailure(RuntimeError):
    """The sampler under test raised, returned the wrong shape or a non-finite value: the message names
    the sampler and the stage of the battery where it happened."""


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_sampler` found: ``claims`` (the battery's checks), ``notes`` (what was
    skipped or run by Monte Carlo, and why), ``passed`` (every claim passed) and the time taken."""

    sampler: str
    kind: str
    level: str
    alpha: float
    claims: list[CheckResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """One line per claim, then the notes."""
        failed = sum(not c.passed for c in self.claims)
        head = (f"{self.sampler} ({self.kind}, {self.level}): {len(self.claims) - failed} of {len(self.claims)} claims "
                f"pass at α = {self.alpha:g} ({self.seconds:.1f} s)")
        return "\n".join([head, *(c.summary() for c in self.claims), *(f"note: {n}" for n in self.notes)])

    def markdown(self) -> str:
        """The verdicts as a Markdown report (``check.md`` of ``piadm-verify check``)."""
        lines = [f"# Sampler check: `{self.sampler}`", "",
                 f"kind `{self.kind}`, level `{self.level}`, α = {self.alpha:g} for the kit as a whole (each "
                 f"statistical claim at its Bonferroni share); {self.seconds:.1f} s.", "",
                 f"**{'PASS' if self.passed else 'FAIL'}**: {sum(c.passed for c in self.claims)} of {len(self.claims)} "
                 "claims pass.", "", "| Claim | Statement | Estimate | Verdict | Detail |", "|---|---|---|---|---|"]
        cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
        for c in self.claims:
            lines.append(f"| `{c.name}` | {cell(c.claim)} | {c.estimate:.4g} | {'PASS' if c.passed else '**FAIL**'} | "
                         f"{cell(c.detail)} |")
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"sampler": self.sampler, "kind": self.kind, "level": self.level, "alpha": self.alpha,
                "passed": self.passed, "seconds": self.seconds, "notes": list(self.notes),
                "claims": [{"name": c.name, "claim": c.claim, "estimate": c.estimate, "ci": list(c.ci),
                            "alpha": c.alpha, "p_value": c.p_value, "passed": bool(c.passed), "detail": c.detail,
                            "false_failure_rate": c.false_failure_rate} for c in self.claims]}


class _Counting:
    """The score the sampler gets, counting calls and the points (evaluations per sample) of each."""

    def __init__(self, score: Callable, n: int, dim: int):
        self.score, self.n, self.dim = score, n, dim
        self.calls = 0
        self.points: list[int] = []

    def __call__(self, x, s):
        self.calls += 1
        self.points.append(int(x.numel() // max(1, self.n * self.dim)))
        return self.score(x, s)


class _Runner:
    """Runs the sampler under test, turning its failures into :class:`SamplerFailure`."""

    def __init__(self, sampler: Callable, name: str, options: dict):
        self.sampler, self.name, self.options = sampler, name, options

    def __call__(self, stage: str, score, grid: TimeGrid, n: int, dim: int, noise=None, **extra):
        noise = StepNoise(grid, n, dim, generator=0) if noise is None else noise
        try:
            out = self.sampler(score, grid, n, dim, noise=noise, **self.options, **extra)
        except (SamplerFailure, NotAffineError):
            raise
        except Exception as error:
            raise SamplerFailure(f"sampler {self.name} raised at stage {stage!r}: {type(error).__name__}: {error}") \
                from error
        samples = out if isinstance(out, torch.Tensor) else getattr(out, "samples", None)
        if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != (n, dim):
            got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(out).__name__
            raise SamplerFailure(f"sampler {self.name} returned {got} at stage {stage!r}; expected samples of shape "
                                 f"(n, d) = {(n, dim)} (a SamplerResult or a tensor)")
        if not bool(torch.isfinite(samples).all()):
            raise SamplerFailure(f"sampler {self.name} returned non-finite samples at stage {stage!r}")
        return out, samples

    def law(self, stage: str, target: Gaussian, grid: TimeGrid, error=None) -> Gaussian:
        try:
            return exact_law_of(self._wrapped(stage), target, grid, error=error)
        except FloatingPointError as error:
            raise SamplerFailure(f"sampler {self.name}: non-finite output at stage {stage!r} ({error})") from error

    def _wrapped(self, stage: str):
        def sampler(score, grid, n, dim, *, noise, **ignored):
            return self(stage, score, grid, n, dim, noise=noise)[0]
        return sampler


def _grid(m: int) -> TimeGrid:
    return TimeGrid.uniform(CONSISTENCY_T, CONSISTENCY_ETA, CONSISTENCY_BLOCKS, m)


def _error_of(kind: str, p: Gaussian, law: Gaussian) -> float:
    return gaussian_kl(p, law) if kind == "sde" else gaussian_tv(p, law)


def _consistency_exact(run: _Runner, kind: str, name: str, target: Gaussian, steps) -> CheckResult:
    p_eta = target.marginal(CONSISTENCY_ETA)
    eps, errors = [], []
    for m in steps:
        grid = _grid(m)
        eps.append(float(grid.steps(0)[0]))
        errors.append(_error_of(kind, p_eta, run.law(f"consistency on {name}, {m} steps per block", target, grid)))
    measure = "KL(p_η ‖ q̂)" if kind == "sde" else "TV(p_η, q̂)"
    claim = f"{measure} falls at least like ε on {name} (exact laws)"
    errors = np.asarray(errors)
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        return _failed(f"consistency_{name}", claim, f"errors {errors.tolist()} are not positive and finite")
    fit = stats.fit_loglog(eps, errors, exact=True)
    check = stats.check_slope_shown_at_least(fit, 1.0, alpha=ALPHA, margin=CONSISTENCY_MARGIN,
                                             name=f"consistency_{name}", claim=claim)
    return _with_detail(check, f"errors {', '.join(f'{e:.3g}' for e in errors)} at ε = {', '.join(f'{e:g}' for e in eps)}")


def _moment_kl(p: Gaussian, x: torch.Tensor) -> float:
    """KL(p ‖ N(x̄, S)) minus its expectation when x are n draws of p itself (to first order
    ``(d + d(d+1)/2)/(2n)``), so that an exact sampler scores ≈ 0."""
    n, d = x.shape
    fitted = Gaussian(x.mean(0), torch.cov(x.T).reshape(d, d))
    return gaussian_kl(p, fitted) - (d + d * (d + 1) / 2) / (2 * n)


def _consistency_monte_carlo(run: _Runner, name: str, target: Gaussian, steps, alpha: float) -> CheckResult:
    p_eta = target.marginal(CONSISTENCY_ETA)
    eps, values, groups = [], [], []
    for m in steps[:3]:  # the coarse grids, where the error is far above the Monte Carlo floor
        grid = _grid(m)
        for r in range(MC_REPLICATES):
            _, x = run(f"consistency on {name} (Monte Carlo), {m} steps per block", target.score, grid, MC_N,
                       target.dim, noise=StepNoise(grid, MC_N, target.dim, generator=1000 + r))
            eps.append(float(grid.steps(0)[0]))
            values.append(_moment_kl(p_eta, x.double()))
            groups.append(r)
    claim = f"moment-matched KL(p_η ‖ q̂) falls at least like ε on {name} (Monte Carlo)"
    values = np.asarray(values)
    if np.any(values <= 0):
        return _failed(f"consistency_{name}", claim, "a bias-corrected KL is ≤ 0: the error is below the Monte Carlo "
                                                     "floor at these grids, so its rate cannot be measured")
    fit = stats.fit_loglog(eps, values, groups=groups)
    return stats.check_slope_shown_at_least(fit, 1.0, alpha=alpha, margin=0.25, name=f"consistency_{name}",
                                            claim=claim)


def _score_error_exact(run: _Runner, kind: str, target: Gaussian, grid: TimeGrid) -> list[CheckResult]:
    norm = "L2" if kind == "sde" else "Linf"
    unit = inject_error(target, "bias", 1.0, grid, norm, generator=0)
    free = run.law("score error (δ = 0)", target, grid)
    excess = []
    for delta in DELTAS:
        law = run.law(f"score error δ = {delta:g}", target, grid, error=unit.at_delta(delta))
        excess.append((gaussian_kl(free, law), gaussian_tv(free, law)))
    kl, tv = np.asarray(excess).T
    out = []
    column, target_slope, what = (kl, 2.0, "KL(q̂_0 ‖ q̂_δ) ∝ δ₂²") if kind == "sde" else (tv, 1.0, "TV(q̂_0, q̂_δ) ∝ δ_∞")
    if np.all(np.isfinite(column)) and np.all(column > 0):
        fit = stats.fit_loglog(DELTAS, column, exact=True)
        out.append(stats.check_slope_equivalent(fit, target_slope, 0.1, alpha=ALPHA, name="score_error_rate",
                                                claim=f"{what} for a calibrated bias error (exact laws)"))
    else:
        out.append(_failed("score_error_rate", what, f"excess {column.tolist()} is not positive and finite"))
    if kind == "sde":
        ratio = float(np.nan_to_num(kl / (0.5 * np.asarray(DELTAS) ** 2), nan=math.inf).max())
        out.append(stats.check_exact_value_at_most(ratio, 1.0 + GIRSANOV_TOL, rtol=0.0, name="girsanov",
                                                   claim=f"KL(q̂_0 ‖ q̂_δ) ≤ ½δ₂²·(1 + {GIRSANOV_TOL:g})"))
    return out


def _score_error_monte_carlo(run: _Runner, target: Gaussian, grid: TimeGrid, alpha: float) -> list[CheckResult]:
    unit = inject_error(target, "bias", 1.0, grid, "L2", generator=0)
    deltas, msd, groups = [], [], []
    for r in range(MC_REPLICATES):
        noise = lambda: StepNoise(grid, 500, target.dim, generator=2000 + r)
        _, free = run("score error (δ = 0, Monte Carlo)", target.score, grid, 500, target.dim, noise=noise())
        for delta in DELTAS:
            _, x = run(f"score error δ = {delta:g} (Monte Carlo)", unit.at_delta(delta), grid, 500, target.dim,
                       noise=noise())
            deltas.append(delta)
            msd.append(float((x - free).pow(2).sum(-1).mean()))
            groups.append(r)
    claim = "mean-square pathwise difference ∝ δ² under common noise (Monte Carlo)"
    if not np.all(np.asarray(msd) > 0):
        return [_failed("score_error_rate", claim, "the score error did not move the output")]
    fit = stats.fit_loglog(deltas, msd, groups=groups)
    return [stats.check_slope_shown_at_least(fit, 2.0, alpha=alpha, margin=0.1, anticipated=2.0,
                                             name="score_error_rate", claim=claim)]


def _parity(run: _Runner, reference: Callable, target: Gaussian, grid: TimeGrid) -> CheckResult:
    _, mine = run("parity", target.score, grid, 64, target.dim, noise=StepNoise(grid, 64, target.dim, generator=5))
    theirs = _Runner(reference, getattr(reference, "__name__", "reference"), {})(
        "parity (reference)", target.score, grid, 64, target.dim, noise=StepNoise(grid, 64, target.dim, generator=5))[1]
    gap = float((mine.double() - theirs.double()).abs().max() / (1.0 + theirs.double().abs().max()))
    return stats.check_exact_value_at_most(gap, PARITY_TOL, rtol=0.0, name="parity",
                                           claim=f"equals the reference chain path by path under one StepNoise "
                                                 f"(relative ≤ {PARITY_TOL:g})")


def _mixtures(run: _Runner, level: str, alpha: float) -> list[CheckResult]:
    grid = TimeGrid.early_stopping(**MIXTURE_GRID)
    out = []
    for i, name in enumerate(MIXTURES):
        target = mixture_target(name)
        n = MIXTURE_N[level]
        _, x = run(f"mixture {name}", target.score, grid, n, target.dim,
                   noise=StepNoise(grid, n, target.dim, generator=3000 + i))
        p_eta = target.marginal(MIXTURE_GRID["eta"])
        ks = projection_fit_test(x.double(), p_eta, n_directions=4, generator=4000 + i, method="ks")
        modes = mode_weight_test(x.double(), p_eta, generator=4000 + i)
        for test, result in (("ks", ks), ("mode_weight", modes)):
            p = float(result.p_value)
            out.append(CheckResult(f"mixture_{name}_{test}", f"samples of {name} match p_η ({test})",
                                   float(result.statistic if test == "mode_weight" else max(result.statistics)),
                                   (math.nan, math.nan), alpha, p > alpha, p_value=p,
                                   detail=f"n = {n}; fails iff p ≤ {alpha:.3g}", false_failure_rate=alpha))
    return out


def _determinism(run: _Runner, target: Gaussian, grid: TimeGrid) -> CheckResult:
    _, a = run("determinism", target.score, grid, 16, target.dim, noise=StepNoise(grid, 16, target.dim, generator=7))
    _, b = run("determinism", target.score, grid, 16, target.dim, noise=StepNoise(grid, 16, target.dim, generator=7))
    same = bool(torch.equal(a, b))
    return CheckResult("determinism", "the same seed gives the same output, bit for bit", float(not same),
                       (float(not same),) * 2, 0.0, same, detail="two runs on StepNoise(seed=7)", false_failure_rate=0.0)


def _counts(run: _Runner, target: Gaussian, grid: TimeGrid, notes: list) -> list[CheckResult]:
    n = 8
    counter = _Counting(target.score, n, target.dim)
    out, _ = run("counts", counter, grid, n, target.dim, noise=StepNoise(grid, n, target.dim, generator=9))
    if isinstance(out, torch.Tensor):
        notes.append("the sampler returns a tensor, not a SamplerResult: the count claims are skipped")
        return []
    observed = {"rounds": counter.calls, "score_evals": sum(counter.points),
                "peak_points": max(counter.points, default=0)}
    checks = []
    for field_name, value in observed.items():
        reported = getattr(out, field_name, None)
        ok = reported == value
        checks.append(CheckResult(f"counts_{field_name}", f"reported {field_name} equals the observed score calls",
                                  float(reported if isinstance(reported, (int, float)) else math.nan), (value, value),
                                  0.0, ok, detail=f"reported {reported!r}, observed {value}", false_failure_rate=0.0))
    return checks


def _failed(name: str, claim: str, detail: str) -> CheckResult:
    return CheckResult(name, claim, math.nan, (math.nan, math.nan), 0.0, False, detail=detail, false_failure_rate=0.0)


def _with_detail(check: CheckResult, more: str) -> CheckResult:
    return CheckResult(check.name, check.claim, check.estimate, check.ci, check.alpha, check.passed, check.p_value,
                       f"{check.detail}; {more}", check.false_failure_rate)


def verify_sampler(sampler: Callable, kind: str = "sde", level: str = "quick", alpha: float = ALPHA, *,
                   reference: Callable | None = None, name: str | None = None, **options) -> Verification:
    """Run the contract battery on ``sampler`` (see the module docstring) and return a :class:`Verification`.

    ``kind``: ``"sde"`` (a sampler of the backward SDE: KL rates and the Girsanov bound) or
    ``"ode"`` (the probability-flow ODE: TV rates). ``level``: ``"quick"`` or ``"full"``.
    ``alpha``: the kit's false-failure rate (each statistical claim at α/m). ``reference``: a sampler
    the one under test must equal path by path (parity). ``options``: passed to every call of the
    sampler (``K=…``, ``corrector=…``). Raises :class:`SamplerFailure` when the sampler raises,
    returns the wrong shape or non-finite values, and ValueError/TypeError for bad arguments.
    """
    if not callable(sampler):
        raise TypeError(f"sampler must be callable, got {type(sampler).__name__}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    if reference is not None and not callable(reference):
        raise TypeError(f"reference must be callable or None, got {type(reference).__name__}")
    start = time.perf_counter()
    name = name or getattr(sampler, "__name__", type(sampler).__name__)
    run = _Runner(sampler, name, options)
    notes: list[str] = []
    targets = {"full_3d": reference_target(), "product_4d": product_target(4)}
    if level == "full":
        targets["rotated_8d"] = anisotropic_target(8)
    steps = STEPS[level]
    error_grid = _grid(16)
    try:
        claims = [_consistency_exact(run, kind, target_name, target, steps) for target_name, target in targets.items()]
        claims += _score_error_exact(run, kind, targets["full_3d"], error_grid)
        share = alpha / (len(MIXTURES) * 2)
    except NotAffineError as error:
        notes.append(f"not affine in its inputs ({error}); consistency and the score-error response are checked "
                     "by Monte Carlo")
        share = alpha / (len(MIXTURES) * 2 + len(targets) + 1)
        claims = [_consistency_monte_carlo(run, target_name, target, steps, share)
                  for target_name, target in targets.items()]
        claims += _score_error_monte_carlo(run, targets["full_3d"], error_grid, share)
        if kind == "sde":
            notes.append("the Girsanov bound needs exact laws: not checked for a non-affine sampler")
    if reference is not None:
        claims.append(_parity(run, reference, targets["full_3d"], _grid(8)))
    else:
        notes.append("no reference= given: parity not checked")
    claims += _mixtures(run, level, share)
    claims.append(_determinism(run, targets["full_3d"], _grid(8)))
    claims += _counts(run, targets["full_3d"], _grid(8), notes)
    return Verification(name, kind, level, alpha, claims, notes, time.perf_counter() - start)
