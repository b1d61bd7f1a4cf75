"""PIADM samplers (SPEC.md §4-5), their sequential references, the exact-law oracle for Gaussian
targets (SPEC.md §8), calibrated score errors (SPEC.md §6) and the verification machinery.

Public names are listed in ``../shared/API.md``; everything takes forward (noise) time ``s``.
"""

from analytic import Gaussian, GaussianMixture

from ._common import NonFiniteError, SamplerResult
from .grid import GridBlock, TimeGrid
from .noise import NoiseSource, make_generator
from .schemes import EXPONENTIAL_INTEGRATOR, EulerMaruyama, ExponentialIntegrator, KineticStep, SDEScheme
from .sde import piadm_sde, sequential_sde

__all__ = [
    "Gaussian",
    "GaussianMixture",
    "TimeGrid",
    "GridBlock",
    "piadm_sde",
    "sequential_sde",
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
