"""Gaussian-mixture tier (docs/mathematics.md §2, §7, §9): Monte Carlo theory tests against exact non-Gaussian targets.

A mixture keeps the target, its marginals p_s and its score exact while the sampler's output law is
non-Gaussian, so every check here is statistical (or an exact identity). Tables come from the
registered mixture studies (:mod:`piadm_verify.studies.mixture`), verdicts from
:mod:`piadm_verify.verification.claims.mixture` (the report runs the same code). Each assertion is at α = 1e-4 and states its sample-size
argument in the claim's docstring; the whole family is also held to α_family = 1e-4 with Holm.
The ≈ 45 claims asserted one by one make the module's false-failure rate ≤ 45 × 1e-4 ≈ 5e-3 (the
Holm family test alone is ≤ 1e-4); the audit below measured 0 failures in 2200 assertions.
``benchmarks/audit_mixture.py`` measures the false-failure rate of these assertions over many seeds.

Negative controls: the PIADM-SDE suite's broken variants (``tests/broken.py``) must each fail a
mixture check, on reduced sweeps that the correct sampler passes. ``preset_without_d`` is not run:
its fault is in the theorem's parameter presets, which no mixture sweep uses. Every kind of mixture
claim must fail with a finite estimate for some variant, or on the correct table with its rate made
wrong (``WRONG_RATES``).

The default part runs in ≈ 45 s on two cores; ``-m slow`` (≈ 5 min) adds the larger sample sizes
(the full report's configurations).
"""

import numpy as np
import pytest
import torch

from broken import BROKEN, BROKEN_ODE, check_wrong_rate, distorted, finitely_tripped
from piadm_verify.reporting.suites import SUITES
from piadm_verify.studies import CORRECT, judge, study
from piadm_verify.studies.mixture import MIXTURES
from piadm_verify.studies.registry import MIXTURE
from piadm_verify.verification import stats
from piadm_verify.verification.claims import ALPHA_FAMILY
from piadm_verify.verification.claims import mixture as claims

pytestmark = pytest.mark.theory

DEFAULT = ("mixture_fit", "mixture_picard", "mixture_delta", "mixture_separation")  # the quick suite's
FIT = study("mixture_fit").config
PICARD = study("mixture_picard").config
DELTA = study("mixture_delta").config


@pytest.fixture(scope="module")
def tables():
    return {name: study(name).run() for name in DEFAULT}


@pytest.fixture(scope="module")
def checks(tables):
    return {c.name: c for c in judge(tables)}


def _assert(check):
    assert check.passed, check.summary()


# -- the output law against p_η ------------------------------------------------------------------------------
def test_targets_cover_dimensions_separated_modes_and_unequal_weights():
    """The fit sweep's targets: d = 1, 2, 10; modes ≥ 8σ apart; unequal weights everywhere."""
    targets = {name: MIXTURES[name]() for name in FIT.targets}
    assert {t.dim for t in targets.values()} == {1, 2, 10}
    assert all(float(t.weights.max() - t.weights.min()) > 0.1 for t in targets.values())
    for name in ("separated_1d", "separated_2d"):
        t = targets[name]
        sd = float(t.covs[0].diagonal().sqrt().max())
        assert float(torch.cdist(t.means, t.means).fill_diagonal_(float("inf")).min()) >= 8 * sd


@pytest.mark.parametrize("sampler", FIT.samplers)
@pytest.mark.parametrize("target", FIT.targets)
def test_piadm_samples_the_exact_mixture_marginal(checks, target, sampler):
    """PIADM-SDE / PIADM-ODE (corrector K† = 4, M† = 8, h† = 0.5) with the exact score, early-stopping
    grid ε = 0.05, K = 8, n = 1000: KS and CvM of the axes and 8 random projections against their
    exact 1-D laws (Holm across directions) and the χ² of the mode counts against exact assignment
    probabilities each keep p > α = 1e-4. The samplers' own bias (KS distance ≤ 0.0063, measured at
    n = 200 000) is ≤ 1/11 of the smallest distance the test detects at n = 1000 (0.070)."""
    for test in ("ks", "cvm", "mode_weight"):
        _assert(checks[claims.MIXTURE_FIT.named(target=target, sampler=sampler, test=test)])


