"""The exact-law oracle of PIADM-SDE on Gaussian targets (docs/mathematics.md §4, §8, §9).

1. Exactness: the compiled fast path equals the dense path; both equal an independent brute-force
   construction of the Picard iteration (explicit loops, written from docs/mathematics.md §4); ``exact_laws``
   equals per-K ``exact_law``; ``K ≥ max M_n`` equals the sequential law (``K < M`` does not);
   ``initial=`` is honoured; bad inputs raise the documented errors.
2. Sampler/oracle agreement (statistical): samples of ``piadm_sde`` against the oracle's law by an
   exact χ² test of the mean and a Bartlett-corrected likelihood-ratio test of the covariance, with
   Holm over the family; the same check rejects four deliberately broken samplers.
3. Measurement: KL(p_η ‖ q_K) and KL(q_seq ‖ q_K) for K = 1 … M on one setting (printed).
4. ``slow``: wall times of the oracle's fast and dense paths (printed, not asserted).

The default run takes ~30 s on two cores.
"""

from __future__ import annotations

import math
import os
import time

import numba
import numpy as np
import pytest
import torch
from scipy import special, stats

from analytic import Gaussian, GaussianMixture, gaussian_kl
from piadm_verify import EulerMaruyama, ExponentialIntegrator, TimeGrid, exact_law, exact_laws, inject_error, piadm_sde
from piadm_verify import sde_preset
from piadm_verify.oracle import exact_laws_ode
from piadm_verify.studies.base import product_target
from piadm_verify.verification.stats import holm

from agreement import bartlett_constants, covariance_lrt_pvalue, gaussian_pvalues

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Single-threaded torch and numba: the problems are small and the machine is shared (see
    test_sde.py). On a loaded 2-core machine the oracle's ``prange`` kernel costs ~15 ms per block
    with numba's two OpenMP threads and ~1 ms with one. Previous settings are restored."""
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    torch.set_num_threads(before[0])
    numba.set_num_threads(before[1])


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------
def full_target(d: int, seed: int = 1234) -> Gaussian:
    """Full covariance with a random eigenbasis, eigenvalues spread over [0.3, 2.5], non-zero mean."""
    g = np.random.default_rng(seed + d)
    q, _ = np.linalg.qr(g.standard_normal((d, d)))
    lam = np.linspace(0.3, 2.5, d)
    return Gaussian(torch.tensor(g.standard_normal(d), dtype=F64), torch.tensor((q * lam) @ q.T, dtype=F64))


def diag_target(d: int) -> Gaussian:
    """Diagonal covariance. d = 6 repeats (mean, variance) pairs, so the fast path groups coordinates."""
    if d == 1:
        return Gaussian(torch.tensor([0.7], dtype=F64), torch.tensor([0.4], dtype=F64))
    if d == 3:
        return Gaussian(torch.tensor([0.5, -1.0, 0.2], dtype=F64), torch.tensor([0.5, 2.0, 0.1], dtype=F64))
    if d == 6:
        return Gaussian(torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, -0.5], dtype=F64),
                        torch.tensor([0.5, 2.0, 0.5, 0.1, 2.0, 1.3], dtype=F64))
    raise ValueError(d)


TARGETS = {
    "diag1": lambda: diag_target(1),
    "diag3": lambda: diag_target(3),
    "diag6": lambda: diag_target(6),
    "full3": lambda: full_target(3),
    "full6": lambda: full_target(6),
}


def uniform_grid() -> TimeGrid:
    return TimeGrid.uniform(T=3.0, eta=0.05, blocks=3, steps=6)


def es_grid() -> TimeGrid:
    """Non-uniform early-stopping grid: M_n = [3, 3, 5, 9], unequal block lengths."""
    return TimeGrid.early_stopping(T=2.5, eta=0.02, h=0.8, eps=0.25)


GRIDS = {"uniform": uniform_grid, "early_stopping": es_grid}


class NoiseVarianceEps(ExponentialIntegrator):
    """Broken variant (c): ``Var ζ_j = ε_j`` instead of ``e^{ε_j} - 1``."""

    def noise_variance(self, eps):
        return np.asarray(eps, dtype=np.float64).copy()


SCHEMES = {
    "EI": ExponentialIntegrator(),
    "EI-redraw": ExponentialIntegrator(shared_noise=False),
    "EI-right": ExponentialIntegrator(score_point="right"),
    "EM": EulerMaruyama(),
    "EI-var2": ExponentialIntegrator(initial_variance=2.0),
    "EM-redraw-right": EulerMaruyama(shared_noise=False, score_point="right", initial_variance=0.5),
}


def make_error(kind: str | None, target: Gaussian, grid: TimeGrid, delta: float = 0.7):
    """An injected score of an affine kind (``affine`` = mode "scaled", ``affine-random`` = mode "random")."""
    if kind is None:
        return None
    if kind == "affine-random":
        return inject_error(target, "affine", delta, grid, generator=5, mode="random")
    return inject_error(target, kind, delta, grid, generator=5)


def rel_err(law: Gaussian, ref: Gaussian) -> tuple[float, float]:
    """(mean error, covariance error), relative to ``max(‖m‖∞, √‖S‖∞)`` and ``‖S‖∞`` of ``ref``."""
    m, S = ref.mean.double(), ref.cov.double()
    cov_scale = float(S.abs().max())
    mean_scale = max(float(m.abs().max()), math.sqrt(cov_scale))
    return (float((law.mean.double() - m).abs().max()) / mean_scale,
            float((law.cov.double() - S).abs().max()) / cov_scale)


def assert_laws_close(law: Gaussian, ref: Gaussian, tol: float, what: str = ""):
    em, ec = rel_err(law, ref)
    assert em <= tol and ec <= tol, f"{what}: relative mean error {em:.3g}, covariance error {ec:.3g} > {tol:g}"


