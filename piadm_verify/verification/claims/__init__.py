"""The theorems' claims by tier (docs/mathematics.md §7): :mod:`.sde` (PIADM-SDE), :mod:`.ode`
(PIADM-ODE), :mod:`.mixture` (the Gaussian-mixture tier) and :mod:`.learned` (trained networks of
measured δ, §14), on the shared pieces of :mod:`.base`."""

from . import learned, mixture, ode, sde
from .base import ALPHA, ALPHA_FAMILY, Claim

__all__ = ["ALPHA", "ALPHA_FAMILY", "Claim", "sde", "ode", "mixture", "learned"]
