"""Reports: run a suite's studies, judge their claims, plot them and write the results (docs/mathematics.md §7).

:func:`write_report` produces, in one directory::

    report.md      summary table of every claim, then one section per study (plot, reading, checks)
    results.json   every table (``Table.to_json``), every claim, the environment
    *.png          the studies' plots

The directory is built under a temporary name next to the target and renamed into place at the
end, so a failed run leaves no half-written report (and an earlier report stays as it was).
Nothing here computes a result: tables come from the studies' sweeps, verdicts from their claims
(:mod:`piadm_verify.reporting.suites`), so a report shows exactly what the tests check.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


from ..studies.base import Study
from ..verification import stats
from ..verification.claims.base import ALPHA, ALPHA_FAMILY
from ..verification.tables import Table
from .environment import environment, json_safe, torch_threads
from .plots import draw
from .suites import Verdict, evaluate_claims, verdicts
from .tasks import CONNECT_TIMEOUT, default_jobs, run_tasks

__all__ = ["REPORT_FORMAT", "ReportError", "Report", "run_studies", "write_report", "atomic_directory"]

REPORT_FORMAT = "piadm-verify-report"
REPORT_VERSION = 1


class ReportError(Exception):
    """A report that cannot be written (bad output location, studies that do not fit together)."""


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` did: where, the verdicts and the family verdict (None when there are no
    claims or Holm cannot assess them; ``report.md`` and ``results.json`` say why), the timings, and the
    studies that were retried after their Dask worker died."""

    out_dir: Path
    verdicts: list[Verdict]
    family: stats.FamilyResult | None
    plots: list[str]
    seconds: float
    retried: tuple[str, ...] = ()

    @property
    def passed(self) -> int:
        return sum(bool(v.check.passed) for v in self.verdicts)


def _run_study(study: Study, seed: int) -> Table:
    """One task of a report: the study's table (module level, so that it pickles for Dask workers)."""
    return study.run(seed)


def run_studies(studies: Sequence[Study], seed: int = 0, *, quiet: bool = False, threads: int | None = 1,
                scheduler: str = "serial", jobs: int | None = None,
                connect_timeout: float = CONNECT_TIMEOUT) -> tuple[dict[str, Table], dict[str, float], list[str]]:
    """Run every study once, each as one task of :func:`~piadm_verify.reporting.tasks.run_tasks`
    (``scheduler``, ``jobs``, ``connect_timeout``: see there; a progress bar on stderr that follows task
    completion unless ``quiet``; ``threads``: torch threads per study): ``({name: table},
    {name: seconds}, [names of the studies retried after a worker died])``. The tables do not depend on
    the scheduler: each study is seeded from (``seed``, its name)."""
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise ReportError(f"study names must be unique, got {names}")
    outcomes = run_tasks(_run_study, [(s.name, (s, seed)) for s in studies], seed=seed, scheduler=scheduler,
                         jobs=jobs, threads=threads, connect_timeout=connect_timeout, progress="piadm-verify",
                         quiet=quiet)
    tables, seconds = {}, {}
    for outcome in outcomes:
        if outcome.value.name != outcome.key:
            raise ReportError(f"study {outcome.key!r} returned a table named {outcome.value.name!r} (they must agree)")
        tables[outcome.key], seconds[outcome.key] = outcome.value, outcome.seconds
    return tables, seconds, [o.key for o in outcomes if o.retried]


def _family(studies: Sequence[Study], tables: dict[str, Table], count: int) -> tuple[stats.FamilyResult | None, str]:
    """Holm over every claim, each run at its share α_family/m, as the theory suite's family test does."""
    if count == 0:
        return None, "no claims"
    members = [c for study in studies for c in evaluate_claims(study, tables[study.name], ALPHA_FAMILY / count)]
    try:
        return stats.holm(members, ALPHA_FAMILY), ""
    except ValueError as error:
        return None, f"not assessable: {error}"


# -- writing -----------------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _ci(verdict: Verdict) -> str:
    low, high = verdict.ci95
    if not (math.isfinite(low) and math.isfinite(high)):
        return "—"
    return "exact" if verdict.exact else f"[{_fmt(low)}, {_fmt(high)}]"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _where(scheduling: dict) -> str:
    """Where the studies ran, and which were retried after a worker died."""
    scheduler = scheduling["scheduler"]
    where = ("in one process" if scheduler == "serial" else
             f"on a local Dask cluster of {scheduling['jobs']} workers" if scheduler == "local" else
             f"on the Dask scheduler at {scheduler}")
    retried = scheduling["retried"]
    if retried:
        where += " (retried after their worker died: " + ", ".join(f"`{name}`" for name in retried) + ")"
    return where


def _markdown(suite: str, seed: int, env: dict, studies: Sequence[Study], tables: dict[str, Table],
              all_verdicts: list[Verdict], family, family_note: str, plot_files: dict[str, list[str]],
              seconds: float, alpha: float, scheduling: dict) -> str:
    passed = sum(bool(v.check.passed) for v in all_verdicts)
    commit = env.get("git_commit")
    commit = "no git commit" if not commit else f"commit {commit[:10]}" + (" (modified tree)" if env.get("git_modified") else "")
    family_line = family.summary() if family is not None else family_note
    lines = [
        f"# PIADM verification report: {suite} suite",
        "",
        f"Generated {env['timestamp']} by `piadm-verify report --suite {suite} --seed {seed}` in {seconds:.1f} s; "
        f"{commit}; Python {env['python']}, torch {env['torch']}, NumPy {env['numpy']}, SciPy {env['scipy']}, "
        f"statsmodels {env['statsmodels']}; {env['device']}, {env['dtype']}; studies run {_where(scheduling)}. "
        f"Every number is in `results.json`.",
        "",
        "## Summary",
        "",
        f"**{passed} of {len(all_verdicts)} claims pass**, each at α = {alpha:g} (the level of the theory tests). "
        f"All together, each at its share α_family/m of α_family = {ALPHA_FAMILY:g} and combined by Holm: "
        f"{family_line}.",
        "",
        "Oracle studies compute the samplers' exact laws (docs/mathematics.md §8): their fits have no sampling error, so the "
        "95% interval of the measured exponent is a point, written *exact*. Bound-type claims are one-sided "
        "(the measured rate must be at least as good as the theorem's); exact rates are two-sided (TOST).",
        "",
        "| Claim | Statement | Theory | Measured | 95% CI | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for v in all_verdicts:
        lines.append(f"| `{v.name}` | {_cell(v.check.claim)} | {_cell(v.theory)} | {_fmt(v.check.estimate)} | "
                     f"{_ci(v)} | {'PASS' if v.check.passed else '**FAIL**'} |")
    for study in studies:
        table = tables[study.name]
        lines += ["", f"## {study.title}", ""]
        for filename in plot_files.get(study.name, []):
            lines += [f"![{study.title}]({filename})", ""]
        if study.reading:
            lines += [study.reading, ""]
        if study.markdown is not None:
            lines += [study.markdown(table).rstrip("\n"), ""]
        own = [v for v in all_verdicts if v.study == study.name]
        if own:
            lines += ["Checks:", ""]
            lines += [f"- **{'PASS' if v.check.passed else 'FAIL'}** `{v.name}`: {v.check.summary().split(': ', 1)[1]}"
                      for v in own]
            lines.append("")
        settings = ", ".join(f"{k} = {json_safe(val)}" for k, val in table.settings.items())
        rows = len(next(iter(table.columns.values()), []))
        lines.append(f"Table `{table.name}`: {rows} rows, columns {', '.join(f'`{c}`' for c in table.columns)}; "
                     f"{settings}.")
    return "\n".join(lines) + "\n"


def _sibling(target: Path, role: str) -> Path:
    """A fresh hidden name next to ``target`` (mkdir gives it the umask's permissions, unlike mkdtemp)."""
    return target.parent / f".{target.name}.{role}-{os.getpid()}-{secrets.token_hex(4)}"


def _prepare(target: Path) -> tuple[Path, Path | None]:
    """A fresh temporary directory next to ``target`` (and the first directory created on the way,
    to remove on failure). Refuses a target that is a file or a directory holding anything but a report."""
    if target.exists():
        if not target.is_dir():
            raise ReportError(f"cannot write the report to {target}: it exists and is not a directory")
        if any(target.iterdir()) and not (target / "results.json").is_file():
            raise ReportError(f"cannot write the report to {target}: it is a non-empty directory that holds no "
                              f"earlier report (results.json); choose another --out")
    created = None
    parent = target.parent
    missing = [p for p in [parent, *parent.parents] if not p.exists()]
    try:
        if missing:
            created = missing[-1]
            parent.mkdir(parents=True)
        tmp = _sibling(target, "partial")
        tmp.mkdir()
    except OSError as error:
        if created is not None and created.exists():
            shutil.rmtree(created, ignore_errors=True)
        raise ReportError(f"cannot write the report to {target}: {error.strerror or error}") from error
    return tmp, created


def _commit(tmp: Path, target: Path) -> None:
    """Move the finished directory into place, replacing an earlier report."""
    old = None
    if target.exists():
        old = _sibling(target, "old")
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A fresh temporary directory next to ``target`` to write into; when the block ends normally it
    replaces ``target`` (an earlier report there, or nothing), and on any failure it is removed
    with every directory created on the way, so nothing half-written is left. Raises
    :class:`ReportError` before the block runs when ``target`` cannot be used."""
    target = Path(target).resolve()
    tmp, created = _prepare(target)
    try:
        yield tmp
        _commit(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def write_report(studies: Sequence[Study], out_dir, *, suite: str = "custom", seed: int = 0, quiet: bool = False,
                 alpha: float = ALPHA, threads: int | None = 1, scheduler: str = "serial", jobs: int | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT) -> Report:
    """Run ``studies`` and write ``report.md``, ``results.json`` and the plots into ``out_dir``.

    The output location is checked (and a temporary directory made next to it) before anything
    runs; the finished directory replaces ``out_dir`` atomically at the end. An existing ``out_dir``
    is replaced only if it is empty or holds an earlier report. Raises :class:`ReportError` for an
    unusable output location; nothing is left behind on any failure. ``alpha`` is the level of each
    claim's verdict; ``threads`` the torch threads each study runs with (:func:`torch_threads`);
    ``scheduler``/``jobs``/``connect_timeout`` where the studies run (:func:`run_studies`: ``"serial"``
    here by default, ``"local"`` for a Dask cluster on this machine's cores, or a scheduler address; the
    command line's default is ``"local"``). Studies retried after a worker died are listed in
    ``report.md``, ``results.json`` and :attr:`Report.retried`.
    """
    start = time.perf_counter()
    target = Path(out_dir).resolve()
    writing = False
    try:
        with atomic_directory(target) as tmp:
            tables, seconds, retried = run_studies(studies, seed, quiet=quiet, threads=threads, scheduler=scheduler,
                                                   jobs=jobs, connect_timeout=connect_timeout)
            all_verdicts = [v for study in studies for v in verdicts(study, tables[study.name], alpha)]
            names = [v.name for v in all_verdicts]
            if len(set(names)) != len(names):
                raise ReportError(f"claim names must be unique across studies, got duplicates in {names}")
            family, family_note = _family(studies, tables, len(all_verdicts))
            by_name = {v.name: v for v in all_verdicts}
            writing = True
            plot_files = {s.name: [f for plot in s.plots for f in draw(plot, tables, by_name, tmp)] for s in studies}
            elapsed = time.perf_counter() - start
            env = environment(seed)
            scheduling = {"scheduler": scheduler, "jobs": (jobs or default_jobs()) if scheduler == "local" else None,
                          "retried": retried}
            results = {
                "format": REPORT_FORMAT,
                "version": REPORT_VERSION,
                "suite": suite,
                "seed": seed,
                "alpha": alpha,
                "alpha_family": ALPHA_FAMILY,
                "environment": env,
                "seconds": elapsed,
                "scheduling": scheduling,
                "summary": {"claims": len(all_verdicts), "passed": sum(bool(v.check.passed) for v in all_verdicts),
                            "family_passed": None if family is None else bool(family.passed),
                            "family": family.summary() if family is not None else family_note},
                "studies": [{"name": s.name, "title": s.title, "seconds": seconds[s.name], "config": s.config_json(),
                             "plots": plot_files[s.name], "claims": [v.name for v in all_verdicts if v.study == s.name]}
                            for s in studies],
                "tables": {name: table.to_json() for name, table in tables.items()},
                "claims": [v.to_json() for v in all_verdicts],
            }
            (tmp / "results.json").write_text(json.dumps(json_safe(results), indent=1, allow_nan=False) + "\n",
                                              encoding="utf-8")
            (tmp / "report.md").write_text(_markdown(suite, seed, env, studies, tables, all_verdicts, family,
                                                     family_note, plot_files, elapsed, alpha, scheduling), encoding="utf-8")
    except OSError as error:
        if writing:
            raise ReportError(f"cannot write the report to {target}: {error}") from error
        raise
    return Report(target, all_verdicts, family, [f for files in plot_files.values() for f in files],
                  time.perf_counter() - start, tuple(retried))
