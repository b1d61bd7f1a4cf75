"""The float64 code agrees with the sympy derivations of ``analytic.symbolic`` (docs/mathematics.md §1, §2, §4, §5).

The symbolic side is evaluated by mpmath at 60 digits on the exact binary inputs the float code
sees, so a relative agreement of 1e-12 also checks that the float code avoids cancellation at
tiny steps (where the closed forms lose ~1/u² of their accuracy in float64).
"""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from analytic import Gaussian, ou_mean_factor, ou_noise_variance
from analytic import symbolic as sym
from piadm_verify import ExponentialIntegrator, KineticStep

RTOL = 1e-12
TIMES = [0.0, 1e-9, 1e-6, 1e-3, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]
STEPS = [1e-6, 3e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.3, 0.49, 0.5, 0.51, 0.7, 1.0, 1.5, 2.0, 3.0]
GAMMAS = [0.5, 2.0, 5.0]


def close(actual, expected, rtol=RTOL, atol=0.0):
    return abs(actual - expected) <= rtol * abs(expected) + atol


# -- the derivations reproduce the closed forms written in docs/mathematics.md ------------------------------


def test_derived_ou_moments_are_the_spec_transition():
    mom = sym.ou_marginal_moments()
    s, m0, P0 = sym.s, sym.m0, sym.P0
    assert sp.simplify(mom["mean"] - sp.exp(-s / 2) * m0) == 0
    assert sp.simplify(mom["var"] - (sp.exp(-s) * P0 + 1 - sp.exp(-s))) == 0


def test_derived_gaussian_score_is_minus_residual_over_variance():
    assert sp.simplify(sym.gaussian_score_1d()["score"] + (sym.x - sym.m) / sym.P) == 0
    xs, ms, Ps = sym.gaussian_score_diagonal(3)["symbols"]
    for i, expr in enumerate(sym.gaussian_score_diagonal(3)["score"]):
        assert sp.simplify(expr + (xs[i] - ms[i]) / Ps[i]) == 0


def test_derived_exponential_integrator_coefficients_are_the_spec_ones():
    co = sym.exponential_integrator_coefficients()
    e, v = sym.eps, sym.v
    assert sp.simplify(co["decay"] - sp.exp(e / 2)) == 0
    assert sp.simplify(co["score_weight"] - (1 + v**2) * (sp.exp(e / 2) - 1)) == 0
    assert sp.simplify(co["noise_variance"] - v**2 * (sp.exp(e) - 1)) == 0
    # docs/mathematics.md §4 (v = 1) and §5 predictor (v = 0)
    assert sp.simplify(sym.exponential_integrator_coefficients(1)["score_weight"] - 2 * (sp.exp(e / 2) - 1)) == 0
    assert sp.simplify(sym.exponential_integrator_coefficients(0)["score_weight"] - (sp.exp(e / 2) - 1)) == 0
    assert sym.exponential_integrator_coefficients(0)["noise_variance"] == 0


def test_derived_kinetic_step_coefficients_are_the_spec_ones():
    co = sym.kinetic_step_coefficients()
    g, h = sym.gamma, sym.step
    a = sp.exp(-g * h)
    spec = {
        "a": a,
        "velocity_force": (1 - a) / g,
        "x_velocity": (1 - a) / g,
        "x_position": sp.Integer(1),
        "position_force": (h - (1 - a) / g) / g,
        "var_v": 1 - a**2,
        "var_x": (2 / g) * (h - 2 * (1 - a) / g + (1 - a**2) / (2 * g)),
        "cov_xv": (1 - a) ** 2 / g,
    }
    for name, expr in spec.items():
        assert sp.simplify(co[name] - expr) == 0, name


# -- OU transition and Gaussian marginals -------------------------------------------------------


@pytest.mark.parametrize("s", TIMES)
def test_ou_mean_factor_and_noise_variance_match_solved_moment_odes(s):
    mom = sym.ou_marginal_moments()
    t = torch.tensor(s, dtype=torch.float64)
    assert close(float(ou_mean_factor(t)), sym.evaluate(mom["mean"], s=s, m0=1.0))
    # noise variance = P(s) started from P0 = 0 (tiny s: relative accuracy needs expm1)
    assert close(float(ou_noise_variance(t)), sym.evaluate(mom["var"], s=s, P0=0.0), atol=0.0 if s else 1e-300)


@pytest.mark.parametrize("s", TIMES)
def test_gaussian_marginal_moments_match_solved_moment_odes(s):
    mom = sym.ou_marginal_moments()
    mean = [0.7, -2.0, 3.5]
    var = [0.05, 1.0, 20.0]
    for g in (Gaussian(mean, var), Gaussian(mean, np.diag(var))):
        p = g.marginal(s)
        got_var = torch.diagonal(p.cov).tolist()
        for i in range(3):
            assert close(float(p.mean[i]), sym.evaluate(mom["mean"], s=s, m0=mean[i]))
            assert close(got_var[i], sym.evaluate(mom["var"], s=s, P0=var[i]), rtol=1e-12)


