"""diffusers' schedulers as samplers under the contract, with exact laws (docs/mathematics.md §10, §11, §13).

Float64 runs, d = 2 targets with a mean outside [−1, 1], CPU, schedulers from their constructors
(no downloads). diffusers keeps its schedule in float32 and Euler / Euler-ancestral / DPM-Solver
round the sample to float32 inside ``step``: identities between classes therefore hold to float32
round-off (KL ≤ 1e-8), identities within one code path to float64 round-off. The Monte Carlo
cross-checks use α = 1e-4 for the Holm family. The library's defects are kept, as strict xfails
asserting the correct behaviour, in ``tests/test_diffusers_findings.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
from diffusers import (  # noqa: E402
    DDIMParallelScheduler,
    DDIMScheduler,
    DDPMParallelScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    UniPCMultistepScheduler,
)

from agreement import gaussian_pvalues  # noqa: E402
from analytic import Gaussian, gaussian_kl  # noqa: E402
from piadm_verify import NotAffineError, RoundInfo, SamplerResult, StepNoise, exact_law_of, inject_error  # noqa: E402
from piadm_verify.external import (  # noqa: E402
    affinity_residual,
    ancestral_law,
    diffusers_law,
    diffusers_sampler,
    epsilon_frozen_law,
    law_route,
    ou_schedule,
)
from piadm_verify.verification import stats  # noqa: E402

ALPHA = 1e-4
TARGET = Gaussian([2.5, -0.5], [[1.5, 0.3], [0.3, 0.4]])
FLOAT32_KL = 1e-8  # identities across classes: float32 coefficients (and state, Euler/DPM-Solver)


def _law(scheduler, steps, **options):
    sampler, _ = diffusers_sampler(scheduler, steps, step_options=options or None)
    return diffusers_law(sampler, TARGET)


# -- the OU grid ----------------------------------------------------------------------------------
def test_ddpm_grid_runs_to_alpha_one_and_leaves_the_scheduler_alone():
    scheduler = DDPMScheduler()
    sampler, grid = diffusers_sampler(scheduler, 50)
    a = scheduler.alphas_cumprod.double()
    assert grid.total_steps == 50 and grid.eta == 0.0 and grid.blocks == 1
    assert grid.T == pytest.approx(-math.log(float(a[980])), rel=1e-15)
    np.testing.assert_allclose(grid.all_score_times(), sampler.schedule.state_times[:-1], rtol=1e-12, atol=1e-14)
    assert sampler.schedule.notes == () and scheduler.num_inference_steps is None


def test_ddim_final_alpha_sets_eta_and_a_stationary_last_step_takes_no_grid_step():
    a0 = float(DDIMScheduler().alphas_cumprod[0])
    assert diffusers_sampler(DDIMScheduler(set_alpha_to_one=True), 50)[1].eta == 0.0
    sampler, grid = diffusers_sampler(DDIMScheduler(set_alpha_to_one=False), 50)
    assert grid.eta == pytest.approx(-math.log(a0), rel=1e-12)
    # leading spacing ends at t = 0, whose step goes from ᾱ_0 to ᾱ_0: 50 calls, 49 grid steps
    assert sampler.schedule.calls == 50 and grid.total_steps == 49
    out = sampler(TARGET.score, grid, 4, 2, generator=0)
    assert out.rounds == 50 and torch.isfinite(out.samples).all()


def test_heun_makes_2n_minus_1_calls_for_n_state_changes():
    sampler, grid = diffusers_sampler(HeunDiscreteScheduler(), 10)
    assert sampler.schedule.calls == 19 and grid.total_steps == 10 and grid.eta == 0.0
    out = sampler(TARGET.score, grid, 3, 2, generator=0)
    assert (out.rounds, out.score_evals, out.peak_points) == (19, 19, 1)


def test_the_network_reads_fractional_timesteps_with_the_schedulers_own_interpolation():
    schedule = ou_schedule(EulerDiscreteScheduler(), 13)
    assert not np.allclose(schedule.timesteps, np.round(schedule.timesteps))
    np.testing.assert_allclose(schedule.eval_times, schedule.scheduler_eval_times, rtol=1e-6)


# -- the sampler contract --------------------------------------------------------------------------
def test_the_sampler_follows_the_contract_and_counts_honestly():
    sampler, grid = diffusers_sampler(UniPCMultistepScheduler(), 20)
    seen = []
    calls = []

    def score(x, s):
        calls.append(x.shape[0])
        return TARGET.score(x, s)

    out = sampler(score, grid, 7, 2, generator=5, callback=seen.append)
    assert isinstance(out, SamplerResult) and out.samples.shape == (7, 2) and out.samples.dtype == torch.float64
    assert (out.rounds, out.score_evals, out.peak_points) == (20, 20, 1) == (len(calls), len(calls), 1)
    assert [info.round for info in seen] == list(range(1, 21)) and all(isinstance(i, RoundInfo) for i in seen)
    again = sampler(TARGET.score, grid, 7, 2, noise=StepNoise(grid, 7, 2, generator=5))
    assert torch.equal(out.samples, again.samples)
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    assert sampler(TARGET.score, grid, x0=x0, generator=1).samples.shape == (3, 2)
    f32 = sampler(TARGET.score, grid, 7, 2, generator=5, dtype=torch.float32).samples
    assert f32.dtype == torch.float32 and float((f32.double() - out.samples).abs().max()) < 1e-4


def test_generator_fed_and_vector_fed_schedulers_meet_the_same_noise():
    """DDPM (noise through generator=noise.step_generator(j)), DDIM η = 1 (variance_noise=noise.steps(j, j+1)[0])
    and Euler-ancestral (generator=) are one chain on the leading grid: with one seed their samples agree
    path by path to float32 round-off, so every scheduler draws the project's Brownian path."""
    runs = []
    for scheduler, options in ((DDPMScheduler(clip_sample=False), None),
                               (DDIMScheduler(clip_sample=False), {"eta": 1.0}),
                               (EulerAncestralDiscreteScheduler(timestep_spacing="leading"), None)):
        sampler, grid = diffusers_sampler(scheduler, 25, step_options=options)
        runs.append(sampler(TARGET.score, grid, 64, 2, generator=11).samples)
    assert float((runs[0] - runs[1]).abs().max()) < 1e-4
    assert float((runs[0] - runs[2]).abs().max()) < 1e-4
    other = diffusers_sampler(DDPMScheduler(clip_sample=False), 25)
    assert float((other[0](TARGET.score, other[1], 64, 2, generator=12).samples - runs[0]).abs().max()) > 0.1


def test_prediction_types_give_the_same_law_through_the_adapters():
    """The network answers ε, x₀ or v from the same score (docs/mathematics.md §13): the laws agree."""
    for make in (DDIMScheduler, EulerDiscreteScheduler, DPMSolverMultistepScheduler):
        options = {"clip_sample": False} if make is DDIMScheduler else {}
        base = _law(make(**options), 15)
        for prediction in ("sample", "v_prediction"):
            other = _law(make(prediction_type=prediction, **options), 15)
            assert float((other.mean - base.mean).abs().max()) < 1e-5
            assert float((other.cov - base.cov).abs().max()) < 1e-5


def test_bad_configurations_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match="unsupported scheduler class PNDMScheduler"):
        from diffusers import PNDMScheduler

        diffusers_sampler(PNDMScheduler(), 10)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="num_inference_steps"):
            diffusers_sampler(DDIMScheduler(), bad)
    with pytest.raises(ValueError, match="prediction_type 'flow_prediction'"):
        diffusers_sampler(DPMSolverMultistepScheduler(prediction_type="flow_prediction"), 10)
    with pytest.raises(ValueError, match="variance_type 'learned'"):
        diffusers_sampler(DDPMScheduler(variance_type="learned"), 10)
    with pytest.raises(ValueError, match="timestep_type 'continuous'"):
        diffusers_sampler(EulerDiscreteScheduler(timestep_type="continuous"), 10)
    with pytest.raises(ValueError, match="outside \\[0, 999\\]"):
        diffusers_sampler(DDIMScheduler(timestep_spacing="trailing"), 61)
    with pytest.raises(ValueError, match="variance_noise"):
        diffusers_sampler(DDIMScheduler(), 10, step_options={"variance_noise": None})
    sampler, grid = diffusers_sampler(DDIMScheduler(), 10)
    other = diffusers_sampler(DDIMScheduler(), 12)[1]
    with pytest.raises(ValueError, match="grid must be the grid"):
        sampler(TARGET.score, other, 2, 2, generator=0)
    with pytest.raises(ValueError, match="window"):
        sampler(TARGET.score, grid, 2, 2, generator=0, window=4, tol=0.1)
    with pytest.raises(ValueError, match="pass window"):
        sampler(TARGET.score, grid, 2, 2, generator=0, tol=0.1)
    with pytest.raises(ValueError, match="x0"):
        sampler(TARGET.score, grid, x0=torch.zeros(2, 2, dtype=torch.float64), prior=TARGET.marginal(grid.T))
    parallel, pgrid = diffusers_sampler(DDIMParallelScheduler(), 10, step_options={"eta": 1.0})
    with pytest.raises(ValueError, match="eta = 0 only"):
        parallel(TARGET.score, pgrid, 2, 2, generator=0, window=4, tol=0.1)


# -- exact laws ---------------------------------------------------------------------------------------
def test_law_routes():
    assert law_route(diffusers_sampler(DDPMScheduler(), 10)[0]) == "propagate"
    assert law_route(diffusers_sampler(EulerAncestralDiscreteScheduler(), 10)[0]) == "propagate"
    assert law_route(diffusers_sampler(DDIMScheduler(), 10, step_options={"eta": 1.0})[0]) == "probe"
    parallel = diffusers_sampler(DDPMParallelScheduler(), 10)[0]
    assert law_route(parallel) == "propagate" and law_route(parallel, window=10, stride=1) == "probe"
    assert law_route(parallel, window=10, tol=0.1) == "monte carlo"


def test_probing_refuses_generator_noise_and_clipping():
    sampler, grid = diffusers_sampler(DDPMScheduler(clip_sample=False), 10)
    with pytest.raises(NotAffineError, match="step_generator"):
        exact_law_of(sampler, TARGET, grid)
    with pytest.raises(NotAffineError):
        _law(DDIMScheduler(clip_sample=True), 20)  # the mean 2.5 is clamped to 1


def _monte_carlo_cases():
    """(name, sampler, grid, options, law): every route and noise mechanism, d = 2, 20 steps."""
    bias = inject_error(TARGET, "bias", 0.3, diffusers_sampler(UniPCMultistepScheduler(), 20)[1], generator=0)
    cases = []
    for name, scheduler, options in (
        ("DDPM (propagate, generator=)", DDPMScheduler(clip_sample=False, timestep_spacing="trailing"), None),
        ("Euler-ancestral (propagate, generator=)", EulerAncestralDiscreteScheduler(), None),
        ("DDIM eta=1 (probe, variance_noise=)", DDIMScheduler(clip_sample=False), {"eta": 1.0}),
        ("SDE-DPM-Solver++ 2M (probe, variance_noise=)", DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++"),
         None),
    ):
        sampler, grid = diffusers_sampler(scheduler, 20, step_options=options)
        cases.append((name, sampler, grid, {}, TARGET.score, diffusers_law(sampler, TARGET)))
    sampler, grid = diffusers_sampler(DDPMParallelScheduler(clip_sample=False), 20)
    cases.append(("DDPM-Parallel ParaDiGMS, stride 2 (probe, noise.steps)", sampler, grid,
                  {"window": 8, "tol": None, "stride": 2}, TARGET.score,
                  diffusers_law(sampler, TARGET, window=8, stride=2)))
    sampler, grid = diffusers_sampler(UniPCMultistepScheduler(), 20)
    cases.append(("UniPC with a bias error (probe)", sampler, grid, {}, bias, diffusers_law(sampler, TARGET, bias)))
    return cases


def test_exact_laws_match_monte_carlo_of_the_real_code():
    """Samples of the real loop against the exact law: known-covariance χ² mean test and the Bartlett-corrected
    covariance LRT (tests/agreement.py), 6 configurations × 2 tests in one Holm family at α = 1e-4.
    n = 6000 per configuration: a mean offset of 0.1 standard deviations in one coordinate gives a χ²₂
    noncentrality of 60, detected with probability > 0.99 at the Holm level 1e-4/12."""
    p_values, names = [], []
    for name, sampler, grid, options, score, law in _monte_carlo_cases():
        samples = sampler(score, grid, 6000, 2, generator=101, **options).samples
        for test, p in gaussian_pvalues(samples, law).items():
            p_values.append(p)
            names.append(f"{name}: {test}")
    family = stats.holm(p_values, ALPHA)
    assert family.passed, [(n, p) for n, p in zip(names, p_values) if p < ALPHA / len(p_values)]


def test_monte_carlo_check_detects_a_wrong_law():
    """Negative control: the same tests reject DDPM (10 steps)'s samples against p_0 (KL ≈ 0.3)."""
    sampler, grid = diffusers_sampler(DDPMScheduler(clip_sample=False), 10)
    samples = sampler(TARGET.score, grid, 6000, 2, generator=7).samples
    assert gaussian_kl(TARGET, diffusers_law(sampler, TARGET)) > 0.1
    assert min(gaussian_pvalues(samples, TARGET).values()) < ALPHA / 12


def test_prior_sets_the_initial_law():
    """``prior=p_T`` (the exact start) moves the law (DDIM is an invertible map, so it keeps the prior mismatch
    KL(N(0, I) ‖ p_T) ≈ 3.4e-4), and probing and propagation agree with the ε-frozen and ancestral forms from
    that start (float32 round-off)."""
    for scheduler, reference in ((DDIMScheduler(clip_sample=False), epsilon_frozen_law),
                                 (DDPMScheduler(clip_sample=False, timestep_spacing="trailing"), ancestral_law)):
        sampler, grid = diffusers_sampler(scheduler, 20)
        p_T = TARGET.marginal(grid.T)
        exact_start = diffusers_law(sampler, TARGET, prior=p_T)
        if reference is epsilon_frozen_law:
            mismatch = gaussian_kl(Gaussian([0.0, 0.0], [1.0, 1.0]), p_T)
            assert gaussian_kl(diffusers_law(sampler, TARGET), exact_start) == pytest.approx(mismatch, rel=1e-4)
        assert gaussian_kl(reference(TARGET, sampler.schedule.state_times, prior=p_T), exact_start) < FLOAT32_KL


# -- identities -------------------------------------------------------------------------------------
@pytest.mark.parametrize("spacing, steps", [("leading", 50), ("leading", 13), ("trailing", 50)])
def test_ddim_is_the_exponential_integrator_with_frozen_epsilon(spacing, steps):
    """DDIM (η = 0) = the probability-flow ODE solved exactly with ε̂ frozen over each step, on its own OU grid
    (docs/mathematics.md §13) to float64 round-off (KL ≤ 1e-12), where it lands where it evaluates next."""
    sampler, _ = diffusers_sampler(DDIMScheduler(clip_sample=False, timestep_spacing=spacing), steps)
    assert gaussian_kl(epsilon_frozen_law(TARGET, sampler.schedule.state_times), diffusers_law(sampler, TARGET)) < 1e-12


@pytest.mark.parametrize("steps", [13, 50])
def test_same_grid_identities_between_schedulers(steps):
    """On the leading grid: DDIM(η=0) = Euler; DDPM = Euler-ancestral = DDIM(η=1) = the ancestral OU step
    (float32 round-off)."""
    ddim = _law(DDIMScheduler(clip_sample=False), steps)
    assert gaussian_kl(ddim, _law(EulerDiscreteScheduler(timestep_spacing="leading"), steps)) < FLOAT32_KL
    ddpm_sampler, _ = diffusers_sampler(DDPMScheduler(clip_sample=False), steps)
    ddpm = diffusers_law(ddpm_sampler, TARGET)
    assert gaussian_kl(ddpm, _law(EulerAncestralDiscreteScheduler(timestep_spacing="leading"), steps)) < FLOAT32_KL
    assert gaussian_kl(ddpm, _law(DDIMScheduler(clip_sample=False), steps, eta=1.0)) < FLOAT32_KL
    assert gaussian_kl(ancestral_law(TARGET, ddpm_sampler.schedule.state_times), ddpm) < FLOAT32_KL


def test_float64_runs_are_affine_to_round_off_where_the_scheduler_keeps_float64():
    for scheduler in (DDIMScheduler(clip_sample=False), HeunDiscreteScheduler(), UniPCMultistepScheduler(),
                      DDPMScheduler(clip_sample=False)):
        assert affinity_residual(diffusers_sampler(scheduler, 20)[0], TARGET) < 1e-13


# -- the parallel schedulers in the project's ParaDiGMS loop ------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: DDPMParallelScheduler(clip_sample=False),
                                  lambda: DDIMParallelScheduler(clip_sample=False)], ids=["DDPMParallel", "DDIMParallel"])
@pytest.mark.parametrize("spacing, steps", [("leading", 20), ("trailing", 25)])
def test_paradigms_on_the_batch_path_equals_the_sequential_step(make, spacing, steps):
    """Window 1 and the full window converged (fixed stride 1) reproduce the step() loop path by path (same
    noise), to round-off, where the library's two paths agree; the counts are the sweeps."""
    sampler, grid = diffusers_sampler(make().from_config(make().config, timestep_spacing=spacing), steps)
    sequential = sampler(TARGET.score, grid, 16, 2, generator=3).samples
    one = sampler(TARGET.score, grid, 16, 2, generator=3, window=1, tol=None, stride=1)
    full = sampler(TARGET.score, grid, 16, 2, generator=3, window=steps, tol=None, stride=1)
    for out in (one, full):
        assert float((out.samples - sequential).abs().max()) <= 1e-12 * float(sequential.abs().max())
        assert out.rounds == out.iterations == steps and out.converged
    assert (one.score_evals, one.peak_points) == (steps, 1)
    assert (full.score_evals, full.peak_points) == (steps * (steps + 1) // 2, steps)
    fast = sampler(TARGET.score, grid, 16, 2, generator=3, window=steps, tol=0.1)
    assert fast.rounds < steps and fast.converged and fast.score_evals <= steps * fast.rounds
