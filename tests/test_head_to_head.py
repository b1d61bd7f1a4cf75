"""The head-to-head study (docs/mathematics.md §11–§12): PIADM against ParaDiGMS, ParaTAA, adaptive
PIADM and the sequential sampler on one grid per (d, δ).

The claims come from the registered studies (:mod:`piadm_verify.studies.head_to_head`) and
:mod:`piadm_verify.verification.claims.head_to_head`, the code the reports and the baseline run. All
three claims are exact (a deterministic value against its bound, false-failure rate 0); the one
statistical test here (the moment-matched KL's null bias against simulation) runs at α = 1e-4.
Negative controls: deliberately broken window samplers and a broken scheme, each of which must fail
a claim with a finite estimate, and every claim must be failed so by at least one of them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from broken import BROKEN, finitely_tripped
from piadm_verify import paradigms, parataa
from piadm_verify.reporting.suites import SUITES
from piadm_verify.studies import CORRECT, Variant, study
from piadm_verify.studies import head_to_head as h2h
from piadm_verify.studies.registry import HEAD_TO_HEAD, REGISTRY
from piadm_verify.verification import Table
from piadm_verify.verification.claims import ALPHA_FAMILY
from piadm_verify.verification.claims import head_to_head as claims

pytestmark = pytest.mark.theory


@pytest.fixture(scope="module")
def tables():
    """The registered head-to-head studies at the registry's (the quick suite's) configurations."""
    return {name: study(name).run() for name in HEAD_TO_HEAD}


def _assert(check):
    assert check.passed, check.summary()


# -- the declaration -----------------------------------------------------------------------------------------
def test_head_to_head_studies_are_registered_and_in_both_suites():
    assert HEAD_TO_HEAD == ("head_to_head", "head_to_head_ode", "head_to_head_mixture")
    for suite in ("quick", "full"):
        names = [s.name for s in SUITES[suite]]
        assert set(HEAD_TO_HEAD) <= set(names), suite
    full = {s.name: s for s in SUITES["full"]}["head_to_head"].config
    assert full.dims == (4, 64, 1024, 16384) and full.deltas == (0.1, 0.03)
    assert REGISTRY["head_to_head"].markdown is h2h.rounds_to_target_markdown


# -- the correct samplers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", HEAD_TO_HEAD)
def test_correct_samplers_pass_every_head_to_head_claim(tables, name):
    results = study(name).judge(tables[name])
    assert results, name
    for check in results:
        _assert(check)
        assert any(c.matches(check.name) for c in study(name).claims), check.name


def test_study_grid_is_the_coarsest_with_sequential_kl_at_most_half_the_target(tables):
    """Every (d, δ) grid: the sequential sampler's exact KL ≤ δ²/2 on it, > δ²/2 with half the steps."""
    table = tables["head_to_head"].where(part="work", target="product", family="sequential")
    for d in sorted(set(table.column("d").tolist())):
        for delta in set(table.where(d=d).column("delta").tolist()):
            rows = table.where(d=d, delta=delta)
            m, kl = rows.column("m").astype(float), rows.column("error").astype(float)
            finest = int(np.argmax(m))
            assert kl[finest] <= delta**2 / 2
            assert np.all(kl[np.arange(m.size) != finest] > delta**2 / 2)
    # the design's step counts: m = 16 at d = 4 and 64 at d = 64 for δ = 0.1
    work = tables["head_to_head"].where(part="work", family="piadm", K=1)
    assert dict(zip(work.column("d").tolist(), work.column("m").tolist())) == {4: 16, 64: 64}


def test_every_sampler_family_is_measured_with_its_counts(tables):
    table = tables["head_to_head"].where(part="work")
    families = set(table.column("family").tolist())
    assert {"sequential", "piadm", "piadm_preset", "piadm_theorem", "piadm_adaptive", "paradigms_fixed",
            "paradigms", "parataa"} <= families
    for column in ("rounds", "score_evals", "peak_points", "space", "error"):
        assert np.all(np.isfinite(table.column(column).astype(float))), column
    mc = table.where(method="monte_carlo")
    assert np.all(mc.column("error_low").astype(float) <= mc.column("error").astype(float))
    assert np.all(mc.column("error").astype(float) <= mc.column("error_high").astype(float))


