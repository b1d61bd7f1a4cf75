"""PIADM-ODE theory suite (docs/mathematics.md §5, §7): invariants of the corrector, TV and KL rates, rounds and
space under the ODE presets, the sampler against its exact law, and negative controls.

Claims come from the registered ODE studies (:mod:`piadm_verify.studies.ode`) and
:mod:`piadm_verify.verification.claims.ode` (the same code as the reports). Oracle data are exact (false-failure rate 0); the Monte Carlo agreement test states α.
"""

import numpy as np
import pytest
import scipy.linalg
import torch

from agreement import gaussian_pvalues
from analytic import Gaussian
from broken import BROKEN_ODE, ODE_SWEEPS_FOR, check_wrong_rate, distorted, finitely_tripped
from piadm_verify import Corrector, TimeGrid, exact_law, piadm_ode, sequential_ode
from piadm_verify.oracle.ode import KineticMaps, kinetic_map
from piadm_verify.studies import CORRECT, judge, study
from piadm_verify.studies.registry import ODE
from piadm_verify.verification import stats
from piadm_verify.verification.claims import ALPHA_FAMILY
from piadm_verify.verification.claims import ode as claims

pytestmark = pytest.mark.theory

REDUCED = {
    "langevin_bias": study("langevin_bias"),
    "relaxation": study("relaxation"),
    "ode_delta": study("ode_delta"),
    "ode_eps": study("ode_eps"),
    "ode_dimension": study("ode_dimension").configured(dims=(4, 16, 64, 256)),
    "ode_exact": study("ode_exact"),
    "ode_rounds": study("ode_rounds"),
    "ode_presets": study("ode_rounds").configured(picard=False),
}


def _run(variant, names):
    # ode_presets and ode_rounds share a table name; claims read whichever is present.
    tables = {REDUCED[name].name: REDUCED[name].run(variant=variant) for name in names}
    return judge(tables)


@pytest.fixture(scope="module")
def tables():
    """The registered ODE studies at the registry's (the quick suite's) configurations."""
    return {name: study(name).run() for name in ODE}


@pytest.fixture(scope="module")
def broken_results():
    return {name: _run(variant, ODE_SWEEPS_FOR[name]) for name, variant in BROKEN_ODE.items()}


def _assert(check):
    assert check.passed, check.summary()


# -- invariants ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", [TimeGrid.uniform(4.0, 1e-2, 4, 6), TimeGrid.early_stopping(3.0, 2e-2, 1.0, 0.25)],
                         ids=["uniform", "early_stopping"])
def test_converged_piadm_ode_reproduces_sequential_ode(grid):
    """K ≥ M and K† ≥ M† reproduce sequential_ode path by path under one seed (float64, 1e-12)."""
    target = Gaussian([0.5, -1.0, 0.2], [[1.0, 0.3, 0.0], [0.3, 0.6, 0.1], [0.0, 0.1, 0.4]])
    corrector = dict(K=6, steps=5, sub_blocks=2, h=0.4, gamma=2.0)
    parallel = piadm_ode(target, grid, 300, 3, K=grid.max_steps, corrector=corrector, generator=7)
    sequential = sequential_ode(target, grid, 300, 3, corrector=corrector, generator=7)
    assert (parallel.samples - sequential.samples).abs().max() < 1e-12
    assert parallel.rounds == grid.blocks * (grid.max_steps + 2 * 6)
    assert sequential.rounds == grid.total_steps + grid.blocks * 2 * 5
    assert parallel.peak_points == max(grid.max_steps, 5)


def test_force_free_corrector_step_has_exact_kinetic_ou_moments():
    """F ≡ 0: one corrector step maps (x, v) like the exact kinetic OU process over ε†.

    Reference: the linear SDE d(x, v) = [[0, 1], [0, −γ]](x, v) du + (0, √(2γ)) dB, solved by the
    matrix exponential and Van Loan's block exponential for the noise covariance — independent of
    the step's closed-form coefficients. Exact, to 1e-12.
    """
    for step, gamma in ((0.05, 2.0), (0.3, 2.0), (0.7, 0.5)):
        corrector = Corrector(K=1, steps=1, h=step, gamma=gamma)
        step_map = kinetic_map(KineticMaps.build(corrector), torch.zeros(1, 1, 1, dtype=torch.float64),
                               torch.zeros(1, 1, dtype=torch.float64), corrector)
        A, c, V = step_map.A, step_map.c, step_map.V
        drift = np.array([[0.0, 1.0], [0.0, -gamma]])
        diffusion = np.array([[0.0, 0.0], [0.0, 2.0 * gamma]])
        block = np.block([[-drift, diffusion], [np.zeros((2, 2)), drift.T]]) * step
        E = scipy.linalg.expm(block)
        Phi = E[2:, 2:].T
        Q = Phi @ E[:2, 2:]
        np.testing.assert_allclose(A[0].numpy(), scipy.linalg.expm(drift * step), atol=1e-12)
        np.testing.assert_allclose(V[0].numpy(), Q, atol=1e-12)
        assert np.abs(c.numpy()).max() == 0.0


