"""diffusers' schedulers as samplers under the contract (docs/mathematics.md §10, §11, §13).

A diffusers scheduler integrates the backward process on a discrete schedule ``alphas_cumprod``; on
the OU clock a timestep ``t`` sits at forward time ``s_t = −log ᾱ_t`` (§13). This module

- reads the OU grid a scheduler integrates on (:func:`ou_schedule`): the forward time of every
  model call as a network trained on the schedule reads its timestep, and of every state as
  ``step()`` lands it; ``T`` is the first state's time, ``η`` the last one's (0 where the schedule
  ends at ``ᾱ = 1``);
- answers the scheduler's model calls from a score through the adapters (:func:`network`): the
  ε-, x₀- or v-prediction of ``score(x, s_t)`` (:mod:`piadm_verify.scores.adapters`);
- wraps the standard denoising loop as a sampler under the contract (:class:`DiffusersSampler`,
  built by :func:`diffusers_sampler` with its :class:`~piadm_verify.core.grid.TimeGrid`), feeding
  every random draw from the run's :class:`~piadm_verify.core.noise.StepNoise`;
- writes the parallel schedulers' batch path as a chain for the project's ParaDiGMS loop
  (:class:`DiffusersChain`, driven by :func:`~piadm_verify.samplers.window.paradigms_chain`).

How each class is driven:

==================================  ======  ============================================================
class                               coords  noise of step j (only where the configuration draws any)
==================================  ======  ============================================================
DDPMScheduler, DDPMParallelScheduler VP     ``generator=noise.step_generator(j)`` (``step`` takes no vector)
DDIMScheduler, DDIMParallelScheduler VP     ``variance_noise=noise.steps(j, j+1)[0]`` (when ``eta > 0``)
EulerDiscreteScheduler               VE     ``generator=`` (only with ``s_churn > 0``)
EulerAncestralDiscreteScheduler      VE     ``generator=`` (every step)
HeunDiscreteScheduler                VE     none
DPMSolverMultistepScheduler          VP     ``variance_noise=`` (``sde-*`` algorithms)
UniPCMultistepScheduler              VP     none
==================================  ======  ============================================================

A step generator's first float64 ``(n, d)`` draw is ``noise.steps(j, j+1)[0]``, so in float64 every
scheduler meets the same Brownian path as the project's samplers on the same seed. (In float32 a
generator-fed scheduler draws torch's float32 normals from that generator: the same seed, other
values.) "VE" schedulers keep ``y = x/√ᾱ`` (``σ_VE² = 1/ᾱ − 1``) and hand the network
``scale_model_input(y) = y/√(σ_VE² + 1) = x``, the VP sample; their output is read back as
``y/√(1 + σ_last²)``.

diffusers keeps its schedule tables in float32, computes most step coefficients in float32, and
Euler, Euler-ancestral and DPM-Solver round the *sample* to float32 inside every ``step``: a float64
run of those three is affine in its inputs only to ~1e-7 (``probe_rtol``).
"""

from __future__ import annotations

import copy
import importlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..core.grid import TimeGrid
from ..oracle.probe import PROBE_RTOL, NotAffineError
from ..samplers.common import setup, start
from ..samplers.result import RoundLog, SamplerResult
from ..samplers.window import paradigms_chain, window_options
from ..scores.adapters import epsilon_from_score, v_from_score, x0_from_score

__all__ = [
    "INSTALL_HINT",
    "SchedulerKind",
    "KINDS",
    "PREDICTION_TYPES",
    "FLOAT32_STATE_RTOL",
    "require_diffusers",
    "kind_of",
    "model_time",
    "OUSchedule",
    "ou_schedule",
    "network",
    "draws_noise",
    "denoising_loop",
    "to_vp",
    "DiffusersChain",
    "DiffusersSampler",
    "diffusers_sampler",
]

INSTALL_HINT = 'pip install -e ".[diffusers]"'
FLOAT32_STATE_RTOL = 1e-5  # probe affinity tolerance for schedulers that round the sample to float32


def require_diffusers():
    """The ``diffusers`` module, imported on first use (it is an optional dependency)."""
    try:
        return importlib.import_module("diffusers")
    except ImportError as error:
        raise ImportError(f"this needs the optional dependency diffusers, which is not installed: install the "
                          f"extra with {INSTALL_HINT} (or pip install diffusers)") from error


# -- what each scheduler class is ---------------------------------------------------------------
@dataclass(frozen=True)
class SchedulerKind:
    """How a scheduler class is driven.

    ``coords``: ``"vp"`` (the sample is ``x``) or ``"ve"`` (``y = x/√ᾱ``). ``noise``: how ``step``
    takes random numbers: ``"variance_noise"`` (the standard normals themselves), ``"generator"``
    (``generator=`` only) or ``"none"``. ``float32_state``: ``step`` rounds the sample to float32.
    ``multistep``: ``step`` keeps a history between calls. ``parallel``: the class has
    ``batch_step_no_noise`` (ParaDiGMS).
    """

    coords: str
    noise: str
    float32_state: bool = False
    multistep: bool = False
    parallel: bool = False


KINDS = {
    "DDPMScheduler": SchedulerKind("vp", "generator"),
    "DDIMScheduler": SchedulerKind("vp", "variance_noise"),
    "EulerDiscreteScheduler": SchedulerKind("ve", "generator", float32_state=True),
    "EulerAncestralDiscreteScheduler": SchedulerKind("ve", "generator", float32_state=True),
    "HeunDiscreteScheduler": SchedulerKind("ve", "none", multistep=True),
    "DPMSolverMultistepScheduler": SchedulerKind("vp", "variance_noise", float32_state=True, multistep=True),
    "UniPCMultistepScheduler": SchedulerKind("vp", "none", multistep=True),
    "DDPMParallelScheduler": SchedulerKind("vp", "generator", parallel=True),
    "DDIMParallelScheduler": SchedulerKind("vp", "variance_noise", parallel=True),
}

PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")


def kind_of(scheduler) -> SchedulerKind:
    """The :class:`SchedulerKind` of a supported scheduler instance (``ValueError`` naming any other class)."""
    name = type(scheduler).__name__
    if name not in KINDS:
        raise ValueError(f"unsupported scheduler class {name}: diffusers_sampler drives {', '.join(KINDS)}")
    return KINDS[name]


def draws_noise(scheduler, step_options: dict) -> bool:
    """Whether ``step`` draws (or takes) random numbers in this configuration."""
    name = type(scheduler).__name__
    if name.startswith("DDPM") or name == "EulerAncestralDiscreteScheduler":
        return True
    if name.startswith("DDIM"):
        return float(step_options.get("eta", 0.0)) > 0
    if name == "EulerDiscreteScheduler":
        return float(step_options.get("s_churn", 0.0)) > 0
    if name == "DPMSolverMultistepScheduler":
        return scheduler.config.algorithm_type.startswith("sde")
    return False


# -- the OU clock of a schedule ------------------------------------------------------------------
def _alphas_cumprod(scheduler) -> np.ndarray:
    """``ᾱ_t`` as float64 (diffusers stores float32; the float32 values are kept exactly)."""
    return scheduler.alphas_cumprod.detach().to(torch.float64).cpu().numpy()


def _sigmas(scheduler) -> np.ndarray:
    return scheduler.sigmas.detach().to(torch.float64).cpu().numpy()


def model_time(scheduler, t, *, out_of_range: str = "raise") -> np.ndarray:
    """Forward time ``s`` of the noise level a network trained on ``scheduler``'s schedule reads in timestep ``t``.

    Integer ``t``: ``s_t = −log ᾱ_t`` (§13). Fractional ``t`` (Euler/Heun ``linspace`` spacing): the
    scheduler's own interpolation ``σ_VE(t) = interp(t, [0 … N−1], √((1−ᾱ)/ᾱ))``, linear in ``σ_VE``,
    then ``s = log(1 + σ_VE²)``. A timestep outside ``[0, N−1]`` (diffusers can make ``t = −1``) has
    no noise level: ``ValueError``, or with ``out_of_range="clamp"`` the nearest end of the range.
    """
    if out_of_range not in ("raise", "clamp"):
        raise ValueError(f"out_of_range must be 'raise' or 'clamp', got {out_of_range!r}")
    a = _alphas_cumprod(scheduler)
    n_train = a.shape[0]
    tt = np.asarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    if not np.isfinite(tt).all():
        raise ValueError(f"timestep must be finite, got {tt}")
    outside = (tt < 0) | (tt > n_train - 1)
    if outside.any():
        if out_of_range == "raise":
            raise ValueError(f"timestep {tt[outside].ravel()[0]:g} is outside the training range [0, {n_train - 1}]: "
                             f"a network trained on this schedule has no noise level for it")
        tt = np.clip(tt, 0, n_train - 1)
    integer = tt == np.round(tt)
    s_int = -np.log(a[np.round(tt).astype(np.int64)])
    s_frac = np.log1p(np.interp(tt, np.arange(n_train), np.sqrt((1.0 - a) / a)) ** 2)
    return np.where(integer, s_int, s_frac)


@dataclass(frozen=True)
class OUSchedule:
    """The OU grid a scheduler integrates on after ``set_timesteps(num_inference_steps)``.

    ``timesteps``: the model calls' timesteps in call order (Heun repeats each interior one).
    ``eval_times``: the forward time of each call as the network reads its timestep (:func:`model_time`,
    out-of-range timesteps clamped). ``scheduler_eval_times``: the forward time the scheduler itself
    assumes at each call (its ``sigmas`` or ``alphas_cumprod[t]``). ``state_times``: forward times
    of the states ``x_0 … x_J`` as ``step`` lands them (``T = state_times[0]``, ``η = state_times[-1]``).
    ``evaluation_gap``: the largest ``|Δs|`` between the time a state sits at and the time it is
    next evaluated at (0 when the scheduler lands where it evaluates next). ``out_of_range``: the
    timesteps outside ``[0, N−1]``. ``notes``: every quirk of the configuration, in words.
    """

    timesteps: np.ndarray
    eval_times: np.ndarray
    scheduler_eval_times: np.ndarray
    state_times: np.ndarray
    coords: str
    init_noise_sigma: float
    num_train_timesteps: int
    evaluation_gap: float
    out_of_range: tuple
    notes: tuple

    @property
    def T(self) -> float:
        return float(self.state_times[0])

    @property
    def eta(self) -> float:
        return float(self.state_times[-1])

    @property
    def steps(self) -> int:
        """``J``: the state changes (Heun: ``n``, with ``2n − 1`` model calls)."""
        return len(self.state_times) - 1

    @property
    def calls(self) -> int:
        return len(self.timesteps)


def _positive_steps(num_inference_steps) -> int:
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, (int, np.integer)) \
            or num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}")
    return int(num_inference_steps)


