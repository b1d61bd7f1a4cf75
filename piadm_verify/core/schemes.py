"""The discretisation both the samplers and the exact-law oracle follow (docs/mathematics.md §4-5).

A scheme is a small frozen value. ``piadm_sde``, ``sequential_sde`` and ``exact_law`` all read
their coefficients from the same scheme object, so the oracle computes the law of exactly the
algorithm the sampler runs — including a deliberately altered one, which is how the theory suite
expresses its negative controls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .checks import positive_int

__all__ = ["SDEScheme", "ExponentialIntegrator", "EulerMaruyama", "EXPONENTIAL_INTEGRATOR", "KineticStep", "Corrector"]


@dataclass(frozen=True)
class SDEScheme:
    """One step of the backward dynamics ``dx = [½x + (1+v²)/2 ∇log p̄] dt + v dw`` with the score frozen.

    A step of length ``ε_j`` from ``Y_j`` with frozen score ``S_j`` is
    ``Y_{j+1} = decay(ε_j) Y_j + score_weight(ε_j, v) S_j + v ζ_j``,
    ``ζ_j ~ N(0, noise_variance(ε_j) I)``. Subclasses give the coefficients.

    Two structural fields describe how the Picard iteration (docs/mathematics.md §4) uses the scheme; the
    defaults are the algorithm of the paper and the others exist so that the suite can express
    faults in the same language the oracle reads:

    ``shared_noise``
        True: ``ζ`` is drawn once per block and shared by every Picard iteration (docs/mathematics.md §4.1).
    ``score_point``
        ``"left"``: step j freezes the score at ``τ_j`` (``g_n(τ) = τ_{n,m}``, docs/mathematics.md §3);
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
    """The exact integrator of the linear part (docs/mathematics.md §4): the paper's scheme.

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
    """One step of the corrector's underdamped Langevin dynamics with the force frozen (docs/mathematics.md §5).

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


@dataclass(frozen=True)
class Corrector:
    """The corrector's parameters (API.md: ``corrector=dict(K, steps, sub_blocks, h, gamma)``).

    ``K``: Picard iterations per sub-block (K†); ``steps``: steps per sub-block (M†);
    ``sub_blocks``: N†; ``h``: the length of ONE sub-block (h†; the corrector runs for N†·h†);
    ``gamma``: the friction γ. Adaptive corrector: ``K=None`` with ``tol`` (and an optional cap
    ``max_K``; default M† + 1): each sub-block iterates until its change meets ParaDiGMS's
    normalisation with σ̃² = e^{ε†} − 1 (docs/mathematics.md §11); it has no exact law.

    The last three fields describe the algorithm of docs/mathematics.md §5 by default; the others exist so
    that the suite can express corrector faults in the language the oracle reads:
    ``shared_noise`` (False: noise redrawn at every Picard iteration), ``refresh_velocity``
    (False: the velocity carries over from one corrector to the next instead of being redrawn),
    ``noise_correlation`` (the factor on ``Cov(ξ_x, ξ_v)``; 1 is correct, 0 drops the correlation),
    ``temperature`` (the factor on the noise covariance; 1 samples the score's own law ``p_{s*}``,
    any other value a tempered one).
    """

    K: int | None = 4
    steps: int = 32
    sub_blocks: int = 1
    h: float = 1.0
    gamma: float = 2.0
    shared_noise: bool = True
    refresh_velocity: bool = True
    noise_correlation: float = 1.0
    temperature: float = 1.0
    tol: float | None = None
    max_K: int | None = None

    def __post_init__(self):
        if self.K is None:
            if self.tol is None:
                raise ValueError("corrector K is required unless tol is given (an adaptive corrector)")
            if not (isinstance(self.tol, (int, float)) and not isinstance(self.tol, bool) and math.isfinite(self.tol)
                    and self.tol > 0):
                raise ValueError(f"corrector tol must be a finite number > 0, got {self.tol!r}")
            if self.max_K is not None:
                positive_int(self.max_K, "corrector max_K")
        elif self.tol is not None or self.max_K is not None:
            raise ValueError("pass the corrector K (fixed) or tol and max_K (adaptive), not both")
        else:
            positive_int(self.K, "corrector K")
        positive_int(self.steps, "corrector steps")
        positive_int(self.sub_blocks, "corrector sub_blocks")
        for name in ("h", "gamma"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not (math.isfinite(val) and val > 0):
                raise ValueError(f"corrector {name} must be a finite number > 0, got {val!r}")
        if not (isinstance(self.noise_correlation, (int, float)) and -1.0 <= self.noise_correlation <= 1.0):
            raise ValueError(f"corrector noise_correlation must lie in [-1, 1], got {self.noise_correlation!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"corrector temperature must be a finite number > 0, got {self.temperature!r}")

    @classmethod
    def make(cls, corrector) -> "Corrector | None":
        """From None, a ``Corrector`` or a dict of its fields."""
        if corrector is None or isinstance(corrector, Corrector):
            return corrector
        if isinstance(corrector, dict):
            unknown = set(corrector) - set(cls.__dataclass_fields__)
            if unknown:
                raise ValueError(f"unknown corrector options {sorted(unknown)}; allowed: {sorted(cls.__dataclass_fields__)}")
            return cls(**corrector)
        raise TypeError(f"corrector must be None, a dict or a Corrector, got {type(corrector).__name__}")

    @property
    def kinetic(self) -> KineticStep:
        """The frozen-force step of length ``ε† = h†/M†``."""
        return KineticStep(self.h / self.steps, float(self.gamma))

    @property
    def noise_coefficients(self) -> tuple[float, float, float]:
        """``(σ_v, ρ_x, σ_x)`` with ``ξ_v = σ_v z₁``, ``ξ_x = ρ_x z₁ + σ_x z₂`` for standard normals z."""
        k = self.kinetic
        cov = self.noise_correlation * k.cov_xv
        sigma_v = math.sqrt(k.var_v)
        rho_x = cov / sigma_v
        scale = math.sqrt(self.temperature)
        return scale * sigma_v, scale * rho_x, scale * math.sqrt(max(k.var_x - rho_x**2, 0.0))

    @property
    def noise_covariance(self) -> torch.Tensor:
        """``Cov(ξ_x, ξ_v)`` per coordinate as a 2×2 matrix (temperature and correlation applied)."""
        k = self.kinetic
        cov = self.noise_correlation * k.cov_xv
        return self.temperature * torch.tensor([[k.var_x, cov], [cov, k.var_v]], dtype=torch.float64)

    @property
    def iteration_limit(self) -> int:
        """The most Picard iterations of a sub-block: K†, or for an adaptive corrector max_K (default M† + 1)."""
        return self.K if self.K is not None else (self.max_K or self.steps + 1)


def _power_series(u: float, coefficient, first: int, terms: int = 30) -> float:
    """``Σ_{k=first}^{first+terms-1} coefficient(k) u^k`` (for ``|u| < 1``; 30 terms reach round-off)."""
    return sum(coefficient(k) * u**k for k in range(first, first + terms))
