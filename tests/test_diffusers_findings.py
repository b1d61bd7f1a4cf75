"""The defects and hazards the conformance run finds in diffusers' schedulers, one strict xfail each.

Every test asserts the CORRECT behaviour and is marked ``xfail(strict=True, raises=AssertionError)``
with the installed version in its reason: while the library behaves as recorded the assertion fails
as expected (any other exception is a real failure); once
upstream fixes it the test passes, strict turns that into a failure, and the finding is to be
retired (README "Real schedulers under test (diffusers)", ``reports/conformance/conformance.md``).
Numbers in the docstrings are for diffusers 0.42.1, target N([2.5, −0.5], [[1.5, 0.3], [0.3, 0.4]]),
N = 1000 training steps with linear betas (1e-4 … 0.02).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")
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

from analytic import Gaussian, gaussian_kl  # noqa: E402
from piadm_verify.external import (  # noqa: E402
    affinity_residual,
    ancestral_law,
    diffusers_law,
    diffusers_sampler,
    epsilon_frozen_law,
)

TARGET = Gaussian([2.5, -0.5], [[1.5, 0.3], [0.3, 0.4]])
VERSION = f"diffusers {diffusers.__version__}"
ALL = [DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, HeunDiscreteScheduler,
       DPMSolverMultistepScheduler, UniPCMultistepScheduler, DDPMParallelScheduler, DDIMParallelScheduler]


def finding(number: int, text: str):
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"{VERSION}: finding {number}: {text}")


@finding(1, "trailing spacing returns n + 1 timesteps ending at t = -1 for 62 values of n <= 1000 (smallest 61)")
@pytest.mark.parametrize("make", ALL, ids=lambda c: c.__name__)
def test_trailing_spacing_gives_n_timesteps_in_the_training_range(make):
    scheduler = make(timestep_spacing="trailing")
    scheduler.set_timesteps(61)
    calls = 2 * 61 - 1 if make is HeunDiscreteScheduler else 61
    assert len(scheduler.timesteps) == calls and float(scheduler.timesteps.min()) >= 0


@finding(2, "DDIM step() lands at t - N//n whatever the spacing, not at the next timestep (linspace n = 13: "
            "KL 0.031 between DDIM and the step it implements on its timesteps)")
def test_ddim_lands_on_its_next_timestep():
    """DDIM (η = 0) must be the ε-frozen exponential integrator on the grid of its own timesteps (ending at
    ᾱ = 1): docs/mathematics.md §13. With linspace spacing it evaluates each state at another noise level."""
    scheduler = DDIMScheduler(timestep_spacing="linspace", clip_sample=False)
    sampler, _ = diffusers_sampler(scheduler, 13)
    a = scheduler.alphas_cumprod.double()
    timesteps_grid = [-math.log(float(a[int(t)])) for t in sampler.schedule.timesteps] + [0.0]
    assert gaussian_kl(epsilon_frozen_law(TARGET, timesteps_grid), diffusers_law(sampler, TARGET)) < 1e-12


def _parity_gap(make, steps: int) -> float:
    sampler, grid = diffusers_sampler(make(), steps)
    sequential = sampler(TARGET.score, grid, 16, 2, generator=3).samples
    parallel = sampler(TARGET.score, grid, 16, 2, generator=3, window=1, tol=None, stride=1).samples
    return float((parallel - sequential).abs().max())


@finding(3, "DDPMParallelScheduler.batch_step_no_noise steps to t - N//n while step() steps to the next timestep "
            "(ParaDiGMS converges to another chain: max |Δ| 0.20 for linspace n = 13)")
def test_ddpm_parallel_batch_path_takes_the_step_of_step():
    assert _parity_gap(lambda: DDPMParallelScheduler(timestep_spacing="linspace", clip_sample=False), 13) < 1e-12


@finding(4, "DDIMParallelScheduler.batch_step_no_noise ignores set_alpha_to_one=False (max |Δ| 3.3e-4, n = 50)")
def test_ddim_parallel_batch_path_honours_set_alpha_to_one():
    assert _parity_gap(lambda: DDIMParallelScheduler(set_alpha_to_one=False, clip_sample=False), 50) < 1e-12


@finding(5, "init_noise_sigma is sigma_max for linspace/trailing spacing but sqrt(sigma_max^2 + 1) for leading: "
            "x_T ~ N(0, I) then enters with VP variance 0.99996 (Heun's betas: 0.9984)")
@pytest.mark.parametrize("make", [EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, HeunDiscreteScheduler],
                         ids=lambda c: c.__name__)
def test_init_noise_sigma_makes_the_initial_draw_the_vp_prior(make):
    scheduler = make(timestep_spacing="linspace")
    scheduler.set_timesteps(50)
    sigma_max = float(scheduler.sigmas.max())
    assert float(scheduler.init_noise_sigma) == pytest.approx(math.sqrt(sigma_max ** 2 + 1.0), rel=1e-7)


@finding(6, "float64 samples are computed in float32: Euler, Euler-ancestral and DPM-Solver cast the sample "
            "(affinity residual 3e-7)")
@pytest.mark.parametrize("make", [EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
                                  DPMSolverMultistepScheduler], ids=lambda c: c.__name__)
def test_float64_samples_stay_float64(make):
    assert affinity_residual(diffusers_sampler(make(), 20)[0], TARGET) < 1e-12


@finding(6, "DDPMScheduler.step forms beta_t = 1 - alphabar_t/alphabar_prev in float32 (cancellation): its law "
            "is off the float64 ancestral step by KL 1.2e-10 (n = 50)")
def test_ddpm_matches_its_ou_form_to_float64_round_off():
    sampler, _ = diffusers_sampler(DDPMScheduler(clip_sample=False), 50)
    assert gaussian_kl(ancestral_law(TARGET, sampler.schedule.state_times), diffusers_law(sampler, TARGET)) < 1e-12


@finding(7, "clip_sample=True is the default of DDPM/DDIM (and their Parallel versions) and clamps x0 to [-1, 1]: "
            "a target mean outside [-1, 1] is not sampled (documented, meant for images)")
def test_default_ddim_samples_a_mean_outside_the_unit_interval():
    sampler, grid = diffusers_sampler(DDIMScheduler(), 50)
    samples = sampler(TARGET.score, grid, 2000, 2, generator=0).samples
    assert abs(float(samples[:, 0].mean()) - 2.5) < 0.2


@finding(8, "HeunDiscreteScheduler's default betas are (0.00085, 0.012), every other class's (1e-4, 0.02): "
            "T = 6.45 instead of 10.12, prior mismatch KL 5.1e-3 instead of 1.3e-4")
def test_heun_has_the_same_default_schedule_as_the_other_schedulers():
    assert torch.equal(HeunDiscreteScheduler().betas, DDPMScheduler().betas)


@finding(9, "the final step is first order (final_sigmas_type='zero', lower_order_final): DPM-Solver++ 2M's "
            "default configuration measures order 0.73 on n = 100, 200, 500 (nominal 2; sigma_min: 2.09)")
def test_dpm_solver_2m_shows_its_order_by_default():
    ns = [100, 200, 500]
    kls = []
    for n in ns:
        sampler, grid = diffusers_sampler(DPMSolverMultistepScheduler(), n)
        law = diffusers_law(sampler, TARGET, prior=TARGET.marginal(grid.T))
        kls.append(gaussian_kl(TARGET.marginal(grid.eta), law))
    order = -np.polyfit(np.log(ns), np.log(kls), 1)[0] / 2
    assert order >= 1.5, (order, kls)


@finding(10, "leading spacing starts below the top of the schedule: DPM-Solver/UniPC n = 200 start at t = 800, "
             "DDPM/DDIM n = 13 at t = 912 (more than one stride below t = 999)")
@pytest.mark.parametrize("make, steps", [(DPMSolverMultistepScheduler, 200), (DDPMScheduler, 13)],
                         ids=["DPMSolverMultistepScheduler-200", "DDPMScheduler-13"])
def test_leading_spacing_covers_the_top_of_the_schedule(make, steps):
    scheduler = make(timestep_spacing="leading")
    scheduler.set_timesteps(steps)
    assert float(scheduler.timesteps[0]) >= 999 - math.ceil(1000 / steps)


@finding(11, "`from diffusers import *` raises AttributeError (LDMSuperResolutionPipeline) without transformers")
def test_star_import_works():
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", "from diffusers import *"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-300:]
