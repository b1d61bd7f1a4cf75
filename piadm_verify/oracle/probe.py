"""The exact law of any affine sampler, by probing (docs/mathematics.md §10).

With a Gaussian target and an affine score, a sampler that treats its samples independently and
applies only affine operations with data-independent control flow maps its standard-normal inputs
``z`` (the initial draw, each step's normals, each tagged extra draw) to ``y = c + C z``, so its
output law is ``N(c, C Cᵀ)``. :func:`exact_law_of` runs the sampler on a probe batch through a
:class:`ProbeNoise` that hands every sample a designed input: sample 0 all zeros (its output is
``c``) and one sample per input scalar set to 1 (its output minus ``c`` is that column of ``C``).
A second, three-sample batch checks affinity: the zero input, one input doubled and a random
combination of all of them must come out as the affine map predicts (to round-off). The check
batch is composed differently from the first, so a rule that decides on the batch as a whole (a
tolerance on the batch's largest residual) is caught as well as one that decides per sample. A
sampler whose output is not affine in its inputs — tolerance-based stopping, Anderson mixing,
noise drawn outside ``noise=`` — fails the check and raises :class:`NotAffineError`.

A first run with a single sample (all inputs zero) discovers which inputs the sampler draws: the
steps it asks for and the keys and shapes of its extra draws. A sampler whose probe run asks for
other draws than its discovery run has data-dependent control flow (NotAffineError).

Product targets take a fast path: when the target's covariance is diagonal (no rotation), the
error acts on each coordinate separately, and one probe shows that the sampler does not couple
coordinates, each class of coordinates with equal parameters is probed as a 1-D problem, so
d = 10⁴ costs what d = 1 costs times the number of classes.
"""

from __future__ import annotations

import numpy as np
import torch

from analytic import Gaussian

from ..core.grid import TimeGrid
from .affine import WORK_DTYPE, resolve_error

__all__ = ["exact_law_of", "NotAffineError", "ProbeNoise", "PROBE_RTOL", "MAX_PROBE_INPUTS"]

PROBE_RTOL = 1e-9  # affinity: |y − predicted| ≤ PROBE_RTOL · (|c| + Σ|C_k z_k|), elementwise
MAX_PROBE_INPUTS = 200_000  # input scalars per probed problem (d · draws); beyond, memory grows past ~GBs


class NotAffineError(ValueError):
    """The sampler's output is not affine in its Gaussian inputs (x0 and the noise), so its law is
    not the Gaussian that probing computes; the message names the cause."""


class _Recorder:
    """The discovery run's noise: zeros of the requested shapes, recording what was asked for."""

    def __init__(self, grid: TimeGrid, dim: int):
        self.n, self.dim, self.dtype, self.device = 1, dim, WORK_DTYPE, torch.device("cpu")
        self.total_steps = grid.total_steps
        self.initial_used = False
        self.step_used = np.zeros(grid.total_steps, dtype=bool)
        self.extras: dict = {}

    def initial(self):
        self.initial_used = True
        return torch.zeros(1, self.dim, dtype=self.dtype)

    def steps(self, j0: int, j1: int):
        if not (0 <= j0 <= j1 <= self.total_steps):
            raise ValueError(f"steps must satisfy 0 <= j0 <= j1 <= J = {self.total_steps}, got j0={j0}, j1={j1}")
        self.step_used[j0:j1] = True
        return torch.zeros(j1 - j0, 1, self.dim, dtype=self.dtype)

    def extra(self, key, *shape: int):
        shape = tuple(int(s) for s in shape)
        if self.extras.setdefault(key, shape) != shape:
            raise NotAffineError(f"extra draw {key!r} asked for with two shapes {self.extras[key]} and {shape}")
        return torch.zeros(*shape, 1, self.dim, dtype=self.dtype)