# -- K ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", PICARD.targets)
def test_path_quantity_decays_at_least_geometrically_in_K(checks, target):
    """K: the Girsanov path quantity (the Picard error, exact score) falls at least like e^{-K} after
    its plateau: semi-log slope's one-sided 0.9999 upper limit ≤ −1, cluster-robust over 8 replicates
    of 500 paths, fitted where the replicate mean is ≥ 10× its standard error (α = 1e-4)."""
    check = checks[claims.MIXTURE_PICARD_DECAY.named(target=target)]
    _assert(check)
    assert check.false_failure_rate <= 1e-6, check.summary()


@pytest.mark.parametrize("target", [t for t in PICARD.targets if MIXTURES[t]().dim <= 2])
def test_histogram_kl_falls_to_its_floor_with_K(tables, checks, target):
    """K (d ≤ 2): the bias-corrected histogram KL(p_η ‖ q̂_K) at the largest K is ≤ δ² = 0.01 (one-sided
    t test over 8 replicates × 500 samples, α = 1e-4), while at K = 1 it is ≥ 10× the standard error of
    its replicate mean: the Picard error is resolved above the Monte Carlo floor, then gone."""
    _assert(checks[claims.MIXTURE_HIST_FLOOR.named(target=target)])
    first = tables["mixture_picard"].where(target=target, K=min(PICARD.Ks)).column("hist_kl")
    assert first.mean() >= 10 * first.std(ddof=1) / len(first) ** 0.5


# -- δ ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", DELTA.targets)
def test_path_quantity_scales_quadratically_in_score_error(checks, target):
    """δ: for calibrated fourier errors, δ₂ ∈ {0.04, 0.08, 0.16}, the path quantity ∝ δ₂²: one-sided
    0.9999 lower limit of the cluster-robust log-log slope (8 replicates × 250 paths, common random
    numbers) ≥ 1.9 (α = 1e-4); the slope's standard error is ≤ 0.005, so the reported false-failure
    rate at slope 2 is ≤ 1e-6."""
    check = checks[claims.MIXTURE_PATH_KL_QUADRATIC.named(target=target)]
    _assert(check)
    assert check.false_failure_rate <= 1e-6, check.summary()


@pytest.mark.parametrize("target", DELTA.targets)
def test_path_quantity_matches_the_girsanov_constant(checks, target):
    """δ: path quantity / ½δ₂² lies in [0.8, 1.25] (two one-sided t tests over the replicates at α/2;
    measured 0.97–1.00 with standard error ≤ 0.008): the calibration of docs/mathematics.md §6 carries over to
    the sampler's own paths on non-Gaussian targets."""
    _assert(checks[claims.MIXTURE_GIRSANOV.named(target=target)])


# -- separation ----------------------------------------------------------------------------------------------
def test_converged_picard_equals_sequential_sampler_on_mixtures(checks):
    """K = M reproduces the sequential sampler path by path for modes 2σ–16σ apart (relative mean
    square ≤ 1e-20; exact identity, false-failure rate 0)."""
    _assert(checks[claims.MIXTURE_PICARD_EXACT_AT_M.name])


def test_minimal_K_does_not_fall_as_modes_separate(tables, checks):
    """K* (relative mean square to the sequential output ≤ 1e-6) is finite for every separation and
    its slope in log L is not significantly below −0.25 (α = 1e-4), while the Lipschitz bound grows
    ~30× from 2σ to 16σ (recorded in the table)."""
    _assert(checks[claims.MIXTURE_K_STAR_SEPARATION.name])
    first = tables["mixture_separation"].where(K=1)
    lipschitz = first.column("lipschitz")
    assert lipschitz.max() / lipschitz.min() >= 20