def ou_schedule(scheduler, num_inference_steps: int) -> OUSchedule:
    """The OU grid of ``scheduler`` with ``num_inference_steps`` (on a copy; ``scheduler`` is untouched).

    Per class (docs/mathematics.md §13):

    - DDPM(-Parallel): ``step`` goes from ``t_k`` to the next timestep (``previous_timestep``), the
      last step to ``ᾱ = 1``: ``η = 0``.
    - DDIM(-Parallel): ``step`` lands at ``t − ⌊N/n⌋`` whatever the spacing (below 0:
      ``final_alpha_cumprod``, 1 with ``set_alpha_to_one``, else ``ᾱ_0``). With ``linspace``, or
      ``trailing`` with ``n ∤ N``, that is not the next timestep: the state is then evaluated at
      another noise level than the one it sits at (``evaluation_gap``), and the last landing may be
      ``ᾱ_0`` even with ``set_alpha_to_one``.
    - Euler, Euler-ancestral, DPM-Solver, UniPC: states at the ``sigmas`` table, ``s = log(1 + σ²)``.
    - Heun: ``sigmas = [σ_0, σ_1, σ_1, …, σ_{n−1}, σ_{n−1}, 0]``: ``2n − 1`` calls, ``n`` state
      changes (``n − 1`` Heun steps and a last Euler step); the states are ``[σ_0, …, σ_{n−1}, 0]``.
    """
    kind = kind_of(scheduler)
    num_inference_steps = _positive_steps(num_inference_steps)
    sch = copy.deepcopy(scheduler)
    sch.set_timesteps(num_inference_steps)
    name = type(sch).__name__
    a = _alphas_cumprod(sch)
    n_train = a.shape[0]
    ts = sch.timesteps.detach().to(torch.float64).cpu().numpy()
    notes = []
    heun = name == "HeunDiscreteScheduler"
    expected_calls = 2 * num_inference_steps - 1 if heun else num_inference_steps
    if len(ts) != expected_calls:
        notes.append(f"set_timesteps({num_inference_steps}) made {len(ts)} model calls, not {expected_calls}")
    outside = tuple(float(t) for t in ts[(ts < 0) | (ts > n_train - 1)])
    if outside:
        notes.append(f"timesteps outside [0, {n_train - 1}]: {list(outside)}")
    eval_times = model_time(sch, ts, out_of_range="clamp")

    def s_of(alpha):
        return float(-math.log(alpha)) if alpha < 1 else 0.0

    if name.startswith("DDPM"):
        sched_eval = np.array([s_of(a[int(t)]) for t in ts])  # Python indexing: t = −1 reads ᾱ_{N−1}
        landing = [s_of(a[int(ts[k + 1])]) if k + 1 < len(ts) and ts[k + 1] >= 0 else 0.0 for k in range(len(ts))]
        state_times = np.array([sched_eval[0]] + landing)
    elif name.startswith("DDIM"):
        ratio = n_train // sch.num_inference_steps
        final = float(sch.final_alpha_cumprod)
        sched_eval = np.array([s_of(a[int(t)]) for t in ts])
        landing = [s_of(a[int(t) - ratio]) if int(t) - ratio >= 0 else s_of(final) for t in ts]
        state_times = np.array([sched_eval[0]] + landing)
    elif heun:
        sig = _sigmas(sch)
        sched_eval = np.log1p(sig[:-1] ** 2)
        state_times = np.log1p(np.concatenate([sig[:1], sig[1::2]]) ** 2)
    else:
        sig = _sigmas(sch)
        sched_eval = np.log1p(sig[:-1] ** 2)
        state_times = np.log1p(sig ** 2)
    first_calls = sched_eval[0::2] if heun else sched_eval
    gaps = np.abs(first_calls[1:] - state_times[1:len(first_calls)])
    gap = float(gaps.max()) if len(gaps) else 0.0
    if gap > 1e-6 * max(1.0, float(state_times[0])):
        notes.append(f"{int((gaps > 1e-6).sum())} of {len(gaps)} states are evaluated at a noise level other than the "
                     f"one step() lands them at (max |Δs| = {gap:.3g})")
    else:
        gap = 0.0
    init = float(sch.init_noise_sigma)
    if kind.coords == "ve":
        want = math.sqrt(_sigmas(sch).max() ** 2 + 1.0)
        if abs(init - want) > 1e-6 * want:
            notes.append(f"init_noise_sigma = σ_max = {init:.6g}, not √(σ_max² + 1) = {want:.6g}: x_T ~ N(0, I) "
                         f"enters as VP variance {init ** 2 / want ** 2:.8f}")
    return OUSchedule(timesteps=ts, eval_times=eval_times, scheduler_eval_times=sched_eval, state_times=state_times,
                      coords=kind.coords, init_noise_sigma=init, num_train_timesteps=n_train, evaluation_gap=gap,
                      out_of_range=outside, notes=tuple(notes))


# -- the network a scheduler calls ------------------------------------------------------------------
_CONVERSIONS = {"epsilon": epsilon_from_score, "sample": x0_from_score, "v_prediction": v_from_score}


def network(score, scheduler, *, out_of_range: str = "raise"):
    """The model ``net(x, t)`` that ``scheduler`` calls, answered from ``score(x, s)``.

    ``x`` (rows, d) is the model input (the VP sample, also for VE schedulers), ``t`` a timestep or
    one per row; ``s_t`` is :func:`model_time`. The output is the scheduler's ``prediction_type``
    of the score (docs/mathematics.md §13): ``−σ(s_t) score`` (``epsilon``), Tweedie's
    ``(x + σ² score)/√ᾱ`` (``sample``) or ``−(σ/√ᾱ)(x + score)`` (``v_prediction``).
    """
    prediction = scheduler.config.prediction_type
    if prediction not in _CONVERSIONS:
        raise ValueError(f"unsupported prediction_type {prediction!r}: diffusers_sampler answers "
                         f"{', '.join(PREDICTION_TYPES)}")
    convert = _CONVERSIONS[prediction](score)

    def net(x: torch.Tensor, t) -> torch.Tensor:
        s = torch.as_tensor(model_time(scheduler, t, out_of_range=out_of_range), dtype=x.dtype, device=x.device)
        return convert(x, s)

    return net


