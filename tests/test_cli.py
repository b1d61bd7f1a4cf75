"""The piadm-verify command line: report end to end on a tiny suite, baseline check/update, and the
documented exit statuses (0 success, 1 baseline check failed, 2 bad arguments, output location or
baseline file, 3 unexpected error) with messages on stderr.

The baseline commands run here with ``baseline.compute`` replaced by the committed values (the real
recomputation is tested in test_baseline.py), so that these tests exercise the command line only.
"""

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from piadm_verify import cli
from piadm_verify.reporting import baseline
from piadm_verify.reporting.baseline import Entry
from test_report import tiny_studies

COMMITTED = Path(__file__).resolve().parent.parent / "reports" / "baseline.json"


def _tiny_suites():
    return {"tiny": tiny_studies()}


def _never_runs(config, variant):
    raise AssertionError("the study ran although the command should have stopped first")


def test_python_m_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "piadm_verify", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "report" in out.stdout and "baseline" in out.stdout and "Exit status" in out.stdout


def test_report_end_to_end(tmp_path, capsys):
    out = tmp_path / "reports" / "tiny"
    status = cli.main(["report", "--suite", "tiny", "--out", str(out), "--seed", "0", "--scheduler", "serial",
                       "--quiet"], suites=_tiny_suites())
    assert status == 0
    assert "claims pass" in capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert set(data["tables"]) == {s.name for s in tiny_studies()}
    assert data["claims"] and all("passed" in c for c in data["claims"])
    assert (out / "report.md").is_file() and list(out.glob("*.png"))


@pytest.mark.parametrize("argv, message", [
    (["report", "--suite", "nope"], "invalid choice: 'nope'"),
    (["report", "--seed", "-1"], "non-negative integer"),
    (["report", "--jobs", "0"], "argument --jobs: expected an integer >= 1, got 0"),
    (["report", "--jobs", "two"], "argument --jobs: expected an integer >= 1, got 'two'"),
    (["report", "--connect-timeout", "0"], "argument --connect-timeout: expected a finite number of seconds > 0"),
    (["baseline"], "one of the arguments --check --update is required"),
    (["baseline", "--check", "--update"], "not allowed with argument"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv, suites={"tiny": [], "other": []})
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_directory_exits_2_and_writes_nothing(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    suites = {"tiny": [replace(study, sweep=_never_runs) for study in tiny_studies()]}
    status = cli.main(["report", "--suite", "tiny", "--out", str(blocker / "out"), "--quiet"], suites=suites)
    assert status == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


@pytest.fixture
def committed_values(monkeypatch):
    """``baseline.compute`` replaced by the committed values (returned for the test to alter)."""
    values = dict(baseline.load(COMMITTED))
    monkeypatch.setattr(baseline, "compute", lambda variant=None: dict(values))
    return values


def test_baseline_check_passes_on_the_committed_file(committed_values, capsys):
    assert cli.main(["baseline", "--check", "--file", str(COMMITTED)]) == 0
    assert "baseline check passed" in capsys.readouterr().out


def test_baseline_check_fails_with_exit_1_and_a_diff(committed_values, capsys):
    old = committed_values["horizon.kl[T=4]"]
    committed_values[old.name] = Entry(old.name, old.kind, old.value * 1.01)
    assert cli.main(["baseline", "--check", "--file", str(COMMITTED)]) == 1
    out = capsys.readouterr().out
    assert "baseline check FAILED" in out and "horizon.kl[T=4]" in out and "+0.01 rel" in out


def test_baseline_update_round_trips_through_the_command_line(committed_values, tmp_path, capsys):
    path = tmp_path / "baseline.json"
    assert cli.main(["baseline", "--update", "--file", str(path)]) == 0
    assert "a new baseline" in capsys.readouterr().out
    assert baseline.load(path) == committed_values
    assert cli.main(["baseline", "--check", "--file", str(path)]) == 0
    assert cli.main(["baseline", "--update", "--file", str(path)]) == 0
    assert "no value moved" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("{\"format\": ", "is not valid JSON"),
    ("{\"format\": \"piadm-verify-baseline\", \"version\": 1, \"environment\": {}, \"entries\": {\"x\": {\"kind\": "
     "\"oracle\", \"value\": \"1.0\"}}}", "entries['x'].value: expected a finite number"),
])
def test_corrupt_baseline_exits_2_before_computing(text, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(baseline, "compute", lambda variant=None: pytest.fail("computed despite a corrupt file"))
    path = tmp_path / "baseline.json"
    path.write_text(text)
    assert cli.main(["baseline", "--check", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("piadm-verify baseline: error:") and message in err


def test_missing_baseline_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(baseline, "compute", lambda variant=None: pytest.fail("computed without a baseline"))
    assert cli.main(["baseline", "--check", "--file", str(tmp_path / "none.json")]) == 2
    assert "no baseline file" in capsys.readouterr().err


def test_unwritable_baseline_exits_2_before_computing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(baseline, "compute", lambda variant=None: pytest.fail("computed for an unwritable file"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["baseline", "--update", "--file", str(blocker / "baseline.json")]) == 2
    assert "cannot write the baseline" in capsys.readouterr().err
    assert cli.main(["baseline", "--update", "--file", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def _exploding_sweep(config, variant):
    raise RuntimeError("sweep exploded")


def _raise(error):
    def compute(variant=None):
        raise error
    return compute


@pytest.mark.parametrize("error, status, message", [
    (baseline.BaselineError("baseline row x matches 2 rows"), 2, "piadm-verify baseline: error: baseline row x"),
    (RuntimeError("sweep exploded"), 3, "piadm-verify baseline: unexpected error: RuntimeError: sweep exploded"),
])
def test_baseline_errors_exit_2_and_crashes_exit_3_not_1(error, status, message, monkeypatch, capsys):
    """A crash must not read as a failed check (exit 1): CI tells a regression from a bug."""
    monkeypatch.setattr(baseline, "compute", _raise(error))
    assert cli.main(["baseline", "--check", "--file", str(COMMITTED)]) == status
    assert message in capsys.readouterr().err


def test_a_crashing_study_exits_3_with_its_traceback(tmp_path, capsys):
    """On the default scheduler (a local Dask cluster, here of one worker): the worker's exception
    comes back as the study's own, not as a scheduling error."""
    suites = {"tiny": [replace(tiny_studies()[0], sweep=_exploding_sweep)]}
    argv = ["report", "--suite", "tiny", "--out", str(tmp_path / "out"), "--jobs", "1", "--quiet"]
    assert cli.main(argv, suites=suites) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "piadm-verify report: unexpected error: RuntimeError: sweep exploded" in err
    assert not list(tmp_path.iterdir())


def test_an_unreachable_scheduler_exits_2_within_the_stated_timeout(tmp_path, capsys):
    suites = {"tiny": [replace(study, sweep=_never_runs) for study in tiny_studies()]}
    start = time.perf_counter()
    status = cli.main(["report", "--suite", "tiny", "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1",
                       "--connect-timeout", "1", "--quiet"], suites=suites)
    assert status == 2 and time.perf_counter() - start < 1 + 15
    assert "no Dask scheduler answered at 'tcp://127.0.0.1:1' within 1 s" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
