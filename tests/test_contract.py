"""The sampler contract (docs/mathematics.md §10): every sampler takes ``n`` and ``dim`` in the same
positions, reports every round to ``callback`` in order, shows a progress bar only when asked, and
returns counts that match the score calls that were observed."""

from __future__ import annotations

import inspect

import pytest
import torch

from analytic import Gaussian
from piadm_verify import TimeGrid, piadm_ode, piadm_sde, sequential_ode, sequential_sde

TARGET = Gaussian([0.5, -1.0, 0.2], [0.7, 1.3, 0.4])
GRID = TimeGrid.from_arrays(3.0, 1e-2, [0.0, 1.0, 2.99], [[0.0, 0.3, 1.0], [0.0, 0.5, 1.0, 1.5, 1.99]])
CORRECTOR = dict(K=2, steps=3, sub_blocks=2, h=0.4, gamma=2.0)

SAMPLERS = {
    "piadm_sde": (piadm_sde, dict(K=3)),
    "sequential_sde": (sequential_sde, {}),
    "piadm_ode": (piadm_ode, dict(K=2, corrector=CORRECTOR)),
    "piadm_ode_bare": (piadm_ode, dict(K=2)),
    "sequential_ode": (sequential_ode, dict(corrector=CORRECTOR)),
}


class CountingScore:
    """The target's score, counting calls and scored points (a call on (M, n, d) scores M points)."""

    def __init__(self, target):
        self.target, self.calls, self.points = target, 0, []

    def __call__(self, x, s):
        self.calls += 1
        self.points.append(x.shape[0] if x.dim() == 3 else 1)
        return self.target.score(x, s)


def _expected_rounds(name):
    """The rounds the docstrings state: K·N, Σ M_n, N(K + N†K†), N·K, Σ M_n + N N† M†."""
    N, total = GRID.blocks, GRID.total_steps
    return {"piadm_sde": 3 * N, "sequential_sde": total, "piadm_ode": N * (2 + 2 * 2), "piadm_ode_bare": 2 * N,
            "sequential_ode": total + N * 2 * 3}[name]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_n_and_dim_are_the_third_and_fourth_parameters(name):
    sampler, _ = SAMPLERS[name]
    assert list(inspect.signature(sampler).parameters)[:4] == ["score", "grid", "n", "dim"]
    for keyword in ("x0", "generator", "dtype", "device", "callback", "progress"):
        assert inspect.signature(sampler).parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_callback_sees_every_round_in_order_with_honest_counts(name):
    sampler, options = SAMPLERS[name]
    score, seen = CountingScore(TARGET), []
    out = sampler(score, GRID, 4, 3, generator=0, callback=seen.append, **options)
    assert [info.round for info in seen] == list(range(1, out.rounds + 1))
    assert out.rounds == _expected_rounds(name) == score.calls
    assert sum(info.points for info in seen) == out.score_evals == sum(score.points)
    assert max(info.points for info in seen) == out.peak_points == max(score.points)
    blocks = [info.block for info in seen]
    assert blocks == sorted(blocks) and set(blocks) == set(range(GRID.blocks))
    parallel = name.startswith("piadm")
    for info in seen:
        assert (info.residual is not None) == parallel and (info.residual is None or info.residual >= 0)
        assert info.stage in (("predictor", "corrector") if parallel else ("step", "corrector"))
        assert (info.sub_block is None) == (info.stage != "corrector")


def test_callback_iterations_count_picard_iterations_within_each_block():
    seen = []
    piadm_sde(TARGET, GRID, 4, 3, K=3, generator=0, callback=seen.append)
    assert [(i.block, i.iteration) for i in seen] == [(b, k) for b in range(GRID.blocks) for k in range(3)]
    seen = []
    sequential_sde(TARGET, GRID, 4, 3, generator=0, callback=seen.append)
    assert [(i.block, i.iteration) for i in seen] == [(b, j) for b in range(GRID.blocks)
                                                      for j in range(GRID.steps_per_block[b])]


def test_callback_residuals_are_the_traced_residuals():
    seen = []
    out = piadm_sde(TARGET, GRID, 4, 3, K=3, generator=0, callback=seen.append, trace=True)
    traced = torch.cat(out.trace).tolist()
    assert [i.residual for i in seen] == pytest.approx(traced, rel=0, abs=0)


def test_callback_does_not_change_the_samples():
    a = piadm_sde(TARGET, GRID, 4, 3, K=3, generator=5)
    b = piadm_sde(TARGET, GRID, 4, 3, K=3, generator=5, callback=lambda info: None)
    assert torch.equal(a.samples, b.samples)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_progress_bar_goes_to_stderr_only_when_asked(name, capfd):
    sampler, options = SAMPLERS[name]
    sampler(TARGET, GRID, 4, 3, generator=0, **options)
    quiet = capfd.readouterr()
    assert quiet.out == "" and quiet.err == ""
    sampler(TARGET, GRID, 4, 3, generator=0, progress=True, **options)
    shown = capfd.readouterr()
    assert shown.out == "" and "round" in shown.err and name.replace("_bare", "") in shown.err


@pytest.mark.parametrize("bad, error", [(dict(callback=3), TypeError), (dict(progress="yes"), TypeError)])
def test_bad_callback_or_progress_is_a_clear_error(bad, error):
    with pytest.raises(error, match=next(iter(bad))):
        piadm_sde(TARGET, GRID, 4, 3, K=2, generator=0, **bad)


def test_sequential_sde_reports_the_girsanov_path_quantity():
    """reference_score on the sequential sampler: ½ Σ_j ε_j mean ‖s_θ(y_j) − ∇log p(y_j)‖², which for a
    constant bias b is ½ (T − η) ‖b‖² exactly, and 0 for the exact score."""
    bias = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64)
    biased = lambda x, s: TARGET.score(x, s) + bias
    out = sequential_sde(biased, GRID, 4, 3, generator=0, reference_score=TARGET)
    assert out.path_kl == pytest.approx(0.5 * (GRID.T - GRID.eta) * float(bias @ bias), rel=1e-12)
    assert sequential_sde(TARGET, GRID, 4, 3, generator=0, reference_score=TARGET).path_kl == 0.0
    assert sequential_sde(TARGET, GRID, 4, 3, generator=0).path_kl is None