# -- the denoising loop -------------------------------------------------------------------------------
def denoising_loop(sch, net, sample: torch.Tensor, step_options: dict, noise_for=None, log: RoundLog | None = None):
    """The standard loop on a scheduler ``sch`` after ``set_timesteps``: per call k,
    ``x_in = scale_model_input(x, t_k)``, ``out = net(x_in, t_k)``, ``x = step(out, t_k, x, …).prev_sample``.

    ``noise_for(k)`` returns the noise keywords of call k (``{}``, ``{"variance_noise": z}`` or
    ``{"generator": g}``); None for a configuration that draws nothing. Each call is one round of
    one point on ``log``. Returns the last sample, in the scheduler's coordinates.
    """
    for k, t in enumerate(sch.timesteps):
        x_in = sch.scale_model_input(sample, t)
        out = net(x_in, t)
        if log is not None:
            log.round(0, k, 1, stage="step")
        extra = {} if noise_for is None else noise_for(k)
        sample = sch.step(out, t, sample, **step_options, **extra).prev_sample
    return sample


def to_vp(sample: torch.Tensor, sch, kind: SchedulerKind) -> torch.Tensor:
    """A final sample in the scheduler's coordinates as the VP sample (VE: ``y/√(1 + σ_last²)``)."""
    if kind.coords == "vp":
        return sample
    sigma_last = float(sch.sigmas[-1])
    return sample / math.sqrt(1.0 + sigma_last * sigma_last)


# -- the parallel schedulers' batch path (ParaDiGMS, §11) ------------------------------------------------
class DiffusersChain:
    """The chain ``x_{j+1} = Φ_j(x_j) + σ_j z_j`` of a DDPM/DDIM-Parallel scheduler's batch path, in the
    interface of :func:`~piadm_verify.samplers.window.paradigms_chain` (docs/mathematics.md §11).

    ``drift(x, j)``: ``batch_step_no_noise`` of the window states x (p, n, d) at the timesteps
    ``t_j`` (j (p,)), after ONE batched network call on the p·n rows. ``noise_std``: σ_j as
    ``step()`` scales its noise, ``√_get_variance(t_j)`` for DDPM (0 at ``t_j = 0``, where ``step()``
    adds none) and 0 for DDIM (whose batch path takes ``eta = 0`` only). ``tolerance_variance``:
    σ̃²_j, the scheduler's posterior variance ``_get_variance(t_j)`` (floored at 1e-20, as
    diffusers clamps it), as the ParaDiGMS pipeline normalises its errors (for DDIM too).
    ``scheduler``: after ``set_timesteps``; ``net``: :func:`network`.
    """

    def __init__(self, scheduler, net):
        name = type(scheduler).__name__
        if name not in ("DDPMParallelScheduler", "DDIMParallelScheduler"):
            raise ValueError(f"the ParaDiGMS chain needs DDPMParallelScheduler or DDIMParallelScheduler, got {name}")
        if scheduler.num_inference_steps is None:
            raise ValueError("call scheduler.set_timesteps(num_inference_steps) first")
        self.scheduler, self.net = scheduler, net
        timesteps = [int(t) for t in scheduler.timesteps]
        self.steps = len(timesteps)
        variance = [scheduler._get_variance(t) for t in timesteps]
        if name == "DDPMParallelScheduler":
            self.noise_std = np.array([float(v ** 0.5) if t > 0 else 0.0 for v, t in zip(variance, timesteps)])
        else:
            self.noise_std = np.zeros(self.steps)
        self.tolerance_variance = np.maximum(np.array([float(v) for v in variance]), 1e-20)

    def drift(self, x: torch.Tensor, j: np.ndarray) -> torch.Tensor:
        """``Φ_j(x_j)`` for window states x (p, n, d) and step indices j (p,), one batched network call."""
        p, n, d = x.shape
        rows = self.scheduler.timesteps[torch.as_tensor(np.asarray(j), dtype=torch.long)].repeat_interleave(n)
        flat = x.reshape(p * n, d)
        out = self.net(flat, rows)
        return self.scheduler.batch_step_no_noise(model_output=out, timesteps=rows, sample=flat).reshape(p, n, d)