def test_langevin_bias_with_linear_force_is_first_order(tables):
    """F(x) = −x keeps N(0, I) ⊗ N(0, I) only up to an O(ε†) bias after unit time (the force is frozen
    over each step): Var x − 1 = 0.0168, 0.0083, 0.0041, … for ε† = 0.2, 0.1, 0.05 (γ = 2); its order
    in ε† is 1 ± 0.1 (TOST on exact data; false-failure rate 0)."""
    table = tables["langevin_bias"]
    np.testing.assert_allclose(table.column("var_bias")[:3], [0.0168, 0.0083, 0.0041], atol=6e-5)
    _assert(claims.claim_langevin_bias_first_order(table))


def test_corrector_moves_the_law_towards_its_level(tables):
    """From N(μ_{s*} + 1, 3Σ_{s*}) the corrector's TV to p_{s*} falls at every sub-block, by ≥ 5× in
    4 time units (exact)."""
    _assert(claims.claim_corrector_relaxes(tables["relaxation"]))


# -- rates -----------------------------------------------------------------------------------------------------
def test_tv_is_linear_and_kl_quadratic_in_sup_norm_error(tables):
    """δ_∞ (L^∞-calibrated bias and affine errors, 1e-3 … 0.1): TV(q̂_0, q̂_δ) ∝ δ (TOST 1 ± 0.1) and
    KL ∝ δ² (TOST 2 ± 0.1) — two exponents for the same perturbations (exact data)."""
    for check in claims.claim_ode_delta_rates(tables["ode_delta"]):
        _assert(check)


def test_tv_floor_falls_at_least_linearly_in_step(tables):
    """ε = ε†: the error-free TV(p_η, q̂) from the exact start p_T falls at least like ε (slope shown
    ≥ 1 − 0.05 for the pre-asymptotic range; measured ≈ 0.98; exact data)."""
    _assert(claims.claim_ode_step_floor(tables["ode_eps"]))


def test_tv_grows_like_sqrt_d_then_saturates(tables):
    """Fixed ε: TV ∝ √d for product targets while TV ≤ 0.3 (TOST 0.5 ± 0.05), increasing and below 1
    up to d = 16384 (exact data)."""
    for check in claims.claim_ode_sqrt_dimension(tables["ode_dimension"]):
        _assert(check)


def test_converged_ode_oracle_equals_sequential_law(tables):
    """K ≥ M, K† ≥ M† give the sequential ODE law exactly (TV ≤ 1e-10), and K = K† = 2 does not."""
    _assert(claims.claim_ode_exact_when_converged(tables["ode_exact"]))
    table = tables["ode_exact"]
    assert table.column("tv")[~np.asarray(table.column("converged"), dtype=bool)].min() > 1e-3


def test_ode_rounds_and_space_under_presets(tables):
    """ODE presets (ε ∝ δ/√d), d = 4 … 4096 at δ = 0.3: TV ≤ δ at the preset counts, flat in d;
    K* and K†* grow like log d (nested test against powers of d); M ∨ M† ∝ √d and d(M ∨ M†) ∝ d^{3/2}
    up to log factors (TOST ± 0.05). Exact data."""
    for check in claims.claim_ode_rounds(tables["ode_rounds"]):
        _assert(check)


def test_ode_claims_hold_as_a_holm_family(tables):
    """All PIADM-ODE claims at family-wise α = 1e-4 (each at α/m, combined by Holm)."""
    m = len(judge(tables))
    family = stats.holm(judge(tables, alpha=ALPHA_FAMILY / m), ALPHA_FAMILY)
    assert family.passed, family.summary()


