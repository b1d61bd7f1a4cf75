"""Conversions between a score and the parametrisations real diffusion models use (docs/mathematics.md §13).

Everything sits on the OU clock of docs/mathematics.md §1: forward time ``s``, ``ᾱ(s) = e^{-s}``,
``σ(s)² = 1 - e^{-s}`` and ``x_s = √ᾱ x_0 + σ ε`` with ``ε ~ N(0, I)``. A *model* here is any
callable ``f(x, s)`` on that clock (``x`` of shape ``(..., d)``, ``s`` a number or a tensor
broadcastable to ``x.shape[:-1]``), as is a *score* ``score(x, s) ≈ ∇log p_s(x)``.

- ε-prediction ``ε̂ ≈ E[ε | x_s] = -σ ∇log p_s``:          ``score = -ε̂ / σ``;
- x₀-prediction ``x̂₀ ≈ E[x_0 | x_s]`` (Tweedie):           ``score = (√ᾱ x̂₀ - x) / σ²``,
  inverse ``x̂₀ = (x + σ² score) / √ᾱ``;
- v-prediction ``v = √ᾱ ε - σ x_0``:                        ``score = -(σ x + √ᾱ v) / σ``,
  inverse ``v̂ = -(σ / √ᾱ)(x + score)`` (using ``ᾱ + σ² = 1``);
- Karras / VE denoiser: ``σ_VE² = e^{s} - 1``, ``y = x / √ᾱ``,
  ``D(y, σ_VE) = y + σ_VE² √ᾱ score(√ᾱ y, s)``, inverse
  ``score(x, s) = (D(x / √ᾱ, σ_VE) - x / √ᾱ) / (σ_VE² √ᾱ)``.

Where a formula divides by ``σ`` (or ``σ_VE``) the time must be ``s > 0``: ``ε̂`` and ``v̂`` are
not identifiable at ``s = 0`` (``x_0`` carries no noise), so the conversions refuse ``s <= 0``
with a ``ValueError`` instead of returning NaN or a silent zero. ``x0_from_score`` and
``denoiser_from_score`` accept ``s = 0`` / ``σ_VE = 0`` (both are the identity there).
All functions are pure: they return new callables and never modify their arguments.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = [
    "score_from_epsilon",
    "score_from_x0",
    "score_from_v",
    "epsilon_from_score",
    "x0_from_score",
    "v_from_score",
    "ou_times",
    "denoiser_from_score",
    "score_from_denoiser",
]

Model = Callable[[torch.Tensor, object], torch.Tensor]


# -- argument checks --------------------------------------------------------------------------
def _check_callable(f, name: str):
    if not callable(f):
        raise TypeError(f"{name} must be callable as {name}(x, s), got {type(f).__name__}")
    return f


def _check_x(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (..., d), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating point, got {x.dtype}")
    if x.dim() == 0:
        raise ValueError("x must have shape (..., d) with at least one dimension, got a scalar")
    return x


def _time(s, x: torch.Tensor, *, positive: bool, name: str = "s", what: str = "a forward time") -> torch.Tensor:
    """``s`` as a tensor of ``x``'s dtype and device with a trailing axis for broadcasting.

    Checked: finite, ``> 0`` (``positive``) or ``>= 0``, broadcastable to ``x.shape[:-1]``.
    """
    try:
        t = torch.as_tensor(s, dtype=x.dtype, device=x.device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be a real number or a tensor of them, got {type(s).__name__}") from exc
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {s!r}")
    if positive and (t <= 0).any():
        raise ValueError(f"{name} must be {what} > 0 (σ({name}) = 0 at {name} = 0 and the "
                         f"parametrisation divides by it or is undefined there), got min "
                         f"{float(t.min()):.6g}")
    if not positive and (t < 0).any():
        raise ValueError(f"{name} must be {what} >= 0, got min {float(t.min()):.6g}")
    try:
        torch.broadcast_shapes(t.shape, x.shape[:-1])
    except RuntimeError as exc:
        raise ValueError(f"{name} of shape {tuple(t.shape)} does not broadcast against x.shape[:-1] = "
                         f"{tuple(x.shape[:-1])}") from exc
    return t.unsqueeze(-1)


def _sqrt_alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """``√ᾱ = e^{-s/2}``."""
    return torch.exp(-0.5 * t)


def _sigma(t: torch.Tensor) -> torch.Tensor:
    """``σ = √(1 - e^{-s})``, as ``√(-expm1(-s))`` so that small ``s`` keeps its digits."""
    return torch.sqrt(-torch.expm1(-t))


def _output(value, x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor, got {type(value).__name__}")
    if value.shape != x.shape:
        raise ValueError(f"{name} must return the shape of x, {tuple(x.shape)}, got {tuple(value.shape)}")
    return value


# -- model parametrisation → score -------------------------------------------------------------
def score_from_epsilon(eps_model: Model) -> Model:
    """``score(x, s) = -ε̂(x, s) / σ(s)`` for an ε-prediction model ``ε̂ ≈ E[ε | x_s = x]``.

    ``s > 0`` is required (``σ(0) = 0``).
    """
    _check_callable(eps_model, "eps_model")

    def score(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        return -_output(eps_model(x, s), x, "eps_model") / _sigma(t)

    return score


def score_from_x0(x0_model: Model) -> Model:
    """``score(x, s) = (√ᾱ x̂₀(x, s) - x) / σ²`` for an x₀-prediction model ``x̂₀ ≈ E[x_0 | x_s = x]``.

    ``s > 0`` is required (``σ(0) = 0``).
    """
    _check_callable(x0_model, "x0_model")

    def score(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        x0 = _output(x0_model(x, s), x, "x0_model")
        return (_sqrt_alpha_bar(t) * x0 - x) / (-torch.expm1(-t))

    return score


def score_from_v(v_model: Model) -> Model:
    """``score(x, s) = -(σ x + √ᾱ v̂(x, s)) / σ`` for a v-prediction model, ``v = √ᾱ ε - σ x_0``.

    (From ``ε = σ x + √ᾱ v``.) ``s > 0`` is required (``σ(0) = 0``).
    """
    _check_callable(v_model, "v_model")

    def score(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        v = _output(v_model(x, s), x, "v_model")
        sigma = _sigma(t)
        return -(sigma * x + _sqrt_alpha_bar(t) * v) / sigma

    return score


# -- score → model parametrisation -------------------------------------------------------------
def epsilon_from_score(score: Model) -> Model:
    """``ε̂(x, s) = -σ(s) score(x, s)``, the ε-prediction of ``score``.

    ``s > 0`` is required: at ``s = 0`` the sample is noise-free and ``ε`` is undefined.
    """
    _check_callable(score, "score")

    def eps_model(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        return -_sigma(t) * _output(score(x, s), x, "score")

    return eps_model


def x0_from_score(score: Model) -> Model:
    """``x̂₀(x, s) = (x + σ² score(x, s)) / √ᾱ`` (Tweedie's formula); ``s >= 0`` (identity at 0)."""
    _check_callable(score, "score")

    def x0_model(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=False)
        return (x + (-torch.expm1(-t)) * _output(score(x, s), x, "score")) / _sqrt_alpha_bar(t)

    return x0_model


def v_from_score(score: Model) -> Model:
    """``v̂(x, s) = √ᾱ ε̂ - σ x̂₀ = -(σ / √ᾱ)(x + score(x, s))``.

    ``s > 0`` is required: at ``s = 0``, ``v = ε`` is undefined.
    """
    _check_callable(score, "score")

    def v_model(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        return -(_sigma(t) / _sqrt_alpha_bar(t)) * (x + _output(score(x, s), x, "score"))

    return v_model


# -- discrete schedules ---------------------------------------------------------------------------
def ou_times(alphas_cumprod):
    """Forward OU times ``s_t = -log ᾱ_t`` of a discrete schedule (diffusers' ``alphas_cumprod``).

    Accepts a torch tensor (returns a float64 torch tensor on the same device) or anything
    ``numpy.asarray`` takes (returns a float64 numpy array). Every ``ᾱ_t`` must be finite with
    ``0 < ᾱ_t <= 1`` (``ᾱ = 1`` gives ``s = 0``); anything else is a ``ValueError`` naming the
    parameter and the first offending index.
    """
    if isinstance(alphas_cumprod, torch.Tensor):
        if not (alphas_cumprod.is_floating_point() or alphas_cumprod.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"alphas_cumprod must hold real numbers, got {alphas_cumprod.dtype}")
        a = alphas_cumprod.detach().to(torch.float64)
        values, as_torch = a.cpu().numpy(), True
    else:
        try:
            values = np.asarray(alphas_cumprod, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"alphas_cumprod must be array-like of real numbers, got "
                            f"{type(alphas_cumprod).__name__}") from exc
        as_torch = False
    bad = ~(np.isfinite(values) & (values > 0) & (values <= 1))
    if bad.any():
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), values.shape) if values.ndim else ()
        raise ValueError(f"alphas_cumprod must be finite with 0 < ᾱ_t <= 1 (allowed range (0, 1]); "
                         f"entry {tuple(int(i) for i in idx)} is {values[idx]!r}")
    s = -np.log(values)
    s = np.where(values == 1.0, 0.0, s)  # -log(1) is -0.0; report +0
    return torch.as_tensor(s, dtype=torch.float64, device=alphas_cumprod.device) if as_torch else s