# -- the sampler ------------------------------------------------------------------------------------------
def _grid_of(schedule: OUSchedule, name: str) -> tuple[TimeGrid, np.ndarray]:
    """One block whose sub-grid is the states' backward times ``T − s_k``, and the grid step of each state
    change (−1 for a *stationary* one, which lands where it started: DDIM's last step with
    ``set_alpha_to_one=False`` and ``leading`` spacing goes from ``ᾱ_0`` to ``ᾱ_0``)."""
    s = schedule.state_times
    change = np.diff(s)
    if np.any(change > 0):
        k = int(np.nonzero(change > 0)[0][0])
        raise ValueError(f"{name}: step {k} goes from forward time {s[k]:.6g} up to {s[k + 1]:.6g}: its states are not "
                         f"a backward grid ({'; '.join(schedule.notes) or 'no note'})")
    moving = change < 0
    if not moving.any():
        raise ValueError(f"{name}: no step changes the noise level")
    step_of_change = np.where(moving, np.cumsum(moving) - 1, -1)
    kept = np.concatenate([[s[0]], s[1:][moving]])
    T, eta = float(kept[0]), float(kept[-1])
    return TimeGrid.from_arrays(T, eta, [0.0, T - eta], [T - kept]), step_of_change


class DiffusersSampler:
    """A diffusers scheduler as a sampler under the contract (docs/mathematics.md §10); built by
    :func:`diffusers_sampler`, which documents the call.

    Attributes: ``scheduler`` (a private copy), ``num_inference_steps``, ``step_options`` (passed
    to every ``step``), ``kind`` (:class:`SchedulerKind`), ``schedule`` (:class:`OUSchedule`),
    ``grid`` (the :class:`TimeGrid` of the states), ``noise_input`` (how this configuration takes
    noise: ``"variance_noise"``, ``"generator"`` or ``"none"``), ``probe_rtol`` (the affinity
    tolerance for :func:`~piadm_verify.oracle.probe.exact_law_of`: float64 round-off, or
    :data:`FLOAT32_STATE_RTOL` for a scheduler that rounds its state to float32).
    """

    def __init__(self, scheduler, num_inference_steps: int, step_options: dict | None = None):
        self.kind = kind_of(scheduler)
        self.name = type(scheduler).__name__
        self.num_inference_steps = _positive_steps(num_inference_steps)
        config = scheduler.config
        if config.get("prediction_type", "epsilon") not in PREDICTION_TYPES:
            raise ValueError(f"{self.name}: unsupported prediction_type {config.prediction_type!r}: diffusers_sampler "
                             f"answers {', '.join(PREDICTION_TYPES)}")
        if config.get("variance_type") in ("learned", "learned_range"):
            raise ValueError(f"{self.name}: unsupported variance_type {config.variance_type!r}: an analytic score "
                             f"predicts no variance")
        if config.get("timestep_type", "discrete") != "discrete":
            raise ValueError(f"{self.name}: unsupported timestep_type {config.timestep_type!r}: the network reads "
                             f"discrete timesteps of the training schedule")
        if step_options is not None and not isinstance(step_options, dict):
            raise TypeError(f"step_options must be a dict of step() keywords or None, got {type(step_options).__name__}")
        self.step_options = dict(step_options or {})
        for taken in ("generator", "variance_noise", "return_dict"):
            if taken in self.step_options:
                raise ValueError(f"step_options must not set {taken!r}: the sampler supplies it")
        self.scheduler = copy.deepcopy(scheduler)
        self.schedule = ou_schedule(self.scheduler, self.num_inference_steps)
        if self.schedule.out_of_range:
            raise ValueError(f"{self.name} with num_inference_steps={self.num_inference_steps} calls the model at "
                             f"timesteps {list(self.schedule.out_of_range)} outside [0, "
                             f"{self.schedule.num_train_timesteps - 1}], which have no noise level")
        self.grid, self._step_of_change = _grid_of(self.schedule, self.name)
        draws = draws_noise(self.scheduler, self.step_options)
        self.noise_input = self.kind.noise if draws else "none"
        if self.noise_input == "generator" and np.any(self._step_of_change < 0):
            raise ValueError(f"{self.name}: a stationary step that draws from a generator has no noise of its own")
        self.probe_rtol = FLOAT32_STATE_RTOL if self.kind.float32_state else PROBE_RTOL

    def __repr__(self) -> str:
        return f"DiffusersSampler({self.name}, num_inference_steps={self.num_inference_steps})"

    def fresh_scheduler(self, device=None):
        """A copy of the scheduler after ``set_timesteps`` (multistep classes keep state: one per run)."""
        sch = copy.deepcopy(self.scheduler)
        sch.set_timesteps(self.num_inference_steps, device=device)
        return sch

    def _check_grid(self, grid) -> None:
        if not isinstance(grid, TimeGrid):
            raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
        same = grid.total_steps == self.grid.total_steps and abs(grid.T - self.grid.T) <= 1e-12 * self.grid.T \
            and abs(grid.eta - self.grid.eta) <= 1e-12 * max(1.0, self.grid.eta)
        if not same:
            raise ValueError(f"grid must be the grid diffusers_sampler returned for this scheduler (T = {self.grid.T:.6g}, "
                             f"η = {self.grid.eta:.3g}, {self.grid.total_steps} steps), got T = {grid.T:.6g}, "
                             f"η = {grid.eta:.3g}, {grid.total_steps} steps")

    def _noise_for(self, noise):
        """``noise_for(k)``: the noise keywords of model call k (single-step classes: call k is state
        change k). A stationary step's noise is zeros: its standard deviation is exactly 0 (no noise
        level to cross), so it takes no step of the grid."""
        if self.noise_input == "none":
            return None
        step_of = self._step_of_change
        if self.noise_input == "variance_noise":
            def variance_noise(k):
                j = int(step_of[k])
                z = noise.steps(j, j + 1)[0] if j >= 0 else torch.zeros(noise.n, noise.dim, dtype=noise.dtype,
                                                                       device=noise.device)
                return {"variance_noise": z}
            return variance_noise
        step_generator = getattr(noise, "step_generator", None)
        if not callable(step_generator):
            raise NotAffineError(f"{self.name}.step draws its own noise from generator= (it takes no noise vector), "
                                 f"so it needs noise.step_generator(j) (StepNoise has it); its exact law comes by "
                                 f"propagation (piadm_verify.external.diffusers_law), not by probing")
        return lambda k: {"generator": step_generator(int(step_of[k]))}

    @torch.no_grad()
    def __call__(self, score, grid: TimeGrid, n: int | None = None, dim: int | None = None, *, x0=None,
                 generator=None, noise=None, dtype=None, device=None, callback=None, progress: bool = False,
                 prior=None, window: int | None = None, tol: float | None = None, stride: int | None = None,
                 max_sweeps: int | None = None) -> SamplerResult:
        self._check_grid(grid)
        if window is None and (tol is not None or stride is not None or max_sweeps is not None):
            raise ValueError("tol, stride and max_sweeps belong to the ParaDiGMS path: pass window= as well")
        env = setup(score, grid, n, dim, x0, generator, dtype, device, None, noise)
        if prior is not None and env.x0 is not None:
            raise ValueError("pass either x0 (the initial samples) or prior (the law of the initial draw), not both")
        x_T = start(env)
        if prior is not None:
            x_T = _from_prior(prior, x_T)
        net = network(env.score, self.scheduler)
        sch = self.fresh_scheduler(device=env.noise.device)
        sample = x_T * float(sch.init_noise_sigma)
        if window is None:
            with RoundLog(self.name, self.schedule.calls, callback, progress) as log:
                out = denoising_loop(sch, net, sample, self.step_options, self._noise_for(env.noise), log)
                return log.result(to_vp(out, sch, self.kind).to(x_T.dtype))
        return self._paradigms(sch, net, sample, env.noise, window, tol, stride, max_sweeps, callback, progress)

    def _paradigms(self, sch, net, sample, noise, window, tol, stride, max_sweeps, callback, progress):
        if not self.kind.parallel:
            raise ValueError(f"window= runs ParaDiGMS on the batch path, which {self.name} does not have (use "
                             f"DDPMParallelScheduler or DDIMParallelScheduler)")
        if float(self.step_options.get("eta", 0.0)) != 0.0:
            raise ValueError(f"{self.name}.batch_step_no_noise takes eta = 0 only, got step_options eta = "
                             f"{self.step_options['eta']!r}")
        window, tol, stride, max_sweeps = window_options(window, tol, stride, max_sweeps)
        chain = DiffusersChain(sch, net)
        with RoundLog(f"{self.name} (ParaDiGMS)", None, callback, progress) as log:
            run = paradigms_chain(chain, sample, noise, window, tol, stride, max_sweeps, log, sampler=self.name)
            return log.result(run.value.to(sample.dtype), iterations=run.sweeps, converged=run.converged)


