"""Symbolic derivations (sympy) of the closed forms the numeric code uses.

Each function derives its formulas from the defining equation (an ODE solved by ``dsolve``, a
derivative of a log density, a variation-of-constants integral, an Itô-isometry integral) rather
than typing the answer in, and returns plain sympy expressions. ``evaluate`` turns any of them into
a number with mpmath at high precision, so tests can compare the float64 code with them even where
the closed form suffers cancellation (tiny steps).

This module imports nothing from ``piadm_verify`` and nothing numeric from ``analytic``.
"""

from __future__ import annotations

import mpmath
import sympy as sp

__all__ = [
    "ou_marginal_moments",
    "gaussian_score_1d",
    "gaussian_score_diagonal",
    "exponential_integrator_coefficients",
    "kinetic_step_coefficients",
    "evaluate",
]

# Symbols shared by the derivations (positive where the maths needs it, so sympy simplifies).
s, u = sp.symbols("s u", nonnegative=True)
m0, x, m = sp.symbols("m0 x m", real=True)
P0, P = sp.symbols("P0 P", positive=True)
eps, gamma, step = sp.symbols("epsilon gamma step", positive=True)
c, v, S = sp.symbols("c v S", real=True)


def ou_marginal_moments() -> dict:
    """Mean and variance of the OU law at forward time ``s`` (docs/mathematics.md §1-2).

    For ``dx = -½ x ds + dw`` the moments obey ``m' = -½ m`` and ``P' = -P + 1``. Solved with
    ``dsolve`` from ``m(0) = m0``, ``P(0) = P0``: ``m(s) = e^{-s/2} m0``,
    ``P(s) = e^{-s} P0 + 1 - e^{-s}``. With ``m0 = 0, P0 = 0`` these are the transition's mean
    factor and added variance. Returns ``{"mean": m(s), "var": P(s)}`` in the symbols ``s, m0, P0``.
    """
    mf, Pf = sp.Function("m"), sp.Function("P")
    mean = sp.dsolve(sp.Eq(mf(s).diff(s), -mf(s) / 2), mf(s), ics={mf(0): m0}).rhs
    var = sp.dsolve(sp.Eq(Pf(s).diff(s), -Pf(s) + 1), Pf(s), ics={Pf(0): P0}).rhs
    return {"mean": sp.simplify(mean), "var": sp.expand(var)}


def gaussian_score_1d(marginal: bool = False) -> dict:
    """The 1-D Gaussian score ``d/dx log N(x; m, P) = -(x - m)/P`` (docs/mathematics.md §2).

    With ``marginal=True`` the mean and variance are the OU-moved ``m(s), P(s)`` of
    ``ou_marginal_moments`` (symbols ``x, s, m0, P0``): the score of ``p_s`` for ``p_0 = N(m0, P0)``.
    Returns ``{"log_density": ..., "score": ...}``.
    """
    log_density = -(x - m) ** 2 / (2 * P) - sp.log(2 * sp.pi * P) / 2
    if marginal:
        moments = ou_marginal_moments()
        log_density = log_density.subs({m: moments["mean"], P: moments["var"]})
    return {"log_density": log_density, "score": sp.simplify(sp.diff(log_density, x))}


def gaussian_score_diagonal(d: int) -> dict:
    """Per-coordinate score of ``N(m, diag(P))`` in ``d`` dims, from the gradient of the log density.

    Symbols ``x_i, m_i, P_i`` (i = 0..d-1). Returns ``{"symbols": (xs, ms, Ps), "log_density": ...,
    "score": [∂/∂x_i log p]}``; each entry reduces to ``-(x_i - m_i)/P_i`` (docs/mathematics.md §2).
    """
    xs = sp.symbols(f"x0:{d}", real=True)
    ms = sp.symbols(f"m0:{d}", real=True)
    Ps = sp.symbols(f"P0:{d}", positive=True)
    log_density = sum(-(xi - mi) ** 2 / (2 * Pi) - sp.log(2 * sp.pi * Pi) / 2 for xi, mi, Pi in zip(xs, ms, Ps))
    score = [sp.simplify(sp.diff(log_density, xi)) for xi in xs]
    return {"symbols": (xs, ms, Ps), "log_density": log_density, "score": score}


