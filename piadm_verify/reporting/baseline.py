"""Canonical error rates and the regression check against them (``reports/baseline.json``).

The baseline records, for fixed configurations of the registered studies (:data:`STUDIES`, read
from :mod:`piadm_verify.studies.registry`):

- oracle values: exact KL divergences at chosen rows of the oracle tables (``picard.distance[h=1,K=3]``);
- fitted slopes: the estimates of the slope-type claims of :mod:`piadm_verify.verification.claims`
  (``slope.eps_floor``), with their 95% intervals, and the Monte Carlo slopes (the path sweep's
  ``slope.path_quadratic`` and the Gaussian-mixture tier's δ₂² slopes of the Girsanov path quantity,
  ``slope.mixture_path_kl_quadratic_<target>``) with their cluster-robust standard errors.

:func:`check` recomputes them and compares, entry by entry, with tolerances fixed here (not in the
file, so that a hand edit cannot loosen them):

- oracle values and oracle slopes (exact data, docs/mathematics.md §8): relative ``ORACLE_RTOL`` = 1e-8;
- Monte Carlo slopes: absolute ``max(0.05, 3·SE)``, SE the standard error stored in the baseline.

Every entry is computed by the studies and claims the tests and reports use. ``variant`` selects the
sampler (:class:`~piadm_verify.studies.base.Variant`), so that a deliberately worsened sampler can be
shown to fail the check. The file is JSON, validated on load (:func:`load`): a malformed file, or
baseline lists that no longer fit the studies and claims, is a :class:`BaselineError`; a well-formed
file whose values no longer match is a failed check.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..studies.base import CORRECT, Variant
from ..studies.mixture import MixtureDeltaSweep
from ..studies.registry import REGISTRY, judge
from ..verification import stats
from ..verification.claims import ode as ode_claims
from ..verification.claims import mixture as mixture_claims
from ..verification.claims import sde as sde_claims
from ..verification.claims.base import ALPHA
from ..verification.tables import Table
from .environment import environment, torch_threads

__all__ = [
    "BASELINE_FORMAT",
    "BASELINE_VERSION",
    "DEFAULT_PATH",
    "ORACLE_RTOL",
    "MONTE_CARLO_MIN_TOLERANCE",
    "MONTE_CARLO_SE_MULTIPLE",
    "BaselineError",
    "Entry",
    "Row",
    "Comparison",
    "compute",
    "compare",
    "load",
    "write",
    "check",
    "update",
]

BASELINE_FORMAT = "piadm-verify-baseline"
BASELINE_VERSION = 1
DEFAULT_PATH = Path("reports") / "baseline.json"
ORACLE_RTOL = 1e-8
MONTE_CARLO_MIN_TOLERANCE = 0.05
MONTE_CARLO_SE_MULTIPLE = 3.0
KINDS = ("oracle", "monte_carlo")

# The studies behind the baseline: the theory tests' configurations (the registry's), except a path
# sweep with 4 replicates (its slope's standard error, ~0.005, stays far below the 0.05 tolerance). The
# mixture δ sweep (4 targets × 3 δ × 8 replicates, ~5 s) has slope standard errors ≤ 0.002.
STUDIES: dict[str, dict] = {
    "picard": {}, "delta": {}, "eps": {}, "horizon": {}, "dimension": {}, "rounds": {}, "work_precision": {},
    "path": dict(replicates=4),
    "langevin_bias": {}, "relaxation": {}, "ode_delta": {}, "ode_eps": {}, "ode_dimension": {}, "ode_rounds": {},
    "mixture_delta": {},
    # the head-to-head studies' exact rows (no Monte Carlo: the tolerance-stopped runs stay in the reports)
    "head_to_head": dict(mc_dims=()), "head_to_head_ode": dict(mc_dims=()),
}

# Oracle values: (table, column, row). Rows are chosen where the value is far above round-off
# (KL ≥ 1e-8), so that 1e-8 relative is a statement about the sampler, not about the arithmetic.
ORACLE_VALUES: tuple[tuple[str, str, dict], ...] = (
    *(("picard", "distance", {"h": 1.0, "K": K}) for K in (1, 2, 3, 4, 5, 6)),
    *(("picard", "distance", {"h": 2.0, "K": K}) for K in (1, 4, 8, 10)),
    *(("picard", "distance", {"h": 4.0, "K": K}) for K in (1, 8, 14, 16)),
    *(("picard", "kl", {"h": h, "K": K}) for h, K in ((1.0, 2), (1.0, 16), (4.0, 64))),
    *(("delta", "excess", {"kind": kind, "delta": d}) for kind in ("bias", "affine") for d in (1e-3, 1e-2, 1e-1)),
    ("delta", "kl", {"kind": "bias", "delta": 1e-1}),
    *(("eps", "kl", {"M": M}) for M in (5, 10, 20, 40, 80)),
    *(("horizon", "kl", {"T": T}) for T in (1.0, 2.0, 4.0, 8.0, 12.0)),
    *(("dimension", "kl", {"family": "product", "d": d}) for d in (4, 64, 4096)),
    *(("dimension", "kl", {"family": "anisotropic", "d": d}) for d in (2, 8, 32)),
    *(("rounds", column, {"d": d}) for column in ("kl_preset", "k_star") for d in (4, 64, 1024, 4096)),
    *(("work_precision", "kl", {"sampler": "piadm", "delta": 0.3, "K": K}) for K in (2, 4, 10)),
    ("work_precision", "kl", {"sampler": "sequential", "delta": 0.3}),
    *(("langevin_bias", "var_bias", {"eps": e}) for e in (0.2, 0.1, 0.05)),
    *(("relaxation", "tv", {"time": t}) for t in (1.0, 2.0, 4.0)),
    *(("ode_delta", column, {"kind": kind, "delta": d}) for column in ("tv", "kl") for kind in ("bias", "affine")
      for d in (1e-3, 1e-1)),
    *(("ode_dimension", "tv", {"d": d}) for d in (4, 256, 16384)),
    *(("ode_rounds", column, {"d": d}) for column in ("tv_preset", "k_star", "corrector_k_star") for d in (4, 256, 4096)),
    ("head_to_head", "error", {"family": "sequential", "d": 64, "m": 64}),
    *(("head_to_head", "error", {"family": "piadm", "d": d, "K": K}) for d, K in ((4, 3), (64, 4), (64, 6))),
    ("head_to_head", "error", {"family": "piadm_theorem", "d": 4}),
    *(("head_to_head", column, {"family": "paradigms_fixed", "d": d, "config": "p=32,s=8"})
      for column in ("error", "rounds") for d in (4, 64)),
    ("head_to_head_ode", "error", {"family": "piadm_ode", "d": 64, "K": 3}),
    ("head_to_head_ode", "error", {"family": "piadm_ode_preset", "d": 64}),
)

# Slope-type claims of the oracle tables (exact fits) and the Monte Carlo slopes with the fits they
# make: (table, x, y, replicate column, rows) of claims.claim_path_quadratic and
# claims.claim_mixture_path_kl_quadratic. The Picard rate is left out: its fit runs down to
# distances of 1e-20, whose last digits are round-off.
ORACLE_SLOPES = (
    *(sde_claims.DELTA_QUADRATIC.named(kind=kind) for kind in ("bias", "affine")),
    *(c.name for c in (sde_claims.EPS_FLOOR, sde_claims.HORIZON_DECAY, sde_claims.DIMENSION_LINEAR_PRODUCT,
                       sde_claims.DIMENSION_AT_MOST_LINEAR, sde_claims.ROUNDS_ERROR_FLAT, sde_claims.ROUNDS_LOG_GROWTH,
                       sde_claims.SEQUENTIAL_STEPS_LINEAR, sde_claims.SPACE_QUADRATIC,
                       ode_claims.LANGEVIN_BIAS_FIRST_ORDER)),
    *(claim.named(kind=kind) for kind in ("bias", "affine") for claim in (ode_claims.ODE_DELTA_TV, ode_claims.ODE_DELTA_KL)),
    *(c.name for c in (ode_claims.ODE_EPS_FLOOR, ode_claims.ODE_TV_SQRT_D, ode_claims.ODE_ROUNDS_ERROR_FLAT,
                       ode_claims.ODE_ROUNDS_LOG_GROWTH_K_STAR, ode_claims.ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR,
                       ode_claims.ODE_PEAK_POINTS_SQRT_D, ode_claims.ODE_SPACE_D_THREE_HALVES)),
)
MONTE_CARLO_SLOPES = {
    sde_claims.PATH_QUADRATIC.name: ("path", "delta", "msd", "replicate", {}),
    **{mixture_claims.MIXTURE_PATH_KL_QUADRATIC.named(target=target):
       ("mixture_delta", "delta", "path_kl", "replicate", {"target": target}) for target in MixtureDeltaSweep.targets},
}


class BaselineError(Exception):
    """The check cannot run (not a failed check): a baseline file that is missing, unreadable, malformed
    or unwritable, or baseline lists (``STUDIES``, ``ORACLE_VALUES``, ``ORACLE_SLOPES``,
    ``MONTE_CARLO_SLOPES``) that no longer fit the studies' configurations and the claims."""


