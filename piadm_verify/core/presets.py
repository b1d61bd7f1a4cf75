"""The theorems' parameter choices as concrete values (docs/mathematics.md §7).

PIADM-SDE, with ``L = log(d δ⁻²)``::

    T = c_T · L,   h = c_h,   N = ⌈(T - η)/h⌉,   ε = c_ε · δ² / (d · L),
    M_n = ⌈h_n / ε⌉,   K = ⌈c_K · L⌉

so that the theorem's terms ``d e^{-T} = d^{1-c_T} δ^{2 c_T}`` (``= δ²`` for ``c_T = 1``) and
``d ε T = c_ε c_T δ²`` are of order δ², the
number of rounds ``K N = Õ(L²)`` and the points per round ``M = Õ(d δ⁻²)``.

PIADM-ODE (predictor + corrector): ``T`` and ``h`` as above and ``ε = c_ε · δ / (√d · L)``, so the
term ``d ε² T² = c_ε² c_T² δ²`` is of order δ² with ``M = Õ(√d δ⁻¹)`` points per predictor round;
the corrector runs ``N† = c_N†`` sub-blocks of length ``h† = c_h†`` with ``M† = ⌈h†/ε†⌉`` steps of
``ε† = c_ε† · δ / (√d · L)`` and ``K† = ⌈c_K† · L⌉`` Picard iterations.

Every constant is a named field with the default documented here; the defaults are ones, except
``c_K = c_K† = ½``: Picard converges super-geometrically on smooth scores (docs/mathematics.md §7), and the
suite measures the minimal K itself rather than trusting a constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .checks import positive_int, positive_number
from .grid import TimeGrid

__all__ = ["SDEPreset", "sde_preset", "ODEPreset", "ode_preset"]

DEFAULT_ETA = 1e-3


def _check(d, delta, eta):
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta and math.isfinite(delta)):
        raise ValueError(f"delta must be a finite number > 0, got {delta!r}")
    if not (isinstance(eta, (int, float)) and 0 < eta < 1):
        raise ValueError(f"eta must satisfy 0 < eta < 1, got {eta!r}")
    log_term = math.log(d / delta**2)
    if log_term <= 1.0:
        raise ValueError(f"log(d/delta^2) must exceed 1 for the presets, got {log_term:.3g} (d={d}, delta={delta})")
    return log_term


@dataclass(frozen=True)
class SDEPreset:
    """The PIADM-SDE theorem's parameters for ``(d, δ)`` (see the module docstring)."""

    d: int
    delta: float
    eta: float
    T: float
    h: float
    N: int
    eps: float
    M: int
    K: int
    c_T: float
    c_eps: float
    c_K: float

    @property
    def log_term(self) -> float:
        """``L = log(d δ⁻²)``."""
        return math.log(self.d / self.delta**2)

    def grid(self) -> TimeGrid:
        """The uniform grid: N blocks on ``[0, T - η]``, ``M`` steps each (``ε_{n,m} ≤ ε``)."""
        return TimeGrid.uniform(self.T, self.eta, self.N, self.M)

    @property
    def rounds(self) -> int:
        """``K N``: sequential batched score calls of PIADM-SDE."""
        return self.K * self.N

    @property
    def sequential_steps(self) -> int:
        """``N M``: the steps (and rounds) of the sequential sampler on the same grid."""
        return self.N * self.M

    @property
    def space(self) -> int:
        """``d M``: the numbers held in one round."""
        return self.d * self.M


def sde_preset(d: int, delta: float, *, eta: float = DEFAULT_ETA, c_T: float = 1.0, h: float = 1.0,
               c_eps: float = 1.0, c_K: float = 0.5) -> SDEPreset:
    """The PIADM-SDE theorem's parameter choice for dimension ``d`` and target accuracy ``δ``."""
    L = _check(d, delta, eta)
    for name, value in dict(c_T=c_T, h=h, c_eps=c_eps, c_K=c_K).items():
        positive_number(value, name)
    T = c_T * L
    N = max(1, math.ceil((T - eta) / h - 1e-9))
    eps = c_eps * delta**2 / (d * L)
    M = max(1, math.ceil((T - eta) / N / eps))
    K = max(1, math.ceil(c_K * L))
    return SDEPreset(d, float(delta), float(eta), T, float(h), N, eps, M, K, c_T, c_eps, c_K)


@dataclass(frozen=True)
class ODEPreset:
    """The PIADM-ODE theorem's parameters for ``(d, δ)`` (see the module docstring)."""

    d: int
    delta: float
    eta: float
    T: float
    h: float
    N: int
    eps: float
    M: int
    K: int
    corrector_steps: int
    corrector_sub_blocks: int
    corrector_h: float
    corrector_K: int
    gamma: float

    @property
    def log_term(self) -> float:
        return math.log(self.d / self.delta**2)

    def grid(self) -> TimeGrid:
        return TimeGrid.uniform(self.T, self.eta, self.N, self.M)

    @property
    def corrector(self) -> dict:
        """The ``corrector=`` argument of ``piadm_ode`` and ``exact_law(method="ode")``."""
        return dict(K=self.corrector_K, steps=self.corrector_steps, sub_blocks=self.corrector_sub_blocks,
                    h=self.corrector_h, gamma=self.gamma)

    @property
    def rounds(self) -> int:
        """``(K + N† K†) N``."""
        return (self.K + self.corrector_sub_blocks * self.corrector_K) * self.N

    @property
    def peak_points(self) -> int:
        """``M ∨ M†``."""
        return max(self.M, self.corrector_steps)

    @property
    def space(self) -> int:
        return self.d * self.peak_points


def ode_preset(d: int, delta: float, *, eta: float = DEFAULT_ETA, c_T: float = 1.0, h: float = 1.0, c_eps: float = 1.0,
               c_K: float = 0.5, corrector_sub_blocks: int = 1, corrector_h: float = 1.0, c_eps_corrector: float = 1.0,
               c_K_corrector: float = 0.5, gamma: float = 2.0) -> ODEPreset:
    """The PIADM-ODE theorem's parameter choice for dimension ``d`` and target accuracy ``δ``."""
    L = _check(d, delta, eta)
    for name, value in dict(c_T=c_T, h=h, c_eps=c_eps, c_K=c_K, corrector_h=corrector_h, c_eps_corrector=c_eps_corrector,
                            c_K_corrector=c_K_corrector, gamma=gamma).items():
        positive_number(value, name)
    corrector_sub_blocks = positive_int(corrector_sub_blocks, "corrector_sub_blocks")
    T = c_T * L
    N = max(1, math.ceil((T - eta) / h - 1e-9))
    eps = c_eps * delta / (math.sqrt(d) * L)
    M = max(1, math.ceil((T - eta) / N / eps))
    K = max(1, math.ceil(c_K * L))
    eps_c = c_eps_corrector * delta / (math.sqrt(d) * L)
    M_c = max(1, math.ceil(corrector_h / eps_c))
    K_c = max(1, math.ceil(c_K_corrector * L))
    return ODEPreset(d, float(delta), float(eta), T, float(h), N, eps, M, K, M_c, corrector_sub_blocks,
                     float(corrector_h), K_c, float(gamma))