def exponential_integrator_coefficients(v_value=None) -> dict:
    """One exact step of ``dx = [½x + c S] dt + v dw`` over ``[0, ε]`` with ``S`` frozen (docs/mathematics.md §4).

    The deterministic part ``y' = ½ y + c S``, ``y(0) = x`` is solved by ``dsolve``; its solution
    ``e^{ε/2} x + 2c(e^{ε/2} - 1) S`` gives ``decay`` and ``score_weight``. The noise
    ``v ∫_0^ε e^{(ε-u)/2} dw_u`` has, by Itô isometry, variance ``v² ∫_0^ε e^{ε-u} du = v²(e^ε - 1)``.
    ``c = (1 + v²)/2`` is the backward drift's score coefficient (docs/mathematics.md §1); pass ``v_value`` to
    substitute a number for ``v``. Returns ``{"decay", "score_weight", "noise_variance"}`` in ``ε, v``.
    """
    y = sp.Function("y")
    sol = sp.dsolve(sp.Eq(y(u).diff(u), y(u) / 2 + c * S), y(u), ics={y(0): x}).rhs.subs(u, eps)
    sol = sp.expand(sol)
    decay = sp.simplify(sol.coeff(x))
    weight = sp.factor(sol.coeff(S)).subs(c, (1 + v**2) / 2)
    noise = v**2 * sp.integrate(sp.exp(eps - u), (u, 0, eps))
    out = {"decay": decay, "score_weight": sp.factor(weight), "noise_variance": sp.factor(noise)}
    if v_value is not None:
        out = {k: sp.simplify(e.subs(v, v_value)) for k, e in out.items()}
    return out


def kinetic_step_coefficients() -> dict:
    """One step ``ε†`` (symbol ``step``) of ``dx = v du``, ``dv = (F - γ v) du + √(2γ) dB``, F frozen (docs/mathematics.md §5).

    The state ``z = (x, v)`` solves the linear SDE ``dz = (A z + b F) du + σ dB`` with
    ``A = [[0, 1], [0, -γ]]``, ``b = (0, 1)``, ``σ = (0, √(2γ))``. Variation of constants gives
    ``z(ε†) = e^{Aε†} z0 + ∫_0^ε† e^{A w} b dw F + ∫_0^ε† e^{A(ε†-r)} σ dB_r`` and Itô isometry the
    noise covariance ``∫_0^ε† e^{A w} σ σᵀ e^{Aᵀ w} dw``. Returns, with ``a = e^{-γ ε†}``:
    ``a`` (velocity decay), ``velocity_force`` (= ``(1-a)/γ``, also the weight of ``v_old`` in x),
    ``position_force`` (``(ε† - (1-a)/γ)/γ``), ``var_v`` (``1 - a²``), ``var_x``
    (``(2/γ)[ε† - 2(1-a)/γ + (1-a²)/(2γ)]``) and ``cov_xv`` (``(1-a)²/γ``), plus ``x_velocity``
    (the weight of ``v_old`` in the position update) and ``x_position`` (that of ``x_old``, = 1).
    """
    A = sp.Matrix([[0, 1], [0, -gamma]])
    b = sp.Matrix([0, 1])
    sigma = sp.Matrix([0, sp.sqrt(2 * gamma)])
    w = sp.symbols("w", nonnegative=True)
    prop = sp.simplify((A * w).exp())  # e^{A w}
    flow = prop.subs(w, step)
    forcing = prop.applyfunc(lambda e: sp.integrate(e, (w, 0, step))) * b
    cov = (prop * sigma * sigma.T * prop.T).applyfunc(lambda e: sp.integrate(sp.expand(e), (w, 0, step)))
    simp = lambda e: sp.simplify(sp.expand(e))
    return {
        "a": simp(flow[1, 1]),
        "velocity_force": simp(forcing[1]),
        "x_position": simp(flow[0, 0]),
        "x_velocity": simp(flow[0, 1]),
        "position_force": simp(forcing[0]),
        "var_v": simp(cov[1, 1]),
        "var_x": simp(cov[0, 0]),
        "cov_xv": simp(cov[0, 1]),
    }


def evaluate(expr, dps: int = 60, **values) -> float:
    """``expr`` at ``values`` (symbol name -> number), by mpmath at ``dps`` digits, rounded to float.

    Float inputs are taken as the exact binary numbers they are, so the result is the correctly
    rounded value of the exact formula at the same inputs the float64 code sees.
    """
    expr = sp.sympify(expr)
    syms = sorted(expr.free_symbols, key=lambda t: t.name)
    missing = [t.name for t in syms if t.name not in values]
    if missing:
        raise ValueError(f"evaluate: no value given for {missing}")
    fn = sp.lambdify(syms, expr, modules="mpmath")
    with mpmath.workdps(dps):
        return float(fn(*(mpmath.mpf(values[t.name]) for t in syms)))
