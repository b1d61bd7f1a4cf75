"""The ``piadm-verify`` command line (also ``python -m piadm_verify``).

::

    piadm-verify report [--suite quick|full] [--out DIR] [--seed S] [--quiet]
    piadm-verify baseline (--check | --update) [--file PATH] [--quiet]

``report`` runs a suite's studies (:mod:`piadm_verify.reporting.suites`) and writes ``report.md``,
``results.json`` and PNG plots into DIR (default ``reports/<suite>/``), replacing an earlier report
there only once the new one is complete. ``baseline --check`` recomputes the canonical error rates
and compares them with the baseline file (default ``reports/baseline.json``, relative to the
current directory); ``--update`` rewrites it.

Exit status: 0 success (a report is written whatever its verdicts; they are in the report);
1 the baseline check found values beyond their tolerance (the diff is printed);
2 the command could not run: bad arguments (argparse), an unwritable or unsuitable output
directory or baseline file, a missing or malformed baseline file, baseline lists that no longer fit
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
        description="Verification reports and the error-rate baseline of the PIADM samplers.",
        epilog="Exit status: 0 success; 1 baseline check failed; 2 bad arguments, output location or baseline file; "
               "3 unexpected error.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{report,baseline}")

    report = commands.add_parser("report", help="run a suite of sweeps and write a Markdown/JSON/PNG report",
                                 description="Run a suite's sweeps, judge the theorems' claims and write report.md, "
                                             "results.json and PNG plots.")
    report.add_argument("--suite", choices=list(suite_names), default=suite_names[0],
                        help=f"which studies to run (default {suite_names[0]})")
    report.add_argument("--out", type=Path, metavar="DIR",
                        help="output directory (default reports/<suite>); replaced once the new report is complete")
    report.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="seed shift for the randomised sweeps (default 0: the seeds the theory tests use)")
    report.add_argument("--quiet", action="store_true", help="no progress bar")

    baseline = commands.add_parser("baseline", help="check or rewrite reports/baseline.json",
                                   description="Recompute the canonical error rates and compare them with the "
                                               "baseline file (--check), or rewrite it (--update).")
    action = baseline.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="compare; exit 1 with a diff if a value moved")
    action.add_argument("--update", action="store_true", help="recompute and rewrite the file")
    baseline.add_argument("--file", type=Path, metavar="PATH", help="baseline file (default reports/baseline.json)")
    baseline.add_argument("--quiet", action="store_true", help="print only failures")
    return parser


def _report(args, suites: Mapping) -> int:
    from .reporting.report import write_report

    out = args.out if args.out is not None else Path("reports") / args.suite
    result = write_report(suites[args.suite], out, suite=args.suite, seed=args.seed, quiet=args.quiet)
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


def main(argv: Sequence[str] | None = None, *, suites: Mapping | None = None) -> int:
    """Run the command line; returns the exit status. ``suites`` (default
    :data:`piadm_verify.reporting.suites.SUITES`) lets tests offer small suites of their own."""
    if suites is None:
        from .reporting.suites import SUITES as suites
    parser = build_parser(list(suites))
    args = parser.parse_args(argv)
    from .reporting.baseline import BaselineError
    from .reporting.report import ReportError

    try:
        return _report(args, suites) if args.command == "report" else _baseline(args)
    except (ReportError, BaselineError) as error:
        print(f"piadm-verify {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a crash must not read as a failed check (exit 1)
        traceback.print_exc()
        print(f"piadm-verify {args.command}: unexpected error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR
