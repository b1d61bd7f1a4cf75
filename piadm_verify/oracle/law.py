"""The exact-law oracle's front door: :func:`exact_law` dispatches to the SDE and ODE laws
(docs/mathematics.md §8)."""

from __future__ import annotations

import torch

from analytic import Gaussian

from ..core.grid import TimeGrid
from ..core.schemes import EXPONENTIAL_INTEGRATOR, SDEScheme
from .ode import exact_law_ode
from .sde import exact_laws

__all__ = ["exact_law"]


def exact_law(
    target: Gaussian,
    grid: TimeGrid,
    method: str = "sde",
    K: int | None = None,
    error=None,
    *,
    v: float | None = None,
    scheme: SDEScheme = EXPONENTIAL_INTEGRATOR,
    initial: Gaussian | None = None,
    path: str = "auto",
    dtype=torch.float64,
    **method_options,
) -> Gaussian:
    """The exact law of a sampler's output on a Gaussian target, as an ``analytic.Gaussian`` (docs/mathematics.md §8).

    Parameters
    ----------
    target : ``analytic.Gaussian`` ``p_0``.
    grid : the sampler's :class:`TimeGrid`.
    method : ``"sde"`` (PIADM-SDE with K Picard iterations, general ``v``), ``"sequential_sde"``
        (the exponential-integrator reference), or ``"ode"`` (PIADM-ODE; see :mod:`piadm_verify.samplers.ode`).
    K : Picard iterations per block (``"sde"``, ``"ode"``).
    error : None (exact score) or an affine error: an injected score from
        :func:`~piadm_verify.scores.errors.inject_error` with kind ``bias``/``affine``/``pulse``, or any
        object with ``affine_terms(s) -> (E, f)`` meaning ``e(x, s) = E_s x + f_s`` (E: (M, d)
        diagonal or (M, d, d); either may be None).
    v, scheme : as for :func:`~piadm_verify.samplers.sde.piadm_sde` (``v`` default 1; the ODE's is 0,
        and another value is an error there); the oracle follows the same scheme.
    initial : law of ``ŷ_{t_0}`` (default ``N(0, scheme.initial_variance · I)``).
    path : ``"auto"`` (fast when the target, the error and the initial law share an eigenbasis),
        ``"fast"`` or ``"dense"``.

    Compare with ``p_η = target.marginal(grid.eta)``, e.g. ``gaussian_kl(p_η, law)``.
    """
    if method == "ode":
        if K is None:
            raise ValueError("K is required for method='ode'")
        if v not in (None, 0, 0.0):
            raise ValueError(f"method='ode' integrates the probability-flow ODE (v = 0); got v={v!r}")
        return exact_law_ode(target, grid, K, error=error, initial=initial, path=path, dtype=dtype, scheme=scheme,
                             **method_options)
    if method_options:
        raise TypeError(f"unexpected options for method={method!r}: {sorted(method_options)}")
    if method == "sde" and K is None:
        raise ValueError("K is required for method='sde'")
    laws = exact_laws(target, grid, K if method == "sde" else 1, method, error, v=1.0 if v is None else v,
                      scheme=scheme, initial=initial, path=path, dtype=dtype)
    return next(iter(laws.values()))
