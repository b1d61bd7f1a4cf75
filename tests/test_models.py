"""Learned score networks (docs/mathematics.md §13, §14): training by denoising score matching,
save/load, the network as a score, and measure_delta against the exact score.

Training runs under one torch thread (``environment.torch_threads(1)``): the networks are tiny and
intra-op threads only add contention. Statistical checks state α (≤ 1e-4 per assertion, Bonferroni
across a parametrised family).
"""

import math

import numpy as np
import pytest
import torch
from scipy import special

from analytic import Gaussian, GaussianMixture
from piadm_verify import TimeGrid, inject_error, piadm_sde, sequential_sde
from piadm_verify.models import (ScoreNetwork, TrainingError, load_score, measure_delta, sample_times, save_score,
                                 time_normaliser, train_score)
from piadm_verify.reporting.environment import torch_threads
from piadm_verify.scores.errors import grid_norm

TARGET = GaussianMixture([0.4, 0.6], [[-1.5], [1.0]], [[0.3], [0.5]])
GRID = TimeGrid.uniform(T=6.0, eta=1e-2, blocks=3, steps=8)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def trained():
    with torch_threads(1):
        losses = []
        net = train_score(TARGET, width=16, depth=2, steps=400, lr=3e-3, eta=GRID.eta, T=GRID.T, generator=0,
                          callback=lambda step, loss: losses.append(loss))
    return net, losses


# -- training -----------------------------------------------------------------------------------------------
def test_training_reduces_the_loss_and_the_score_error_on_a_tiny_problem(trained):
    """400 steps (lr 3e-3) on a 1-d two-mode mixture (≈ 1 s): the mean ε-loss of the last 50 steps is below 70%
    of the first 50's (measured 0.50 vs 0.81), and δ₂ falls below 60% of the untrained network's
    (its output layer starts at 0: ε̂ ≡ 0; measured 0.42 ± 0.02 vs 2.36 ± 0.03, 4000 draws each).
    The margins are > 10 standard errors: the false-failure rate is far below 1e-4."""
    net, losses = trained
    assert len(losses) == 400 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-50:]) < 0.7 * np.mean(losses[:50])
    untrained = train_score(TARGET, width=16, depth=2, steps=1, lr=1e-12, eta=GRID.eta, T=GRID.T, generator=0)
    before, _ = measure_delta(untrained, TARGET, GRID, "L2", samples=4000, generator=1)
    after, _ = measure_delta(net, TARGET, GRID, "L2", samples=4000, generator=1)
    assert after < 0.6 * before


def test_training_is_deterministic_given_the_seed():
    a = train_score(TARGET, width=8, depth=1, steps=30, generator=7)
    b = train_score(TARGET, width=8, depth=1, steps=30, generator=torch.Generator().manual_seed(7))
    c = train_score(TARGET, width=8, depth=1, steps=30, generator=8)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.output.weight, c.output.weight)


def test_training_in_float64():
    net = train_score(TARGET, width=8, depth=1, steps=20, generator=0, dtype=torch.float64)
    assert net.output.weight.dtype == torch.float64
    assert net.metadata["dtype"] == "float64" and net.metadata["steps"] == 20


def test_times_have_density_proportional_to_one_over_sigma_squared():
    """s = log(1 + e^u), u uniform: P(s ≤ t) = (log(e^t − 1) − log(e^η − 1))/Z. A KS test of 20 000
    draws against that CDF (α = 1e-4), and Z = ∫ ds/σ² by quadrature."""
    from scipy import integrate, stats

    eta, T = 1e-3, 10.0
    s = sample_times(20_000, eta, T, torch.Generator().manual_seed(0)).numpy()
    assert s.min() >= eta and s.max() <= T
    Z = time_normaliser(eta, T)
    cdf = lambda t: (np.log(np.expm1(t)) - math.log(math.expm1(eta))) / Z
    assert stats.kstest(s, cdf).pvalue > 1e-4
    quad = integrate.quad(lambda t: 1.0 / -math.expm1(-t), eta, T, limit=200)[0]
    assert Z == pytest.approx(quad, rel=1e-9)


