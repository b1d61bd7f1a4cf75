"""The test kit for other people's samplers (piadm_verify.testing, docs/mathematics.md §10).

The samplers here are written as a stranger would write them: plain loops over the grid's steps,
drawing from ``noise`` and nothing of the project's schemes. Two correct ones (Euler–Maruyama and
the exponential integrator) must pass every claim; each deliberately wrong one must fail at least one.
Exact claims cannot fail by chance; the statistical ones share α = 1e-4 (Bonferroni), so a correct
sampler fails the kit with probability ≤ 1e-4.
"""

from __future__ import annotations

import math

import pytest
import torch

from piadm_verify import SamplerResult, TimeGrid, sequential_sde
from piadm_verify.testing import SamplerFailure, verify_sampler


def _steps(grid):
    """(j, ε_j, forward time s_j, backward time t_j) of every step, in order."""
    for block in grid:
        for m, (eps, s) in enumerate(zip(block.steps, block.score_times)):
            yield block.first_step + m, float(eps), float(s), float(block.start + block.taus[m])


def _result(x, calls, points):
    return SamplerResult(samples=x, rounds=calls, score_evals=points, peak_points=1)


def euler_maruyama(score, grid, n, dim, *, noise, noise_scale=1.0, time_of=None, drift=0.5, report=1.0, **_):
    """x ← x + ε(½x + s(x, s_j)) + √ε z_j. The keyword arguments let the wrong variants below be
    one-line changes: a noise variance off by a factor, the score at another time, the ½x drift
    missing, and a sampler that reports only a fraction of its rounds."""
    x = noise.initial()
    calls = 0
    for j, eps, s, t in _steps(grid):
        when = s if time_of is None else time_of(s, t, eps)
        x = x + eps * (drift * x + score(x, torch.tensor(when, dtype=x.dtype))) \
            + math.sqrt(noise_scale * eps) * noise.steps(j, j + 1)[0]
        calls += 1
    return _result(x, int(calls * report), calls)


def exponential_integrator(score, grid, n, dim, *, noise, **_):
    """x ← e^{ε/2} x + 2(e^{ε/2} − 1) s(x, s_j) + √(e^ε − 1) z_j (docs/mathematics.md §4)."""
    x = noise.initial()
    calls = 0
    for j, eps, s, _t in _steps(grid):
        x = math.exp(eps / 2) * x + 2 * math.expm1(eps / 2) * score(x, torch.tensor(s, dtype=x.dtype)) \
            + math.sqrt(math.expm1(eps)) * noise.steps(j, j + 1)[0]
        calls += 1
    return _result(x, calls, calls)


def clamped_exponential_integrator(score, grid, n, dim, *, noise, **_):
    """The exponential integrator with every coordinate clamped to [−8, 8] after each step: correct on
    the targets (their draws stay far inside), but not affine, so the kit checks it by Monte Carlo."""
    x = noise.initial()
    calls = 0
    for j, eps, s, _t in _steps(grid):
        x = math.exp(eps / 2) * x + 2 * math.expm1(eps / 2) * score(x, torch.tensor(s, dtype=x.dtype)) \
            + math.sqrt(math.expm1(eps)) * noise.steps(j, j + 1)[0]
        x = x.clamp(-8.0, 8.0)
        calls += 1
    return _result(x, calls, calls)


def probability_flow_euler(score, grid, n, dim, *, noise, **_):
    """The probability-flow ODE by Euler: x ← x + ε(½x + ½ s(x, s_j)); a tensor result (no counts)."""
    x = noise.initial()
    for _j, eps, s, _t in _steps(grid):
        x = x + eps * 0.5 * (x + score(x, torch.tensor(s, dtype=x.dtype)))
    return x


WRONG = {
    "noise_variance_halved": dict(noise_scale=0.5),
    "score_at_backward_time": dict(time_of=lambda s, t, eps: max(t, 1e-3)),
    "missing_half_drift": dict(drift=0.0),
    "under_reports_rounds": dict(report=0.5),
}


@pytest.fixture(scope="module")
def exponential_result():
    return verify_sampler(exponential_integrator, kind="sde", reference=sequential_sde)


def test_correct_exponential_integrator_passes_every_claim(exponential_result):
    assert exponential_result.passed, exponential_result.summary()
    names = {c.name for c in exponential_result.claims}
    assert {"consistency_full_3d", "consistency_product_4d", "score_error_rate", "girsanov", "parity", "determinism",
            "counts_rounds", "counts_score_evals", "counts_peak_points"} <= names
    assert sum(n.startswith("mixture_") for n in names) == 4


def test_correct_euler_maruyama_passes_every_claim():
    result = verify_sampler(euler_maruyama, kind="sde")
    assert result.passed, result.summary()


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_samplers_fail_at_least_one_claim(name):
    options = WRONG[name]
    result = verify_sampler(lambda *a, **k: euler_maruyama(*a, **k, **options), kind="sde", name=name)
    failed = [c.name for c in result.claims if not c.passed]
    assert failed, result.summary()
    if name == "under_reports_rounds":
        assert failed == ["counts_rounds"], result.summary()