def _from_prior(prior, z: torch.Tensor) -> torch.Tensor:
    """``x_T = m + L z`` for the law ``prior = N(m, L Lᵀ)`` (an ``analytic.Gaussian``) of the initial draw."""
    mean = getattr(prior, "mean", None)
    cov = getattr(prior, "cov", None)
    if not isinstance(mean, torch.Tensor) or not isinstance(cov, torch.Tensor):
        raise TypeError(f"prior must be an analytic.Gaussian (the law of x_T), got {type(prior).__name__}")
    if mean.shape != (z.shape[1],):
        raise ValueError(f"prior has dimension {mean.shape[0]}, the samples {z.shape[1]}")
    L = torch.linalg.cholesky(cov.to(dtype=torch.float64, device=z.device))
    return (mean.to(dtype=torch.float64, device=z.device) + z.to(torch.float64) @ L.T).to(z.dtype)


def diffusers_sampler(scheduler, num_inference_steps: int = 50, *, step_options: dict | None = None):
    """A diffusers scheduler as a sampler on the OU grid its timesteps define: ``(sampler, grid)``.

    ``scheduler``: an instance of one of :data:`KINDS`' classes (its configuration as constructed;
    it is copied, never modified). ``num_inference_steps``: ``n`` (≥ 1). ``step_options``: keywords
    for every ``step`` call, e.g. ``{"eta": 1.0}`` for DDIM. ``grid`` is a one-block
    :class:`~piadm_verify.core.grid.TimeGrid` on the states' forward times (``T`` of the first,
    ``η`` of the last, possibly 0; :func:`ou_schedule`), with one step per state change (a stationary
    step, which lands where it started, takes none).

    The sampler follows the contract (docs/mathematics.md §10)::

        sampler(score, grid, n, dim, *, x0=None, generator=None, noise=None, dtype=None, device=None,
                callback=None, progress=False, prior=None, window=None, tol=None, stride=None,
                max_sweeps=None) -> SamplerResult

    It answers the scheduler's model calls from ``score`` (which may carry injected errors) through
    the adapters (:func:`network`), starts from ``x_T = noise.initial()`` (or ``x0``; or ``m + L z``
    with ``prior = N(m, L Lᵀ)``, e.g. the exact ``p_T``) scaled by ``init_noise_sigma``, feeds the
    noise of step j from the run's ``StepNoise`` (``variance_noise=`` where ``step`` accepts it,
    else ``generator=noise.step_generator(j)``) and returns the output in VP coordinates at ``η``.
    ``rounds = score_evals =`` the model calls, ``peak_points = 1``. With ``window=p`` (the
    DDPM/DDIM-Parallel classes) it runs ParaDiGMS (:func:`~piadm_verify.samplers.window.paradigms_chain`)
    on the batch path instead (:class:`DiffusersChain`; ``tol`` or the fixed ``stride``,
    ``max_sweeps`` as in :func:`~piadm_verify.samplers.window.paradigms`): ``rounds =`` sweeps.

    Raises ImportError naming the extra when diffusers is not installed; ValueError for an
    unsupported class, ``num_inference_steps < 1``, an unsupported ``prediction_type``,
    ``variance_type`` or ``timestep_type``, and a schedule whose timesteps leave the training
    range or whose states do not descend in noise level.
    """
    require_diffusers()
    sampler = DiffusersSampler(scheduler, num_inference_steps, step_options)
    return sampler, sampler.grid
