"""The theorems' claims by tier (docs/mathematics.md §7): :mod:`.sde` (PIADM-SDE), :mod:`.ode`
(PIADM-ODE) and :mod:`.mixture` (the Gaussian-mixture tier), on the shared pieces of :mod:`.base`."""

from . import mixture, ode, sde
from .base import ALPHA, ALPHA_FAMILY, Claim

__all__ = ["ALPHA", "ALPHA_FAMILY", "Claim", "sde", "ode", "mixture"]
