"""The exact-law oracle (docs/mathematics.md §8): the output law of the samplers on Gaussian targets
with affine scores, computed from their algebra with no Monte Carlo noise. Side by side with
:mod:`piadm_verify.samplers`; the two share only the schemes of :mod:`piadm_verify.core`."""

from .affine import WORK_DTYPE, AffineScore, BlockMap, resolve_error
from .law import exact_law
from .ode import exact_law_ode, exact_laws_ode
from .probe import NotAffineError, exact_law_of
from .sde import exact_laws

__all__ = ["exact_law", "exact_laws", "exact_law_of", "NotAffineError", "exact_law_ode", "exact_laws_ode", "AffineScore", "BlockMap", "resolve_error",
           "WORK_DTYPE"]
