"""Exact mathematics of the targets: Gaussian and Gaussian-mixture laws under the OU forward
process (docs/mathematics.md §1-2) and exact divergences between Gaussians (docs/mathematics.md §9).

This package knows nothing about samplers.
"""

from .divergences import gaussian_hellinger, gaussian_kl, gaussian_tv, gaussian_w2
from .gaussian import Gaussian
from .mixture import GaussianMixture
from .ou import ou_mean_factor, ou_noise_variance

__all__ = [
    "Gaussian",
    "GaussianMixture",
    "gaussian_hellinger",
    "gaussian_kl",
    "gaussian_tv",
    "gaussian_w2",
    "ou_mean_factor",
    "ou_noise_variance",
]
