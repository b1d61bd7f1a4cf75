"""The theorems' claims by tier (docs/mathematics.md §7): :mod:`.sde` (PIADM-SDE), :mod:`.ode`
(PIADM-ODE), :mod:`.mixture` (the Gaussian-mixture tier), :mod:`.learned` (trained networks of
measured δ, §14) and :mod:`.head_to_head` (PIADM against the window samplers), on the shared pieces
of :mod:`.base`."""

from . import head_to_head, learned, mixture, ode, sde
from .base import ALPHA, ALPHA_FAMILY, Claim

__all__ = ["ALPHA", "ALPHA_FAMILY", "Claim", "sde", "ode", "mixture", "learned", "head_to_head"]