# --------------------------------------------------------------------------------------------------
# 1a. fast path == dense path
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid_name", list(GRIDS))
@pytest.mark.parametrize("v", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("scheme_name", list(SCHEMES))
def test_fast_path_equals_dense_path(scheme_name, v, grid_name):
    """For every target (diagonal d = 1, 3, 6 with grouped coordinates; full d = 3, 6) and every error
    that has a fast path (none, bias, pulse, affine mode="scaled"), the compiled per-coordinate scans
    and the d×d dense scans give the same law for K = 1, 2, 3, max M_n and max M_n + 2, to 1e-12
    relative on mean and covariance."""
    grid, scheme = GRIDS[grid_name](), SCHEMES[scheme_name]
    Ks = sorted({1, 2, 3, grid.max_steps, grid.max_steps + 2})
    for tname, make_target in TARGETS.items():
        target = make_target()
        for kind in (None, "bias", "pulse", "affine"):
            err = make_error(kind, target, grid)
            kw = dict(error=err, v=v, scheme=scheme)
            fast = exact_laws(target, grid, Ks, path="fast", **kw)
            dense = exact_laws(target, grid, Ks, path="dense", **kw)
            auto = exact_laws(target, grid, Ks, **kw)
            assert sorted(fast) == sorted(dense) == Ks
            for K in Ks:
                assert_laws_close(fast[K], dense[K], 1e-12, f"{tname} {kind} K={K}")
                assert torch.equal(auto[K].mean, fast[K].mean)  # auto takes the fast path here
            if scheme.score_point == "left":
                seq_fast = exact_law(target, grid, "sequential_sde", path="fast", **kw)
                seq_dense = exact_law(target, grid, "sequential_sde", path="dense", **kw)
                assert_laws_close(seq_fast, seq_dense, 1e-12, f"{tname} {kind} sequential")


# --------------------------------------------------------------------------------------------------
# 1b. independent brute force (docs/mathematics.md §4, explicit loops)
# --------------------------------------------------------------------------------------------------
def step_coefficients(scheme, eps: np.ndarray, v: float):
    """(growth(a, m), weight_j, Var ζ_j) of one step ``Y_{j+1} = d_j Y_j + w_j S_j + v ζ_j``, written
    out per scheme (not read from the scheme's methods): ``growth(a, m) = Π_{a ≤ i < m} d_i``, which for
    the exponential integrator is ``e^{(τ_m - τ_a)/2}`` as docs/mathematics.md §4 writes it."""
    taus = np.concatenate([[0.0], np.cumsum(eps)])
    if isinstance(scheme, EulerMaruyama):
        decay = [1.0 + e / 2 for e in eps]
        weight = [(1 + v * v) * e / 2 for e in eps]
        var = [float(e) for e in eps]

        def growth(a, m):
            out = 1.0
            for i in range(a, m):
                out *= decay[i]
            return out
    elif isinstance(scheme, ExponentialIntegrator):
        weight = [(1 + v * v) * math.expm1(e / 2) for e in eps]
        var = [float(e) if isinstance(scheme, NoiseVarianceEps) else math.expm1(e) for e in eps]

        def growth(a, m):
            return math.exp((taus[m] - taus[a]) / 2)
    else:
        raise TypeError(type(scheme))
    return growth, weight, var


def probe_affine_score(score, d: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(J, b)`` with ``score(x, s) = J x + b``, read off the score callable at x = 0 and x = e_i."""
    pts = torch.cat([torch.zeros(1, d, dtype=F64), torch.eye(d, dtype=F64)])
    out = score(pts, torch.full((d + 1,), float(s), dtype=F64)).numpy()
    b = out[0]
    return (out[1:] - b).T.copy(), b.copy()


def brute_force_block(score, d: int, t_start: float, taus: np.ndarray, T: float, scheme, v: float, K_max: int):
    """``{K: (A, c, V)}`` for K = 1 … K_max: the block's output ``Y^{(K)}_M = A y_0 + Σ B ζ + c`` and
    ``V = Σ Var(ζ) B Bᵀ``, by iterating docs/mathematics.md §4 literally on affine functions of the inputs.

    Inputs: ``y_0`` (d), then ``ζ_0 … ζ_{M-1}`` (shared noise) or, when the scheme redraws noise,
    one set ``ζ^{(k)}_0 … ζ^{(k)}_{M-1}`` per iteration k (iteration k + 1 is driven by ``ζ^{(k)}``).
    Each ``Y_m`` is a pair (d × n_in matrix, constant d-vector). Iteration k:
    ``S_j = J_j Y^{(k)}_{j+o} + b_j`` (o = 0 for score_point "left", 1 for "right", evaluated at the
    forward time of point j + o), then
    ``Y^{(k+1)}_m = G(0, m) y_0 + Σ_{j<m} G(j+1, m) [w_j S_j + v ζ_j]`` with explicit loops over m, j.
    """
    M = len(taus) - 1
    eps = np.diff(taus)
    growth, weight, var = step_coefficients(scheme, eps, v)
    o = 0 if scheme.score_point == "left" else 1
    sets = 1 if scheme.shared_noise else K_max
    n_in = d * (1 + sets * M)

    def selector(slot):
        out = np.zeros((d, n_in))
        out[:, slot * d:(slot + 1) * d] = np.eye(d)
        return out

    def zeta_slot(k, j):
        return 1 + (0 if scheme.shared_noise else k) * M + j

    y0 = selector(0)
    probes = [probe_affine_score(score, d, T - (t_start + taus[j + o])) for j in range(M)]
    Y = [(y0.copy(), np.zeros(d)) for _ in range(M + 1)]  # Y^{(0)} ≡ y_0
    out = {}
    for k in range(K_max):
        S = []
        for j in range(M):
            J, b = probes[j]
            mat, const = Y[j + o]
            S.append((J @ mat, J @ const + b))
        new = []
        for m in range(M + 1):
            mat = growth(0, m) * y0
            const = np.zeros(d)
            for j in range(m):
                g = growth(j + 1, m)
                mat = mat + g * (weight[j] * S[j][0] + v * selector(zeta_slot(k, j)))
                const = const + g * weight[j] * S[j][1]
            new.append((mat, const))
        Y = new
        mat, const = Y[M]
        V = np.zeros((d, d))
        for kk in range(sets):
            for j in range(M):
                slot = zeta_slot(kk, j)
                B = mat[:, slot * d:(slot + 1) * d]
                V += var[j] * B @ B.T
        out[k + 1] = (mat[:, :d].copy(), const, V)
    return out


def brute_force_laws(score, d: int, grid: TimeGrid, scheme, v: float, K_max: int, initial=None):
    """``{K: (mean, cov)}`` of the output, pushing the Gaussian law through the blocks' affine maps."""
    if initial is None:
        m0, P0 = np.zeros(d), scheme.initial_variance * np.eye(d)
    else:
        m0, P0 = initial
    laws = {K: (np.array(m0, dtype=float), np.array(P0, dtype=float)) for K in range(1, K_max + 1)}
    for n in range(grid.blocks):
        maps = brute_force_block(score, d, float(grid.block_times[n]), grid.taus(n), grid.T, scheme, v, K_max)
        for K, (A, c, V) in maps.items():
            m, P = laws[K]
            laws[K] = (A @ m + c, A @ P @ A.T + V)
    return laws


def brute_force_sequential(score, d: int, grid: TimeGrid, scheme, v: float):
    """The sequential scheme step by step: ``x ← d_j x + w_j (J_j x + b_j) + v ζ_j``."""
    m, P = np.zeros(d), scheme.initial_variance * np.eye(d)
    for n in range(grid.blocks):
        taus, t0 = grid.taus(n), float(grid.block_times[n])
        growth, weight, var = step_coefficients(scheme, np.diff(taus), v)
        for j in range(len(taus) - 1):
            J, b = probe_affine_score(score, d, grid.T - (t0 + taus[j]))
            G = growth(j, j + 1) * np.eye(d) + weight[j] * J
            m = G @ m + weight[j] * b
            P = G @ P @ G.T + v * v * var[j] * np.eye(d)
    return m, P


def tiny_grids():
    return {
        "uniform-2x5": TimeGrid.uniform(T=3.0, eta=0.05, blocks=2, steps=5),
        "arrays-3": TimeGrid.from_arrays(
            T=2.0, eta=0.1, block_times=[0.0, 0.7, 1.3, 1.9],
            taus=[[0.0, 0.1, 0.3, 0.45, 0.7], [0.0, 0.2, 0.6], [0.0, 0.05, 0.15, 0.3, 0.6]]),
    }


TINY_TARGETS = {
    "diag1": lambda: diag_target(1),
    "diag2": lambda: Gaussian(torch.tensor([0.3, -0.8], dtype=F64), torch.tensor([0.2, 1.7], dtype=F64)),
    "full2": lambda: full_target(2),
}


def law_from_numpy(m, P) -> Gaussian:
    return Gaussian(torch.tensor(m), torch.tensor(0.5 * (P + P.T)))


def test_brute_force_self_consistency():
    """The brute force itself: K ≥ M equals its step-by-step sequential recursion (so the
    closed-form sums and the probing of the score are right), K = 1 does not."""
    grid = tiny_grids()["arrays-3"]
    target = full_target(2)
    for v in (1.0, 0.5):
        laws = brute_force_laws(target.score, 2, grid, ExponentialIntegrator(), v, grid.max_steps + 1)
        m, P = brute_force_sequential(target.score, 2, grid, ExponentialIntegrator(), v)
        for K in (grid.max_steps, grid.max_steps + 1):
            np.testing.assert_allclose(laws[K][0], m, rtol=0, atol=1e-12)
            np.testing.assert_allclose(laws[K][1], P, rtol=0, atol=1e-12)
        assert np.abs(laws[1][1] - P).max() > 1e-3


@pytest.mark.parametrize("grid_name", ["uniform-2x5", "arrays-3"])
@pytest.mark.parametrize("scheme_name", list(SCHEMES))
def test_oracle_equals_brute_force(scheme_name, grid_name):
    """Both oracle paths equal the brute-force law (≤ 1e-11 relative) for K = 1 … max M_n + 1, on
    1-d and 2-d (diagonal and full) targets, v ∈ {1, 0.5, 0}, with no error and with each affine error
    kind (bias, pulse, affine "scaled"; affine "random" has only the dense path). The brute force
    reads the score through the same callable the sampler uses (the injected score), so it also
    checks that the errors' ``affine_terms`` describe their ``__call__``."""
    grid, scheme = tiny_grids()[grid_name], SCHEMES[scheme_name]
    K_max = grid.max_steps + 1
    Ks = list(range(1, K_max + 1))
    for tname, make_target in TINY_TARGETS.items():
        target = make_target()
        d = target.dim
        for kind in (None, "bias", "pulse", "affine", "affine-random"):
            if kind == "affine-random" and d == 1:
                continue  # a 1×1 matrix commutes; covered at d = 2
            err = make_error(kind, target, grid)
            score = target.score if err is None else err
            for v in (1.0, 0.5, 0.0):
                ref = brute_force_laws(score, d, grid, scheme, v, K_max)
                paths = ("dense",) if kind == "affine-random" else ("fast", "dense")
                for path in paths:
                    laws = exact_laws(target, grid, Ks, error=err, v=v, scheme=scheme, path=path)
                    for K in Ks:
                        assert_laws_close(laws[K], law_from_numpy(*ref[K]), 1e-11,
                                          f"{tname} {kind} v={v} {path} K={K}")


def test_brute_force_random_affine_three_dims():
    """A non-commuting affine error at d = 3 on the early-stopping grid (M_n up to 9): dense oracle
    == brute force for K = 1 … 10, shared and redrawn noise, left and right score points."""
    grid, target = es_grid(), full_target(3)
    err = make_error("affine-random", target, grid, delta=1.5)
    K_max = grid.max_steps + 1
    for scheme in (SCHEMES["EI"], SCHEMES["EI-redraw"], SCHEMES["EI-right"]):
        ref = brute_force_laws(err, 3, grid, scheme, 1.0, K_max)
        laws = exact_laws(target, grid, list(range(1, K_max + 1)), error=err, scheme=scheme)
        for K in range(1, K_max + 1):
            assert_laws_close(laws[K], law_from_numpy(*ref[K]), 1e-11, f"{scheme} K={K}")


# --------------------------------------------------------------------------------------------------
# 1c. exact_laws == exact_law per K
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["fast", "dense"])
@pytest.mark.parametrize("scheme_name", ["EI", "EI-redraw", "EI-right"])
def test_exact_laws_equals_separate_exact_law_calls(scheme_name, path):
    """One sweep for K = 1 … K_max gives the same laws as K_max separate calls (≤ 1e-14 relative),
    and the returned keys are the requested K (sorted, deduplicated)."""
    grid, target, scheme = es_grid(), full_target(3), SCHEMES[scheme_name]
    err = make_error("bias", target, grid)
    K_max = grid.max_steps + 2
    laws = exact_laws(target, grid, list(range(1, K_max + 1)), error=err, scheme=scheme, path=path)
    assert list(laws) == list(range(1, K_max + 1))
    for K in range(1, K_max + 1):
        single = exact_law(target, grid, K=K, error=err, scheme=scheme, path=path)
        assert_laws_close(laws[K], single, 1e-14, f"K={K}")
    some = exact_laws(target, grid, [4, 1, 4, 2], error=err, scheme=scheme, path=path)
    assert list(some) == [1, 2, 4]
    for K in some:
        assert_laws_close(some[K], laws[K], 1e-14, f"subset K={K}")
    assert list(exact_laws(target, grid, 3, scheme=scheme, path=path)) == [3]


# --------------------------------------------------------------------------------------------------
# 1d. K ≥ max M_n == sequential
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid_name", list(GRIDS))
@pytest.mark.parametrize("v", [1.0, 0.5, 0.0])
def test_k_at_least_m_equals_sequential_law(grid_name, v):
    """K = max M_n and max M_n + 3 reproduce method="sequential_sde" (≤ 1e-12 relative) on both
    paths, with and without an error, for the exponential integrator and Euler–Maruyama; the
    sequential oracle equals the brute-force step recursion; K = 1 and K = max M_n // 2 differ."""
    grid = GRIDS[grid_name]()
    M = grid.max_steps
    for target in (diag_target(3), full_target(3)):
        for kind in (None, "bias", "affine"):
            err = make_error(kind, target, grid)
            score = target.score if err is None else err
            for scheme in (SCHEMES["EI"], SCHEMES["EM"]):
                for path in ("fast", "dense"):
                    seq = exact_law(target, grid, "sequential_sde", error=err, v=v, scheme=scheme, path=path)
                    laws = exact_laws(target, grid, [1, M // 2, M, M + 3], error=err, v=v, scheme=scheme, path=path)
                    for K in (M, M + 3):
                        assert_laws_close(laws[K], seq, 1e-12, f"K={K}")
                    # control: not yet converged below M (the last block has M points); by K = M - 1
                    # the super-geometric decay can already reach round-off (2e-14 on this grid)
                    assert max(rel_err(laws[1], seq)) > 1e-3
                    assert max(rel_err(laws[M // 2], seq)) > 1e-9
                bf = brute_force_sequential(score, 3, grid, scheme, v)
                assert_laws_close(seq, law_from_numpy(*bf), 1e-12, "sequential vs brute force")


def test_k_at_least_m_nonuniform_blocks():
    """A grid whose blocks have different M_n: K = M_n of the longest block is needed; with
    K = max M_n - 1 only the longest block is unconverged and the law still differs."""
    grid = TimeGrid.uniform(T=4.0, eta=0.1, blocks=3, steps=[2, 7, 4])
    target = full_target(3)
    seq = exact_law(target, grid, "sequential_sde")
    laws = exact_laws(target, grid, [6, 7])
    assert_laws_close(laws[7], seq, 1e-12)
    assert max(rel_err(laws[6], seq)) > 1e-12


# --------------------------------------------------------------------------------------------------
# 1e. initial law, argument validation
# --------------------------------------------------------------------------------------------------
def test_initial_law_is_honoured():
    """``initial=N(m0, P0)`` replaces N(0, I): diagonal target with a diagonal initial law (fast and
    dense), full target with a full, non-commuting initial law (dense), against the brute force."""
    grid = tiny_grids()["arrays-3"]
    K_max = grid.max_steps
    cases = [
        (TINY_TARGETS["diag2"](), Gaussian(torch.tensor([0.4, -1.2], dtype=F64), torch.tensor([0.3, 2.5], dtype=F64)),
         ("fast", "dense")),
        (full_target(2), Gaussian(torch.tensor([1.0, 0.5], dtype=F64), torch.tensor([[1.5, 0.6], [0.6, 0.8]], dtype=F64)),
         ("dense",)),
    ]
    scheme = ExponentialIntegrator()
    for target, init, paths in cases:
        ref = brute_force_laws(target.score, 2, grid, scheme, 1.0, K_max,
                               initial=(init.mean.numpy(), init.cov.numpy()))
        default = exact_law(target, grid, K=1)
        for path in paths:
            laws = exact_laws(target, grid, list(range(1, K_max + 1)), initial=init, path=path)
            for K in laws:
                assert_laws_close(laws[K], law_from_numpy(*ref[K]), 1e-11, f"{path} K={K}")
            assert max(rel_err(laws[1], default)) > 1e-3  # the initial law matters
    # on the fast path a diagonal initial law of a full-covariance target must be given in its eigenbasis
    target = full_target(3)
    U = target.eigvecs
    init = Gaussian.from_eigen(U @ torch.tensor([0.2, 0.0, -0.3], dtype=F64), torch.tensor([0.5, 1.0, 3.0], dtype=F64), U)
    assert_laws_close(exact_law(target, grid, K=3, initial=init, path="fast"),
                      exact_law(target, grid, K=3, initial=init, path="dense"), 1e-12)


def test_auto_path_honours_non_commuting_initial():
    """path="auto" (the default) must give the law for any Gaussian initial law: an initial
    covariance that is not diagonal in the target's eigenbasis selects the dense path, and the law
    equals the dense one to 1e-12.
    """
    grid = tiny_grids()["arrays-3"]
    target = full_target(2)
    init = Gaussian(torch.tensor([1.0, 0.5], dtype=F64), torch.tensor([[1.5, 0.6], [0.6, 0.8]], dtype=F64))
    dense = exact_law(target, grid, K=2, initial=init, path="dense")
    auto = exact_law(target, grid, K=2, initial=init)
    assert_laws_close(auto, dense, 1e-12)


def test_fast_path_initial_on_grouped_coordinates_is_exact():
    """The fast path computes coordinates with equal (mean, variance) once. An initial law that differs
    on such coordinates must either be refused (ValueError, as documented) or handled exactly.

    With the target N(0, diag(0.5, 0.5)) and the initial law N((0, 1e-9), diag(1, 1 + 1e-6)), which
    differs by 1e-6 relative on the two coordinates, the fast law equals the dense (exact) law to
    1e-12: coordinates are grouped only when their initial parameters are exactly equal.
    """
    grid = tiny_grids()["uniform-2x5"]
    target = Gaussian(torch.zeros(2, dtype=F64), torch.tensor([0.5, 0.5], dtype=F64))
    init = Gaussian(torch.tensor([0.0, 1e-9], dtype=F64), torch.tensor([1.0, 1.0 + 1e-6], dtype=F64))
    dense = exact_law(target, grid, K=10, initial=init, path="dense")
    try:
        fast = exact_law(target, grid, K=10, initial=init, path="fast")
    except ValueError:
        return  # refused, as documented: acceptable
    assert_laws_close(fast, dense, 1e-12, "grouped coordinates with unequal initial law")


class DiagonalAffineError:
    """A user error through the bare protocol (no ``eigen_terms``): ``e(x, s) = E_s ⊙ x + f_s`` with
    time-varying diagonal ``E_s = a·sin(s)`` and ``f_s = b·cos(2s)`` in the original coordinates."""

    def __init__(self, a, b):
        self.a, self.b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)

    def affine_terms(self, s):
        s = np.asarray(s, dtype=float)[:, None]
        return np.sin(s) * self.a, np.cos(2 * s) * self.b

    def __call__(self, x, s):
        t = torch.as_tensor(s, dtype=x.dtype)[..., None]
        return torch.sin(t) * torch.tensor(self.a) * x + torch.cos(2 * t) * torch.tensor(self.b)


def test_protocol_error_object_equals_brute_force():
    """An error given through the bare ``affine_terms`` protocol with diagonal E (M, d), on a
    full-covariance target (so it does not commute: dense path), equals the brute force, and the
    sampler driven by ``target.score + e`` is what the brute force reads."""
    grid, target = tiny_grids()["arrays-3"], full_target(2)
    err = DiagonalAffineError([0.4, -0.7], [0.3, 0.5])
    score = lambda x, s: target.score(x, s) + err(x, s)  # noqa: E731
    K_max = grid.max_steps + 1
    for scheme in (SCHEMES["EI"], SCHEMES["EI-right"], SCHEMES["EM"]):
        ref = brute_force_laws(score, 2, grid, scheme, 1.0, K_max)
        laws = exact_laws(target, grid, list(range(1, K_max + 1)), error=err, scheme=scheme)
        for K in laws:
            assert_laws_close(laws[K], law_from_numpy(*ref[K]), 1e-11, f"{scheme} K={K}")
    with pytest.raises(ValueError):
        exact_law(target, grid, K=2, error=err, path="fast")


def test_output_dtype():
    """``dtype=`` sets the returned law's dtype; the computation stays float64 (same values rounded)."""
    grid, target = uniform_grid(), full_target(3)
    for path in ("fast", "dense"):
        law64 = exact_law(target, grid, K=3, path=path)
        law32 = exact_law(target, grid, K=3, path=path, dtype=torch.float32)
        assert law32.mean.dtype == torch.float32 and law32.cov.dtype == torch.float32
        torch.testing.assert_close(law32.cov.double(), law64.cov, rtol=1e-6, atol=1e-7)


def test_bad_inputs():
    """Documented errors: non-Gaussian target → TypeError; bad method → ValueError; K missing or
    ≤ 0 → ValueError; path="fast" with a non-commuting error → ValueError; bad path → ValueError;
    wrong error object → TypeError; initial of the wrong dimension → ValueError; a right-point
    scheme with method="sequential_sde" → ValueError."""
    grid, target = uniform_grid(), full_target(3)
    mixture = GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [0.5, 0.5]])
    with pytest.raises(TypeError):
        exact_law(mixture, grid, K=2)
    with pytest.raises(ValueError):
        exact_law(target, grid, method="sdee", K=2)
    with pytest.raises(ValueError):
        exact_laws(target, grid, 2, method="piadm")
    with pytest.raises(ValueError):
        exact_law(target, grid)
    for bad_K in (0, -1):
        with pytest.raises(ValueError):
            exact_law(target, grid, K=bad_K)
    for bad_Ks in ([], [0, 1], [1.5], [True]):
        with pytest.raises(ValueError):
            exact_laws(target, grid, bad_Ks)
    random_affine = make_error("affine-random", target, grid)
    with pytest.raises(ValueError):
        exact_law(target, grid, K=2, error=random_affine, path="fast")
    with pytest.raises(ValueError):
        exact_law(target, grid, K=2, path="fastest")
    for wrong in ("bias", 1.0, target, inject_error(target, "fourier", 0.5, grid, generator=0, samples=200)):
        with pytest.raises(TypeError):
            exact_law(target, grid, K=2, error=wrong)
    with pytest.raises(ValueError):
        exact_law(target, grid, K=2, initial=Gaussian(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)))
    with pytest.raises(ValueError):
        exact_law(target, grid, "sequential_sde", scheme=ExponentialIntegrator(score_point="right"))
    with pytest.raises(TypeError):
        exact_law(target, "grid", K=2)


def test_both_oracles_check_K_lists_alike():
    """``exact_laws`` and ``exact_laws_ode`` share one K-list check: an int, a numpy integer or a list
    of them is accepted; an empty list, a non-integer, a bool or K < 1 is a ValueError naming K
    (``corrector_Ks`` for the corrector's list)."""
    grid, target = uniform_grid(), diag_target(1)
    assert list(exact_laws(target, grid, np.int64(2))) == [2]
    assert list(exact_laws_ode(target, grid, np.int64(2))) == [(2, 0)]
    for bad in ([], [0, 1], [1.5], [True], True, np.float64(2.0), "2"):
        for oracle in (exact_laws, exact_laws_ode):
            with pytest.raises(ValueError, match="^K must be a positive integer"):
                oracle(target, grid, bad)
    corrector = dict(K=2, steps=3, h=0.5)
    assert list(exact_laws_ode(target, grid, 1, corrector, corrector_Ks=[np.int64(3), 1])) == [(1, 1), (1, 3)]
    with pytest.raises(ValueError, match="^corrector_Ks must be a positive integer"):
        exact_laws_ode(target, grid, 1, corrector, corrector_Ks=[])


def test_exact_laws_sends_the_ode_to_exact_law():
    """``exact_laws`` covers the SDE methods only; method="ode" there is a ValueError naming the way."""
    grid, target = uniform_grid(), full_target(3)
    with pytest.raises(ValueError, match="exact_law"):
        exact_laws(target, grid, 2, method="ode")


# --------------------------------------------------------------------------------------------------
# 2. sampler/oracle agreement (statistical)
# --------------------------------------------------------------------------------------------------
ALPHA = 1e-4  # family-wise level of every Holm family below


def agreement_pvalues(target: Gaussian, grid: TimeGrid, sampler_kwargs: dict, oracle_kwargs: dict, *, n: int, seed: int):
    """Run ``piadm_sde(score, grid, n=n, dim=d, generator=seed, **sampler_kwargs)`` and test its samples
    against ``exact_law(target, grid, **oracle_kwargs)``; returns ``({"mean": p, "cov": p}, law)``.

    ``sampler_kwargs`` may carry ``score`` (default: the target's exact score); the rest goes to
    ``piadm_sde``. The same function serves the positive tests (the oracle of the sampler's own scheme)
    and the negative ones (a broken sampler against the oracle of the correct scheme)."""
    kw = dict(sampler_kwargs)
    score = kw.pop("score", target)
    g = torch.Generator().manual_seed(seed)
    out = piadm_sde(score, grid, n=n, dim=target.dim, generator=g, **kw)
    law = exact_law(target, grid, **oracle_kwargs)
    return gaussian_pvalues(out.samples, law), law


def detection_floor(d: int, n: int, alpha: float, power: float = 0.9) -> tuple[float, float]:
    """Smallest discrepancies detected with probability ``power`` at level ``alpha``:
    (Mahalanobis distance of the mean, ‖S^{-1/2} Σ S^{-1/2} - I‖_F of the covariance).

    Mean: the statistic is non-central χ²_d(n δ²). Covariance: for local alternatives the LR
    statistic is ≈ non-central χ²_f(dof ‖Δ‖_F² / 2) (then KL ≈ ‖Δ‖_F² / 4)."""
    def nc_for(df):
        crit = stats.chi2.isf(alpha, df)
        lo, hi = 0.0, 1.0
        while stats.ncx2.sf(crit, df, hi) < power:
            hi *= 2
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if stats.ncx2.sf(crit, df, mid) < power else (lo, mid)
        return hi
    f = d * (d + 1) // 2
    return math.sqrt(nc_for(d) / n), math.sqrt(2.0 * nc_for(f) / (n - 1))


UNIFORM8 = lambda: TimeGrid.uniform(T=6.0, eta=1e-2, blocks=4, steps=8)  # noqa: E731
UNIFORM4 = lambda: TimeGrid.uniform(T=6.0, eta=1e-2, blocks=4, steps=4)  # noqa: E731  coarse: M_n = 4
ES6 = lambda: TimeGrid.early_stopping(T=6.0, eta=1e-2, h=1.5, eps=0.25)  # noqa: E731  M_n = 6, 6, 6, 18

SAMPLES = {2: 20_000, 8: 20_000, 32: 10_000}

# (d, grid, K, extra): extra = error kind / v for the sampler and the oracle alike
AGREEMENT_SETTINGS = [
    (2, "U8", 1, None), (2, "U8", 3, None), (2, "ES", 4, None),
    (8, "U8", 1, None), (8, "U8", 3, None), (8, "ES", 4, None), (8, "U4", 2, None),
    (32, "U8", 1, None), (32, "U8", 3, None), (32, "ES", 4, None),
    (8, "U8", 3, "affine-random"),
    (8, "ES", 4, "bias+v0.5"),
]
AGREEMENT_GRIDS = {"U8": UNIFORM8, "U4": UNIFORM4, "ES": ES6}


def _setting_kwargs(target, grid, K, extra):
    sampler, oracle = {"K": K}, {"K": K}
    if extra == "affine-random":
        err = inject_error(target, "affine", 1.0, grid, generator=3, mode="random")
        sampler["score"], oracle["error"] = err, err
    elif extra == "bias+v0.5":
        err = inject_error(target, "bias", 1.0, grid, generator=3)
        sampler["score"], oracle["error"] = err, err
        sampler["v"] = oracle["v"] = 0.5
    return sampler, oracle


def test_covariance_lrt_is_calibrated():
    """The Bartlett-corrected LR p-value is uniform under H0 at small dof (where the correction
    matters most): Kolmogorov–Smirnov on 3000 exact Wishart draws per (d, dof), Holm at α = 1e-4
    across the three KS p-values; also the fraction of p < 0.01 stays within its binomial range."""
    rng = np.random.default_rng(7)
    pvals, reps = [], 3000
    for d, dof in ((2, 30), (8, 60), (32, 300)):
        W = stats.wishart.rvs(df=dof, scale=np.eye(d) / dof, size=reps, random_state=rng)
        p = np.array([covariance_lrt_pvalue(w, dof) for w in W.reshape(reps, d, d)])
        pvals.append(stats.kstest(p, "uniform").pvalue)
        small = int((p < 0.01).sum())
        assert stats.binomtest(small, reps, 0.01).pvalue > ALPHA / 3, (d, dof, small)
    assert holm(pvals, ALPHA), pvals


def test_sampler_agrees_with_oracle():
    """piadm_sde's output law equals the oracle's N(m, S) (docs/mathematics.md §8) on full-covariance targets at
    d = 2, 8, 32: K = 1, 3 on TimeGrid.uniform(T=6, η=1e-2, 4 blocks × 8), K = 4 on an early-stopping
    grid (M_n = 6, 6, 6, 18), K = 2 on the coarse 4 × 4 grid of the negative tests, a non-commuting
    affine error (δ₂ = 1, dense oracle path) and a bias error with v = 0.5.

    Tests: exact χ²_d of the mean (S known) and the Bartlett-corrected LR test of Σ = S; 24 p-values,
    Holm at family-wise α = 1e-4 (each assertion at ≥ 1e-4/24 ≈ 4.2e-6). Samples: n = 20 000 (d = 2,
    8), 10 000 (d = 32), seeded. Detection floor (90 % power at the strictest Holm step α/24, printed
    by ``pytest -s``): mean Mahalanobis distance 0.044 / 0.050 / 0.085 and covariance
    ‖S^{-½}ΣS^{-½} - I‖_F 0.064 / 0.087 / 0.21 (KL ≈ 1.0e-3 / 1.9e-3 / 1.1e-2) at d = 2 / 8 / 32.
    """
    pvals, names = [], []
    for i, (d, gname, K, extra) in enumerate(AGREEMENT_SETTINGS):
        target, grid = full_target(d), AGREEMENT_GRIDS[gname]()
        sampler, oracle = _setting_kwargs(target, grid, K, extra)
        p, _ = agreement_pvalues(target, grid, sampler, oracle, n=SAMPLES[d], seed=100 + i)
        for key, val in p.items():
            pvals.append(val)
            names.append(f"d={d} {gname} K={K} {extra or ''} {key}")
    family = holm(pvals, ALPHA)
    m = len(pvals)
    print(f"\nsampler/oracle agreement: {family.summary()}")
    for name, pv in zip(names, pvals):
        print(f"  {name:40s} p = {pv:.3g}")
    for d in (2, 8, 32):
        dm, dc = detection_floor(d, SAMPLES[d], ALPHA / m)
        print(f"  detection floor d={d:2d} n={SAMPLES[d]}: mean Mahalanobis {dm:.3f}, ‖Δ‖_F {dc:.3f} (KL ≈ {dc * dc / 4:.2g})")
    assert family, family.summary()


BROKEN_SAMPLERS = {
    "redraw_noise": ExponentialIntegrator(shared_noise=False),  # (a) ζ redrawn every Picard iteration
    "score_right": ExponentialIntegrator(score_point="right"),  # (b) score at τ_{j+1}
    "noise_var_eps": NoiseVarianceEps(),  # (c) Var ζ = ε instead of e^ε - 1
    "euler_maruyama": EulerMaruyama(),  # (d) Euler–Maruyama coefficients
}


@pytest.fixture(params=list(BROKEN_SAMPLERS))
def broken_sampler(request):
    """A deliberately broken PIADM-SDE, as (name, the scheme ``piadm_sde`` runs it with)."""
    return request.param, BROKEN_SAMPLERS[request.param]


def _expected_margin(broken: Gaussian, law: Gaussian, n: int, alpha: float) -> float:
    """How far (in standard deviations) the better of the two statistics lies past its critical value
    at level ``alpha`` when the samples come from ``broken`` and the claim is ``law`` (exact means;
    delta-method sd for the LR statistic, exact for the mean statistic)."""
    d = law.dim
    m, S = law.mean.numpy(), law.cov.numpy()
    Sinv = np.linalg.inv(S)
    delta = broken.mean.numpy() - m
    Q = Sinv @ broken.cov.numpy()
    mean_e = n * delta @ Sinv @ delta + np.trace(Q)
    mean_sd = math.sqrt(2 * np.trace(Q @ Q) + 4 * n * delta @ Sinv @ broken.cov.numpy() @ Sinv @ delta)
    z_mean = (mean_e - stats.chi2.isf(alpha, d)) / mean_sd
    dof = n - 1
    rho, _, f = bartlett_constants(d, dof)
    lam = np.linalg.eigvals(Q).real
    e_logdet = np.log(lam).sum() + sum(special.digamma((dof - i) / 2.0) for i in range(d)) + d * math.log(2.0 / dof)
    cov_e = rho * dof * (lam.sum() - e_logdet - d)
    cov_sd = math.sqrt(2 * f + 2 * rho * rho * dof * ((lam - 1) ** 2).sum())
    z_cov = (cov_e - stats.chi2.isf(alpha, f)) / cov_sd
    return max(z_mean, z_cov)


NEGATIVE_SETTING = dict(d=8, grid="U4", K=2, n=20_000)


def test_agreement_check_rejects_broken_sampler(broken_sampler):
    """The agreement check of ``test_sampler_agrees_with_oracle`` (same function, same α = 1e-4 with
    Holm over its two p-values) rejects a broken sampler tested against the oracle of the correct
    scheme: d = 8 full covariance, coarse grid 4 blocks × 4 steps (T = 6, η = 1e-2), K = 2, n = 20 000.
    The same setting with the correct sampler is in the positive family.

    Design check (exact oracle laws of the broken variant and of the correct scheme): the expected
    statistic of the better test lies ≥ 10 standard deviations beyond its critical value, so the chance
    of a false pass is below ~1e-20 (normal approximation). The oracle of the broken scheme itself
    accepts the broken sampler (same seed, Holm at α = 1e-4), so the oracle models the variant.
    """
    s = NEGATIVE_SETTING
    target, grid, K, n = full_target(s["d"]), AGREEMENT_GRIDS[s["grid"]](), s["K"], s["n"]
    variant, scheme = broken_sampler
    broken_law = exact_law(target, grid, K=K, scheme=scheme)
    correct_law = exact_law(target, grid, K=K)
    z = _expected_margin(broken_law, correct_law, n, ALPHA / 2)
    kl = gaussian_kl(broken_law, correct_law)
    print(f"\n{variant}: KL(broken ‖ correct) = {kl:.3g}, expected margin {z:.1f} sd")
    assert z >= 10.0, f"setting too weak for {variant}: margin {z:.1f} sd"
    p, _ = agreement_pvalues(target, grid, {"K": K, "scheme": scheme}, {"K": K}, n=n, seed=7)
    verdict = holm(list(p.values()), ALPHA)
    print(f"  vs correct oracle: {p} → {verdict.summary()}")
    assert not verdict, f"{variant} was not rejected: {p}"
    p_own, _ = agreement_pvalues(target, grid, {"K": K, "scheme": scheme}, {"K": K, "scheme": scheme}, n=n, seed=7)
    assert holm(list(p_own.values()), ALPHA), f"the oracle of {variant} rejects its own sampler: {p_own}"


# --------------------------------------------------------------------------------------------------
# 3. measurement: KL vs K
# --------------------------------------------------------------------------------------------------
def test_kl_versus_picard_iterations():
    """3-d diagonal Gaussian (variances 0.5, 2, 0.1, mean 0), T = 8, η = 1e-2, 8 blocks of h ≈ 1 with
    M = 16 steps: KL(p_η ‖ q_K) and KL(q_seq ‖ q_K) for K = 1 … 16 (printed). Exact claims:
    KL(q_seq ‖ q_K) ≤ 1e-12 for K ≥ M and > 0 below; q_M's KL to p_η equals the sequential law's."""
    target = Gaussian(torch.zeros(3, dtype=F64), torch.tensor([0.5, 2.0, 0.1], dtype=F64))
    grid = TimeGrid.uniform(T=8.0, eta=1e-2, blocks=8, steps=16)
    M = 16
    p_eta = target.marginal(grid.eta)
    seq = exact_law(target, grid, "sequential_sde")
    laws = exact_laws(target, grid, list(range(1, M + 3)))
    kl_seq = gaussian_kl(p_eta, seq)
    print(f"\nKL(p_eta || q_seq) = {kl_seq:.6g}")
    print(f"{'K':>3} {'KL(p_eta||q_K)':>16} {'KL(q_seq||q_K)':>16}")
    rows = {}
    for K, law in laws.items():
        rows[K] = (gaussian_kl(p_eta, law), gaussian_kl(seq, law))
        print(f"{K:>3} {rows[K][0]:>16.6g} {rows[K][1]:>16.4g}")
    for K in range(1, M):
        assert rows[K][1] > 0.0, K
    assert rows[1][1] > 1.0  # K = 1 is far from converged on this setting
    for K in (M, M + 1, M + 2):
        assert rows[K][1] <= 1e-12, K
        assert rows[K][0] == pytest.approx(kl_seq, rel=1e-10, abs=1e-14)


def test_serial_and_threaded_kernels_agree_and_cache_apart():
    """The threaded build of the fast-path kernels gives the serial build's numbers, and the two are
    cached under different names (one shared name would let each load the other's compiled code)."""
    from piadm_verify.oracle import kernels as _kernels

    assert _kernels._picard_serial.py_func.__qualname__ != _kernels._picard_parallel.py_func.__qualname__
    assert _kernels._sequential_serial.py_func.__qualname__ != _kernels._sequential_parallel.py_func.__qualname__
    assert _kernels._picard_parallel.targetoptions.get("parallel") is True
    g = np.random.default_rng(3)
    M, C = 50, 3
    s = np.sort(g.uniform(0.1, 2.0, M))
    args = (_kernels.time_factors(s), np.exp(np.linspace(0.0, 0.5, M + 1)), g.uniform(0.9, 1.0, M),
            g.uniform(0.01, 0.02, M), g.uniform(0.01, 0.02, M), 0, g.uniform(0.5, 2.0, C), g.standard_normal(C),
            np.zeros((0, C)), np.zeros((0, C)), np.array([1, 3, 6]), True)
    for a, b in zip(_kernels._picard_serial(*args), _kernels._picard_parallel(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)
    seq = (args[0], g.uniform(0.9, 1.0, M), args[3], args[4], args[6], args[7], args[8], args[9])
    for a, b in zip(_kernels._sequential_serial(*seq), _kernels._sequential_parallel(*seq)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------------------------------
# 4. timings (slow)
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_oracle_timings():
    """Wall times of the oracle (printed, not asserted), with all cores for numba and torch: fast path
    at d = 10⁴ with distinct diagonal variances, 10 blocks × M = 1000, K = 10 (also all K = 1 … 10 in
    one sweep); dense path at d = 128, full covariance, non-commuting affine error (mode "random"),
    3 blocks × M = 100, K = 5."""
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(os.cpu_count())
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        g = np.random.default_rng(0)
        d = 10_000
        target = Gaussian(torch.tensor(g.standard_normal(d)), torch.tensor(np.sort(g.uniform(0.05, 5.0, d))))
        grid = TimeGrid.uniform(T=10.0, eta=1e-2, blocks=10, steps=1000)
        exact_law(target, TimeGrid.uniform(T=1.0, eta=0.5, blocks=1, steps=2), K=2)  # JIT/cache warm-up
        t0 = time.perf_counter()
        law = exact_law(target, grid, K=10)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        exact_laws(target, grid, list(range(1, 11)))
        t_fast_all = time.perf_counter() - t0
        assert torch.isfinite(law.eigvals).all()
        target128 = full_target(128)
        grid128 = TimeGrid.uniform(T=6.0, eta=1e-2, blocks=3, steps=100)
        err = inject_error(target128, "affine", 1.0, grid128, generator=0, mode="random")
        t0 = time.perf_counter()
        law128 = exact_law(target128, grid128, K=5, error=err)
        t_dense = time.perf_counter() - t0
        assert torch.isfinite(law128.cov).all()
        threads = f"torch {torch.get_num_threads()}, numba {numba.get_num_threads()} threads"
        print(f"\nfast path  d=10^4, 10 blocks x M=1000, K=10: {t_fast:.2f} s "
              f"(all K=1..10 in one sweep: {t_fast_all:.2f} s; {threads})")
        print(f"dense path d=128 full + random affine error, 3 blocks x M=100, K=5: {t_dense:.2f} s")
        preset = sde_preset(4096, 0.1)
        product = product_target(4096)
        t0 = time.perf_counter()
        law_preset = exact_law(product, preset.grid(), K=preset.K)
        t_preset = time.perf_counter() - t0
        assert torch.isfinite(law_preset.eigvals).all()
        print(f"theorem preset d=4096, delta=0.1 ({preset.N} blocks x M={preset.M}, K={preset.K}, "
              f"4 coordinate classes): {t_preset:.2f} s")
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