def test_mixture_claims_hold_as_a_holm_family(tables):
    """All mixture claims together at family-wise α = 1e-4: each at its share α/m, combined by Holm."""
    m = len(judge(tables))
    family = stats.holm(judge(tables, alpha=ALPHA_FAMILY / m), ALPHA_FAMILY)
    assert family.passed, family.summary()


# -- negative controls ----------------------------------------------------------------------------------------
# Reduced sweeps (about a second each). The correct sampler must pass them
# (test_correct_sampler_passes_the_reduced_mixture_sweeps), so a failure is the variant's fault.
REDUCED = {
    "fit": study("mixture_fit").configured(targets=("trimodal_1d",), samplers=("sde", "ode"), n=500),
    "fit_2d": study("mixture_fit").configured(targets=("separated_2d",), samplers=("sde",), n=500),
    "fit_ode": study("mixture_fit").configured(targets=("trimodal_1d",), samplers=("ode",), n=2000),
    "delta": study("mixture_delta").configured(targets=("trimodal_1d",)),
    "picard": study("mixture_picard").configured(targets=("trimodal_1d",), replicates=4, n=300),
    "separation": study("mixture_separation").configured(separations=(2.0, 8.0), replicates=2, n=100),
}

# Which reduced sweeps each broken variant runs through, and the checks it must fail there.
# coordinate_sum is a no-op in 1-d (the sum of one coordinate is itself), hence the 2-d fit. Of the
# PIADM-ODE corrector faults only the doubled noise (a tempered corrector) moves the output law enough
# for a test of fit at this n (the mode weights flatten); the others are the oracle suite's business.
_FIT, _GIRSANOV, _PATH_KL = claims.MIXTURE_FIT.named, claims.MIXTURE_GIRSANOV.named, claims.MIXTURE_PATH_KL_QUADRATIC.named
_EXACT_AT_M = claims.MIXTURE_PICARD_EXACT_AT_M.name
CAUGHT_BY = {
    "missing_half_drift": (("fit", "separation"), {_FIT(target="trimodal_1d", sampler="sde", test="ks"),
                                                   _FIT(target="trimodal_1d", sampler="ode", test="ks"), _EXACT_AT_M}),
    "noise_variance_eps": (("separation",), {_EXACT_AT_M}),
    "error_applied_twice": (("delta",), {_GIRSANOV(target="trimodal_1d")}),
    "delta_not_squared": (("delta",), {_PATH_KL(target="trimodal_1d"), _GIRSANOV(target="trimodal_1d")}),
    "ignores_generator": (("separation",), {_EXACT_AT_M, claims.MIXTURE_K_STAR_SEPARATION.name}),
    "redrawn_noise": (("separation", "picard"), {_EXACT_AT_M, claims.MIXTURE_PICARD_DECAY.named(target="trimodal_1d")}),
    "score_at_next_point": (("separation",), {_EXACT_AT_M}),
    "one_block": (("separation", "picard"), {_EXACT_AT_M, claims.MIXTURE_HIST_FLOOR.named(target="trimodal_1d")}),
    "coordinate_sum": (("fit_2d",), {_FIT(target="separated_2d", sampler="sde", test="ks")}),
    "corrector_noise_doubled": (("fit_ode",), {_FIT(target="trimodal_1d", sampler="ode", test="mode_weight")}),
}
VARIANTS = {**BROKEN, **BROKEN_ODE}


def _run(variant, names):
    torch.manual_seed(0)  # the generator-ignoring control draws from the global generator
    tables = {}
    for name in names:
        table = REDUCED[name].run(variant=variant)
        tables[table.name] = table
    return judge(tables)


def test_correct_sampler_passes_the_reduced_mixture_sweeps():
    """The reduced sweeps of the negative controls are passed by the correct sampler."""
    failed = [c.summary() for c in _run(CORRECT, REDUCED) if not c.passed]
    assert not failed, failed


def test_every_applicable_broken_sde_variant_has_a_mixture_control():
    """Every broken PIADM-SDE variant is run here, except the preset fault (no mixture sweep uses presets)."""
    assert set(BROKEN) - set(CAUGHT_BY) == {"preset_without_d"}


