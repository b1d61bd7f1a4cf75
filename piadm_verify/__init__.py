"""PIADM samplers (SPEC.md §4-5), their sequential references, the exact-law oracle for Gaussian
targets (SPEC.md §8), calibrated score errors (SPEC.md §6) and the verification machinery.

Public names are listed in ``../shared/API.md``; everything takes forward (noise) time ``s``.
"""

from analytic import Gaussian, GaussianMixture, gaussian_hellinger, gaussian_kl, gaussian_tv, gaussian_w2

from ._common import NonFiniteError, SamplerResult
from .grid import GridBlock, TimeGrid
from .noise import NoiseSource, make_generator
from .schemes import EXPONENTIAL_INTEGRATOR, EulerMaruyama, ExponentialIntegrator, KineticStep, SDEScheme
from .errors import InjectedScore, inject_error
from .oracle import exact_law, exact_laws
from .presets import ode_preset, sde_preset
from .ode import Corrector, exact_law_ode, piadm_ode, sequential_ode
from .sde import piadm_sde, sequential_sde

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
    "sde_preset",
    "ode_preset",
    "TimeGrid",
    "GridBlock",
    "piadm_sde",
    "sequential_sde",
    "piadm_ode",
    "sequential_ode",
    "exact_law_ode",
    "Corrector",
    "SamplerResult",
    "NonFiniteError",
    "NoiseSource",
    "make_generator",
    "SDEScheme",
    "ExponentialIntegrator",
    "EulerMaruyama",
    "EXPONENTIAL_INTEGRATOR",
    "KineticStep",
]