# -- Monte Carlo: the sampler against its exact law ----------------------------------------------------------
AGREEMENT = [
    ("d3_no_corrector", 3, None, 2),
    ("d3_corrector", 3, dict(K=2, steps=6, sub_blocks=2, h=0.5), 3),
    ("d8_corrector", 8, dict(K=3, steps=4, sub_blocks=1, h=0.7, gamma=1.5), 2),
]


def test_piadm_ode_samples_agree_with_ode_exact_law():
    """piadm_ode samples (n = 20000 per setting) against the ODE oracle: exact χ² test of the mean and
    Bartlett-corrected LR test of the covariance, Holm across the 6 p-values at α_family = 1e-4.
    At n = 20000, d = 8 a covariance discrepancy of Frobenius size ≈ 0.09 (whitened) is detected
    with 90% power."""
    grid = TimeGrid.uniform(4.0, 1e-2, 4, 6)
    p_values = []
    for name, d, corrector, K in AGREEMENT:
        g = torch.Generator().manual_seed(11)
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        target = Gaussian(torch.linspace(-1, 1, d, dtype=torch.float64), (q * torch.linspace(0.3, 2.0, d)) @ q.T)
        samples = piadm_ode(target, grid, 20000, d, K=K, corrector=corrector, generator=g).samples
        law = exact_law(target, grid, "ode", K, corrector=corrector)
        p_values += list(gaussian_pvalues(samples, law).values())
    family = stats.holm(p_values, ALPHA_FAMILY)
    assert family.passed, family.summary()


def test_agreement_check_rejects_a_broken_corrector():
    """The same check rejects a corrector whose noise is redrawn at every Picard iteration, tested
    against the correct oracle (the laws differ by ≫ the detection floor; p < 1e-12 expected)."""
    grid = TimeGrid.uniform(4.0, 1e-2, 4, 6)
    target = Gaussian([0.5, -0.5], [[1.0, 0.3], [0.3, 0.5]])
    corrector = dict(K=2, steps=6, sub_blocks=2, h=0.5)
    samples = piadm_ode(target, grid, 20000, 2, K=3, corrector={**corrector, "shared_noise": False}, generator=3).samples
    p_values = gaussian_pvalues(samples, exact_law(target, grid, "ode", 3, corrector=corrector))
    assert min(p_values.values()) < 1e-12, p_values


# -- negative controls --------------------------------------------------------------------------------------------
def test_correct_sampler_passes_the_reduced_ode_sweeps():
    """The reduced sweeps of the negative controls are passed by the correct sampler."""
    failed = [c.summary() for c in _run(CORRECT, REDUCED) if not c.passed]
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(BROKEN_ODE))
def test_broken_ode_sampler_fails_at_least_one_claim(broken_results, name):
    """Each deliberately broken predictor, corrector or preset makes at least one ODE claim fail."""
    assert any(not c.passed for c in broken_results[name]), f"{name} passed every claim"


# Claims that the broken samplers trip only by leaving them nothing to evaluate: each must fail, with a
# finite estimate, on the correct sampler's table once its rate is wrong (see tests/broken.py).
WRONG_RATES = {
    claims.ODE_TV_SQRT_D.name: ("ode_dimension", lambda t: distorted(t, "tv", t.column("tv") * t.column("d") ** 0.1)),
    **{claim.name: ("ode_rounds", lambda t, column=column: distorted(t, column, t.column(column) + 0.01 * t.column("d")))
       for column, claim in (("k_star", claims.ODE_ROUNDS_LOG_GROWTH_K_STAR),
                             ("corrector_k_star", claims.ODE_ROUNDS_LOG_GROWTH_CORRECTOR_K_STAR))},
}


@pytest.mark.parametrize("name", sorted(WRONG_RATES))
def test_ode_claim_fails_on_a_wrong_rate(tables, name):
    """TV ∝ d^{0.6}, or K* / K†* = a + b log d + 0.01 d: the claim fails with a finite estimate (exact
    data, no randomness)."""
    check_wrong_rate(tables, name, *WRONG_RATES[name])


def test_every_ode_claim_is_failed_by_some_broken_sampler(tables, broken_results):
    """Every ODE claim fails with a finite estimate for some broken variant, or is among the
    wrong-rate controls."""
    tripped = set().union(*(finitely_tripped(results) for results in broken_results.values()))
    never = sorted({c.name for c in judge(tables)} - tripped - set(WRONG_RATES))
    assert not never, f"ODE claims no broken sampler fails with a finite estimate: {never}"
