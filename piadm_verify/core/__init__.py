"""The bottom layer: time grids, the discretisation schemes, the noise the samplers draw, the
theorems' parameter choices and the argument checks every other layer shares (docs/mathematics.md
§3-5, §7). Nothing here knows about samplers, oracles or verification."""

from .checks import check_v, positive_int, positive_ints, positive_number
from .grid import GridBlock, TimeGrid
from .noise import StepNoise, make_generator
from .presets import ODEPreset, SDEPreset, ode_preset, sde_preset
from .schemes import EXPONENTIAL_INTEGRATOR, Corrector, EulerMaruyama, ExponentialIntegrator, KineticStep, SDEScheme

__all__ = [
    "TimeGrid",
    "GridBlock",
    "StepNoise",
    "make_generator",
    "SDEScheme",
    "ExponentialIntegrator",
    "EulerMaruyama",
    "EXPONENTIAL_INTEGRATOR",
    "KineticStep",
    "Corrector",
    "SDEPreset",
    "ODEPreset",
    "sde_preset",
    "ode_preset",
    "positive_int",
    "positive_ints",
    "positive_number",
    "check_v",
]
