"""Mutation testing of the decision modules, the samplers and the oracle (issue 17; not part of pytest).

mutmut (pinned: 3.8.1, ``python -m pip install mutmut==3.8.1``) mutates one group of modules at a
time and runs, for every mutant, the fast tests of that group that call the mutated function
(mutmut records which test calls which function; the fastest test runs first and the first
failure kills the mutant). The groups and their tests are ``GROUPS`` below; the slow tier is never
selected, and neither are the theory tests, whose fixtures compute whole sweeps (~16 min on 2
cores: one mutant would cost that much).

    nice -n 19 python benchmarks/mutation.py                    # every group (a few hours on 2 cores)
    nice -n 19 python benchmarks/mutation.py --group stats      # one group
    python benchmarks/mutation.py --report                      # the score of the last run, no testing
    nice -n 19 python benchmarks/mutation.py --rerun-survivors  # after adding tests: retest survivors only
    nice -n 19 python benchmarks/mutation.py --sample 10        # a fixed sample of about 1 mutant in 10

Each group works in ``.mutation/<group>/`` (ignored by git): a copy of ``piadm_verify`` in which
``@torch.no_grad()`` is rewritten as the equivalent ``f = torch.no_grad()(f)`` after the function
(mutmut does not mutate decorated functions, and the four samplers carry that decorator), the
group's ``pyproject.toml`` (the repository's, with the group's ``[tool.mutmut]``), and mutmut's
``mutants/`` with its results; a later run tests only mutants without a result (new, or in
changed functions), ``--rerun-survivors`` only the survivors. The kernels of
``oracle/kernels.py`` are not mutated: they are numba ``@njit`` functions, which mutmut skips
(decorated), and a trampoline would not compile under numba anyway.

Surviving mutants that no test can kill, because the mutated code computes the same thing, are
listed with the reason in ``benchmarks/mutation_equivalent.toml`` (matched by module, function and
the changed lines). The report counts, per module: mutants, killed, equivalent, survived, no tests
(a function that no selected test calls) and timeouts; the score is killed / (mutants −
equivalent). Exit status 0 when no unexplained mutant survived, 1 otherwise, 2 for bad arguments.

"No tests" mutants are mostly in the claims that only the theory tier calls (the sweeps' claims in
``claims/sde.py``, ``ode.py`` and ``mixture.py``, e.g. ``claim_ode_rounds``,
``claim_mixture_picard_decay``): no fast test selects them, and running the theory tests for each
mutant would cost ~16 min per mutant. They are covered outside mutation testing, by the theory
tests' negative controls: every claim must be failed by at least one broken sampler of
``tests/broken.py`` or, for claims that the broken samplers trip only by leaving nothing to
evaluate, by the correct sampler's table with its rate made wrong (``WRONG_RATES`` in each
``tests/test_theory_*.py``), and must pass on the correct sampler. That shows each claim can fail
and pass, not that every mutant of it is caught, so the score counts these mutants as NOT killed
(they lower it); they are neither listed as equivalent nor written off. The claims that the
decision-rule tests call on hand-built tables (and ``tests/test_mutation_kills.py``) are mutated
like any other function.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.toml"
MUTMUT_VERSION = "3.8.1"
SHARED_TESTS = ("tests/test_mutation_kills.py",)


@dataclass(frozen=True)
class Group:
    """Modules mutated together and the fast tests that check them."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS = {
    "stats": Group(("piadm_verify/verification/stats.py",),
                   ("tests/test_stats.py", "tests/test_decision_rules.py")),
    # The theory tests also judge real tables with these claims, but their fixtures take minutes:
    # the claims are checked here by the decision-rule tests on hand-built tables.
    "claims": Group(("piadm_verify/verification/claims/base.py", "piadm_verify/verification/claims/sde.py",
                     "piadm_verify/verification/claims/ode.py", "piadm_verify/verification/claims/mixture.py"),
                    ("tests/test_decision_rules.py",)),
    "estimators": Group(("piadm_verify/verification/estimators.py",), ("tests/test_estimators.py",)),
    "samplers": Group(("piadm_verify/samplers/sde.py", "piadm_verify/samplers/ode.py", "piadm_verify/samplers/common.py"),
                      ("tests/test_sde.py", "tests/test_contract.py", "tests/test_noise.py")),
    "oracle": Group(("piadm_verify/oracle/sde.py", "piadm_verify/oracle/affine.py", "piadm_verify/oracle/probe.py"),
                    ("tests/test_oracle.py", "tests/test_probe.py")),
}

DECORATOR = "torch.no_grad()"


def without_decorators(source: str) -> str:
    """``@torch.no_grad()`` on a top-level function rewritten as ``f = torch.no_grad()(f)`` right after it."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and len(node.decorator_list) == 1 \
                and ast.unparse(node.decorator_list[0]) == DECORATOR:
            edits.append((node.decorator_list[0].lineno, node.end_lineno, node.name))
    for decorator_line, end_line, name in reversed(edits):
        lines.insert(end_line, f"\n\n{name} = {DECORATOR}({name})\n")
        del lines[decorator_line - 1]
    return "".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    """Write only a changed file, so that mutmut (which compares modification times) keeps its results."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def group_pyproject(group: Group) -> str:
    """The repository's pyproject.toml (pytest's options included) with the group's mutmut section."""
    text = (ROOT / "pyproject.toml").read_text()
    base = tomllib.loads(text).get("tool", {}).get("mutmut", {})
    if "[tool.mutmut]" in text:
        head, _, rest = text.partition("[tool.mutmut]")
        following = rest.find("\n[")
        text = head + (rest[following + 1:] if following >= 0 else "")
    # mutmut runs pytest in its own process (its trampolines and statistics need that): no xdist workers
    settings = dict(base, source_paths=["piadm_verify"], only_mutate=list(group.modules), also_copy=["analytic"],
                    pytest_add_cli_args=list(base.get("pytest_add_cli_args", [])) + ["-n", "0"],
                    pytest_add_cli_args_test_selection=[t for t in group.tests + SHARED_TESTS if (ROOT / t).exists()])
    return text.rstrip() + "\n\n[tool.mutmut]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())


def prepare(name: str) -> Path:
    """Lay out ``.mutation/<name>/``: the package copy, links to tests/ and analytic/, the pyproject."""
    group, work = GROUPS[name], WORK / name
    work.mkdir(parents=True, exist_ok=True)
    package = ROOT / "piadm_verify"
    for source in package.rglob("*.py"):
        text = source.read_text()
        relative = source.relative_to(ROOT)
        write_if_changed(work / relative, without_decorators(text) if str(relative) in group.modules else text)
    for link in ("tests", "analytic"):
        path = work / link
        if path.is_symlink() and path.resolve() != (ROOT / link).resolve():
            path.unlink()  # a .mutation/ copied from another checkout: mutmut would test that checkout's tests
        if not path.exists():
            path.symlink_to(ROOT / link)
    write_if_changed(work / "pyproject.toml", group_pyproject(group))
    return work


def mutmut_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the copy, not the checkout, is imported
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return env


def run_group(name: str, jobs: int, mutants: list[str] | None = None) -> float:
    work = prepare(name)
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *(mutants or [])]
    start = time.monotonic()
    with open(work / "mutmut.log", "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command[3:])}\n")
        log.flush()
        subprocess.run(command, cwd=work, env=mutmut_env(), stdout=log, stderr=subprocess.STDOUT, check=False)
    return time.monotonic() - start


def mutant_names(name: str) -> list[str]:
    """Every mutant of a prepared group, named as mutmut names them (generated here, without running)."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    cwd = os.getcwd()
    os.chdir(WORK / name)  # mutmut reads its configuration from the working directory
    try:
        reset_config()
        names = []
        for module in GROUPS[name].modules:
            mutated = mutate_file_contents(module, Path(module).read_text(), None, None)
            names += [get_mutant_name(Path(module), mutant) for mutant in mutated.mutant_names]
    finally:
        os.chdir(cwd)
    return names


def sampled(names: list[str], every: int) -> list[str]:
    """A fixed sample of about one mutant in ``every``: the same names on every run (CRC-32 of the name)."""
    return [n for n in names if zlib.crc32(n.encode()) % every == 0]


def results(name: str) -> dict[str, tuple[str, str]]:
    """``{mutant: (status, diff)}`` of a group's last run (diffs only for the mutants that survived)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    work = WORK / name
    out = {}
    cwd = os.getcwd()
    os.chdir(work)  # mutmut reads its files relative to the working directory
    try:
        for module in GROUPS[name].modules:
            meta = Path("mutants") / (module + ".meta")
            if not meta.exists():
                continue
            for mutant, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                status = status_by_exit_code[code]
                out[mutant] = (status, get_diff_for_mutant(mutant, path=module) if status in ("survived", "no tests") else "")
    finally:
        os.chdir(cwd)
    return out


def changed_lines(diff: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The removed and added lines of a diff, stripped."""
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    return (tuple(line[1:].strip() for line in body if line.startswith("-")),
            tuple(line[1:].strip() for line in body if line.startswith("+")))


def load_equivalent() -> list[dict]:
    entries = tomllib.loads(EQUIVALENT.read_text()).get("equivalent", []) if EQUIVALENT.exists() else []
    for entry in entries:
        missing = {"module", "function", "original", "mutated", "why"} - set(entry)
        if missing:
            raise SystemExit(f"{EQUIVALENT.name}: an entry lacks {sorted(missing)}: {entry}")
    return entries


def function_of(mutant: str) -> str:
    """The function a mutant belongs to: ``pkg.mod.x_name__mutmut_3`` → ``name`` (methods: ``Class.name``)."""
    mangled = mutant.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("xǁ"):
        _, cls, method = mangled.split("ǁ")
        return f"{cls}.{method}"
    return mangled.removeprefix("x_")


def matching_entry(mutant: str, diff: str, entries: list[dict]) -> dict | None:
    module = mutant.rpartition(".")[0]
    removed, added = changed_lines(diff)
    for entry in entries:
        if entry["module"] == module and entry["function"] == function_of(mutant) \
                and tuple(entry["original"].splitlines()) == removed and tuple(entry["mutated"].splitlines()) == added:
            return entry
    return None


def report(names: list[str], elapsed: dict[str, float]) -> int:
    entries = load_equivalent()
    used = set()
    rows, unexplained = [], []
    totals = Counter()
    for name in names:
        by_module = defaultdict(Counter)
        for mutant, (status, diff) in sorted(results(name).items()):
            module = next(m for m in GROUPS[name].modules if mutant.startswith(m[:-3].replace("/", ".") + "."))
            counts = by_module[module]
            counts["mutants"] += 1
            if status in ("survived", "no tests"):
                entry = matching_entry(mutant, diff, entries)
                if entry is not None:
                    used.add(id(entry))
                    status = "equivalent"
                else:
                    unexplained.append((mutant, status, diff))
            counts[status] += 1
        for module, counts in by_module.items():
            rows.append((name, module, counts))
            totals.update(counts)
    print(f"{'group':10s} {'module':44s} {'mutants':>7s} {'tested':>6s} {'killed':>6s} {'equiv':>5s} {'survived':>8s} "
          f"{'no tests':>8s} {'timeout':>7s}")
    for name, module, c in rows + [("", "total", totals)]:
        tested = c["mutants"] - c["not checked"]
        print(f"{name:10s} {module:44s} {c['mutants']:7d} {tested:6d} {c['killed']:6d} {c['equivalent']:5d} {c['survived']:8d} "
              f"{c['no tests']:8d} {c['timeout']:7d}")
    tested = totals["mutants"] - totals["not checked"]
    other = tested - sum(totals[k] for k in ("killed", "equivalent", "survived", "no tests", "timeout"))
    if other:
        print(f"other statuses (suspicious, segfault, interrupted): {other}")
    if tested - totals["equivalent"]:
        print(f"mutation score: {totals['killed']}/{tested - totals['equivalent']} = "
              f"{totals['killed'] / (tested - totals['equivalent']):.4f} (killed / (tested − equivalent); "
              f"survivors, functions no selected test calls and timeouts count as not killed)")
    for name, seconds in elapsed.items():
        print(f"time {name}: {seconds / 60:.1f} min")
    stale = [e for e in entries if id(e) not in used and e["module"].replace(".", "/") + ".py" in
             {m for n in names for m in GROUPS[n].modules}]
    for entry in stale:
        print(f"note: no surviving mutant matches the equivalent entry {entry['module']}.{entry['function']}: {entry['original']!r}")
    (WORK / "survivors.txt").write_text("".join(f"# {m} ({s})\n{d}\n\n" for m, s, d in unexplained))
    if unexplained:
        print(f"{len(unexplained)} unexplained survivors: diffs in {WORK / 'survivors.txt'}")
    return 1 if unexplained else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", nargs="+", choices=sorted(GROUPS), default=list(GROUPS))
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested in parallel (default 1)")
    parser.add_argument("--report", action="store_true", help="print the last run's results, test nothing")
    parser.add_argument("--rerun-survivors", action="store_true", help="retest only the mutants that survived")
    parser.add_argument("--sample", type=int, default=1, metavar="N",
                        help="test a fixed sample of about one mutant in N (default 1: all)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.sample < 1:
        parser.error("--jobs and --sample must be ≥ 1")
    try:
        import mutmut
    except ImportError:
        parser.error(f"mutmut is not installed: python -m pip install mutmut=={MUTMUT_VERSION}")
    if mutmut.__version__ != MUTMUT_VERSION:
        print(f"warning: mutmut {mutmut.__version__}, the configuration was written for {MUTMUT_VERSION}", file=sys.stderr)
    elapsed = {}
    if not args.report:
        for name in args.group:
            chosen = None
            if args.sample > 1:
                prepare(name)
                chosen = sampled(mutant_names(name), args.sample)
            if args.rerun_survivors:
                done = results(name)
                chosen = [m for m in (chosen or done) if done.get(m, ("",))[0] in ("survived", "no tests", "timeout")]
                if not chosen:
                    continue
            elapsed[name] = run_group(name, args.jobs, chosen)
            print(f"{name}: {elapsed[name] / 60:.1f} min", flush=True)
    return report(args.group, elapsed)


if __name__ == "__main__":
    sys.exit(main())
