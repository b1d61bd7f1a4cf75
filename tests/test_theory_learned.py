"""Learned scores (docs/mathematics.md §7, §14): the committed score networks of measured δ, run
through PIADM-SDE, the sequential sampler and PIADM-ODE, and judged by the claims of
:mod:`piadm_verify.verification.claims.learned` on the registered study's table (the report runs
the same code). Training happens in ``benchmarks/train_scores.py``, never here.

Every statistical claim is at α = 1e-4 and combines its networks by Bonferroni (so one claim per
target, false-failure rate ≤ 1e-4); the ≈ 18 claims asserted one by one make the module's
false-failure rate ≤ 2e-3, and all of them together are held to α_family = 1e-4 by Holm. The exact
claims (parity, K*) have no false failures.

Negative controls: a network whose committed δ is misreported (a manifest copy with δ₂ and δ_∞
divided by 3), six PIADM-SDE variants of ``tests/broken.py`` run with a network, and the claim no
broken sampler trips with a finite estimate (the ODE bound) shown failing on the correct table with
δ_∞ made wrong (``WRONG_RATES``). About 40 s on two cores.
"""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from broken import BROKEN, distorted, finitely_tripped
from piadm_verify.models import load_score
from piadm_verify.reporting.environment import torch_threads
from piadm_verify.studies import CORRECT, judge, study
from scipy import stats as scipy_stats

from piadm_verify.studies.learned import (DIFFUSERS_SCHEDULERS, GRID, LEARNED_TARGETS, MANIFEST, NETWORKS_DIR,
                                          committed_networks,
                                          learned_target)
from piadm_verify.verification import stats
from piadm_verify.verification.claims import ALPHA_FAMILY
from piadm_verify.verification.claims import learned as claims

pytestmark = pytest.mark.theory

TARGETS = tuple(LEARNED_TARGETS)
KINDS = (claims.LEARNED_DELTA_REPORTED, claims.LEARNED_KL_BOUND, claims.LEARNED_ODE_BOUND, claims.LEARNED_GIRSANOV,
         claims.LEARNED_PARITY, claims.LEARNED_K_STAR)


@pytest.fixture(scope="module")
def table():
    with torch_threads(1):
        return study("learned").run()


@pytest.fixture(scope="module")
def checks(table):
    return {c.name: c for c in judge({"learned": table})}


# -- the committed networks ------------------------------------------------------------------------------------
def test_the_committed_ladder_spans_a_decade_of_delta_on_three_targets():
    """Three targets (1-d trimodal, 2-d with modes 10σ apart, 10-d Gaussian with full covariance), 4–5
    training budgets each, δ₂ spanning at least a decade per target and falling with the budget;
    the weights load with their recorded architecture and weigh well under 2 MB together."""
    records = committed_networks()
    assert {r.target for r in records} == {"trimodal_1d", "separated_2d", "gaussian_10d"}
    assert learned_target("gaussian_10d").dim == 10 and learned_target("gaussian_10d").eigvecs is not None
    for target in TARGETS:
        ladder = sorted((r.steps, r.delta_l2) for r in records if r.target == target)
        assert 4 <= len(ladder) <= 5
        deltas = [d for _, d in ladder]
        assert deltas[0] >= 10 * deltas[-1], (target, deltas)
        assert all(a > b for a, b in zip(deltas, deltas[1:])), (target, deltas)
    size = sum((NETWORKS_DIR / r.file).stat().st_size for r in records)
    assert size < 1_000_000, size
    for r in records:
        net = load_score(NETWORKS_DIR / r.file)
        assert net.dim == learned_target(r.target).dim
    manifest = json.loads((NETWORKS_DIR / MANIFEST).read_text())
    assert manifest["grid"] == GRID and manifest["seconds"]["training"] > 0


@pytest.mark.parametrize("target", TARGETS)
def test_committed_deltas_match_a_fresh_measurement(checks, target):
    """The committed δ₂ and δ_∞ of every network equal a fresh measurement from independent draws
    within their standard errors (two-sided z tests, Bonferroni over norms and networks, α = 1e-4)."""
    check = checks[claims.LEARNED_DELTA_REPORTED.named(target=target)]
    assert check.passed, check.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_output_error_of_a_learned_score_is_within_the_girsanov_bound(checks, target):
    """For every network and PIADM-SDE run (sequential, theorem's K, K*), KL(p_η ‖ q̂_θ) − floor ≤ ½δ₂²
    + init (+ d T e^{−K} at the theorem's K): one-sided z tests, Bonferroni over the runs, α = 1e-4.
    Histogram KL with exact bin masses in 1-d and 2-d, the mean of projected histogram KLs in 10-d."""
    check = checks[claims.LEARNED_KL_BOUND.named(target=target)]
    assert check.passed, check.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_ode_output_error_is_within_the_theorems_delta_inf_term(checks, target):
    """PIADM-ODE's TV excess ≤ (T² + N²)^{1/2} δ_∞ for every network (one-sided, α = 1e-4)."""
    check = checks[claims.LEARNED_ODE_BOUND.named(target=target)]
    assert check.passed, check.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_path_quantity_is_within_a_factor_four_of_half_delta_squared(checks, target):
    """Where ½δ₂² ≤ 0.25, the Girsanov path quantity along the sampler's own paths lies within a factor
    4 of ½δ₂² measured under the true process (two one-sided z tests per network, α = 1e-4)."""
    check = checks[claims.LEARNED_GIRSANOV.named(target=target)]
    assert check.passed, check.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_converged_picard_with_a_network_equals_the_sequential_sampler(checks, target):
    """K = M reproduces the sequential sampler path by path with every network (relative mean square
    ≤ 1e-20; exact, no false failures)."""
    check = checks[claims.LEARNED_PARITY.named(target=target)]
    assert check.passed, check.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_k_star_of_a_network_is_reported_against_the_exact_scores(table, checks, target):
    """K* of every network is in the table beside K* of the exact score on the same target and noise,
    and exceeds it by at most 1 (exact comparison of integers)."""
    rows = table.where(target=target, sampler="sequential")
    assert np.all(rows.column("k_star") >= 1) and np.all(rows.column("k_star_exact") >= 1)
    check = checks[claims.LEARNED_K_STAR.named(target=target)]
    assert check.passed, check.summary()


def test_learned_claims_hold_as_a_holm_family(table):
    """All learned-score claims together at family-wise α = 1e-4 (each at its share α/m, Holm)."""
    m = len(judge({"learned": table}))
    family = stats.holm(judge({"learned": table}, alpha=ALPHA_FAMILY / m), ALPHA_FAMILY)
    assert family.passed, family.summary()


def test_every_sampler_row_is_finite_and_10d_has_projection_tests(table):
    """Every run produced a finite output error; the 10-d outputs carry their projection tests and
    moment-matched KLs (recorded, not claimed)."""
    assert np.all(np.isfinite(table.column("error").astype(float)))
    ten = table.where(target="gaussian_10d")
    assert np.all(np.isfinite(ten.where(sampler="sequential").column("projection_p").astype(float)))
    assert np.all(np.isfinite(ten.column("moment_error").astype(float)))


def test_adaptive_piadm_runs_for_every_network_within_its_iteration_limit(table):
    """Adaptive PIADM has a row per network, its K (the largest block count) between 1 and M + 1, and
    its Girsanov path quantity recorded (it takes the exact score as reference like the fixed-K runs)."""
    adaptive = table.where(sampler="piadm_adaptive")
    assert len(adaptive) == len(table.where(sampler="sequential")) > 0
    K = adaptive.column("K").astype(float)
    assert np.all((K >= 1) & (K <= table.settings["M"] + 1))
    assert np.all(np.isfinite(adaptive.column("piadm_path_kl").astype(float)))


def _diffusers_z(table) -> dict:
    """Per (target, diffusers scheduler): z of the least-trained network's output error over the
    best-trained one's, ``(e_worst − e_best)/(se_worst² + se_best²)^{1/2}``."""
    z = {}
    for target in TARGETS:
        for sampler in DIFFUSERS_SCHEDULERS.values():
            rows = table.where(target=target, sampler=sampler)
            steps = rows.column("steps").astype(float)
            error, se = rows.column("error").astype(float), rows.column("error_se").astype(float)
            worst, best = int(np.argmin(steps)), int(np.argmax(steps))
            z[target, sampler] = (error[worst] - error[best]) / math.hypot(se[worst], se[best])
    return z


def _diffusers_order_holds(table) -> bool:
    """One-sided z tests, Bonferroni over targets × schedulers at α = 1e-4."""
    z = _diffusers_z(table)
    return min(z.values()) > scipy_stats.norm.isf(1e-4 / len(z))


def test_diffusers_schedulers_run_with_every_network_and_show_its_delta(table):
    """Where diffusers is installed, its DDPM and DDIM schedulers run with every network (as an
    ε-prediction, clip_sample=False, 50 steps of their own schedule) beside the project's samplers:
    finite output errors over the same scheduler with the exact score, no bound claimed. The
    network's δ shows in code this project did not write: the least-trained network's excess is
    larger than the best-trained one's on every target and scheduler (one-sided z tests, Bonferroni
    over the 6 pairs, α = 1e-4; measured z ≥ 5). A table whose two errors are swapped fails it."""
    pytest.importorskip("diffusers")
    per_network = len(table.where(sampler="sequential"))
    for sampler in DIFFUSERS_SCHEDULERS.values():
        rows = table.where(sampler=sampler)
        assert len(rows) == per_network
        assert np.all(np.isfinite(rows.column("error").astype(float)))
        assert np.all(np.isnan(rows.column("bound").astype(float)))
    assert table.settings["diffusers"] == list(DIFFUSERS_SCHEDULERS.values())
    assert _diffusers_order_holds(table), _diffusers_z(table)
    # negative control: best and worst network's errors swapped on one target's DDPM rows
    error = table.column("error").astype(float).copy()
    rows = np.nonzero((table.column("target") == "trimodal_1d") & (table.column("sampler") == "diffusers_ddpm"))[0]
    steps = table.column("steps").astype(float)[rows]
    worst, best = rows[np.argmin(steps)], rows[np.argmax(steps)]
    error[[worst, best]] = error[[best, worst]]
    assert not _diffusers_order_holds(distorted(table, "error", error))


def test_the_learned_plot_draws_every_network(table, tmp_path):
    """The study's declared plot (kind "learned" in PLOTTERS) writes one PNG from the table."""
    from piadm_verify.reporting import plots

    (plot,) = study("learned").plots
    assert plot.kind == "learned" and plots.PLOTTERS["learned"] is plots.learned_plot
    assert plots.draw(plot, {"learned": table}, {}, tmp_path) == ["learned.png"]
    assert 10_000 < (tmp_path / "learned.png").stat().st_size < 300_000


# -- negative controls --------------------------------------------------------------------------------------------
MISREPORTED = "trimodal_1d-1000"


@pytest.fixture(scope="module")
def misreported(tmp_path_factory):
    """The study on a manifest that reports one network's δ₂ and δ_∞ three times too small."""
    folder = tmp_path_factory.mktemp("networks")
    manifest = json.loads((NETWORKS_DIR / MANIFEST).read_text())
    entry = next(e for e in manifest["networks"] if e["name"] == MISREPORTED)
    for key in ("delta_l2", "delta_l2_se", "delta_linf", "delta_linf_se"):
        entry[key] /= 3.0
    manifest["networks"] = [entry]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    shutil.copy(NETWORKS_DIR / entry["file"], folder / entry["file"])
    with torch_threads(1):
        table = study("learned").configured(directory=str(folder)).run()
    return judge({"learned": table})


