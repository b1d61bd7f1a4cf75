"""The discretisation both the samplers and the exact-law oracle follow (SPEC.md §4-5).

A scheme is a small frozen value. ``piadm_sde``, ``sequential_sde`` and ``exact_law`` all read
their coefficients from the same scheme object, so the oracle computes the law of exactly the
algorithm the sampler runs — including a deliberately altered one, which is how the theory suite
expresses its negative controls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SDEScheme", "ExponentialIntegrator", "EulerMaruyama", "EXPONENTIAL_INTEGRATOR", "KineticStep"]


@dataclass(frozen=True)
class SDEScheme:
    """One step of the backward dynamics ``dx = [½x + (1+v²)/2 ∇log p̄] dt + v dw`` with the score frozen.

    A step of length ``ε_j`` from ``Y_j`` with frozen score ``S_j`` is
    ``Y_{j+1} = decay(ε_j) Y_j + score_weight(ε_j, v) S_j + v ζ_j``,
    ``ζ_j ~ N(0, noise_variance(ε_j) I)``. Subclasses give the coefficients.

    Two structural fields describe how the Picard iteration (SPEC.md §4) uses the scheme; the
    defaults are the algorithm of the paper and the others exist so that the suite can express
    faults in the same language the oracle reads:

    ``shared_noise``
        True: ``ζ`` is drawn once per block and shared by every Picard iteration (SPEC.md §4.1).
    ``score_point``
        ``"left"``: step j freezes the score at ``τ_j`` (``g_n(τ) = τ_{n,m}``, SPEC.md §3);
        ``"right"`` evaluates it at ``τ_{j+1}`` instead (an implicit scheme; Picard-only).
    ``initial_variance``
        Variance of the initial draw ``ŷ_{t_0} ~ N(0, initial_variance · I)``.
    """

    shared_noise: bool = True
    score_point: str = "left"
    initial_variance: float = 1.0

    def __post_init__(self):
        if self.score_point not in ("left", "right"):
            raise ValueError(f"score_point must be 'left' or 'right', got {self.score_point!r}")
        if not (math.isfinite(self.initial_variance) and self.initial_variance > 0):
            raise ValueError(f"initial_variance must be finite and > 0, got {self.initial_variance!r}")

    def decay(self, eps: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def log_decay(self, eps: np.ndarray) -> np.ndarray:
        """``log decay(ε)``: the exponent the Picard scan accumulates (``Σ_{i<m} log d_i``)."""
        return np.log(self.decay(eps))

    def score_weight(self, eps: np.ndarray, v: float) -> np.ndarray:
        raise NotImplementedError

    def noise_variance(self, eps: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def score_offset(self) -> int:
        """0 for ``score_point="left"``, 1 for ``"right"``."""
        return 0 if self.score_point == "left" else 1


@dataclass(frozen=True)
class ExponentialIntegrator(SDEScheme):
    """The exact integrator of the linear part (SPEC.md §4): the paper's scheme.

    ``decay = e^{ε/2}``, ``score_weight = (1+v²)(e^{ε/2} - 1)`` (``2(e^{ε/2}-1)`` for v = 1,
    ``e^{ε/2}-1`` for the ODE's v = 0), ``noise_variance = e^{ε} - 1``.
    """

    def decay(self, eps):
        return np.exp(0.5 * np.asarray(eps, dtype=np.float64))

    def log_decay(self, eps):
        return 0.5 * np.asarray(eps, dtype=np.float64)

    def score_weight(self, eps, v):
        return (1.0 + v * v) * np.expm1(0.5 * np.asarray(eps, dtype=np.float64))

    def noise_variance(self, eps):
        return np.expm1(np.asarray(eps, dtype=np.float64))


@dataclass(frozen=True)
class EulerMaruyama(SDEScheme):
    """Euler-Maruyama on the same dynamics: ``decay = 1 + ε/2``, ``score_weight = (1+v²)ε/2``, ``noise = ε``."""

    def decay(self, eps):
        return 1.0 + 0.5 * np.asarray(eps, dtype=np.float64)

    def score_weight(self, eps, v):
        return 0.5 * (1.0 + v * v) * np.asarray(eps, dtype=np.float64)

    def noise_variance(self, eps):
        return np.asarray(eps, dtype=np.float64).copy()


EXPONENTIAL_INTEGRATOR = ExponentialIntegrator()


@dataclass(frozen=True)
class KineticStep:
    """One step of the corrector's underdamped Langevin dynamics with the force frozen (SPEC.md §5).

    ``dx = v du``, ``dv = (F - γ v) du + √(2γ) dB``; with ``a = e^{-γ ε†}``:
    ``v ← a v + (1-a)/γ F + ξ_v``, ``x ← x + (1-a)/γ v_old + (ε† - (1-a)/γ)/γ F + ξ_x``,
    ``Var ξ_v = 1 - a²``, ``Var ξ_x = (2/γ)[ε† - 2(1-a)/γ + (1-a²)/(2γ)]``,
    ``Cov(ξ_x, ξ_v) = (1-a)²/γ`` (per coordinate).
    """

    step: float
    gamma: float

    def __post_init__(self):
        for name in ("step", "gamma"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"{name} must be finite and > 0, got {val!r}")

    @property
    def a(self) -> float:
        return math.exp(-self.gamma * self.step)

    @property
    def one_minus_a(self) -> float:
        return -math.expm1(-self.gamma * self.step)

    @property
    def velocity_force(self) -> float:
        """``(1-a)/γ``: weight of F in the velocity update, and of ``v_old`` in the position update."""
        return self.one_minus_a / self.gamma

    @property
    def position_force(self) -> float:
        """``(ε† - (1-a)/γ)/γ = (u - 1 + e^{-u})/γ²`` with ``u = γε†``: weight of F in the position update."""
        u = self.gamma * self.step
        value = _power_series(u, lambda k: (-1.0) ** k / math.factorial(k), 2) if u < 1.0 else u + math.expm1(-u)
        return value / self.gamma**2

    @property
    def var_v(self) -> float:
        return -math.expm1(-2.0 * self.gamma * self.step)

    @property
    def var_x(self) -> float:
        """``(2/γ)[ε† - 2(1-a)/γ + (1-a²)/(2γ)] = φ(u)/γ²``, ``φ(u) = 2u + 4(e^{-u}-1) - (e^{-2u}-1)``.

        ``φ(u) = Σ_{k≥3} (-1)^{k+1} (2^k - 4) u^k / k!`` is summed as a series for ``u < 1``, where
        the closed form loses ``~1/u²`` of its relative accuracy to cancellation.
        """
        u = self.gamma * self.step
        if u < 1.0:
            value = _power_series(u, lambda k: (-1.0) ** (k + 1) * (2.0**k - 4.0) / math.factorial(k), 3)
        else:
            value = 2.0 * u + 4.0 * math.expm1(-u) - math.expm1(-2.0 * u)
        return value / self.gamma**2

    @property
    def cov_xv(self) -> float:
        return self.one_minus_a**2 / self.gamma


def _power_series(u: float, coefficient, first: int, terms: int = 30) -> float:
    """``Σ_{k=first}^{first+terms-1} coefficient(k) u^k`` (for ``|u| < 1``; 30 terms reach round-off)."""
    return sum(coefficient(k) * u**k for k in range(first, first + terms))
