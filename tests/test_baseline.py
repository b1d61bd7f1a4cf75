"""The error-rate baseline (reports/baseline.json): the committed file matches the current
samplers, a deliberately worsened sampler fails the check with a readable diff, and malformed
files are clear errors.

Tolerances (piadm_verify.reporting.baseline): oracle values and oracle slopes relative 1e-8 (exact data: no
false failures beyond round-off, which the chosen rows keep ~1e-12 below it); the Monte Carlo
slopes (the SDE path sweep's and the four mixture targets' δ₂² slopes) max(0.05, 3·SE), from fixed
seeds, so the check is deterministic on a given platform.
"""

import json
from pathlib import Path

import pytest

from broken import BROKEN
from piadm_verify.reporting import baseline
from piadm_verify.reporting.baseline import BaselineError, Entry
from piadm_verify.verification import Table

COMMITTED = Path(__file__).resolve().parent.parent / "reports" / "baseline.json"


@pytest.fixture(scope="module")
def current():
    return baseline.compute()


def test_committed_baseline_matches_the_current_error_rates(current):
    """CI's regression check: every committed rate is reproduced within its tolerance."""
    comparison = baseline.compare(baseline.load(COMMITTED), current)
    assert comparison.passed, comparison.report(COMMITTED)


def test_baseline_covers_oracle_values_and_slopes_with_the_monte_carlo_slopes_standard_errors(current):
    kinds = {e.kind for e in current.values()}
    assert kinds == {"oracle", "monte_carlo"}
    path = current["slope.path_quadratic"]
    assert path.kind == "monte_carlo" and 0 < path.stderr < 0.05 / 3
    assert path.ci95[0] < path.value < path.ci95[1]
    mixture = [e for name, e in current.items() if name.startswith("slope.mixture_path_kl_quadratic_")]
    assert len(mixture) == 4  # trimodal_1d, separated_1d, separated_2d, mixture_10d
    for entry in mixture:
        assert entry.kind == "monte_carlo" and 0 < entry.stderr < 0.05 / 3
        assert entry.ci95[0] < entry.value < entry.ci95[1]
    for name in ("slope.delta_quadratic_bias", "slope.eps_floor", "slope.space_quadratic", "eps.kl[M=5]",
                 "picard.distance[h=1,K=3]", "rounds.k_star[d=1024]"):
        assert current[name].kind == "oracle"
    assert all(e.value != 0 for e in current.values() if e.kind == "oracle")


def test_worsened_sampler_fails_the_check_with_a_diff_naming_the_moved_entries():
    """Noise variance ε instead of e^ε − 1 (tests/broken.py) moves the oracle values far beyond 1e-8."""
    comparison = baseline.compare(baseline.load(COMMITTED), baseline.compute(BROKEN["noise_variance_eps"]))
    assert not comparison.passed
    text = comparison.report(COMMITTED)
    assert text.startswith("baseline check FAILED")
    moved = {row.name for row in comparison.failed}
    assert {"eps.kl[M=5]", "horizon.kl[T=8]", "slope.eps_floor"} <= moved
    for name in moved:
        assert name in text
    assert "rel 1e-08" in text and "piadm-verify baseline --update" in text


def test_hand_edited_value_is_a_failed_check_naming_that_entry(current, tmp_path):
    data = json.loads(COMMITTED.read_text())
    data["entries"]["eps.kl[M=10]"]["value"] *= 1 + 1e-6
    data["entries"]["slope.path_quadratic"]["value"] += 0.2
    edited = tmp_path / "baseline.json"
    edited.write_text(json.dumps(data))
    comparison = baseline.compare(baseline.load(edited), current)
    assert [row.name for row in comparison.failed] == ["eps.kl[M=10]", "slope.path_quadratic"]
    assert "-1e-06 rel" in comparison.report(edited)


def test_missing_and_new_entries_fail_the_check(current):
    old = dict(current)
    dropped = old.pop("eps.kl[M=5]")
    extra = Entry("eps.kl[M=7]", "oracle", 0.05)
    comparison = baseline.compare({**old, extra.name: extra}, {**current})
    assert {row.name for row in comparison.failed} == {dropped.name, extra.name}
    assert "new entry" in comparison.report("b.json") and "missing" in comparison.report("b.json")


