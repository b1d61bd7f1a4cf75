"""Calibrated score errors (docs/mathematics.md §6).

A learned score is modelled as ``s_θ = ∇log p + e``. :func:`inject_error` builds ``e`` of a given
kind at unit scale, measures its size in the norm the theorems use, and rescales it so that the
size is exactly the requested δ:

* ``norm="L2"`` (PIADM-SDE): ``δ₂² = Σ_n Σ_m ε_{n,m} E_{x ~ p_{s_{n,m}}} ‖e(x, s_{n,m})‖²``,
  the expectation under the TRUE backward process (``x̄_t ~ p_{T-t}``) at the grid's score times;
* ``norm="Linf"`` (PIADM-ODE): ``δ_∞² = max_{n,m} E_{x ~ p_{s_{n,m}}} ‖e(x, s_{n,m})‖²``.

Kinds: ``bias`` (a fixed direction, ``e = β u``), ``affine`` (``e = A_s (x - μ_s)``; by default
``A_s = α Σ_s^{-1}``, i.e. ``s_θ = (1 - α)∇log p``, which commutes with the target; ``mode="random"``
uses a fixed random symmetric ``A``), ``pulse`` (``e = β φ(s) u`` with a Gaussian bump ``φ`` in
forward time) and ``fourier`` (random Fourier features ``e(x) = β Σ_r a_r cos(ω_r·x + φ_r)``, a
smooth non-affine field with a reported Lipschitz bound). The affine kinds (bias, affine, pulse)
have exact norms on Gaussian targets and plug into :func:`~piadm_verify.oracle.law.exact_law`; the
others are calibrated by Monte Carlo with the estimate's standard error reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from analytic import Gaussian
from analytic.ou import ou_mean_factor, ou_noise_variance

from ..core.grid import TimeGrid
from ..core.noise import make_generator

__all__ = ["inject_error", "InjectedScore", "Calibration", "grid_norm", "combine_errors", "KINDS", "NORMS"]

KINDS = ("bias", "affine", "fourier", "pulse")
NORMS = ("L2", "Linf")
MC_SAMPLES = 20_000
LINF_TIMES = 48


# -- unit-scale errors -----------------------------------------------------------------------------
class _Error:
    """An error field ``e(x, s)`` at unit scale; ``mean_square(s)`` is exact where available."""

    affine = False

    def __call__(self, x: torch.Tensor, s) -> torch.Tensor:
        raise NotImplementedError

    def mean_square(self, s: np.ndarray) -> np.ndarray | None:
        """``E_{x ~ p_s}‖e(x, s)‖²`` at each forward time in ``s``, or None if not known exactly."""
        return None


def _time_like(s, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(s, dtype=x.dtype, device=x.device)


class _Bias(_Error):
    """``e = φ(s) u``: a fixed direction ``u`` (unit norm) with time profile ``φ`` (1 for ``bias``)."""

    affine = True

    def __init__(self, target, direction: torch.Tensor, center: float | None = None, width: float | None = None):
        self.target = target
        self.direction = direction
        self.center, self.width = center, width

    def profile(self, s):
        if self.center is None:
            return np.ones_like(np.asarray(s, dtype=np.float64))
        return np.exp(-0.5 * ((np.asarray(s, dtype=np.float64) - self.center) / self.width) ** 2)

    def __call__(self, x, s):
        t = _time_like(s, x)
        prof = torch.ones_like(t) if self.center is None else torch.exp(-0.5 * ((t - self.center) / self.width) ** 2)
        out = prof[..., None] * self.direction.to(dtype=x.dtype, device=x.device)
        return torch.broadcast_to(out, torch.broadcast_shapes(out.shape, x.shape))

    def mean_square(self, s):
        return self.profile(s) ** 2 * float(self.direction.pow(2).sum())

    def affine_terms(self, s):
        return None, self.profile(s)[:, None] * self.direction.numpy()[None, :]

    def eigen_terms(self, s, coords):
        u = self.direction if self.target.eigvecs is None else self.target.eigvecs.T @ self.direction
        return None, self.profile(s)[:, None] * u.numpy()[coords][None, :]

    def coordinate_signature(self):
        u = self.direction if self.target.eigvecs is None else self.target.eigvecs.T @ self.direction
        return u.numpy()[:, None]


class _ScaledScore(_Error):
    """``e = -∇log p_s = Σ_s^{-1}(x - μ_s)``, so ``∇log p + α e = (1 - α)∇log p`` (commutes with Σ)."""

    affine = True

    def __init__(self, target: Gaussian):
        self.target = target

    def __call__(self, x, s):
        return -self.target.score(x, s)

    def _eig_moments(self, s):
        s = np.asarray(s, dtype=np.float64)[:, None]
        lam = self.target.eigvals.numpy()[None, :]
        lam_s = np.exp(-s) * lam - np.expm1(-s)
        mean = self.target.mean if self.target.eigvecs is None else self.target.eigvecs.T @ self.target.mean
        return lam_s, np.exp(-0.5 * s) * mean.numpy()[None, :]

    def mean_square(self, s):
        lam_s, _ = self._eig_moments(s)
        return (1.0 / lam_s).sum(axis=1)

    def eigen_terms(self, s, coords):
        lam_s, mean_s = self._eig_moments(s)
        prec = 1.0 / lam_s[:, coords]
        return prec, -prec * mean_s[:, coords]

    def affine_terms(self, s):
        lam_s, mean_s = self._eig_moments(s)
        U = self.target.eigvecs
        if U is None:
            return 1.0 / lam_s, -mean_s / lam_s
        U = U.numpy()
        E = np.einsum("ik,mk,jk->mij", U, 1.0 / lam_s, U)
        return E, -(mean_s / lam_s) @ U.T

    def coordinate_signature(self):
        return np.zeros((self.target.dim, 0))


class _FixedMatrix(_Error):
    """``e = G (x - μ_s)`` with a fixed symmetric ``G`` (‖G‖_F = 1): generally non-commuting."""

    affine = True

    def __init__(self, target: Gaussian, matrix: torch.Tensor):
        self.target = target
        self.matrix = matrix

    def __call__(self, x, s):
        t = _time_like(s, x)
        mean_s = ou_mean_factor(t)[..., None] * self.target.mean.to(dtype=x.dtype, device=x.device)
        G = self.matrix.to(dtype=x.dtype, device=x.device)
        return (x - mean_s) @ G.T

    def mean_square(self, s):
        s = np.asarray(s, dtype=np.float64)
        lam = self.target.eigvals.numpy()
        U = np.eye(self.target.dim) if self.target.eigvecs is None else self.target.eigvecs.numpy()
        column_norms = ((self.matrix.numpy() @ U) ** 2).sum(axis=0)  # ‖G u_i‖²
        lam_s = np.exp(-s)[:, None] * lam[None, :] - np.expm1(-s)[:, None]
        return lam_s @ column_norms

    def affine_terms(self, s):
        s = np.asarray(s, dtype=np.float64)
        G = self.matrix.numpy()
        mean_s = np.exp(-0.5 * s)[:, None] * self.target.mean.numpy()[None, :]
        return np.broadcast_to(G, (s.shape[0],) + G.shape), -mean_s @ G.T


class _Fourier(_Error):
    """``e(x) = Σ_r a_r cos(ω_r·x + φ_r)``; ``‖∇e‖ ≤ Σ_r ‖a_r‖ ‖ω_r‖`` (its reported Lipschitz bound)."""

    def __init__(self, dim: int, features: int, length_scale: float, generator, dtype=torch.float64):
        self.omega = torch.randn(features, dim, generator=generator, dtype=dtype) / length_scale
        self.phase = 2.0 * math.pi * torch.rand(features, generator=generator, dtype=dtype)
        self.amplitude = torch.randn(features, dim, generator=generator, dtype=dtype) / math.sqrt(features)
        self.lipschitz = float((self.amplitude.norm(dim=1) * self.omega.norm(dim=1)).sum())

    def __call__(self, x, s):
        omega = self.omega.to(dtype=x.dtype, device=x.device)
        proj = x @ omega.T + self.phase.to(dtype=x.dtype, device=x.device)
        return torch.cos(proj) @ self.amplitude.to(dtype=x.dtype, device=x.device)


# -- calibration -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """A measured size (:func:`grid_norm`): ``value`` (δ; for an injected error, δ of the unit-scale
    error), ``stderr`` (0 when exact), ``method`` ("exact" or "monte carlo"), ``samples`` (Monte
    Carlo draws)."""

    value: float
    stderr: float
    method: str
    samples: int = 0


def _ou_draws(target, times: torch.Tensor, generator) -> torch.Tensor:
    """``x_s = e^{-s/2} x_0 + (1 - e^{-s})^{1/2} z`` with ``x_0 ~ p_0``: draws of ``p_s`` at per-draw times."""
    x0 = target.sample(times.shape[0], 0.0, generator=generator)
    z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    return ou_mean_factor(times)[:, None] * x0 + ou_noise_variance(times).sqrt()[:, None] * z


def _squared_norms(field, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``‖f(x, s)‖²`` per point, in float64; a field that returns anything but a tensor shaped like
    ``x`` is a ValueError naming it."""
    out = field(x, s)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the field (score) must return a tensor shaped like x {tuple(x.shape)}, got {shape}")
    return out.detach().to(dtype=torch.float64, device="cpu").pow(2).sum(-1)


def grid_norm(field, target, grid: TimeGrid, norm: str = "L2", *, generator=None, samples: int = MC_SAMPLES,
              mean_square=None) -> Calibration:
    """The size of a field ``f(x, s)`` on the sampler's grid under the TRUE process (docs/mathematics.md §6, §14):

    * ``norm="L2"``: ``δ₂² = Σ_n Σ_m ε_{n,m} E_{x ~ p_{s_{n,m}}} ‖f(x, s_{n,m})‖²``;
    * ``norm="Linf"``: ``δ_∞² = max_{n,m} E_{x ~ p_{s_{n,m}}} ‖f(x, s_{n,m})‖²``.

    This one estimator calibrates the injected errors of :func:`inject_error` (``f = e``) and
    measures learned scores (:func:`piadm_verify.models.measure_delta`, ``f = s_θ − ∇log p``).

    ``mean_square``: optional ``s -> E_{x ~ p_s}‖f(x, s)‖²`` at an array of forward times (None where
    not known exactly); when it gives values the size is exact (``method="exact"``, standard error
    0). Otherwise Monte Carlo with ``samples`` draws from ``generator``:

    * L²: ``δ₂² = (T − η) · E_j E_x ‖f‖²``, step ``j`` drawn with probability ``ε_j/(T − η)`` and
      ``x`` an OU draw at ``s_j``: one unbiased average, standard error sd/√samples;
    * L^∞: the largest mean square over up to 48 quantiles of the grid's score times, with common
      draws across those times (the standard error is that time's; the maximum of noisy means is
      biased upwards by about it).

    The standard error reaches δ by the delta method, ``se(δ) = se(δ²)/(2δ)`` (0 when δ = 0).
    ``field`` is called as ``f(x, s)`` with ``x`` (samples, d) float64 and ``s`` a float64 scalar
    tensor or one time per point; it may return any float dtype. Returns a :class:`Calibration`.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if isinstance(samples, bool) or not (isinstance(samples, int) and samples >= 100):
        raise ValueError(f"samples must be an integer >= 100, got {samples!r}")
    times = grid.all_score_times()
    steps = grid.all_steps()
    exact = None if mean_square is None else mean_square(times)
    if exact is not None:
        value = float(np.dot(steps, exact)) if norm == "L2" else float(exact.max())
        return Calibration(math.sqrt(value), 0.0, "exact")
    if norm == "L2":
        # δ₂² = (T - η) · E_j E_x ‖f‖² with j drawn with probability ε_j / (T - η).
        horizon = float(steps.sum())
        idx = torch.multinomial(torch.as_tensor(steps / horizon), samples, replacement=True, generator=generator)
        t = torch.as_tensor(times, dtype=torch.float64)[idx]
        sq = _squared_norms(field, _ou_draws(target, t, generator), t) * horizon
        mean, se = float(sq.mean()), float(sq.std() / math.sqrt(samples))
    else:
        # The worst grid time among quantiles of the grid's times; common draws across times.
        probe = np.unique(np.quantile(times, np.linspace(0.0, 1.0, LINF_TIMES), method="nearest"))
        x0 = target.sample(samples, 0.0, generator=generator)
        z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        best = (-1.0, 0.0)
        for s in probe:
            t = torch.tensor(float(s), dtype=torch.float64)
            sq = _squared_norms(field, ou_mean_factor(t) * x0 + ou_noise_variance(t).sqrt() * z, t)
            best = max(best, (float(sq.mean()), float(sq.std() / math.sqrt(samples))))
        mean, se = best
    # δ = sqrt(mean): first-order error propagation for the standard error.
    delta = math.sqrt(mean)
    return Calibration(delta, se / (2.0 * delta) if delta > 0 else 0.0, "monte carlo", samples)


# -- the injected score ----------------------------------------------------------------------------
@dataclass(frozen=True)
class InjectedScore:
    """A score with a calibrated error: ``score(x, s) = ∇log p_s(x) + scale · e(x, s)``.

    ``delta`` is the calibrated size in ``norm`` (docs/mathematics.md §6); ``delta_stderr`` its Monte Carlo
    standard error (0 when exact). ``lipschitz`` bounds the Lipschitz constant of the error term
    ``scale · e`` in x (exact for affine kinds, a bound for ``fourier``). Affine kinds expose
    ``affine_terms`` through ``.error`` so that :func:`~piadm_verify.oracle.law.exact_law` can use them.
    """

    target: object
    kind: str
    norm: str
    delta: float
    scale: float
    unit: _Error = field(repr=False)
    calibration: Calibration
    unit_lipschitz: float

    @property
    def lipschitz(self) -> float:
        """A bound on the Lipschitz constant of the error term ``scale · e`` in x."""
        return self.unit_lipschitz * self.scale

    @property
    def delta_stderr(self) -> float:
        return self.calibration.stderr * self.scale

    @property
    def error(self) -> "_ScaledError | None":
        """The error term as an affine-error object for the oracle (None for non-affine kinds)."""
        return _ScaledError(self.unit, self.scale) if self.unit.affine else None

    def error_at(self, x: torch.Tensor, s) -> torch.Tensor:
        """The error term ``scale · e(x, s)`` alone."""
        return self.scale * self.unit(x, s)

    def __call__(self, x: torch.Tensor, s) -> torch.Tensor:
        return self.target.score(x, s) + self.scale * self.unit(x, s)

    def at_delta(self, delta: float) -> "InjectedScore":
        """The same error field rescaled to size ``delta`` (no recalibration: the norm is homogeneous)."""
        _check_delta(delta)
        return replace(self, delta=float(delta), scale=delta / self.calibration.value)


@dataclass(frozen=True)
class _ScaledError:
    """``scale · e`` with the oracle's affine-error protocol (see :mod:`piadm_verify.oracle`)."""

    unit: _Error
    scale: float

    def __call__(self, x, s):
        return self.scale * self.unit(x, s)

    def affine_terms(self, s):
        E, f = self.unit.affine_terms(np.asarray(s, dtype=np.float64))
        return (None if E is None else self.scale * E), (None if f is None else self.scale * f)

    def __getattr__(self, name):
        if name in ("eigen_terms", "coordinate_signature"):
            method = getattr(self.unit, name)
            if name == "coordinate_signature":
                return method

            def scaled(s, coords):
                E, f = method(np.asarray(s, dtype=np.float64), coords)
                return (None if E is None else self.scale * E), (None if f is None else self.scale * f)

            return scaled
        raise AttributeError(name)


