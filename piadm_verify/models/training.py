"""Denoising score matching of a :class:`~piadm_verify.models.network.ScoreNetwork` on an analytic
target (docs/mathematics.md §14).

The loss is the ε-loss ``E_{s, x_0, ε} w(s) ‖ε_θ(√ᾱ x_0 + σ ε, s) − ε‖²`` with ``ᾱ(s) = e^{−s}``,
``σ(s)² = 1 − e^{−s}``, ``x_0 ~ p_0`` and ``ε ~ N(0, I)``, with ``w ≡ 1`` and ``s`` drawn on
``[η, T]`` with density ``∝ 1/σ(s)²`` (log-uniform for small ``s``, uniform for large ``s``).

Why this time law: ``E[ε | x_s] = −σ ∇log p_s``, so the loss exceeds its minimum by
``E_s E_x ‖ε_θ − E[ε | x]‖² = E_s σ² E_x ‖s_θ − ∇log p_s‖²``. With ``s`` of density ``1/(Z σ(s)²)``,
``Z = log(e^T − 1) − log(e^η − 1)``, the excess is ``(1/Z) ∫_η^T E_{p_s} ‖s_θ − ∇log p_s‖² ds``: the
continuous-time ``δ₂²`` of §14 divided by ``Z``. Training minimises the very quantity the SDE
theorem is stated in. The draw is exact: ``s = log(1 + e^u)`` with ``u`` uniform on
``[log(e^η − 1), log(e^T − 1)]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import torch
from tqdm import tqdm

from analytic import Gaussian, GaussianMixture
from analytic.ou import ou_mean_factor, ou_noise_variance

from ..core.checks import positive_int, positive_number
from ..core.noise import make_generator
from .network import FREQUENCIES, ScoreNetwork

__all__ = ["train_score", "TrainingError", "sample_times", "time_normaliser"]


class TrainingError(FloatingPointError):
    """The training loss stopped being finite; ``step`` is the (0-based) step at which it happened."""

    def __init__(self, step: int, loss: float):
        self.step, self.loss = step, loss
        super().__init__(f"train_score: the loss became {loss} at step {step} (lower lr, or check the target)")


def check_target(target) -> None:
    """An analytic target (``analytic.Gaussian`` or ``analytic.GaussianMixture``), else a TypeError."""
    if not isinstance(target, (Gaussian, GaussianMixture)):
        raise TypeError("target must be an analytic target (analytic.Gaussian or analytic.GaussianMixture), "
                        f"got {type(target).__name__}")


def _check_horizon(eta, T) -> tuple[float, float]:
    eta, T = positive_number(eta, "eta"), positive_number(T, "T")
    if not eta < T:
        raise ValueError(f"eta must be < T, got eta={eta!r}, T={T!r}")
    return eta, T


def time_normaliser(eta: float, T: float) -> float:
    """``Z = ∫_η^T ds/σ(s)² = log(e^T − 1) − log(e^η − 1)``: δ₂² ≈ Z · (loss − its minimum)."""
    return math.log(math.expm1(T)) - math.log(math.expm1(eta))


def sample_times(n: int, eta: float, T: float, generator=None, dtype=torch.float64) -> torch.Tensor:
    """``n`` forward times on ``[η, T]`` with density ``1/(Z σ(s)²)``: ``s = log(1 + e^u)``,
    ``u ~ U[log(e^η − 1), log(e^T − 1)]`` (the inverse of the CDF ``log(e^s − 1)``)."""
    low, high = math.log(math.expm1(eta)), math.log(math.expm1(T))
    u = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    return torch.nn.functional.softplus(u).clamp(eta, T).to(dtype)


def _initialise(net: ScoreNetwork, generator: torch.Generator) -> None:
    """PyTorch's default ``Linear`` initialisation (uniform in ±1/√fan_in), drawn from ``generator``
    so that a seed fixes the network; the output layer starts at zero (ε̂ ≡ 0, the score of N(0, I)
    scaled by σ², a calm start)."""
    with torch.no_grad():
        for layer in net.hidden:
            bound = 1.0 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                p.copy_((2 * torch.rand(p.shape, generator=generator, dtype=torch.float64) - 1) * bound)
        net.output.weight.zero_()
        net.output.bias.zero_()


def train_score(
    target,
    *,
    width: int = 32,
    depth: int = 2,
    steps: int = 3000,
    batch: int = 256,
    lr: float = 1e-2,
    eta: float = 1e-3,
    T: float = 10.0,
    frequencies=FREQUENCIES,
    generator=0,
    dtype: torch.dtype = torch.float32,
    device=None,
    callback: Callable[[int, float], None] | None = None,
    progress: bool = False,
) -> ScoreNetwork:
    """Train an ε-prediction :class:`~piadm_verify.models.network.ScoreNetwork` on ``target`` by
    denoising score matching (docs/mathematics.md §14; the loss and the time law in the module
    docstring); returns it in evaluation mode, callable as ``score(x, s) = −ε̂/σ``.

    Parameters
    ----------
    target : ``analytic.Gaussian`` or ``analytic.GaussianMixture``: the law ``p_0`` whose samples train it.
    width, depth : the MLP's hidden width and number of hidden layers (the defaults are the committed
        ladder's: 32 and 2, with lr 1e-2 and batch 256; 3000 steps take ≈ 5 s on one core).
    steps, batch : Adam steps, and fresh ``(x_0, ε, s)`` draws per step (the target is analytic:
        every batch is new data).
    lr : Adam's learning rate, decayed to 0 along a cosine over the steps.
    eta, T : the training times ``s ∈ [η, T]`` (match the sampler's grid).
    frequencies : of the time embedding (see :mod:`piadm_verify.models.network`).
    generator : int seed or CPU ``torch.Generator``: the initial weights and every draw come from it
        (drawn on the CPU in float64, then cast), so a seed fixes the network on the CPU, and the
        data are the same on any device.
    dtype, device : float32 (default) or float64; CPU unless a device (e.g. CUDA) is given.
    callback : ``callback(step, loss)`` after every step.
    progress : a tqdm bar over the steps on stderr (off by default).

    The network's ``metadata`` records the settings, the final loss (mean of the last 5% of steps)
    and the time normaliser ``Z`` (``δ₂² ≈ Z·(loss − min loss)``). A loss that stops being finite
    raises :class:`TrainingError` naming the step.
    """
    check_target(target)
    steps, batch = positive_int(steps, "steps"), positive_int(batch, "batch")
    lr = positive_number(lr, "lr")
    eta, T = _check_horizon(eta, T)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if isinstance(generator, torch.Generator) and generator.device.type != "cpu":
        raise ValueError("generator must be a CPU torch.Generator (or an int seed): the draws are made on the CPU")
    g = make_generator(generator)
    if g is None:
        raise ValueError("generator must be given (an int seed or a torch.Generator): training must be reproducible")
    net = ScoreNetwork(target.dim, width, depth, frequencies)
    _initialise(net, g)
    device = torch.device(device) if device is not None else torch.device("cpu")
    net = net.to(dtype=dtype, device=device).train()
    source = target.to(dtype=torch.float64, device="cpu")
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: 0.5 * (1.0 + math.cos(math.pi * k / steps)))
    tail, tail_sum = max(1, steps // 20), 0.0
    for step in tqdm(range(steps), desc="train_score", unit="step", disable=not progress, file=sys.stderr, leave=False):
        x0 = source.sample(batch, 0.0, generator=g)
        noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
        s = sample_times(batch, eta, T, g)
        xs = ou_mean_factor(s)[:, None] * x0 + ou_noise_variance(s).sqrt()[:, None] * noise
        xs, noise, s = (a.to(dtype=dtype, device=device) for a in (xs, noise, s))
        loss = (net.epsilon(xs, s) - noise).pow(2).sum(-1).mean()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(step, value)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step >= steps - tail:
            tail_sum += value
        if callback is not None:
            callback(step, value)
    net.metadata = {"target": repr(target), "width": width, "depth": depth, "steps": steps, "batch": batch, "lr": lr,
                    "eta": eta, "T": T, "seed": int(g.initial_seed()), "dtype": str(dtype).removeprefix("torch."),
                    "final_loss": tail_sum / tail, "time_normaliser": time_normaliser(eta, T)}
    return net.eval()