def test_update_round_trips(current, tmp_path):
    path = tmp_path / "sub" / "baseline.json"
    baseline.write(path, current, {"python": "test"})
    assert baseline.load(path) == current
    assert baseline.compare(baseline.load(path), current).passed
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]


def test_tolerances_follow_the_documented_rules():
    assert Entry("a", "oracle", 2.0).tolerance() == pytest.approx(2e-8)
    assert Entry("b", "monte_carlo", 2.0, stderr=0.001).tolerance() == 0.05
    assert Entry("c", "monte_carlo", 2.0, stderr=0.1).tolerance() == pytest.approx(0.3)


def test_refuses_to_write_non_finite_values(tmp_path):
    with pytest.raises(BaselineError, match="non-finite"):
        baseline.write(tmp_path / "b.json", {"x": Entry("x", "oracle", float("inf"))}, {})
    assert not list(tmp_path.iterdir())


def _corrupt(mutate):
    data = json.loads(COMMITTED.read_text())
    mutate(data)
    return json.dumps(data)


def _set(path, value):
    def mutate(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        data[last] = value
    return mutate


ENTRY = "eps.kl[M=5]"
MALFORMED = {
    "not JSON": ("{\"format\": ", "not valid JSON"),
    "NaN literal": (_corrupt(_set(["entries", ENTRY, "value"], "@")).replace('"@"', "NaN"), "NaN is not a JSON number"),
    "a list": ("[]", "expected a JSON object"),
    "wrong format": (_corrupt(_set(["format"], "something-else")), "format must be"),
    "wrong version": (_corrupt(_set(["version"], 2)), "version must be 1"),
    "boolean version": (_corrupt(_set(["version"], True)), "version must be 1"),
    "missing entries": (_corrupt(lambda d: d.pop("entries")), "missing key(s) ['entries']"),
    "unknown top-level key": (_corrupt(_set(["tolerance"], 1.0)), "unknown key(s) ['tolerance']"),
    "empty entries": (_corrupt(_set(["entries"], {})), "entries must be a non-empty JSON object"),
    "string value": (_corrupt(_set(["entries", ENTRY, "value"], "0.1")), f"entries['{ENTRY}'].value"),
    "unknown kind": (_corrupt(_set(["entries", ENTRY, "kind"], "guess")), "kind: expected one of"),
    "entry not an object": (_corrupt(_set(["entries", ENTRY], 0.1)), "kind: expected one of"),
    "monte carlo without stderr": (_corrupt(lambda d: d["entries"]["slope.path_quadratic"].pop("stderr")),
                                   "missing key(s) ['stderr']"),
    "negative stderr": (_corrupt(_set(["entries", "slope.path_quadratic", "stderr"], -1.0)), "expected a number ≥ 0"),
    "inverted interval": (_corrupt(_set(["entries", "slope.eps_floor", "ci95"], [3.0, 1.0])), "exceeds high"),
    "unknown entry key": (_corrupt(_set(["entries", ENTRY, "rtol"], 1.0)), "unknown key(s) ['rtol']"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_baseline_is_a_clear_error(case, tmp_path):
    text, message = MALFORMED[case]
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as error:
        baseline.load(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_rows_that_no_longer_fit_the_sweep_are_a_baseline_error_not_a_crash():
    table = Table("eps", {"M": [5, 10, 10], "kl": [0.1, 0.05, 0.04]})
    assert baseline._cell(table, "kl", {"M": 5}) == 0.1
    for row in ({"M": 10}, {"M": 7}):
        with pytest.raises(BaselineError, match="no longer fit the sweep's configuration"):
            baseline._cell(table, "kl", row)


def test_missing_baseline_file_says_how_to_create_one(tmp_path):
    with pytest.raises(BaselineError, match="baseline --update"):
        baseline.load(tmp_path / "nope.json")
