"""``piadm-verify conformance`` (piadm_verify/reporting/conformance.py) on a reduced plan: the files and
their schema, the verdicts of each check family, findings attached to the library's failures, the
per-scheduler summary (route, exact KLs, Monte Carlo under Holm), the exit statuses and bad input. The
full run is the CLI's (minutes; its committed output is reports/conformance/). Only the tests that
drive diffusers need it (CI installs the extra); the continuous-time law, the Monte Carlo tests, the
missing-extra exit and argparse's refusals run without it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from analytic import Gaussian, gaussian_kl
from piadm_verify.cli import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, main
from piadm_verify.core.grid import TimeGrid
from piadm_verify.oracle import exact_law
from piadm_verify.reporting import conformance

SMALL = dict(variants=tuple(v for v in conformance.VARIANTS if v.label in ("DDIM (eta=0)", "DDPM-Parallel", "Euler")),
             steps=(13,), spacings=("leading", "linspace"), order_steps=(), star_import=False, reference_steps=10)
EXTRA = 'pip install -e ".[diffusers]"'


@pytest.fixture(scope="module")
def small_run():
    pytest.importorskip("diffusers")
    return conformance.run_conformance(**SMALL)


# -- without diffusers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stochastic", [False, True])
def test_continuous_law_is_the_limit_of_the_project_integrator(stochastic):
    """The closed form against the project's exponential integrator on [η, T] from N(0, I): the KL falls
    like h² (first order in the law's parameters), to below 1e-5 at 4000 steps."""
    target, T, eta = conformance.TARGET_OUTSIDE, 6.0, 0.01
    law = conformance.continuous_law(target, T, eta, stochastic=stochastic)
    kls = [gaussian_kl(law, exact_law(target, TimeGrid.uniform(T, eta, 1, m), method="sequential_sde",
                                      v=1.0 if stochastic else 0.0)) for m in (1000, 4000)]
    assert kls[1] < 1e-5 and 8 < kls[0] / kls[1] < 24, kls
    # a start at p_T instead of N(0, I) is the exact marginal: sanity of the deviation terms
    assert gaussian_kl(target.marginal(eta), law) > 10 * kls[1]


def test_gaussian_pvalues_accept_the_law_and_reject_a_shifted_one():
    law = Gaussian([1.0, -2.0], [[2.0, 0.5], [0.5, 1.0]])
    x = law.sample(4000, generator=torch.Generator().manual_seed(3))
    assert min(conformance.gaussian_pvalues(x, law).values()) > 1e-4
    shifted = conformance.gaussian_pvalues(x + torch.tensor([0.3, 0.0], dtype=x.dtype), law)
    assert shifted["mean"] < 1e-6
    scaled = conformance.gaussian_pvalues(1.1 * (x - law.mean) + law.mean, law)
    assert scaled["cov"] < 1e-6


def test_the_command_exits_2_naming_the_extra_without_diffusers(tmp_path):
    """diffusers hidden in a subprocess: the package and diffusers_sampler's ImportError name the extra, and
    ``piadm-verify conformance`` exits 2 with the install line on stderr, writing nothing."""
    code = (
        "import sys; sys.modules['diffusers'] = None\n"
        "import piadm_verify, piadm_verify.external, piadm_verify.reporting.conformance\n"
        "from piadm_verify.external import diffusers_sampler\n"
        "try:\n    diffusers_sampler(object(), 10)\nexcept ImportError as e:\n    print('IMPORT', e)\n"
        "from piadm_verify.cli import main\n"
        "print('EXIT', main(['conformance', '--out', sys.argv[1]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "conf")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORT" in out.stdout and EXTRA in out.stdout
    assert "EXIT 2" in out.stdout and EXTRA in out.stderr and "piadm-verify conformance: error" in out.stderr
    assert not (tmp_path / "conf").exists()


@pytest.mark.parametrize("argv", [["conformance", "--steps", "3"], ["conformance", "--out"],
                                  ["conformance", "extra"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "usage: piadm-verify" in err and ("unrecognized arguments" in err or "expected one argument" in err)


def test_an_unusable_output_location_exits_2_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(conformance, "run_conformance", lambda **options: pytest.fail("ran"))
    (tmp_path / "file").write_text("x")
    assert main(["conformance", "--out", str(tmp_path / "file")]) == EXIT_USAGE
    assert "piadm-verify conformance: error" in capsys.readouterr().err


def test_the_committed_run_is_complete_and_every_failure_is_a_finding():
    """reports/conformance/ as committed: the schema of API.md, no unexplained failure, every finding
    seen, a per-scheduler summary for every variant whose Monte Carlo family passed."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "reports" / "conformance"
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert data["format"] == conformance.CONFORMANCE_FORMAT
    checks = data["checks"]
    assert all({"scheduler", "config", "check", "passed", "value", "tolerance"} <= set(c) for c in checks)
    assert all(c["passed"] or c["finding"] in conformance.FINDINGS for c in checks)
    assert {c["finding"] for c in checks if not c["passed"]} == set(conformance.FINDINGS)
    assert set(data["extras"]["schedulers"]) == {v.label for v in conformance.VARIANTS}
    assert all(c["passed"] for c in checks if c["check"].startswith("monte carlo"))
    text = (folder / "conformance.md").read_text(encoding="utf-8")
    assert "UNEXPLAINED" not in text and all(f"### F{k}." in text for k in conformance.FINDINGS)


# -- with diffusers -----------------------------------------------------------------------------------------
def test_rows_follow_the_schema_and_every_failure_is_a_recorded_finding(small_run):
    rows = [r.to_json() for r in small_run.rows]
    assert rows and all({"scheduler", "config", "check", "passed", "value", "tolerance"} <= set(r) for r in rows)
    assert all("num_inference_steps" in r["config"] for r in rows)
    assert not small_run.unexplained, [(r.scheduler, r.check, r.config) for r in small_run.unexplained]
    assert {2, 3, 7, 10} <= set(small_run.findings)  # DDIM linspace, DDPM-Parallel linspace, clipping, leading 13


def test_checks_pass_where_the_library_is_right(small_run):
    def rows(check, **config):
        return [r for r in small_run.rows if r.check.startswith(check)
                and all(r.config.get(k) == v for k, v in config.items())]

    law = rows("law")
    unclipped = [r for r in law if not r.config.get("clip_sample", False)]
    assert unclipped and all(r.passed for r in unclipped)
    assert all(not r.passed and r.finding == 7 for r in law if r.config.get("clip_sample") and "outside" in r.check)
    identity = rows("identity", timestep_spacing="leading")
    assert identity and all(r.passed for r in identity)
    parity = [r for r in rows("parity") if r.config["timestep_spacing"] == "leading"]
    assert len(parity) == 2 and all(r.passed for r in parity)
    assert all(r.passed for r in rows("passes"))
    linspace_parity = [r for r in rows("parity") if r.config["timestep_spacing"] == "linspace"]
    assert linspace_parity and all(r.finding == 3 for r in linspace_parity)


def test_per_scheduler_summary_routes_kls_and_monte_carlo(small_run):
    summaries = small_run.extras["schedulers"]
    assert set(summaries) == {"DDIM (eta=0)", "DDPM-Parallel", "Euler"}
    assert summaries["DDIM (eta=0)"]["route"] == "probe"
    assert summaries["DDPM-Parallel"]["route"].startswith("probe (ParaDiGMS")
    for info in summaries.values():
        assert 0 < info["kl_continuous"] and 0 < info["kl_p_eta"] <= info["kl_target"] + 1e-12
        assert info["continuous"] in ("reverse SDE", "probability-flow ODE")
    mc = [r for r in small_run.rows if r.check.startswith("monte carlo")]
    assert len(mc) == 6 and all(r.passed and r.tolerance == conformance.MC_ALPHA for r in mc)


def test_the_command_writes_both_files_and_exits_by_the_findings(tmp_path, monkeypatch, capsys):
    pytest.importorskip("diffusers")
    real = conformance.run_conformance
    monkeypatch.setattr(conformance, "run_conformance", lambda **options: real(**{**options, **SMALL}))
    out = tmp_path / "conf"
    assert main(["conformance", "--out", str(out), "--quiet"]) == EXIT_OK
    data = json.loads((out / "results.json").read_text())
    assert data["format"] == "piadm-verify-conformance" and data["checks"] and data["environment"]["diffusers"]
    assert set(data["extras"]["schedulers"]) == {"DDIM (eta=0)", "DDPM-Parallel", "Euler"}
    text = (out / "conformance.md").read_text()
    assert "## Findings" in text and "### F2." in text and "## Per scheduler" in text
    assert "| DDPM-Parallel | clip_sample=False" in text and "probe (ParaDiGMS" in text
    assert "checks pass" in capsys.readouterr().out

    def broken(**options):
        result = real(**{**options, **SMALL})
        row = result.rows[0]
        result.rows[0] = conformance.CheckRow(row.variant, row.scheduler, row.config, row.check, False, row.value,
                                              row.tolerance, row.detail, None)
        return result

    monkeypatch.setattr(conformance, "run_conformance", broken)
    assert main(["conformance", "--out", str(out), "--quiet"]) == EXIT_CHECK_FAILED
    assert "UNEXPLAINED" in (out / "conformance.md").read_text()