def test_full_covariance_marginal_eigenvalues_follow_the_variance_ode():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    lam = np.array([0.03, 0.5, 2.0, 40.0])
    g = Gaussian(np.zeros(4), (q * lam) @ q.T)
    mom = sym.ou_marginal_moments()
    for s in (0.01, 0.7, 3.0):
        got = np.sort(g.marginal(s).eigvals.numpy())
        want = [sym.evaluate(mom["var"], s=s, P0=float(l)) for l in np.sort(g.eigvals.numpy())]
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("s", [0.0, 1e-6, 0.3, 2.0, 8.0])
def test_gaussian_score_1d_matches_derivative_of_marginal_log_density(s):
    expr = sym.gaussian_score_1d(marginal=True)["score"]
    m0, P0 = -1.3, 0.2
    g = Gaussian([m0], [P0])
    xs = [-5.0, -1.3, 0.0, 0.4, 7.0]
    got = g.score(torch.tensor(xs, dtype=torch.float64)[:, None], s)[:, 0].tolist()
    for xv, gv in zip(xs, got):
        want = sym.evaluate(expr, x=xv, s=s, m0=m0, P0=P0)
        # x - μ_s is ill-conditioned near x = μ_s: allow the rounding of μ_s, relative to P_s
        p_s = sym.evaluate(sym.ou_marginal_moments()["var"], s=s, P0=P0)
        assert close(gv, want, atol=4e-16 * (abs(xv) + abs(m0)) / p_s)


def test_gaussian_score_diagonal_matches_gradient_of_log_density_per_coordinate():
    d = 4
    out = sym.gaussian_score_diagonal(d)
    xs_sym, ms_sym, Ps_sym = out["symbols"]
    mom = sym.ou_marginal_moments()
    mean = [0.5, -1.0, 2.0, 0.0]
    var = [0.1, 1.0, 3.0, 0.7]
    g = Gaussian(mean, var)
    x = torch.tensor([[1.0, 2.0, -3.0, 0.25], [0.5, -1.0, 2.0, 0.0]], dtype=torch.float64)
    for s in (0.0, 0.4, 3.0):
        got = g.score(x, s)
        for row in range(x.shape[0]):
            values = {}
            for i in range(d):
                values[xs_sym[i].name] = float(x[row, i])
                values[ms_sym[i].name] = sym.evaluate(mom["mean"], s=s, m0=mean[i])
                values[Ps_sym[i].name] = sym.evaluate(mom["var"], s=s, P0=var[i])
            for i in range(d):
                want = sym.evaluate(out["score"][i], **values)
                assert close(float(got[row, i]), want, rtol=1e-12, atol=1e-15), (s, row, i)


# -- exponential integrator (docs/mathematics.md §4) ---------------------------------------------------------


@pytest.mark.parametrize("v", [0.0, 1.0, 0.5])
def test_exponential_integrator_coefficients_match_exact_solution(v):
    co = sym.exponential_integrator_coefficients()
    scheme = ExponentialIntegrator()
    steps = np.array([1e-10, 1e-8] + STEPS)
    decay, weight, noise = scheme.decay(steps), scheme.score_weight(steps, v), scheme.noise_variance(steps)
    for j, e in enumerate(steps):
        e = float(e)
        assert close(float(decay[j]), sym.evaluate(co["decay"], epsilon=e))
        assert close(float(weight[j]), sym.evaluate(co["score_weight"], epsilon=e, v=v))
        # the scheme's ζ has variance e^ε - 1 and is multiplied by v: total v²(e^ε - 1)
        assert close(v * v * float(noise[j]), sym.evaluate(co["noise_variance"], epsilon=e, v=v))
        assert close(float(noise[j]), sym.evaluate(co["noise_variance"], epsilon=e, v=1.0))


# -- kinetic corrector step (docs/mathematics.md §5) ---------------------------------------------------------

KINETIC = sym.kinetic_step_coefficients()


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize(
    "prop, key",
    [
        ("a", "a"),
        ("velocity_force", "velocity_force"),
        ("velocity_force", "x_velocity"),
        ("position_force", "position_force"),
        ("var_v", "var_v"),
        ("var_x", "var_x"),
        ("cov_xv", "cov_xv"),
    ],
)
def test_kinetic_step_property_matches_exact_solution_of_underdamped_langevin(prop, key, gamma):
    for h in STEPS:
        got = getattr(KineticStep(h, gamma), prop)
        want = sym.evaluate(KINETIC[key], step=h, gamma=gamma)
        assert close(got, want), f"KineticStep({h}, {gamma}).{prop} = {got!r}, exact {want!r}"


def test_evaluate_rejects_missing_symbol_values():
    with pytest.raises(ValueError, match="gamma"):
        sym.evaluate(KINETIC["a"], step=0.1)


def test_mpmath_evaluation_resolves_cancellation_float64_closed_form_cannot():
    """Sanity check of the method: at u = 1e-6 the naive float64 closed form of var_x is garbage."""
    h, g = 1e-6, 2.0
    a = math.exp(-g * h)
    naive = (2 / g) * (h - 2 * (1 - a) / g + (1 - a * a) / (2 * g))
    exact = sym.evaluate(KINETIC["var_x"], step=h, gamma=g)
    assert not close(naive, exact, rtol=1e-3)
    assert close(KineticStep(h, g).var_x, exact)