@dataclass(frozen=True)
class Entry:
    """One baseline number: ``kind`` "oracle" (exact) or "monte_carlo" (with ``stderr``); slopes carry ``ci95``."""

    name: str
    kind: str
    value: float
    stderr: float | None = None
    ci95: tuple[float, float] | None = None

    def tolerance(self) -> float:
        """The absolute distance a recomputed value may move: ``ORACLE_RTOL·|value|`` or ``max(0.05, 3·SE)``."""
        if self.kind == "oracle":
            return ORACLE_RTOL * abs(self.value)
        return max(MONTE_CARLO_MIN_TOLERANCE, MONTE_CARLO_SE_MULTIPLE * (self.stderr or 0.0))

    def describe_tolerance(self) -> str:
        if self.kind == "oracle":
            return f"rel {ORACLE_RTOL:g}"
        return f"±{self.tolerance():.3g} (SE {self.stderr:.2g})"

    def to_json(self) -> dict:
        out = {"kind": self.kind, "value": self.value}
        if self.stderr is not None:
            out["stderr"] = self.stderr
        if self.ci95 is not None:
            out["ci95"] = list(self.ci95)
        return out


# -- computing ------------------------------------------------------------------------------------------------
def _row_name(table: str, column: str, row: Mapping) -> str:
    return f"{table}.{column}[{','.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in row.items())}]"


