"""False-failure audit of the Gaussian-mixture tier (not part of pytest).

Runs the mixture tier's default sweeps for the CORRECT samplers (the configurations of
``tests/test_theory_mixture.py`` and of the quick report) under many master seeds, evaluates every
mixture claim at its level α = 1e-4 and the Holm family at α_family = 1e-4, and prints how many
assertions failed out of how many. With every claim true the expected count is ≈ 0 (each
assertion fails with probability ≤ α, up to the samplers' discretisation bias, which the sample
sizes keep far below what the tests can see).

    python benchmarks/audit_mixture.py --seeds 50 [--scheduler local|serial|ADDRESS] [--jobs N] [--quick]

``--quick`` halves the Monte Carlo work per seed (half the samples per run; the same sweeps,
targets, levels and assertions) for machines where the full audit takes too long. Each seed is one
task of :func:`piadm_verify.reporting.tasks.run_tasks`: by default on a local Dask cluster of
``--jobs`` worker processes (one per core, one torch thread each), with ``--scheduler serial`` in
this process, or on a running Dask cluster given by its address (``--connect-timeout`` seconds to
answer, default 20). The verdicts do not depend on where the seeds run; seeds retried after their
worker died are listed.

Exit status: 0 if the Holm family passed for every seed (single assertions may fail, at rate ≤ α:
they are counted, not fatal), 1 if it failed for at least one seed, 2 for bad arguments or a
scheduler that cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from piadm_verify.reporting.suites import SUITES  # noqa: E402
from piadm_verify.reporting.tasks import (SchedulerError, add_scheduler_arguments, default_jobs,  # noqa: E402
                                          positive_integer, run_tasks)  # noqa: E402
from piadm_verify.studies import judge  # noqa: E402
from piadm_verify.studies.registry import MIXTURE  # noqa: E402
from piadm_verify.verification import stats  # noqa: E402
from piadm_verify.verification.claims import ALPHA, ALPHA_FAMILY  # noqa: E402

SEED_STRIDE = 10_000


def studies(quick: bool):
    """The quick suite's mixture studies, as the default theory tier runs them (``quick``: half the
    samples per run)."""
    chosen = [s for s in SUITES["quick"] if s.name in MIXTURE]
    return [s.configured(n=s.config.n // 2) for s in chosen] if quick else chosen


def audit_seed(seed: int, quick: bool) -> tuple[list[str], int, bool]:
    """One master seed (one task): (names of the failed claims, number of claims, family passed)."""
    tables = {s.name: s.run(seed=SEED_STRIDE * seed) for s in studies(quick)}
    results = judge(tables, alpha=ALPHA)
    family = stats.holm(judge(tables, alpha=ALPHA_FAMILY / len(results)), ALPHA_FAMILY)
    return [c.name for c in results if not c.passed], len(results), bool(family.passed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=positive_integer, default=50, help="number of master seeds (1 … N)")
    add_scheduler_arguments(parser, "the seeds")
    parser.add_argument("--quick", action="store_true", help="half the samples per run, same assertions")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    options = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        outcomes = run_tasks(audit_seed, [(f"seed {seed}", (seed, options.quick))
                                          for seed in range(1, options.seeds + 1)],
                             scheduler=options.scheduler, jobs=options.jobs, connect_timeout=options.connect_timeout,
                             progress="audit", quiet=options.quiet)
    except SchedulerError as error:
        print(f"audit_mixture: error: {error}", file=sys.stderr)
        return 2
    per_claim = Counter()
    total = failures = family_failures = 0
    for seed, outcome in enumerate(outcomes, start=1):
        failed, count, family_passed = outcome.value
        seconds = outcome.seconds
        total += count
        failures += len(failed)
        family_failures += not family_passed
        per_claim.update(failed)
        print(f"seed {seed:3d}: {len(failed)}/{count} failed, family {'pass' if family_passed else 'FAIL'} "
              f"({seconds:.0f} s{', retried' if outcome.retried else ''}){': ' + ', '.join(failed) if failed else ''}",
              flush=True)
    elapsed = time.perf_counter() - start
    mode = "quick (half n)" if options.quick else "default"
    where = ("serially" if options.scheduler == "serial" else
             f"on a local Dask cluster of {options.jobs or default_jobs()} workers" if options.scheduler == "local" else
             f"on {options.scheduler}")
    print(f"\n{failures} of {total} assertions failed over {options.seeds} seeds ({mode} configurations, "
          f"α = {ALPHA:g} each; expected ≤ {ALPHA * total:.2g}); Holm family (α_family = {ALPHA_FAMILY:g}) failed "
          f"{family_failures} of {options.seeds}; {elapsed / 60:.1f} min {where}")
    for name, count in per_claim.most_common():
        print(f"  {name}: {count}")
    return 1 if family_failures else 0


if __name__ == "__main__":
    sys.exit(main())
