"""The samplers of the backward process (docs/mathematics.md §4-5, §10): PIADM-SDE and PIADM-ODE
with their sequential references. Every sampler follows one contract,
``sampler(score, grid, n, dim, *, x0, generator, dtype, device, callback, progress, **options)``,
and returns a :class:`SamplerResult` whose counts are logged round by round."""

from .ode import piadm_ode, sequential_ode
from .result import NonFiniteError, RoundInfo, RoundLog, SamplerResult
from .sde import piadm_sde, sequential_sde
from .window import paradigms, parataa

__all__ = ["piadm_sde", "sequential_sde", "piadm_ode", "sequential_ode", "paradigms", "parataa", "SamplerResult", "NonFiniteError",
           "RoundInfo", "RoundLog"]
