"""What every sampler returns and reports (the sampler contract, docs/mathematics.md §10).

A sampler counts its own work as it goes through a :class:`RoundLog`: each round (one batched
score call, however it is chunked) is logged with the grid points it scored, so the counts in
the :class:`SamplerResult` are the ones that happened, the ``callback`` sees every round in
order, and ``progress=True`` shows a tqdm bar over rounds on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

__all__ = ["SamplerResult", "NonFiniteError", "RoundInfo", "RoundLog"]


@dataclass(frozen=True)
class SamplerResult:
    """What a sampler returns.

    ``samples``
        (n, d) draws of the output law ``q̂`` (to be compared with ``p_η``).
    ``rounds``
        Sequential batched score calls: the paper's "approximate time complexity".
    ``score_evals``
        Score evaluations per sample, summed over all rounds.
    ``peak_points``
        The largest number of grid points evaluated in one round (space = d × this).
    ``trace``
        With ``trace=True``: one tensor per block in the order they ran (for PIADM-ODE each
        predictor block followed by its corrector sub-blocks) holding, per Picard iteration k, the residual
        ``max_j (mean_i ‖Y^{(k+1)}_{ij} - Y^{(k)}_{ij}‖²)^{1/2}`` over grid points j and samples i.
    ``path_kl``
        With a ``reference_score``: the Girsanov path quantity (docs/mathematics.md §9), else None.
    ``iterations``
        Picard iterations per block in the order the blocks ran (PIADM; with adaptive K they vary),
        or the sweeps of a window sampler (ParaDiGMS, ParaTAA); None for sequential samplers.
    ``converged``
        False when an adaptive or window sampler stopped at its ``max_K``/``max_sweeps`` before its
        tolerance was met (the samples are then its last iterate); True otherwise.
    """

    samples: torch.Tensor
    rounds: int
    score_evals: int
    peak_points: int
    trace: tuple | None = None
    path_kl: float | None = None
    iterations: tuple | int | None = None
    converged: bool = True


class NonFiniteError(FloatingPointError):
    """A sampler produced a non-finite value; ``block`` and ``iteration`` say where."""

    def __init__(self, sampler: str, what: str, block: int, iteration: int, stage: str = "Picard iteration"):
        self.block = block
        self.iteration = iteration
        super().__init__(f"{sampler}: non-finite {what} in block {block}, {stage} {iteration}")


@dataclass(frozen=True)
class RoundInfo:
    """What a sampler's ``callback`` receives after every round.

    ``round``: rounds so far (1, 2, …); ``block``: the block (PIADM), or the block of the step
    (sequential samplers); ``iteration``: the Picard iteration in the block (0-based), or the step
    in the block for sequential samplers; ``residual``: the iteration's residual
    ``max_j (mean_i ‖Y^{(k+1)}_j − Y^{(k)}_j‖²)^{1/2}`` (None for a sequential step); ``stage``:
    ``"predictor"``, ``"corrector"`` or ``"step"``; ``sub_block``: the corrector's sub-block (else
    None); ``points``: the grid points this round scored.
    """

    round: int
    block: int
    iteration: int
    residual: float | None
    stage: str
    points: int
    sub_block: int | None = None


class RoundLog:
    """Counts a sampler's rounds as they happen and reports each to ``callback`` and a progress bar.

    ``total`` (the rounds the sampler expects, or None) sizes the bar. Use it as a context manager
    so that the bar closes however the sampler ends.
    """

    def __init__(self, sampler: str, total: int | None, callback: Callable | None = None, progress: bool = False):
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.callback = callback
        self.rounds = 0
        self.score_evals = 0
        self.peak_points = 0
        self._bar = tqdm(total=total, desc=sampler, unit="round", file=sys.stderr, leave=False) if progress else None

    def round(self, block: int, iteration: int, points: int, residual=None, stage: str = "predictor",
              sub_block: int | None = None) -> None:
        """Log one round that scored ``points`` grid points (``residual``: a number or a 0-d tensor)."""
        self.rounds += 1
        self.score_evals += points
        self.peak_points = max(self.peak_points, points)
        if self._bar is not None:
            self._bar.update(1)
        if self.callback is not None:
            value = None if residual is None else float(residual)
            self.callback(RoundInfo(self.rounds, block, iteration, value, stage, points, sub_block))

    def result(self, samples: torch.Tensor, **fields) -> SamplerResult:
        """The :class:`SamplerResult` with the logged counts."""
        return SamplerResult(samples=samples, rounds=self.rounds, score_evals=self.score_evals,
                             peak_points=self.peak_points, **fields)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "RoundLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
