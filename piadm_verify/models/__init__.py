"""Learned scores on the suite's exact targets (docs/mathematics.md §13, §14): a small ε-prediction
network (:class:`ScoreNetwork`, callable as ``score(x, s) = −ε̂/σ``), its training by denoising score
matching (:func:`train_score`), save and load (:func:`save_score`, :func:`load_score`) and the
measurement of its score error δ against the exact score (:func:`measure_delta`). The adapters between
a score and the ε/x₀/v parametrisations (defined in :mod:`piadm_verify.scores.adapters`) are exported
here too, where the public API names them."""

from ..scores.adapters import (
    epsilon_from_score,
    score_from_epsilon,
    score_from_v,
    score_from_x0,
    v_from_score,
    x0_from_score,
)

from .delta import measure_delta, score_error
from .network import ScoreNetwork, load_score, save_score
from .training import TrainingError, sample_times, time_normaliser, train_score

__all__ = ["ScoreNetwork", "train_score", "TrainingError", "measure_delta", "score_error", "save_score", "load_score",
           "sample_times", "time_normaliser", "score_from_epsilon", "score_from_x0", "score_from_v", "epsilon_from_score",
           "x0_from_score", "v_from_score"]