def _check_delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta must be a finite number >= 0, got {delta!r}")


def _unit_direction(dim: int, direction, generator) -> torch.Tensor:
    if direction is None:
        u = torch.randn(dim, generator=generator, dtype=torch.float64)
    else:
        u = torch.as_tensor(direction, dtype=torch.float64).reshape(-1)
        if u.shape[0] != dim or not torch.isfinite(u).all():
            raise ValueError(f"direction must be a finite vector of length {dim}")
    norm = float(u.norm())
    if norm == 0.0:
        raise ValueError("direction must be non-zero")
    return u / norm


def inject_error(
    target,
    kind: str,
    delta: float,
    grid: TimeGrid,
    norm: str = "L2",
    generator=None,
    *,
    direction=None,
    mode: str = "scaled",
    features: int = 64,
    length_scale: float = 1.0,
    center: float | None = None,
    width: float | None = None,
    samples: int = MC_SAMPLES,
) -> InjectedScore:
    """A score ``∇log p + e`` whose error has calibrated size ``delta`` (docs/mathematics.md §6).

    Parameters
    ----------
    target : ``analytic.Gaussian`` or ``analytic.GaussianMixture`` (anything with ``score``,
        ``sample`` and ``dim``; ``affine`` needs a Gaussian).
    kind : ``"bias"``, ``"affine"``, ``"fourier"`` or ``"pulse"``.
    delta : the requested δ (≥ 0) in ``norm``.
    grid : the sampler's grid; the norm sums/maximises over its score times.
    norm : ``"L2"`` (SDE, the grid-weighted L² norm under the true backward process) or
        ``"Linf"`` (ODE, the worst grid time).
    generator : ``torch.Generator`` or int seed, for random directions/features and Monte Carlo.
    direction : the unit direction of ``bias``/``pulse`` (random if None).
    mode : ``affine`` only: ``"scaled"`` (``A_s ∝ Σ_s^{-1}``, commutes with the target, fast
        oracle path) or ``"random"`` (a fixed random symmetric matrix, dense oracle path).
    features, length_scale : ``fourier``: number of features and the frequency scale
        (``ω_r ~ N(0, I/length_scale²)``).
    center, width : ``pulse``: the bump ``φ(s) = exp(-½((s - center)/width)²)`` in forward time
        (defaults: the middle of ``[η, T]`` and an eighth of its length).
    samples : Monte Carlo draws for kinds without an exact norm.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    _check_delta(delta)
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    dim = getattr(target, "dim", None)
    if dim is None or not callable(getattr(target, "score", None)):
        raise TypeError(f"target must be an analytic target (Gaussian or GaussianMixture), got {type(target).__name__}")
    generator = make_generator(generator)
    # The error's terms and its calibration are computed in float64 whatever the target's dtype;
    # evaluating the injected score follows the points' dtype, as the target's score does.
    exact_target = target.to(dtype=torch.float64, device="cpu")
    if kind in ("bias", "pulse"):
        u = _unit_direction(dim, direction, generator)
        if kind == "pulse":
            center = 0.5 * (grid.T + grid.eta) if center is None else float(center)
            width = (grid.T - grid.eta) / 8.0 if width is None else float(width)
            if not math.isfinite(center):
                raise ValueError(f"center must be finite, got {center!r}")
            if not (math.isfinite(width) and width > 0):
                raise ValueError(f"width must be finite and > 0, got {width!r}")
        unit = _Bias(exact_target, u, center, width)
        unit_lipschitz = 0.0
    elif kind == "affine":
        if not isinstance(target, Gaussian):
            raise TypeError("kind='affine' needs an analytic.Gaussian target")
        if mode == "scaled":
            unit = _ScaledScore(exact_target)
            unit_lipschitz = max(exact_target.lipschitz(float(s)) for s in (grid.eta, grid.T))
        elif mode == "random":
            G = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
            G = G + G.T
            unit = _FixedMatrix(exact_target, G / G.norm())
            unit_lipschitz = float(torch.linalg.matrix_norm(unit.matrix, ord=2))
        else:
            raise ValueError(f"mode must be 'scaled' or 'random', got {mode!r}")
    else:
        if isinstance(features, bool) or not (isinstance(features, int) and features >= 1):
            raise ValueError(f"features must be a positive integer, got {features!r}")
        if not (isinstance(length_scale, (int, float)) and length_scale > 0):
            raise ValueError(f"length_scale must be > 0, got {length_scale!r}")
        unit = _Fourier(dim, features, float(length_scale), generator)
        unit_lipschitz = unit.lipschitz
    calibration = grid_norm(unit, exact_target, grid, norm, generator=generator, samples=samples,
                            mean_square=unit.mean_square)
    if not calibration.value > 0:
        raise ValueError(f"the {kind} error vanishes at every score time of the grid (check center and width); it cannot be scaled to delta")
    scale = delta / calibration.value
    return InjectedScore(target, kind, norm, float(delta), scale, unit, calibration, unit_lipschitz)


class _SumError:
    """``e = Σ_i e_i`` of affine errors, with the oracle's protocol (eigen terms when all have them)."""

    def __init__(self, parts):
        self.parts = parts
        if all(callable(getattr(p, "eigen_terms", None)) for p in parts):
            self.eigen_terms = self._eigen_terms
        if all(callable(getattr(p, "coordinate_signature", None)) for p in parts):
            self.coordinate_signature = lambda: np.column_stack([p.coordinate_signature() for p in parts])

    def __call__(self, x, s):
        return sum(p(x, s) for p in self.parts)

    @staticmethod
    def _add(terms):
        def total(items):
            items = [np.asarray(i, dtype=np.float64) for i in items if i is not None]
            if not items:
                return None
            full = max(i.ndim for i in items)
            # A diagonal (M, d) matrix term joins full (M, d, d) ones as a diagonal matrix.
            return sum(i if i.ndim == full else np.einsum("mi,ij->mij", i, np.eye(i.shape[1])) for i in items)

        return total([t[0] for t in terms]), total([t[1] for t in terms])

    def affine_terms(self, s):
        return self._add([p.affine_terms(s) for p in self.parts])

    def _eigen_terms(self, s, coords):
        return self._add([p.eigen_terms(s, coords) for p in self.parts])


def combine_errors(*errors):
    """The sum of affine errors, as one affine error for :func:`~piadm_verify.oracle.law.exact_law`."""
    for e in errors:
        if not callable(getattr(e, "affine_terms", None)):
            raise TypeError(f"combine_errors needs affine errors (with affine_terms), got {type(e).__name__}")
    return _SumError(list(errors))