# -- Karras / VE denoiser -----------------------------------------------------------------------------
def _sigma_ve(sigma_ve, y: torch.Tensor, *, positive: bool) -> torch.Tensor:
    return _time(sigma_ve, y, positive=positive, name="sigma_ve", what="a VE noise level")


def denoiser_from_score(score: Model) -> Callable[[torch.Tensor, object], torch.Tensor]:
    """The Karras/VE denoiser ``D(y, σ_VE) = y + σ_VE² √ᾱ score(√ᾱ y, s)``.

    ``s = log(1 + σ_VE²)`` and ``√ᾱ = 1 / √(1 + σ_VE²)``; ``y`` is the VE-scaled sample
    ``x / √ᾱ``. ``σ_VE >= 0`` (broadcastable to ``y.shape[:-1]``); at ``σ_VE = 0`` ``D(y, 0) = y``
    exactly (the score is evaluated at ``s = 0`` and multiplied by 0; it must be finite there).
    """
    _check_callable(score, "score")

    def denoiser(y, sigma_ve):
        y = _check_x(y)
        sig = _sigma_ve(sigma_ve, y, positive=False)
        s = torch.log1p(sig * sig)
        sqrt_ab = torch.rsqrt(1.0 + sig * sig)
        x = sqrt_ab * y
        sc = _output(score(x, s.squeeze(-1)), y, "score")
        return y + (sig * sig) * sqrt_ab * sc

    return denoiser


def score_from_denoiser(denoiser) -> Model:
    """``score(x, s) = (D(y, σ_VE) - y) / (σ_VE² √ᾱ)`` with ``y = x / √ᾱ``, ``σ_VE = √(e^{s} - 1)``.

    The inverse of :func:`denoiser_from_score`. ``s > 0`` is required (``σ_VE(0) = 0`` divides).
    """
    _check_callable(denoiser, "denoiser")

    def score(x, s):
        x = _check_x(x)
        t = _time(s, x, positive=True)
        var_ve = torch.expm1(t)
        sqrt_ab = _sqrt_alpha_bar(t)
        y = x / sqrt_ab
        d = _output(denoiser(y, torch.sqrt(var_ve).squeeze(-1)), x, "denoiser")
        return (d - y) / (var_ve * sqrt_ab)

    return score
