"""The ``piadm-verify`` command line (also ``python -m piadm_verify``).

::

    piadm-verify report [--suite quick|full] [--out DIR] [--seed S] [--scheduler local|serial|ADDRESS]
                        [--jobs N] [--connect-timeout SECONDS] [--quiet]
    piadm-verify baseline (--check | --update) [--file PATH] [--quiet]
    piadm-verify check MODULE:CALLABLE [--kind sde|ode] [--level quick|full] [--reference MODULE:CALLABLE] [--out DIR]
    piadm-verify conformance [--out DIR] [--quiet]

``report`` runs a suite's studies (:mod:`piadm_verify.reporting.suites`) and writes ``report.md``,
``results.json`` and PNG plots into DIR (default ``reports/<suite>/``), replacing an earlier report
there only once the new one is complete. Its studies run as tasks on Dask (``--scheduler``: by default
a local cluster of ``--jobs`` worker processes, one per core; ``serial`` for no Dask; or the address
of a running scheduler, which must answer within ``--connect-timeout`` seconds, default 20); the
tables are the same wherever they run (:mod:`piadm_verify.reporting.tasks`). ``baseline --check`` recomputes the canonical error rates
and compares them with the baseline file (default ``reports/baseline.json``, relative to the
current directory); ``--update`` rewrites it. ``check`` runs the test kit
(:func:`piadm_verify.testing.verify_sampler`) on a sampler named ``module:callable`` (the current
directory is on the import path), prints the verdicts and, with ``--out``, writes ``check.md`` and
``results.json`` there once the whole battery has run. ``conformance`` runs the conformance checks of
diffusers' schedulers on exact targets (:mod:`piadm_verify.reporting.conformance`; needs the optional
extra, ``pip install -e ".[diffusers]"``) and writes ``conformance.md`` and ``results.json`` into DIR
(default ``reports/conformance/``), replacing an earlier run only once the new one is complete.

Exit status: 0 success (a report is written whatever its verdicts; they are in the report; ``check``:
every claim passed); 1 the baseline check found values beyond their tolerance (the diff is printed),
or ``check``: a claim failed, or the sampler raised, returned the wrong shape or non-finite values
(the message names the sampler and the stage; no report is written), or ``conformance``: a check
failed that no recorded library finding explains (the results are written);
2 the command could not run: bad arguments (argparse; a module that does not import, a name that is
not callable, a ``--jobs`` below 1, a scheduler address that does not answer in time; diffusers not installed for ``conformance``), an unwritable or unsuitable output directory or baseline file, a missing or malformed baseline file, baseline lists that no longer fit
the sweeps; 3 an unexpected error (a study, sweep or claim crashed: a bug, not a verdict; the
traceback is printed). Messages go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from .reporting.tasks import add_scheduler_arguments

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_USAGE", "EXIT_ERROR"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def build_parser(suite_names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piadm-verify",
        description="Verification reports, the error-rate baseline and the sampler test kit.",
        epilog="Exit status: 0 success; 1 baseline check, sampler check or an unexplained conformance check failed; "
               "2 bad arguments, output location, baseline file or a missing optional dependency; 3 unexpected error.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{report,baseline,check,conformance}")

    report = commands.add_parser("report", help="run a suite of sweeps and write a Markdown/JSON/PNG report",
                                 description="Run a suite's sweeps, judge the theorems' claims and write report.md, "
                                             "results.json and PNG plots.")
    report.add_argument("--suite", choices=list(suite_names), default=suite_names[0],
                        help=f"which studies to run (default {suite_names[0]})")
    report.add_argument("--out", type=Path, metavar="DIR",
                        help="output directory (default reports/<suite>); replaced once the new report is complete")
    report.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="seed shift for the randomised sweeps (default 0: the seeds the theory tests use)")
    add_scheduler_arguments(report, "the studies")
    report.add_argument("--quiet", action="store_true", help="no progress bar")

    baseline = commands.add_parser("baseline", help="check or rewrite reports/baseline.json",
                                   description="Recompute the canonical error rates and compare them with the "
                                               "baseline file (--check), or rewrite it (--update).")
    action = baseline.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="compare; exit 1 with a diff if a value moved")
    action.add_argument("--update", action="store_true", help="recompute and rewrite the file")
    baseline.add_argument("--file", type=Path, metavar="PATH", help="baseline file (default reports/baseline.json)")
    baseline.add_argument("--quiet", action="store_true", help="print only failures")

    check = commands.add_parser("check", help="run the test kit on your sampler",
                                description="Run the contract battery of piadm_verify.testing on a sampler given "
                                            "as module:callable; exit 0 if every claim passes, 1 otherwise.")
    check.add_argument("sampler", metavar="MODULE:CALLABLE", help="the sampler, e.g. mypkg.samplers:fast_sampler")
    check.add_argument("--kind", choices=["sde", "ode"], default="sde", help="the dynamics it samples (default sde)")
    check.add_argument("--level", choices=["quick", "full"], default="quick", help="battery size (default quick)")
    check.add_argument("--reference", metavar="MODULE:CALLABLE", help="a sampler it must equal path by path")
    check.add_argument("--out", type=Path, metavar="DIR", help="write check.md and results.json here")

    conformance = commands.add_parser(
        "conformance", help="check diffusers' schedulers on exact targets",
        description="Drive diffusers' schedulers (sequential and parallel) on exact Gaussian targets and check their "
                    "grids, exact laws (KL to the target and to the continuous-time law), Monte Carlo of the real code "
                    "(Holm, alpha 1e-4), orders, identities, ParaDiGMS parity and pass counts; write conformance.md "
                    "and results.json (about 3 minutes on 2 cores). Needs the optional extra: pip install -e \".[diffusers]\". Exit 0 when every "
                    "failing check is a recorded library finding, 1 when one is not.")
    conformance.add_argument("--out", type=Path, metavar="DIR",
                             help="output directory (default reports/conformance); replaced once the run is complete")
    conformance.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _report(args, suites: Mapping) -> int:
    from .reporting.report import write_report

    out = args.out if args.out is not None else Path("reports") / args.suite
    result = write_report(suites[args.suite], out, suite=args.suite, seed=args.seed, quiet=args.quiet,
                          scheduler=args.scheduler, jobs=args.jobs, connect_timeout=args.connect_timeout)
    if result.retried:
        print(f"retried after their Dask worker died: {', '.join(result.retried)}", file=sys.stderr)
    family = "" if result.family is None else f"; Holm family {'PASS' if result.family.passed else 'FAIL'}"
    print(f"{args.suite}: {result.passed} of {len(result.verdicts)} claims pass{family}; wrote {out / 'report.md'}, "
          f"results.json and {len(result.plots)} plots in {result.seconds:.1f} s")
    return EXIT_OK


def _baseline(args) -> int:
    from .reporting import baseline

    path = args.file if args.file is not None else baseline.DEFAULT_PATH
    start = time.perf_counter()
    if args.check:
        comparison = baseline.check(path)
        if comparison.passed:
            if not args.quiet:
                print(f"{comparison.report(path)} ({time.perf_counter() - start:.1f} s)")
            return EXIT_OK
        print(comparison.report(path))
        return EXIT_CHECK_FAILED
    comparison = baseline.update(path)
    if not args.quiet:
        changed = [r.name for r in comparison.failed]
        if all(r.baseline is None for r in comparison.rows):
            note = "a new baseline (there was no valid file before)"
        elif changed:
            shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
            note = f"{len(changed)} changed beyond tolerance, new or dropped: {shown}"
        else:
            note = "no value moved beyond its tolerance"
        print(f"wrote {path}: {len(comparison.rows)} entries; {note} ({time.perf_counter() - start:.1f} s)")
    return EXIT_OK


class _UsageError(Exception):
    """Bad command-line input that argparse cannot see (a module that does not import, …): exit 2."""


def _load(spec: str, what: str):
    """``module:callable`` → the callable (the current directory on the import path)."""
    import importlib
    import os

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise _UsageError(f"{what} must be given as MODULE:CALLABLE, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any failure to import is the user's input, not our crash
        raise _UsageError(f"{what} {spec!r}: module {module_name!r} does not import: {type(error).__name__}: {error}") \
            from error
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise _UsageError(f"{what} {spec!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise _UsageError(f"{what} {spec!r} is not callable ({type(target).__name__})")
    return target


def _check(args) -> int:
    import json

    from .reporting.environment import environment, json_safe
    from .reporting.report import atomic_directory
    from .testing import SamplerFailure, verify_sampler

    sampler = _load(args.sampler, "sampler")
    reference = _load(args.reference, "reference") if args.reference else None

    def verify():
        return verify_sampler(sampler, kind=args.kind, level=args.level, reference=reference, name=args.sampler)

    try:
        if args.out is None:
            result = verify()
        else:  # the output location is checked before the battery runs; nothing is written unless it finishes
            with atomic_directory(args.out) as tmp:
                result = verify()
                data = {"format": "piadm-verify-check", "version": 1, **result.to_json(), "environment": environment()}
                (tmp / "results.json").write_text(json.dumps(json_safe(data), indent=1, allow_nan=False) + "\n",
                                                  encoding="utf-8")
                (tmp / "check.md").write_text(result.markdown(), encoding="utf-8")
    except SamplerFailure as error:
        print(f"piadm-verify check: FAILED: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(result.summary())
    if args.out is not None:
        print(f"wrote {args.out / 'check.md'} and results.json")
    return EXIT_OK if result.passed else EXIT_CHECK_FAILED


def _conformance(args) -> int:
    from .external import require_diffusers

    try:
        require_diffusers()
    except ImportError as error:
        raise _UsageError(str(error)) from None
    from .reporting.conformance import DEFAULT_OUT, write_conformance

    out = args.out if args.out is not None else DEFAULT_OUT
    result = write_conformance(out, quiet=args.quiet)
    print(result.summary())
    print(f"wrote {out / 'conformance.md'} and results.json")
    return EXIT_CHECK_FAILED if result.unexplained else EXIT_OK


def main(argv: Sequence[str] | None = None, *, suites: Mapping | None = None) -> int:
    """Run the command line; returns the exit status. ``suites`` (default
    :data:`piadm_verify.reporting.suites.SUITES`) lets tests offer small suites of their own."""
    if suites is None:
        from .reporting.suites import SUITES as suites
    parser = build_parser(list(suites))
    args = parser.parse_args(argv)
    from .reporting.baseline import BaselineError
    from .reporting.report import ReportError
    from .reporting.tasks import SchedulerError

    try:
        if args.command == "check":
            return _check(args)
        if args.command == "conformance":
            return _conformance(args)
        return _report(args, suites) if args.command == "report" else _baseline(args)
    except (ReportError, BaselineError, SchedulerError, _UsageError) as error:
        print(f"piadm-verify {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a crash must not read as a failed check (exit 1)
        traceback.print_exc()
        print(f"piadm-verify {args.command}: unexpected error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR
