"""Reports: the suites of registered studies, the report directory and its results.json.

The report is run on a tiny suite (the PIADM-SDE studies at reduced configurations, plus a stub
PIADM-ODE rounds table) so that the whole pipeline (sweeps → claims → plots → report.md/results.json
→ atomic move into place) runs in a few seconds.
"""

import json
import math

import pytest

from piadm_verify.reporting import environment, plots, report, suites
from piadm_verify.reporting.suites import SUITES
from piadm_verify.studies import CORRECT, REGISTRY, Study, study
from piadm_verify.verification import Table, stats
from piadm_verify.verification.claims import ALPHA

TINY_CONFIGS = dict(
    picard=dict(hs=(1.0, 2.0), steps_per_unit=8),
    delta=dict(deltas=(1e-3, 1e-2, 1e-1), blocks=3, steps=16),
    eps=dict(steps=(5, 10, 20)),
    horizon=dict(Ts=(1.0, 2.0, 3.0, 4.0, 6.0, 8.0), steps_per_unit=50),
    dimension=dict(dims=(4, 16, 64), dense_dims=(2, 4, 8)),
    rounds=dict(dims=(4, 16, 64, 256, 1024)),
    path=dict(deltas=(0.04, 0.08, 0.16), replicates=2, n=64, T=2.0, blocks=2, steps=4, K=2),
    work_precision=dict(deltas=(0.5, 0.3), k_max=5),
)


def ode_rounds_stub(config=None, variant=None):
    """A stand-in for the PIADM-ODE rounds study: same column names as the SDE rounds table."""
    d = [4, 16, 64, 256]
    return Table("ode_rounds", {"d": d, "rounds": [20, 24, 28, 32], "peak_points": [30, 60, 120, 240],
                                "space": [4 * 30, 16 * 60, 64 * 120, 256 * 240],
                                "sequential_steps": [300, 700, 1500, 3200]})


def stub_markdown(table):
    """A study's own Markdown for its report section: here, its rounds as a table."""
    return "| d | rounds |\n|---|---|\n" + "".join(f"| {d} | {r} |\n" for d, r in zip(table.column("d"),
                                                                                     table.column("rounds")))


def tiny_studies():
    return [study(name).configured(**changes) for name, changes in TINY_CONFIGS.items()] + [
        Study("ode_rounds", "PIADM-ODE rounds (stub)", ode_rounds_stub, None, reading="A stub table for the tests.",
              markdown=stub_markdown)]


def _failing_sweep(config, variant):
    raise RuntimeError("sweep exploded")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "tiny"
    result = report.write_report(tiny_studies(), out, suite="tiny", seed=0, quiet=True)
    return out, result, json.loads((out / "results.json").read_text())


# -- the registry ------------------------------------------------------------------------------------------
def test_suites_offer_quick_and_full_with_unique_study_names():
    assert set(SUITES) >= {"quick", "full"}
    for name, studies in SUITES.items():
        names = [s.name for s in studies]
        assert len(names) == len(set(names)), name
        assert {"picard", "delta", "eps", "horizon", "dimension", "rounds", "path", "work_precision"} <= set(names)


def test_quick_suite_runs_the_theory_tests_configurations():
    """The quick report shows what the theory tests check: its studies are the registry's, at the
    registry's configurations, all but the minutes-long histogram study."""
    assert [s for s in SUITES["quick"]] == [s for name, s in REGISTRY.items() if name != "mixture_histogram"]


def test_full_suite_extends_every_registered_study():
    """Every registered study is in the full suite, under the same declaration (claims, plots, reading)."""
    full = {s.name: s for s in SUITES["full"]}
    assert set(full) == set(REGISTRY)
    for name, s in full.items():
        assert (s.sweep, s.judge, s.claims, s.plots, s.reading) == (REGISTRY[name].sweep, REGISTRY[name].judge,
                                                                   REGISTRY[name].claims, REGISTRY[name].plots,
                                                                   REGISTRY[name].reading)


def test_every_check_a_study_judges_is_one_of_its_declared_claims():
    """A claim's name is declared once: each check's name is an instance of a claim its study declares."""
    with environment.torch_threads(1):
        for s in tiny_studies()[:-1]:
            for check in s.judge(s.run(), ALPHA):
                assert any(c.matches(check.name) for c in s.claims), (s.name, check.name)


def test_seed_zero_runs_the_configuration_and_a_seed_shifts_it():
    path = study("path").configured(deltas=(0.04, 0.08, 0.16), replicates=2, n=32, T=2.0, blocks=2, steps=4, K=2)
    with environment.torch_threads(1):
        assert path.run(0).columns == path.sweep(path.config, CORRECT).columns
        assert path.run(5).columns["msd"] != path.run(0).columns["msd"]
    deterministic = study("picard").configured(hs=(1.0,), steps_per_unit=4)
    assert deterministic.run(3).columns == deterministic.run(0).columns


def test_verdict_interval_is_the_95_percent_interval_of_the_claims_own_fit():
    """Verdict.ci95 is the claim evaluated at α = 0.025: for the Monte Carlo path claim it equals the
    95% interval of its cluster-robust fit; oracle claims are exact."""
    path = study("path").configured(**TINY_CONFIGS["path"])
    with environment.torch_threads(1):
        table = path.run()
    (verdict,) = suites.verdicts(path, table, ALPHA)
    fit = stats.fit_loglog(table.column("delta"), table.column("msd"), groups=table.column("replicate"))
    assert verdict.ci95 == pytest.approx(fit.interval(0.95), rel=1e-12)
    assert verdict.check.estimate == pytest.approx(fit.estimate, rel=1e-12)
    assert not verdict.exact
    eps_study = study("eps").configured(**TINY_CONFIGS["eps"])
    (eps_verdict,) = suites.verdicts(eps_study, eps_study.run(0), ALPHA)
    assert eps_verdict.exact and eps_verdict.ci95[0] == eps_verdict.ci95[1]


# -- the report directory ----------------------------------------------------------------------------------
def test_report_writes_markdown_json_and_plots(written):
    out, result, _ = written
    assert (out / "report.md").is_file() and (out / "results.json").is_file()
    expected = {"picard.png", "delta.png", "eps.png", "horizon.png", "dimension.png", "rounds.png", "path.png",
                "work_precision.png"}
    assert expected <= {p.name for p in out.glob("*.png")}
    assert sum(p.stat().st_size for p in out.glob("*.png")) < 1_000_000
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tiny")], "temporary directories left behind"


def test_results_json_holds_every_table_claim_and_the_environment(written):
    out, result, data = written
    studies = tiny_studies()
    assert data["format"] == report.REPORT_FORMAT and data["suite"] == "tiny" and data["seed"] == 0
    with environment.torch_threads(1):
        tables = {s.name: s.run(0) for s in studies}
    assert set(data["tables"]) == set(tables)
    for name, table in tables.items():
        assert data["tables"][name] == environment.json_safe(table.to_json())
    assert [c["name"] for c in data["claims"]] == [v.name for v in result.verdicts]
    expected_claims = [c.name for s in studies for c in s.judge(tables[s.name], ALPHA)]
    assert [c["name"] for c in data["claims"]] == expected_claims
    for claim in data["claims"]:
        assert {"estimate", "ci95", "theory", "passed", "exact", "detail"} <= set(claim)
    env = data["environment"]
    for key in ("python", "torch", "numpy", "scipy", "statsmodels", "platform", "git_commit", "timestamp"):
        assert key in env
    assert env["device"] == "cpu" and env["dtype"] == "float64" and env["seed"] == 0


def test_report_markdown_has_the_summary_table_and_a_section_per_study(written):
    out, result, _ = written
    text = (out / "report.md").read_text()
    assert "| Claim | Statement | Theory | Measured | 95% CI | Verdict |" in text
    for verdict in result.verdicts:
        assert f"| `{verdict.name}` |" in text
    assert "| exact |" in text  # oracle fits have a degenerate interval
    for s in tiny_studies():
        assert f"## {s.title}" in text
    stub = text.split("## PIADM-ODE rounds (stub)", 1)[1]
    assert stub.index("A stub table for the tests.") < stub.index("| d | rounds |\n|---|---|\n| 4 | 20 |")
    for image in (line.rsplit("(", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")):
        assert (out / image).is_file()


def test_rounds_plot_draws_an_ode_curve_when_an_ode_rounds_table_is_present(tmp_path):
    tables = {"ode_rounds": ode_rounds_stub(0)}
    assert plots.rounds_plot(tables, {}, tmp_path) == ["rounds.png"]
    assert (tmp_path / "rounds.png").is_file()
    assert plots.rounds_plot({}, {}, tmp_path) == []


def test_json_safe_writes_non_finite_numbers_as_strings():
    assert environment.json_safe({"a": [math.inf, -math.inf, math.nan, 1.5]}) == {"a": ["inf", "-inf", "nan", 1.5]}
    assert json.loads(json.dumps(environment.json_safe([float("inf")]), allow_nan=False)) == ["inf"]


# -- failures leave nothing half-written ------------------------------------------------------------------------
def test_a_failing_study_leaves_the_previous_report_untouched(tmp_path):
    out = tmp_path / "quick"
    studies = [study("eps").configured(**TINY_CONFIGS["eps"])]
    report.write_report(studies, out, quiet=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RuntimeError, match="sweep exploded"):
        report.write_report(studies + [Study("boom", "boom", _failing_sweep, None)], out, quiet=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quick"]


def test_refuses_an_output_directory_that_holds_something_else(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(report.ReportError, match="holds no earlier report"):
        report.write_report([Study("boom", "boom", _failing_sweep, None)], tmp_path, quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unwritable_location_fails_before_running_anything(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(report.ReportError, match="cannot write the report"):
        report.write_report([Study("boom", "boom", _failing_sweep, None)], blocker / "out", quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_study_names_must_be_unique_and_match_their_tables(tmp_path):
    stub = Study("ode_rounds", "x", ode_rounds_stub, None)
    with pytest.raises(report.ReportError, match="unique"):
        report.write_report([stub, stub], tmp_path / "a", quiet=True)
    with pytest.raises(report.ReportError, match="named 'ode_rounds'"):
        report.write_report([Study("other", "x", ode_rounds_stub, None)], tmp_path / "b", quiet=True)
    assert not list(tmp_path.iterdir())


def test_a_claim_that_cannot_be_evaluated_is_a_failed_row_not_a_crash(tmp_path):
    def claims_that_raise(table, alpha):
        raise ValueError("a slope with an error estimate needs at least 3 points, got 2")

    stub = Study("ode_rounds", "ODE stub", ode_rounds_stub, None, judge=claims_that_raise)
    result = report.write_report([stub], tmp_path / "r", quiet=True)
    (verdict,) = result.verdicts
    assert not verdict.check.passed and "at least 3 points" in verdict.check.detail
    assert "| `ode_rounds_claims` |" in (tmp_path / "r" / "report.md").read_text()


def test_tables_do_not_depend_on_torch_threads():
    """Studies run with one torch thread (report.torch_threads); the values must not depend on it."""
    studies = [s for s in tiny_studies() if s.name in ("path", "dimension", "rounds")]
    with environment.torch_threads(1):
        one = [s.run(0).columns for s in studies]
    with environment.torch_threads(2):
        two = [s.run(0).columns for s in studies]
    assert one == two