def _cell(table: Table, column: str, row: Mapping) -> float:
    values = table.where(**row).column(column)
    if values.size != 1:
        raise BaselineError(f"baseline row {_row_name(table.name, column, row)} matches {values.size} rows of "
                           f"{table.name}; the baseline's rows no longer fit the sweep's configuration")
    return float(values[0])


def compute(variant: Variant = CORRECT) -> dict[str, Entry]:
    """Recompute every baseline entry for ``variant`` (about 20 s on 2 cores)."""
    with torch_threads(1):  # see environment.torch_threads: faster, and no value depends on it
        tables = {name: REGISTRY[name].configured(**changes).run(variant=variant) for name, changes in STUDIES.items()}
    entries = [Entry(_row_name(t, c, row), "oracle", _cell(tables[t], c, row)) for t, c, row in ORACLE_VALUES]
    at_alpha = {c.name: c for c in judge(tables, ALPHA)}
    at_95 = {c.name: c for c in judge(tables, 0.025)}
    missing = [name for name in (*ORACLE_SLOPES, *MONTE_CARLO_SLOPES) if name not in at_alpha]
    if missing:
        raise BaselineError(f"claims {missing} are no longer produced by the baseline's studies; "
                           "update the baseline's lists")
    for name in ORACLE_SLOPES:
        entries.append(Entry(f"slope.{name}", "oracle", float(at_alpha[name].estimate), ci95=tuple(at_95[name].ci)))
    for name, (table, x, y, groups, rows) in MONTE_CARLO_SLOPES.items():
        check, t = at_alpha[name], tables[table].where(**rows)
        stderr = math.nan
        if math.isfinite(check.estimate):
            fit = stats.fit_loglog(t.column(x), t.column(y), groups=t.column(groups))
            if abs(fit.estimate - check.estimate) > 1e-12 * max(1.0, abs(check.estimate)):
                raise BaselineError(f"the baseline's fit of {name} ({fit.estimate}) is not the claim's ({check.estimate}); "
                                   f"update MONTE_CARLO_SLOPES to the fit claims.{name} makes")
            stderr = fit.stderr
        entries.append(Entry(f"slope.{name}", "monte_carlo", float(check.estimate), stderr=float(stderr),
                             ci95=tuple(at_95[name].ci)))
    return {e.name: e for e in entries}