def test_ode_kind_and_a_tensor_result():
    """A probability-flow sampler that returns a tensor: TV rates, and the count claims are skipped with a note."""
    result = verify_sampler(probability_flow_euler, kind="ode")
    assert result.passed, result.summary()
    assert not any(c.name.startswith("counts_") for c in result.claims)
    assert any("tensor" in note for note in result.notes)
    assert "girsanov" not in {c.name for c in result.claims}


def test_a_non_affine_sampler_is_checked_by_monte_carlo():
    """Clamping makes the output non-affine (the probe's check batch reaches the clamp): consistency and the
    score-error response run by Monte Carlo, each at its share of α, and the correct sampler passes."""
    result = verify_sampler(clamped_exponential_integrator, kind="sde")
    assert result.passed, result.summary()
    assert any("Monte Carlo" in note for note in result.notes)
    assert "girsanov" not in {c.name for c in result.claims}
    assert all(0 < c.alpha < 1e-4 for c in result.claims if c.name.startswith("consistency_"))


def test_parity_fails_against_the_wrong_reference(exponential_result):
    result = verify_sampler(euler_maruyama, kind="sde", reference=sequential_sde)
    (parity,) = [c for c in result.claims if c.name == "parity"]
    assert not parity.passed


@pytest.mark.parametrize("bad, stage", [
    (lambda score, grid, n, dim, *, noise, **_: noise.initial()[:, :1], "shape"),
    (lambda score, grid, n, dim, *, noise, **_: noise.initial() * float("nan"), "non-finite"),
    (lambda score, grid, n, dim, *, noise, **_: 1 / 0, "ZeroDivisionError"),
])
def test_a_broken_sampler_is_a_clear_failure_naming_the_stage(bad, stage):
    with pytest.raises(SamplerFailure, match=f"(?s)sampler broken.*{stage}|{stage}.*stage"):
        verify_sampler(bad, name="broken")


@pytest.mark.parametrize("bad, error", [
    (dict(kind="dde"), ValueError), (dict(level="slow"), ValueError), (dict(alpha=0.7), ValueError),
    (dict(reference=3), TypeError),
])
def test_bad_arguments(bad, error):
    with pytest.raises(error, match=next(iter(bad))):
        verify_sampler(exponential_integrator, **bad)
    with pytest.raises(TypeError, match="sampler"):
        verify_sampler(None)


def test_a_grid_is_a_time_grid_for_the_samplers():
    """The kit hands samplers TimeGrid objects; first_step numbers the steps globally."""
    grid = TimeGrid.uniform(2.0, 1e-2, 2, 3)
    assert [j for j, *_ in _steps(grid)] == list(range(6))


# -- the command line ----------------------------------------------------------------------------------------
USER_MODULE = '''
import math
import torch
from piadm_verify import SamplerResult


def _steps(grid):
    for block in grid:
        for m, (eps, s) in enumerate(zip(block.steps, block.score_times)):
            yield block.first_step + m, float(eps), float(s)


def good(score, grid, n, dim, *, noise, **_):
    x = noise.initial()
    for j, eps, s in _steps(grid):
        x = math.exp(eps / 2) * x + 2 * math.expm1(eps / 2) * score(x, torch.tensor(s, dtype=x.dtype)) \\
            + math.sqrt(math.expm1(eps)) * noise.steps(j, j + 1)[0]
    return x


def drifting(score, grid, n, dim, *, noise, **_):
    x = noise.initial()
    for j, eps, s in _steps(grid):
        x = x + 2 * math.expm1(eps / 2) * score(x, torch.tensor(s, dtype=x.dtype)) \\
            + math.sqrt(math.expm1(eps)) * noise.steps(j, j + 1)[0]
    return x


def raising(score, grid, n, dim, *, noise, **_):
    raise RuntimeError("my sampler is broken")


NOT_CALLABLE = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_samplers.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path


def test_check_exit_statuses(user_module, capsys):
    from piadm_verify import cli

    out = user_module / "out"
    assert cli.main(["check", "user_samplers:good", "--out", str(out)]) == 0
    assert (out / "check.md").is_file() and (out / "results.json").is_file()
    assert "**PASS**" in (out / "check.md").read_text()
    assert cli.main(["check", "user_samplers:drifting"]) == 1
    assert "FAIL consistency_" in capsys.readouterr().out
    for spec, message in (("no_such_module:good", "does not import"), ("user_samplers:missing", "no attribute"),
                          ("user_samplers:NOT_CALLABLE", "not callable"), ("user_samplers", "MODULE:CALLABLE")):
        assert cli.main(["check", spec]) == 2
        assert message in capsys.readouterr().err


def test_check_of_a_raising_sampler_names_the_sampler_and_the_stage_and_writes_nothing(user_module, capsys):
    from piadm_verify import cli

    out = user_module / "out"
    assert cli.main(["check", "user_samplers:raising", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "user_samplers:raising" in err and "stage" in err and "my sampler is broken" in err
    assert not out.exists() and not [p for p in user_module.iterdir() if p.name.startswith(".out")]


def test_check_refuses_an_unusable_output_directory_before_running(user_module, capsys):
    from piadm_verify import cli

    (user_module / "full").mkdir()
    (user_module / "full" / "mine.txt").write_text("x")
    assert cli.main(["check", "user_samplers:raising", "--out", str(user_module / "full")]) == 2
    assert "holds no earlier report" in capsys.readouterr().err