def test_rounds_to_target_picks_the_cheapest_configuration_that_reaches_it(tables):
    table = tables["head_to_head"]
    reached = h2h.rounds_to_target(table)
    for family in ("sequential", "piadm", "paradigms_fixed"):
        for d in (4, 64):
            row = reached.where(family=family, d=d, delta=0.1)
            rounds = float(row.column("rounds")[0])
            rows = table.where(part="work", target="product", family=family, d=d, delta=0.1)
            ok = rows.column("error_high").astype(float) <= 0.01
            assert ok.any() and rounds == rows.column("rounds").astype(float)[ok].min()
    # PIADM at the minimal K* beats the sequential sampler on the same accuracy at d = 64
    seq = float(reached.where(family="sequential", d=64).column("rounds")[0])
    piadm = float(reached.where(family="piadm", d=64).column("rounds")[0])
    assert piadm < seq
    text = h2h.rounds_to_target_markdown(table)
    assert "Sequential rounds to reach KL ≤ δ²" in text and "ParaDiGMS" in text and "B = 1" in text


def test_rounds_growth_tells_log_d_from_a_power_of_d():
    """The observation's fit: rounds = 3 + 2 log d is log d; rounds = √d is a power (exact data)."""
    d = np.array([4, 16, 64, 256, 1024, 4096, 16384], dtype=float)
    rows = [dict(family=f, d=int(x), delta=0.1, rounds=r, config="", space=math.nan, error=0.0, method="exact")
            for f, values in (("log", 3 + 2 * np.log(d)), ("power", np.sqrt(d))) for x, r in zip(d, values)]
    reached = Table.from_rows("reached", rows, columns=("family", "d", "delta", "rounds", "config", "space", "error",
                                                         "method"))
    growth = h2h.rounds_growth(reached)
    verdict = dict(zip(growth.column("family").tolist(), growth.column("verdict").tolist()))
    assert verdict == {"log": "log d suffices", "power": "a power of d is needed"}


def test_moment_kl_null_bias_matches_simulation():
    """E KL(N(0,1) ‖ N(x̄, s²)) for n samples of N(0, 1): the closed form against 40 000 simulated
    batches, a z test at α = 1e-4 (two-sided), n = 8 and 50."""
    g = np.random.default_rng(5)
    p_values = []
    for n in (8, 50):
        x = g.standard_normal((40_000, n))
        mean, var = x.mean(1), x.var(1, ddof=1)
        kl = 0.5 * (1.0 / var + mean**2 / var - 1.0 + np.log(var))
        z = (kl.mean() - h2h.moment_kl_null_bias(n)) / (kl.std(ddof=1) / math.sqrt(kl.size))
        p_values.append(2 * scipy_stats.norm.sf(abs(z)))
    assert min(p_values) > ALPHA_FAMILY / len(p_values), p_values
    with pytest.raises(ValueError, match="n ≥ 4"):
        h2h.moment_kl_null_bias(3)


# -- negative controls -----------------------------------------------------------------------------------------------
def _scoring_twice(sampler):
    """A window sampler that evaluates the score again for its acceptance test: two batched calls per sweep."""

    def broken(*args, **kwargs):
        out = sampler(*args, **kwargs)
        return replace(out, rounds=2 * out.rounds, score_evals=2 * out.score_evals)

    return broken


def _wrong_drift(sampler):
    """A window sampler whose chain drops the ½y drift (a different fixed point from the sequential chain)."""
    scheme = BROKEN["missing_half_drift"].scheme

    def broken(*args, **kwargs):
        return sampler(*args, scheme=scheme, **kwargs)

    return broken


