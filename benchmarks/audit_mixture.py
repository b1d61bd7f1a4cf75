"""False-failure audit of the Gaussian-mixture tier (not part of pytest).

Runs the mixture tier's default sweeps for the CORRECT samplers (the configurations of
``tests/test_theory_mixture.py`` and of the quick report) under many master seeds, evaluates every
mixture claim at its level α = 1e-4 and the Holm family at α_family = 1e-4, and prints how many
assertions failed out of how many. With every claim true the expected count is ≈ 0 (each
assertion fails with probability ≤ α, up to the samplers' discretisation bias, which the sample
sizes keep far below what the tests can see).

    python benchmarks/audit_mixture.py --seeds 50 [--jobs 2] [--quick]

``--quick`` halves the Monte Carlo work per seed (half the samples per run; the same sweeps,
targets, levels and assertions) for machines where the full audit takes too long. ``--jobs``
runs seeds in parallel processes, one torch thread each.

Exit status: 0 if the Holm family passed for every seed (single assertions may fail, at rate ≤ α:
they are counted, not fatal), 1 if it failed for at least one seed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from piadm_verify.reporting.suites import SUITES  # noqa: E402
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


def audit_seed(args) -> tuple[int, list[str], int, bool, float]:
    """One master seed: (seed, names of the failed claims, number of claims, family passed, seconds)."""
    seed, quick = args
    torch.set_num_threads(1)
    start = time.perf_counter()
    tables = {s.name: s.run(seed=SEED_STRIDE * seed) for s in studies(quick)}
    results = judge(tables, alpha=ALPHA)
    family = stats.holm(judge(tables, alpha=ALPHA_FAMILY / len(results)), ALPHA_FAMILY)
    failed = [c.name for c in results if not c.passed]
    return seed, failed, len(results), bool(family.passed), time.perf_counter() - start


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_positive, default=50, help="number of master seeds (1 … N)")
    parser.add_argument("--jobs", type=_positive, default=1, help="parallel processes (one torch thread each)")
    parser.add_argument("--quick", action="store_true", help="half the samples per run, same assertions")
    options = parser.parse_args(argv)
    start = time.perf_counter()
    work = [(seed, options.quick) for seed in range(1, options.seeds + 1)]
    if options.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(options.jobs) as pool:
            outcomes = pool.map(audit_seed, work, chunksize=1)
    else:
        outcomes = [audit_seed(w) for w in work]
    per_claim = Counter()
    total = failures = family_failures = 0
    for seed, failed, count, family_passed, seconds in sorted(outcomes):
        total += count
        failures += len(failed)
        family_failures += not family_passed
        per_claim.update(failed)
        print(f"seed {seed:3d}: {len(failed)}/{count} failed, family {'pass' if family_passed else 'FAIL'} "
              f"({seconds:.0f} s){': ' + ', '.join(failed) if failed else ''}", flush=True)
    elapsed = time.perf_counter() - start
    mode = "quick (half n)" if options.quick else "default"
    print(f"\n{failures} of {total} assertions failed over {options.seeds} seeds ({mode} configurations, "
          f"α = {ALPHA:g} each; expected ≤ {ALPHA * total:.2g}); Holm family (α_family = {ALPHA_FAMILY:g}) failed "
          f"{family_failures} of {options.seeds}; {elapsed / 60:.1f} min with {options.jobs} job(s)")
    for name, count in per_claim.most_common():
        print(f"  {name}: {count}")
    return 1 if family_failures else 0


if __name__ == "__main__":
    sys.exit(main())
