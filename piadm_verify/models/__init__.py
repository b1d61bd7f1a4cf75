"""Learned scores on the suite's exact targets (docs/mathematics.md §13, §14): a small ε-prediction
network (:class:`ScoreNetwork`, callable as ``score(x, s) = −ε̂/σ``), its training by denoising score
matching (:func:`train_score`), save and load (:func:`save_score`, :func:`load_score`) and the
measurement of its score error δ against the exact score (:func:`measure_delta`)."""

from .delta import measure_delta, score_error
from .network import ScoreNetwork, load_score, save_score
from .training import TrainingError, sample_times, time_normaliser, train_score

__all__ = ["ScoreNetwork", "train_score", "TrainingError", "measure_delta", "score_error", "save_score", "load_score",
           "sample_times", "time_normaliser"]