class ProbeNoise:
    """A probe run's noise (the :class:`~piadm_verify.core.noise.StepNoise` interface).

    Inputs are numbered: the initial draw's d scalars, then each used step's d scalars, then each
    extra draw's ``prod(shape)·d`` scalars (P in all). ``kind="columns"``: sample 0 gets all zeros and
    sample ``1 + i`` input i = 1 (P + 1 samples). ``kind="check"``: sample 0 all zeros, sample 1 the
    input ``doubled`` = 2, sample 2 the random combination ``combo`` (3 samples).
    """

    def __init__(self, recorder: _Recorder, kind: str, doubled: int = 0, combo: torch.Tensor | None = None):
        d = recorder.dim
        self.dim, self.dtype, self.device = d, WORK_DTYPE, torch.device("cpu")
        self.total_steps = recorder.total_steps
        offset = 0
        self._initial = offset if recorder.initial_used else None
        offset += d if recorder.initial_used else 0
        self._steps = {}
        for j in np.nonzero(recorder.step_used)[0]:
            self._steps[int(j)] = offset
            offset += d
        self._extras = {}
        for key, shape in recorder.extras.items():
            self._extras[key] = (offset, shape)
            offset += int(np.prod(shape, dtype=np.int64)) * d
        self.inputs = offset
        self.kind, self.doubled, self.combo = kind, doubled, combo
        self.n = offset + 1 if kind == "columns" else 3

    def _block(self, start: int, count: int) -> torch.Tensor:
        """The probe values of inputs ``start … start + count·d − 1`` as (count, n, d)."""
        d = self.dim
        out = torch.zeros(count, self.n, d, dtype=self.dtype)
        if self.kind == "columns":
            index = torch.arange(count * d)
            out[index // d, 1 + start + index, index % d] = 1.0
            return out
        out[:, 2, :] = self.combo[start:start + count * d].reshape(count, d)
        if start <= self.doubled < start + count * d:
            i = self.doubled - start
            out[i // d, 1, i % d] = 2.0
        return out

    def initial(self) -> torch.Tensor:
        if self._initial is None:
            raise NotAffineError("the probe run drew the initial noise but the discovery run did not "
                                 "(data-dependent control flow)")
        return self._block(self._initial, 1)[0]

    def steps(self, j0: int, j1: int) -> torch.Tensor:
        if not (0 <= j0 <= j1 <= self.total_steps):
            raise ValueError(f"steps must satisfy 0 <= j0 <= j1 <= J = {self.total_steps}, got j0={j0}, j1={j1}")
        missing = [j for j in range(j0, j1) if j not in self._steps]
        if missing:
            raise NotAffineError(f"the probe run drew the noise of steps {missing[:5]} that the discovery run did not "
                                 "(data-dependent control flow)")
        if j1 == j0:
            return torch.zeros(0, self.n, self.dim, dtype=self.dtype)
        # Used steps are numbered consecutively, so a range of them is one contiguous run of inputs.
        return self._block(self._steps[j0], j1 - j0)

    def extra(self, key, *shape: int) -> torch.Tensor:
        shape = tuple(int(s) for s in shape)
        if key not in self._extras or self._extras[key][1] != shape:
            raise NotAffineError(f"the probe run drew {key!r} with shape {shape}, which the discovery run did not "
                                 "(data-dependent control flow)")
        start, _ = self._extras[key]
        count = int(np.prod(shape, dtype=np.int64))
        return self._block(start, count).reshape(*shape, self.n, self.dim)


def _score_with(target: Gaussian, error):
    """The sampler's score: the target's exact score plus the affine error (an injected score's or
    an affine error object's ``e(x, s)``), evaluated in the points' dtype."""
    if error is None:
        return target.score
    inner = resolve_error(error)  # validates: affine errors only

    def score(x, s):
        return target.score(x, s) + inner(x, s)

    return score


def _run(sampler, score, grid, noise, options):
    out = sampler(score, grid, noise.n, noise.dim, noise=noise, dtype=WORK_DTYPE, device="cpu", **options)
    samples = out if isinstance(out, torch.Tensor) else getattr(out, "samples", None)
    if not isinstance(samples, torch.Tensor) or samples.shape != (noise.n, noise.dim):
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(out).__name__
        raise ValueError(f"the sampler must return samples of shape (n, d) = {(noise.n, noise.dim)}, got {shape}")
    if not torch.isfinite(samples).all():
        raise FloatingPointError("the sampler's probe output is not finite")
    return samples.to(WORK_DTYPE)


def _probe(sampler, target: Gaussian, grid: TimeGrid, error, options, generator,
           rtol: float = PROBE_RTOL) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c, C)`` of the sampler's affine map on ``target``: c (d,), C (d, P)."""
    score = _score_with(target, error)
    recorder = _Recorder(grid, target.dim)
    _run(sampler, score, grid, recorder, options)
    columns = ProbeNoise(recorder, "columns")
    P = columns.inputs
    if P > MAX_PROBE_INPUTS:
        raise ValueError(f"probing needs {P} input scalars (d = {target.dim} times the draws), more than "
                         f"MAX_PROBE_INPUTS = {MAX_PROBE_INPUTS}; use fewer steps, a smaller d or a product target")
    y = _run(sampler, score, grid, columns, options)
    c = y[0]
    C = (y[1:] - c).T  # (d, P)
    doubled = int(torch.randint(P, (1,), generator=generator)) if P else 0
    combo = 3.0 * torch.randn(P, generator=generator, dtype=WORK_DTYPE)
    check = _run(sampler, score, grid, ProbeNoise(recorder, "check", doubled, combo), options)
    scale = c.abs() + C.abs() @ (combo.abs() + 2.0)
    predicted = {"zero": c, "doubled": c + 2.0 * C[:, doubled] if P else c, "random combination": c + C @ combo}
    for (name, expected), observed in zip(predicted.items(), check):
        gap = (observed - expected).abs()
        if not bool((gap <= rtol * scale + 1e-300).all()):
            worst = float((gap / (scale + 1e-300)).max())
            raise NotAffineError(
                f"the output is not affine in (x0, noise): the {name} probe is off by {worst:.3g} relative "
                f"(tolerance {rtol:g}); tolerance-based stopping, Anderson mixing, a non-affine score error or "
                "noise drawn outside noise= make the law non-Gaussian (use Monte Carlo)")
    return c, C


def _product_classes(target: Gaussian, error):
    """Coordinate classes of a product target with a per-coordinate error: ``(representatives,
    class_of)``, or None when the fast path does not apply."""
    if target.eigvecs is not None:
        return None
    keys = [target.mean.numpy(), target.eigvals.numpy()]
    if error is not None:
        inner = resolve_error(error)
        signature = getattr(inner, "coordinate_signature", None)
        if not callable(getattr(inner, "eigen_terms", None)) or signature is None:
            return None
        keys.append(np.asarray(signature(), dtype=np.float64).reshape(target.dim, -1))
    table = np.column_stack(keys)
    _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


class _CoordinateError:
    """Coordinate i of a per-coordinate affine error, as a 1-D affine error ``e(x, s) = E_s x + f_s``."""

    def __init__(self, error, coordinate: int):
        self.inner, self.coordinate = resolve_error(error), coordinate

    def affine_terms(self, s):
        E, f = self.inner.eigen_terms(np.asarray(s, dtype=np.float64), np.array([self.coordinate]))
        return E, f

    def __call__(self, x, s):
        t = torch.as_tensor(s, dtype=torch.float64)
        times = t.reshape(-1).cpu().numpy()
        E, f = self.affine_terms(times)
        shape = t.shape + (1,)
        out = torch.zeros_like(x)
        if E is not None:
            out = out + torch.as_tensor(E[:, 0], dtype=x.dtype, device=x.device).reshape(shape) * x
        if f is not None:
            out = out + torch.as_tensor(f[:, 0], dtype=x.dtype, device=x.device).reshape(shape)
        return out


class _FirstCoordinateNoise:
    """Two samples: all inputs zero, and random inputs in coordinate 0 only."""

    def __init__(self, recorder: _Recorder, generator: torch.Generator):
        self.n, self.dim, self.dtype, self.device = 2, recorder.dim, WORK_DTYPE, torch.device("cpu")
        self.total_steps = recorder.total_steps
        self.generator = generator

    def _draw(self, *shape: int) -> torch.Tensor:
        out = torch.zeros(*shape, 2, self.dim, dtype=WORK_DTYPE)
        out[..., 1, 0] = torch.randn(shape, generator=self.generator, dtype=WORK_DTYPE)
        return out

    def initial(self):
        return self._draw()

    def steps(self, j0, j1):
        return self._draw(j1 - j0)

    def extra(self, key, *shape):
        return self._draw(*shape)


def _check_coordinates_separate(sampler, target: Gaussian, grid: TimeGrid, options, generator,
                                rtol: float = PROBE_RTOL) -> None:
    """One probe: perturbing every input of coordinate 0 (random values) must leave every other
    coordinate's output where the all-zero input puts it. Run on ``target`` (a product target with
    one coordinate per class, at least two), with the exact score: coupling is the sampler's."""
    recorder = _Recorder(grid, target.dim)
    _run(sampler, target.score, grid, recorder, options)
    y = _run(sampler, target.score, grid, _FirstCoordinateNoise(recorder, generator), options)
    gap = (y[1, 1:] - y[0, 1:]).abs()
    if not bool((gap <= rtol * (y[0, 1:].abs() + 1.0)).all()):
        raise NotAffineError("the sampler couples coordinates (perturbing coordinate 0's inputs moved others), so the "
                             "per-coordinate fast path does not apply; pass path='dense'")


def exact_law_of(sampler, target: Gaussian, grid: TimeGrid, error=None, *, path: str = "auto", seed: int = 0,
                 dtype=torch.float64, rtol: float = PROBE_RTOL, **options) -> Gaussian:
    """The exact output law of ``sampler`` on a Gaussian ``target`` with an affine score, by probing.

    Parameters
    ----------
    sampler : any sampler under the contract, ``sampler(score, grid, n, dim, *, noise, dtype, device,
        **options)``, that draws all its randomness from ``noise`` (docs/mathematics.md §10).
    target : ``analytic.Gaussian`` ``p_0``; the sampler gets its exact score ``target.score``, plus
        ``error``.
    grid : the grid the sampler runs on.
    error : None, or an affine error (an injected score of kind ``bias``/``affine``/``pulse``, or an
        object with ``affine_terms``), added to the score as ``e(x, s)``.
    path : ``"auto"`` (the per-coordinate fast path for a product target — diagonal covariance, no
        rotation — with a per-coordinate error, after one probe on a target with one coordinate per
        class shows that the sampler keeps coordinates apart; else dense), ``"fast"`` or ``"dense"``.
    seed : seeds the check batch (which input is doubled, the random combination).
    rtol : the affinity tolerance (default :data:`PROBE_RTOL`, float64 round-off). A sampler that
        rounds its state to float32 inside (some library schedulers do) is affine only to ~1e-7
        relative: pass a looser ``rtol`` for it, and read the law's digits accordingly.
    options : passed to every sampler call (``K=…``, ``corrector=…``).

    Returns the law as an ``analytic.Gaussian`` in ``dtype``. Raises :class:`NotAffineError` when
    the output is not affine in the sampler's inputs to ``rtol``.

    Cost: the probe batch has ``P + 1`` samples (plus a 1-sample discovery run and a 3-sample check run), ``P = d·(1 + J_drawn + extra scalars)`` (J_drawn: the
    steps whose noise the sampler draws, none for an ODE predictor), so time and memory grow like
    ``d²·J`` for a dense target: d = 8 with 512 steps is ~4 000 probes (a second or two for PIADM);
    ``P`` is capped at :data:`MAX_PROBE_INPUTS`. The fast path probes one 1-D problem per coordinate
    class (``P = 1 + J_drawn + …``), so a product target of d = 10⁴ with 4 classes costs 4 small
    probes plus a coupling check on one coordinate per class: what d = 4 costs.
    """
    if not isinstance(target, Gaussian):
        raise TypeError(f"target must be an analytic.Gaussian, got {type(target).__name__}")
    if not isinstance(grid, TimeGrid):
        raise TypeError(f"grid must be a TimeGrid, got {type(grid).__name__}")
    if not callable(sampler):
        raise TypeError(f"sampler must be callable, got {type(sampler).__name__}")
    if path not in ("auto", "fast", "dense"):
        raise ValueError(f"path must be 'auto', 'fast' or 'dense', got {path!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0.0 < rtol < 1.0:
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    exact = target.to(dtype=WORK_DTYPE, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    classes = None if path == "dense" else _product_classes(exact, error)
    if path == "fast" and classes is None:
        raise ValueError("path='fast' needs a product target (diagonal covariance) and a per-coordinate error")
    if classes is None or exact.dim == 1:
        c, C = _probe(sampler, exact, grid, error, options, generator, rtol)
        return Gaussian(c.to(dtype), _symmetric(C @ C.T).to(dtype), dtype=dtype)
    representatives, class_of = classes
    pick = np.resize(representatives, max(2, len(representatives)))  # one coordinate per class, at least two
    _check_coordinates_separate(sampler, Gaussian(exact.mean[pick], exact.eigvals[pick]), grid, options, generator,
                                rtol)
    means, variances = torch.empty(len(representatives), dtype=WORK_DTYPE), torch.empty(len(representatives),
                                                                                          dtype=WORK_DTYPE)
    for k, i in enumerate(representatives):
        one = Gaussian(exact.mean[i:i + 1], exact.eigvals[i:i + 1])
        c, C = _probe(sampler, one, grid, None if error is None else _CoordinateError(error, int(i)), options,
                      generator, rtol)
        means[k], variances[k] = c[0], (C @ C.T)[0, 0]
    if not bool((variances > 0).all()):
        raise FloatingPointError("exact_law_of: an output variance is not positive")
    return Gaussian(means[class_of].to(dtype), variances[class_of].to(dtype), dtype=dtype)


def _symmetric(cov: torch.Tensor) -> torch.Tensor:
    return 0.5 * (cov + cov.T)