@pytest.fixture(scope="module")
def broken_results():
    return {name: _run(VARIANTS[name], sweeps) for name, (sweeps, _) in CAUGHT_BY.items()}


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_broken_sampler_fails_its_mixture_checks(broken_results, name):
    """Each broken variant fails (at least) the mixture checks listed for it in CAUGHT_BY."""
    expected = CAUGHT_BY[name][1]
    failed = {c.name for c in broken_results[name] if not c.passed}
    assert expected <= failed, f"{name}: expected to fail {sorted(expected)}, failed {sorted(failed)}"


def _kind(name: str) -> str:
    """A claim's kind: its name without the target and the sampler (``mixture_fit_ks``)."""
    for target in MIXTURES:
        name = name.replace(f"_{target}", "")
    return name.replace("_sde_", "_").replace("_ode_", "_")


def _slow_picard_decay(t):
    """From K = 2 on, the path quantity decays 2.5 nats per iteration slower (rates −0.4, +0.4)."""
    return distorted(t, "path_kl", t.column("path_kl") * np.exp(2.5 * np.maximum(t.column("K") - 2, 0)))


# Claims that the broken samplers trip only by leaving them nothing to evaluate (K* = inf, no
# geometric phase): each must fail, with a finite estimate, on the correct table once its rate is wrong.
WRONG_RATES = {
    claims.MIXTURE_K_STAR_SEPARATION.name: ("mixture_separation", lambda t: distorted(
        t, "k_star", t.column("k_star") - 2.0 * np.log(t.column("lipschitz")))),
    **{claims.MIXTURE_PICARD_DECAY.named(target=target): ("mixture_picard", _slow_picard_decay)
       for target in PICARD.targets},
}


@pytest.mark.parametrize("name", sorted(WRONG_RATES))
def test_mixture_claim_fails_on_a_wrong_rate(tables, name):
    """K* falling like −2 log L with the Lipschitz bound (8 replicates: detection limit 0.42 at power
    0.9), or the path quantity decaying 2.5 nats per iteration slower after K = 2 (≈ 10 standard errors
    of the fitted slope beyond −1): the claim fails with a finite estimate. Each at α = 1e-4 on its own
    Monte Carlo data, so a false pass here has probability well below 1e-4."""
    check_wrong_rate(tables, name, *WRONG_RATES[name])


def test_every_kind_of_mixture_claim_is_failed_by_some_broken_sampler(checks, broken_results):
    """Every kind of mixture claim in the default run fails with a finite estimate for some broken
    variant (on some target), or is among the wrong-rate controls."""
    tripped = {_kind(n) for results in broken_results.values() for n in finitely_tripped(results)}
    never = sorted({_kind(n) for n in checks} - tripped - {_kind(n) for n in WRONG_RATES})
    assert not never, f"kinds of mixture claims no broken sampler fails with a finite estimate: {never}"


# -- larger samples ---------------------------------------------------------------------------------------------
SLOW = {s.name: s for s in SUITES["full"] if s.name in MIXTURE}  # the full report's configurations


@pytest.mark.slow
@pytest.mark.parametrize("sweep", sorted(SLOW))
def test_mixture_claims_hold_at_larger_sample_sizes(sweep):
    """The full report's configurations: n = 4000 at ε = 0.025 for the fit (bias ≤ 1/11 of the KS
    detection distance 0.035), all five targets in the K and δ sweeps, the mean-square pathwise
    difference ∝ δ₂² on the overlapping trimodal target (24 replicates), seven separations, and the
    histogram KL excess ∝ δ₂² (slope ≥ 1.75; 24 replicates × 4000 samples, smallest excess ≈ 35× the
    standard error of its mean). Each claim at α = 1e-4, the sweep's family by Holm at 1e-4."""
    table = SLOW[sweep].run()
    results = judge({table.name: table})
    failed = [c.summary() for c in results if not c.passed]
    assert not failed, failed
    family = stats.holm(judge({table.name: table}, alpha=ALPHA_FAMILY / len(results)), ALPHA_FAMILY)
    assert family.passed, family.summary()