# -- comparing ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One entry of a comparison: the baseline's and the current value (either may be missing)."""

    name: str
    baseline: Entry | None
    current: Entry | None

    @property
    def within(self) -> bool:
        if self.baseline is None or self.current is None:
            return False
        if not math.isfinite(self.current.value):
            return False
        return abs(self.current.value - self.baseline.value) <= self.baseline.tolerance()

    def change(self) -> str:
        if self.baseline is None:
            return "new entry"
        if self.current is None:
            return "missing"
        if not math.isfinite(self.current.value):
            return "not finite"
        diff = self.current.value - self.baseline.value
        if self.baseline.kind == "oracle":
            rel = diff / abs(self.baseline.value) if self.baseline.value else math.inf
            return f"{rel:+.3g} rel"
        return f"{diff:+.3g}"


@dataclass(frozen=True)
class Comparison:
    """Every entry of the baseline and of the current run, side by side."""

    rows: tuple[Row, ...]

    @property
    def failed(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.within)

    @property
    def passed(self) -> bool:
        return not self.failed

    def report(self, path) -> str:
        """A readable diff: one line per entry outside its tolerance (or missing, or new)."""
        if self.passed:
            return f"baseline check passed: {len(self.rows)} entries within tolerance of {path}"
        value = lambda e: "—" if e is None else f"{e.value:.10g}" + (f" ± {e.stderr:.2g}" if e.stderr is not None else "")
        header = ("entry", "baseline", "current", "change", "tolerance")
        lines = [(r.name, value(r.baseline), value(r.current), r.change(),
                  r.baseline.describe_tolerance() if r.baseline else "—") for r in self.failed]
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
        fmt = lambda cells: "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        out = [f"baseline check FAILED against {path}: {len(self.failed)} of {len(self.rows)} entries moved beyond "
               f"their tolerance (or are missing or new)", fmt(header), *map(fmt, lines),
               f"{len(self.rows) - len(self.failed)} entries are within tolerance. If the change is intended, "
               f"rewrite the baseline with `piadm-verify baseline --update` and commit it."]
        return "\n".join(out)


def compare(baseline: Mapping[str, Entry], current: Mapping[str, Entry]) -> Comparison:
    names = list(baseline) + [n for n in current if n not in baseline]
    return Comparison(tuple(Row(n, baseline.get(n), current.get(n)) for n in names))


