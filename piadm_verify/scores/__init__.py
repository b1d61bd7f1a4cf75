"""Scores with known errors (docs/mathematics.md §6): the calibrated error injection that turns an
exact score into a model of a learned one; the estimator of a field's size on the grid
(:func:`grid_norm`) that calibrates it and measures learned scores (§14); and the adapters between a
score and the parametrisations real diffusion models use (ε, x₀, v, the Karras/VE denoiser) on the OU
clock (§13)."""

from .adapters import (
    denoiser_from_score,
    epsilon_from_score,
    ou_times,
    score_from_denoiser,
    score_from_epsilon,
    score_from_v,
    score_from_x0,
    v_from_score,
    x0_from_score,
)
from .errors import KINDS, NORMS, Calibration, InjectedScore, combine_errors, grid_norm, inject_error

__all__ = ["inject_error", "InjectedScore", "Calibration", "grid_norm", "combine_errors", "KINDS", "NORMS",
           "score_from_epsilon", "score_from_x0", "score_from_v", "epsilon_from_score", "x0_from_score",
           "v_from_score", "ou_times", "denoiser_from_score", "score_from_denoiser"]
