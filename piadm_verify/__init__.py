"""PIADM samplers (docs/mathematics.md §4-5), their sequential references, the exact-law oracle for
Gaussian targets (§8), calibrated score errors (§6) and the verification machinery.

The package is layered; each subpackage imports only from those below it:

    core          grids, schemes, noise, presets, argument checks
    samplers      PIADM-SDE/ODE and sequential references      oracle    exact laws on Gaussian targets
    scores        calibrated score errors
    verification  tables, statistics, estimators, claims by tier
    studies       the studies, declared once, and their registry
    reporting     suites, reports, plots, baseline
    cli           the command line

The public names of docs/api.md are importable from here; everything takes forward (noise) time ``s``.
"""

from analytic import Gaussian, GaussianMixture, gaussian_hellinger, gaussian_kl, gaussian_tv, gaussian_w2

from .core import (
    EXPONENTIAL_INTEGRATOR,
    Corrector,
    EulerMaruyama,
    ExponentialIntegrator,
    GridBlock,
    KineticStep,
    StepNoise,
    SDEScheme,
    TimeGrid,
    make_generator,
    ode_preset,
    sde_preset,
)
from .oracle import NotAffineError, exact_law, exact_law_of, exact_law_ode, exact_laws
from .samplers import (
    NonFiniteError,
    RoundInfo,
    SamplerResult,
    paradigms,
    parataa,
    piadm_ode,
    piadm_sde,
    sequential_ode,
    sequential_sde,
)
from .scores import InjectedScore, inject_error

__all__ = [
    "Gaussian",
    "GaussianMixture",
    "gaussian_kl",
    "gaussian_tv",
    "gaussian_hellinger",
    "gaussian_w2",
    "inject_error",
    "InjectedScore",
    "exact_law",
    "exact_laws",
    "exact_law_of",
    "NotAffineError",
    "sde_preset",
    "ode_preset",
    "TimeGrid",
    "GridBlock",
    "piadm_sde",
    "sequential_sde",
    "piadm_ode",
    "sequential_ode",
    "paradigms",
    "parataa",
    "exact_law_ode",
    "Corrector",
    "SamplerResult",
    "RoundInfo",
    "NonFiniteError",
    "StepNoise",
    "make_generator",
    "SDEScheme",
    "ExponentialIntegrator",
    "EulerMaruyama",
    "EXPONENTIAL_INTEGRATOR",
    "KineticStep",
]