# -- the file -------------------------------------------------------------------------------------------------
def _number(value, where: str, *, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BaselineError(f"{where}: expected a finite number, got {value!r}")
    if nonnegative and value < 0:
        raise BaselineError(f"{where}: expected a number ≥ 0, got {value!r}")
    return float(value)


def _keys(obj, where: str, required: set, optional: set = frozenset()) -> None:
    if not isinstance(obj, dict):
        raise BaselineError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing, unknown = required - obj.keys(), obj.keys() - required - optional
    if missing:
        raise BaselineError(f"{where}: missing key(s) {sorted(missing)}")
    if unknown:
        raise BaselineError(f"{where}: unknown key(s) {sorted(unknown)}")


def _entry(name, obj, where: str) -> Entry:
    if not isinstance(name, str) or not name:
        raise BaselineError(f"{where}: entry names must be non-empty strings")
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        got = obj.get("kind") if isinstance(obj, dict) else obj
        raise BaselineError(f"{where}.kind: expected one of {list(KINDS)}, got {got!r}")
    if obj["kind"] == "oracle":
        _keys(obj, where, {"kind", "value"}, {"ci95"})
    else:
        _keys(obj, where, {"kind", "value", "stderr"}, {"ci95"})
    ci95 = None
    if "ci95" in obj:
        ci = obj["ci95"]
        if not isinstance(ci, list) or len(ci) != 2:
            raise BaselineError(f"{where}.ci95: expected a list [low, high], got {ci!r}")
        ci95 = (_number(ci[0], f"{where}.ci95[0]"), _number(ci[1], f"{where}.ci95[1]"))
        if ci95[0] > ci95[1]:
            raise BaselineError(f"{where}.ci95: low {ci95[0]} exceeds high {ci95[1]}")
    stderr = _number(obj["stderr"], f"{where}.stderr", nonnegative=True) if "stderr" in obj else None
    return Entry(name, obj["kind"], _number(obj["value"], f"{where}.value"), stderr, ci95)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def load(path) -> dict[str, Entry]:
    """The entries of a baseline file, validated; :class:`BaselineError` names what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"no baseline file at {path} (create one with `piadm-verify baseline --update`)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"cannot read the baseline {path}: {error}") from error
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise BaselineError(f"{path} is not valid JSON: {error}") from error
    where = str(path)
    _keys(data, where, {"format", "version", "environment", "entries"}, {"description"})
    if data["format"] != BASELINE_FORMAT:
        raise BaselineError(f"{where}: format must be {BASELINE_FORMAT!r}, got {data['format']!r}")
    if isinstance(data["version"], bool) or data["version"] != BASELINE_VERSION:
        raise BaselineError(f"{where}: version must be {BASELINE_VERSION}, got {data['version']!r}")
    if not isinstance(data["environment"], dict):
        raise BaselineError(f"{where}: environment must be a JSON object")
    if not isinstance(data["entries"], dict) or not data["entries"]:
        raise BaselineError(f"{where}: entries must be a non-empty JSON object")
    return {name: _entry(name, obj, f"{where}: entries[{name!r}]") for name, obj in data["entries"].items()}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write(path, entries: Mapping[str, Entry], environment: dict) -> None:
    """Write a baseline file atomically (a temporary file next to it, then renamed)."""
    bad = [e.name for e in entries.values() if not math.isfinite(e.value)]
    if bad:
        raise BaselineError(f"refusing to write a baseline with non-finite values: {bad}")
    path = Path(path)
    data = {
        "format": BASELINE_FORMAT,
        "version": BASELINE_VERSION,
        "description": ("Canonical error rates of PIADM-SDE, PIADM-ODE and the Gaussian-mixture tier "
                        "(piadm_verify.reporting.baseline). Checked by `piadm-verify baseline --check`: oracle values to "
                        "relative 1e-8, Monte Carlo slopes to max(0.05, 3·stderr). Rewrite with "
                        "`piadm-verify baseline --update`."),
        "environment": environment,
        "entries": {name: e.to_json() for name, e in entries.items()},
    }
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not for a committed file
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        raise BaselineError(f"cannot write the baseline {path}: {error}") from error


def _check_writable(path: Path) -> None:
    """Raise :class:`BaselineError` unless a file can be created where ``path`` (or the first of its
    missing parent directories) would go: checked before the computation, which takes a while."""
    if path.is_dir():
        raise BaselineError(f"cannot write the baseline {path}: it is a directory")
    existing = next(p for p in path.parents if p.exists())
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise BaselineError(f"cannot write the baseline {path}: {error.strerror or error} ({existing})") from error


def check(path=DEFAULT_PATH, variant: Variant = CORRECT) -> Comparison:
    """Validate the baseline file, recompute for ``variant`` and compare."""
    baseline = load(path)
    return compare(baseline, compute(variant))


def update(path=DEFAULT_PATH, variant: Variant = CORRECT) -> Comparison:
    """Recompute for ``variant`` and rewrite the file; returns the comparison with the old file (if it was valid).
    An unwritable ``path`` is a :class:`BaselineError` before anything is computed."""
    path = Path(path)
    _check_writable(path)
    current = compute(variant)
    try:
        old = load(path)
    except BaselineError:
        old = {}
    write(path, current, environment())
    return compare(old, current)