def test_a_network_with_a_misreported_delta_fails_its_claims(misreported):
    """δ reported 3× too small: the fresh measurement disagrees, the path quantity is ≈ 10× the claimed
    ½δ₂², and the output KL excess (0.14) exceeds the claimed bound (0.015), each with a finite estimate."""
    failed = finitely_tripped(misreported)
    target = MISREPORTED.split("-")[0]
    expected = {claims.LEARNED_DELTA_REPORTED.named(target=target), claims.LEARNED_GIRSANOV.named(target=target),
                claims.LEARNED_KL_BOUND.named(target=target)}
    assert expected <= failed, sorted(failed)


# Broken PIADM-SDE samplers (tests/broken.py) driven by a trained network; the exact-score floor and the
# sequential reference stay correct. A small run of one network (n = 200, about a second each). The
# faults that change the Picard iteration also raise K* (by 2 iterations) above the exact score's.
BROKEN_RUN = study("learned").configured(networks=("trimodal_1d-3000",), n=200)
_KL, _PARITY, _K_STAR = (c.named(target="trimodal_1d") for c in (claims.LEARNED_KL_BOUND, claims.LEARNED_PARITY,
                                                                     claims.LEARNED_K_STAR))
CAUGHT_BY = {
    "missing_half_drift": {_KL, _PARITY},
    "redrawn_noise": {_PARITY, _K_STAR},
    "ignores_generator": {_PARITY},
    "score_at_next_point": {_PARITY, _K_STAR},
    "noise_variance_eps": {_PARITY},
    "one_block": {_KL, _PARITY, _K_STAR},
}


def _run(variant):
    torch.manual_seed(0)  # the generator-ignoring control draws from the global generator
    with torch_threads(1):
        return judge({"learned": BROKEN_RUN.run(variant=variant)})


@pytest.fixture(scope="module")
def broken_results():
    return {name: _run(BROKEN[name]) for name in CAUGHT_BY}


def test_correct_sampler_passes_the_reduced_learned_run():
    failed = [c.summary() for c in _run(CORRECT) if not c.passed]
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_broken_sampler_with_a_network_fails_its_learned_claims(broken_results, name):
    failed = {c.name for c in broken_results[name] if not c.passed}
    assert CAUGHT_BY[name] <= failed, f"{name}: expected to fail {sorted(CAUGHT_BY[name])}, failed {sorted(failed)}"


def _ode_rows_scaled(table, factor):
    """δ_∞ (its standard error, and so the ODE bound) reported ``factor`` times too small on the ODE rows."""
    ode = table.column("sampler") == "piadm_ode"
    for column in ("bound", "delta_inf", "delta_inf_se"):
        values = table.column(column).astype(float)
        table = distorted(table, column, np.where(ode, values / factor, values))
    return table


# The claim no broken sampler trips with a finite estimate here: the ODE bound, vacuous at the networks'
# δ_∞ with the theorem's constant 1.
WRONG_RATES = {
    claims.LEARNED_ODE_BOUND.named(target="trimodal_1d"): lambda t: _ode_rows_scaled(t, 1000.0),
}


@pytest.mark.parametrize("name", sorted(WRONG_RATES))
def test_learned_claim_fails_on_a_wrong_rate(table, name):
    """δ_∞ reported 1000× too small: the ODE bound then sits below the measured TV excess (≈ 0.2 ± 0.03
    on trimodal_1d-100) and the claim fails with a finite estimate."""
    check = {c.name: c for c in claims.learned_claims(WRONG_RATES[name](table))}[name]
    assert not check.passed and math.isfinite(check.estimate), check.summary()


def test_every_kind_of_learned_claim_is_failed_by_some_negative_control(misreported, broken_results):
    """Every kind of learned claim fails with a finite estimate for the misreported network or a broken
    sampler, or is among the wrong-rate controls."""
    def kind(name):
        return next(k.name for k in KINDS if k.matches(name))

    tripped = {kind(n) for results in [misreported, *broken_results.values()] for n in finitely_tripped(results)}
    tripped |= {kind(n) for n in WRONG_RATES}
    assert tripped == {k.name for k in KINDS}, sorted({k.name for k in KINDS} - tripped)