@pytest.mark.parametrize("change, error, words", [
    (dict(target=object()), TypeError, "target"),
    (dict(target=lambda x, s: x), TypeError, "target"),
    (dict(steps=0), ValueError, "steps"),
    (dict(steps=2.5), ValueError, "steps"),
    (dict(width=0), ValueError, "width"),
    (dict(depth=-1), ValueError, "depth"),
    (dict(batch=0), ValueError, "batch"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(eta=0.0), ValueError, "eta"),
    (dict(eta=2.0, T=1.0), ValueError, "eta"),
    (dict(dtype=torch.int64), TypeError, "dtype"),
    (dict(generator=None), ValueError, "generator"),
    (dict(frequencies=()), ValueError, "frequencies"),
])
def test_bad_training_input_names_the_parameter(change, error, words):
    arguments = dict(target=TARGET, steps=2, width=4, depth=1)
    arguments.update(change)
    with pytest.raises(error, match=words):
        train_score(arguments.pop("target"), **arguments)


def test_a_non_finite_loss_stops_training_at_its_step():
    """An absurd learning rate overflows the float32 weights after the first step: the loss of step 1
    is not finite, and the error names that step."""
    with pytest.raises(TrainingError, match="at step 1") as info:
        train_score(TARGET, width=8, depth=1, steps=50, lr=1e30, generator=0)
    assert info.value.step == 1 and not math.isfinite(info.value.loss)