BROKEN_H2H = {
    "paradigms_scoring_twice": Variant("paradigms_scoring_twice", paradigms=_scoring_twice(paradigms)),
    "windows_missing_half_drift": Variant("windows_missing_half_drift", paradigms=_wrong_drift(paradigms),
                                          parataa=_wrong_drift(parataa)),
    "missing_half_drift": BROKEN["missing_half_drift"],
}
# Reduced configurations for the controls: d = 4 and δ = 0.1, exact rows and the fixed-point runs, no Monte Carlo;
# the mixture runs window 1 (J rounds exactly, so a doubled count shows).
REDUCED = {
    "head_to_head": study("head_to_head").configured(dims=(4,), mc_dims=()),
    "head_to_head_ode": study("head_to_head_ode").configured(dims=(4,), mc_dims=()),
    "head_to_head_mixture": study("head_to_head_mixture").configured(Ks=(2,), windows=(1, 8), tols=(1.0,),
                                                                     taa_windows=(), n=200),
}


@pytest.fixture(scope="module")
def broken_results():
    return {name: [c for s in REDUCED.values() for c in s.judge(s.run(variant=variant))]
            for name, variant in BROKEN_H2H.items()}


def test_correct_sampler_passes_the_reduced_head_to_head_sweeps():
    failed = [c.summary() for s in REDUCED.values() for c in s.judge(s.run(variant=CORRECT)) if not c.passed]
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(BROKEN_H2H))
def test_broken_sampler_fails_a_head_to_head_claim_with_a_finite_estimate(broken_results, name):
    assert finitely_tripped(broken_results[name]), f"{name} passed every claim (or failed only with no estimate)"


def test_every_head_to_head_claim_is_failed_by_some_broken_sampler(tables, broken_results):
    tripped = set().union(*(finitely_tripped(results) for results in broken_results.values()))
    every = {c.name for name in HEAD_TO_HEAD for c in study(name).judge(tables[name])}
    assert not sorted(every - tripped), f"claims no broken sampler fails with a finite estimate: {sorted(every - tripped)}"


def test_claims_fail_when_their_table_has_nothing_to_judge(tables):
    empty = tables["head_to_head"].where(part="nothing")
    for check in claims.head_to_head_claims(empty):
        assert not check.passed, check.name


# -- the report section -------------------------------------------------------------------------------------------
def test_report_section_has_the_rounds_to_target_table_and_the_work_precision_plots(tmp_path):
    from piadm_verify.reporting import report

    tiny = study("head_to_head").configured(dims=(4,), mc_dims=(4,), windows=(8,), tols=(1.0,), memories=(1,),
                                            k_max=4, batch=50, replicates=2, single_seeds=2, fixed_point_n=4)
    out = tmp_path / "tiny"
    report.write_report([tiny], out, suite="tiny", seed=0, quiet=True)
    text = (out / "report.md").read_text()
    assert "Head to head" in text and "Sequential rounds to reach KL ≤ δ², product target" in text
    assert (out / "head_to_head_product_d4.png").is_file()


def test_rotated_target_is_measured_in_its_eigenbasis():
    """The study measures the rotated anisotropic Gaussian through N(Uᵀμ, Λ) (its module docstring):
    every sampler here is equivariant under rotations, so the KL of its exact law is the same. Checked
    by dense probing on the rotated target (d = 4, a short grid) for fixed-stride ParaDiGMS and PIADM."""
    from analytic import Gaussian, gaussian_kl
    from piadm_verify import TimeGrid, exact_law, exact_law_of
    from piadm_verify.studies.base import anisotropic_target

    rotated = anisotropic_target(4, seed=3)
    eigen = Gaussian(rotated.eigvecs.T @ rotated.mean, rotated.eigvals)
    grid = TimeGrid.uniform(3.0, 1e-2, 2, 4)
    for options in (dict(window=4, tol=None, stride=2), dict(window=8, tol=None, stride=8)):
        kls = [gaussian_kl(t.marginal(grid.eta), exact_law_of(paradigms, t, grid, path="dense", **options))
               for t in (rotated, eigen)]
        assert kls[0] == pytest.approx(kls[1], rel=1e-8), options
    kls = [gaussian_kl(t.marginal(grid.eta), exact_law(t, grid, "sde", 2)) for t in (rotated, eigen)]
    assert kls[0] == pytest.approx(kls[1], rel=1e-8)
