"""The Gaussian inputs of the samplers, drawn in one documented order (docs/mathematics.md §4-5, API.md).

Every sampler draws its randomness through a :class:`NoiseSource`, in this order:

1. the initial value ``ŷ_{t_0}`` (n, d), unless the caller passes ``x0``;
2. for each block n, in order:
   * SDE (v ≠ 0): the standardised increments of the block, one tensor of shape (M_n, n, d)
     (once per block; a scheme with ``shared_noise=False`` draws one per Picard iteration);
   * ODE corrector: a fresh velocity (n, d) (with ``refresh_velocity=False``: drawn once, at the
     first corrector, and carried over from then on), then per sub-block one tensor (2, M†, n, d)
     of standard normals that builds the correlated pair ``(ξ_x, ξ_v)`` (a corrector with
     ``shared_noise=False`` makes piadm_ode draw one per Picard iteration).

The parallel sampler and its sequential reference call the same methods in the same order, so
one generator seed gives both the same Brownian path. Standard normals are drawn and scaled
afterwards, so a variance formula changes the scaling, not the draws.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["NoiseSource", "make_generator"]


def make_generator(generator=None, device=None) -> torch.Generator | None:
    """A ``torch.Generator``: passed through, seeded from an int, or None (torch's global RNG)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        g = torch.Generator(device=device or "cpu")
        g.manual_seed(int(generator))
        return g
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


class NoiseSource:
    """Draws standard normals of a fixed layout from one generator (see the module docstring)."""

    def __init__(self, n: int, dim: int, generator: torch.Generator | None, dtype: torch.dtype, device):
        self.n = n
        self.dim = dim
        self.generator = generator
        self.dtype = dtype
        self.device = torch.device(device)
        if generator is not None and generator.device.type != self.device.type:
            raise ValueError(f"generator is on {generator.device} but the sampler runs on {self.device}")

    def standard(self, *leading: int) -> torch.Tensor:
        """Standard normals of shape ``(*leading, n, d)``."""
        return torch.randn(*leading, self.n, self.dim, generator=self.generator, dtype=self.dtype, device=self.device)

    def initial(self, variance: float = 1.0) -> torch.Tensor:
        """``ŷ_{t_0} ~ N(0, variance · I)``, shape (n, d)."""
        z = self.standard()
        return z if variance == 1.0 else z * variance**0.5

    def increments(self, variances: np.ndarray) -> torch.Tensor:
        """``ζ_j ~ N(0, variances[j] I)``, shape (M, n, d)."""
        std = torch.as_tensor(np.sqrt(variances), dtype=self.dtype, device=self.device)
        return self.standard(std.shape[0]) * std[:, None, None]