# -- the network as a score -------------------------------------------------------------------------------------
def test_network_is_a_score_minus_epsilon_over_sigma(trained):
    net, _ = trained
    x = torch.randn(7, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    s = torch.linspace(0.05, 5.0, 7, dtype=torch.float64)
    sigma = torch.sqrt(-torch.expm1(-s))[:, None]
    assert torch.allclose(net(x, s), -net.epsilon(x, s) / sigma, rtol=1e-6, atol=0)
    assert net(x, s).dtype == torch.float64 and net.epsilon(x, s).dtype == torch.float64


def test_network_takes_the_samplers_shapes_and_broadcasts_time(trained):
    net, _ = trained
    points = torch.randn(4, 5, 1, dtype=torch.float64)
    times = torch.tensor([[0.1], [0.5], [1.0], [2.0]], dtype=torch.float64)
    out = net(points, times)
    assert out.shape == points.shape
    assert torch.allclose(out[2], net(points[2], 1.0))
    with pytest.raises(ValueError, match="shape"):
        net(torch.randn(5, 2), 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        net(points, torch.ones(3))


def test_a_float32_network_drives_a_float64_sampler_and_parity_holds(trained):
    """A trained network in the samplers: float64 paths, and K = M Picard equals the sequential sampler
    path by path (same network, same noise) to round-off."""
    net, _ = trained
    net64 = ScoreNetwork(**net.architecture).to(torch.float64)
    net64.load_state_dict({k: v.to(torch.float64) for k, v in net.state_dict().items()})
    a = piadm_sde(net, GRID, 50, 1, K=GRID.max_steps, generator=3)
    assert a.samples.dtype == torch.float64 and torch.isfinite(a.samples).all()
    b = piadm_sde(net64, GRID, 50, 1, K=GRID.max_steps, generator=3)
    c = sequential_sde(net64, GRID, 50, 1, generator=3)
    assert torch.allclose(b.samples, c.samples, rtol=0, atol=1e-10)


# -- save and load ----------------------------------------------------------------------------------------------
def test_save_then_load_gives_the_same_outputs_bit_for_bit(trained, tmp_path):
    net, _ = trained
    path = save_score(net, tmp_path / "net.pt")
    loaded = load_score(path)
    x = torch.randn(100, 1, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    s = torch.rand(100, generator=torch.Generator().manual_seed(1)) * 5 + 0.01
    assert torch.equal(loaded(x, s), net(x, s))
    assert torch.equal(loaded.epsilon(x, s), net.epsilon(x, s))
    assert loaded.metadata == net.metadata and loaded.architecture == net.architecture
    assert not loaded.training
    as64 = load_score(path, dtype=torch.float64)
    assert torch.allclose(as64(x.double(), s.double()), net(x, s).double(), rtol=1e-5, atol=1e-6)


def test_loading_weights_of_another_architecture_is_a_clear_error(trained, tmp_path):
    net, _ = trained
    path = save_score(net, tmp_path / "net.pt")
    with pytest.raises(ValueError, match="width = 16 in the file, 32 expected"):
        load_score(path, architecture=dict(width=32))
    with pytest.raises(ValueError, match="another architecture"):
        load_score(path, architecture=ScoreNetwork(1, 16, 3))
    assert load_score(path, architecture=dict(width=16, depth=2)).width == 16
    # weights that do not fit the architecture recorded with them: never a partial load
    blob = torch.load(path, weights_only=True)
    blob["architecture"]["width"] = 8
    torch.save(blob, tmp_path / "tampered.pt")
    with pytest.raises(ValueError, match="do not fit the recorded architecture"):
        load_score(tmp_path / "tampered.pt")
    blob = torch.load(path, weights_only=True)
    del blob["state_dict"]["output.bias"]
    torch.save(blob, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="missing"):
        load_score(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a saved score network"):
        load_score(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a saved score network"):
        load_score(tmp_path / "junk.pt")


# -- measure_delta --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["L2", "Linf"])
def test_the_exact_score_has_delta_zero(norm):
    for target in (TARGET, Gaussian([0.5, -1.0], [[1.0, 0.3], [0.3, 0.6]])):
        assert measure_delta(target, target, GRID, norm, samples=500, generator=0) == (0.0, 0.0)
        assert measure_delta(target.score, target, GRID, norm, samples=500, generator=0) == (0.0, 0.0)


INJECTED = [(kind, norm) for kind in ("bias", "affine", "pulse", "fourier") for norm in ("L2", "Linf")]
Z_INJECTED = -special.ndtri(1e-4 / (2 * len(INJECTED)))  # two-sided, Bonferroni over the family: α = 1e-4


@pytest.mark.parametrize("kind, norm", INJECTED)
def test_measured_delta_of_an_injected_error_equals_its_calibration(kind, norm):
    """measure_delta and inject_error share one estimator (grid_norm): for an injected error of
    calibrated size δ = 0.3, the δ measured from independent draws equals the calibration within
    z·(se_cal² + se_meas²)^{1/2}, z for α = 1e-4 two-sided with Bonferroni over the 8 cases (exact
    calibrations have se 0; a relative 1e-9 absorbs round-off). L^∞ Monte Carlo takes the largest of
    48 noisy means, biased up by about a standard error in both measurements alike."""
    target = Gaussian([0.5, -1.0], [[1.0, 0.3], [0.3, 0.6]])
    score = inject_error(target, kind, 0.3, GRID, norm, generator=11)
    delta, se = measure_delta(score, target, GRID, norm, samples=20_000, generator=12)
    tolerance = Z_INJECTED * math.hypot(score.delta_stderr, se) + 1e-9 * score.delta
    assert abs(delta - score.delta) <= tolerance, (delta, se, score.delta, score.delta_stderr)


def test_measure_delta_uses_the_calibration_estimator():
    """The same draws give the same number: grid_norm on the error field s_θ − ∇log p with the generator
    measure_delta builds from its seed reproduces measure_delta exactly."""
    score = inject_error(TARGET, "fourier", 0.2, GRID, "L2", generator=3)
    delta, se = measure_delta(score, TARGET, GRID, "L2", samples=2000, generator=5)
    direct = grid_norm(lambda x, s: score(x, s) - TARGET.score(x, s), TARGET, GRID, "L2", samples=2000,
                       generator=torch.Generator().manual_seed(5))
    assert (delta, se) == (direct.value, direct.stderr)


def test_measure_delta_rejects_bad_input():
    with pytest.raises(ValueError, match="score"):
        measure_delta(lambda x, s: x[..., :0], TARGET, GRID)
    with pytest.raises(ValueError, match="score"):
        measure_delta(lambda x, s: 1.0, TARGET, GRID)
    with pytest.raises(TypeError, match="target"):
        measure_delta(TARGET, object(), GRID)
    with pytest.raises(TypeError, match="score"):
        measure_delta(object(), TARGET, GRID)
    with pytest.raises(ValueError, match="norm"):
        measure_delta(TARGET, TARGET, GRID, norm="L1")
    with pytest.raises(ValueError, match="samples"):
        measure_delta(TARGET, TARGET, GRID, samples=10)
    with pytest.raises(TypeError, match="grid"):
        measure_delta(TARGET, TARGET, "grid")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_matches_the_cpu_data_and_gives_a_cuda_network():
    """On CUDA the draws are made on the CPU (the same data as a CPU run); the network lives on the
    device and its score takes CPU points through measure_delta."""
    net = train_score(TARGET, width=16, depth=2, steps=200, generator=0, device="cuda")
    assert net.output.weight.device.type == "cuda"
    delta, se = measure_delta(net, TARGET, GRID, "L2", samples=2000, generator=1)
    assert math.isfinite(delta) and se > 0
    x = torch.randn(10, 1, device="cuda")
    assert net(x, 1.0).device.type == "cuda"
