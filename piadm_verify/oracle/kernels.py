"""Compiled per-coordinate kernels of the exact-law oracle's fast path (docs/mathematics.md §8).

The oracle's backward scans (see :mod:`piadm_verify.oracle`) are memory-bound as array code:
the theorem's presets put ~5·10⁶ points in a block. Fused into one pass over the points with
the K iterations innermost, the state of a coordinate class is K running sums, so a block costs
O(K·M) flops and no memory. The scalar score of class c at forward time s is
``J = -1/λ_s + E``, ``b = e^{-s/2} μ/λ_s + f`` with ``λ_s = e^{-s} λ + 1 - e^{-s}`` (docs/mathematics.md §2)
plus the optional affine error terms ``E``, ``f`` (arrays (M, C), or (0, C) when absent).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange


def time_factors(s: np.ndarray) -> np.ndarray:
    """``[e^{-s}, 1 - e^{-s}, e^{-s/2}]`` stacked (3, M): computed once per block, shared by all classes."""
    out = np.empty((3, s.shape[0]))
    np.negative(s, out=out[1])
    np.exp(out[1], out=out[0])
    np.expm1(out[1], out=out[1])
    np.negative(out[1], out=out[1])
    np.sqrt(out[0], out=out[2])
    return out


@njit(cache=True, inline="always")
def _score_terms(tf, lam, mu, E, f, j, c):
    lam_s = tf[0, j] * lam + tf[1, j]
    jac = -1.0 / lam_s
    off = tf[2, j] * mu / lam_s
    if E.shape[0] > 0:
        jac += E[j, c]
    if f.shape[0] > 0:
        off += f[j, c]
    return jac, off


def _picard_maps(tf, grow, shrink, weight, noise_var, offset, lam, mu, E, f, record, shared_noise):
    """Per-class maps ``(A_K, c_K, V_K)`` of one block after K Picard iterations, for K in ``record``.

    ``tf[:, j]``: :func:`time_factors` of the forward time where step j evaluates the score
    (point ``j + offset``);
    ``grow[m] = D_m`` (M+1 points); ``shrink[j] = D_{j+1}^{-1}``; ``weight[j] = c_j``;
    ``noise_var[j] = v² Var ζ_j``. ``record`` is sorted; the sweep runs to ``K_max = record[-1]``.
    Notation as in :mod:`piadm_verify.oracle`: ``u_i[m] = r_i[m] D_m``, ``ρ_i[j] = Σ_{m>j} u_i[m]``.
    """
    M = shrink.shape[0]
    C = lam.shape[0]
    k_max = record[-1]
    n_rec = record.shape[0]
    out_A = np.zeros((n_rec, C))
    out_c = np.zeros((n_rec, C))
    out_V = np.zeros((n_rec, C))
    for c in prange(C):
        suffix = np.zeros(k_max + 1)  # Σ_{m' > m} u_i[m'] so far (then including m)
        u = np.zeros(k_max + 1)
        r_sum = np.zeros(n_rec)
        acc_c = np.zeros(n_rec)
        acc_V = np.zeros(n_rec)
        for m in range(M, -1, -1):
            j = m - offset
            active = 0 <= j < M
            step = 0.0
            w_off = 0.0
            w_var = 0.0
            if active:
                jac, off = _score_terms(tf, lam[c], mu[c], E, f, j, c)
                step = grow[m] * shrink[j] * weight[j] * jac
                w_off = shrink[j] * weight[j] * off
                w_var = noise_var[j] * shrink[j] * shrink[j]
            u[0] = grow[M] if m == M else 0.0
            total = 0.0
            squares = 0.0
            q = 0
            for i in range(k_max):
                if offset == 0:
                    # ρ_i[m] excludes point m: read the suffix sum before adding u_i[m].
                    rho = suffix[i]
                    suffix[i] += u[i]
                else:
                    # ρ_i[m-1] includes point m (u_i[m] came from ρ_{i-1}[m-1] one pass earlier).
                    suffix[i] += u[i]
                    rho = suffix[i]
                u[i + 1] = rho * step
                total += rho
                squares += rho * rho
                while q < n_rec and record[q] == i + 1:
                    acc_c[q] += w_off * total
                    acc_V[q] += w_var * (total * total if shared_noise else squares)
                    q += 1
            suffix[k_max] += u[k_max]
            inv_grow = 1.0 / grow[m]
            for q in range(n_rec):
                r_sum[q] += u[record[q]] * inv_grow
        for q in range(n_rec):
            alpha = 0.0
            for i in range(record[q]):
                alpha += suffix[i]
            out_A[q, c] = r_sum[q] + alpha
            out_c[q, c] = acc_c[q]
            out_V[q, c] = acc_V[q]
    return out_A, out_c, out_V


def _sequential_maps(tf, decay, weight, noise_var, lam, mu, E, f):
    """Per-class map ``(A, c, V)`` of one block of the sequential scheme.

    Step j: ``x ← g_j x + c_j b_j + v ζ_j`` with ``g_j = d_j + c_j J_j``, so the map updates as
    ``A ← g_j A``, ``c ← g_j c + c_j b_j``, ``V ← g_j² V + v² Var ζ_j``.
    """
    M = decay.shape[0]
    C = lam.shape[0]
    out_A = np.ones(C)
    out_c = np.zeros(C)
    out_V = np.zeros(C)
    for c in prange(C):
        A = 1.0
        cc = 0.0
        V = 0.0
        for j in range(M):
            jac, off = _score_terms(tf, lam[c], mu[c], E, f, j, c)
            g = decay[j] + weight[j] * jac
            A *= g
            cc = g * cc + weight[j] * off
            V = g * g * V + noise_var[j]
        out_A[c] = A
        out_c[c] = cc
        out_V[c] = V
    return out_A, out_c, out_V


def _compile(py_func, parallel: bool):
    """``njit(cache=True)`` of a renamed copy of ``py_func``: numba keys its on-disk cache by the
    function's qualified name and signature, not by ``parallel``, so the serial and threaded builds
    of one function would overwrite (and load) each other's cached code under one name."""
    name = f"{py_func.__name__}_{'parallel' if parallel else 'serial'}"
    clone = types.FunctionType(py_func.__code__, py_func.__globals__, name, py_func.__defaults__,
                               py_func.__closure__)
    clone.__qualname__ = name
    clone.__doc__ = py_func.__doc__
    return njit(cache=True, parallel=parallel)(clone)


# Threads pay off only with enough work per call; small problems run serially (prange = range).
PARALLEL_WORK = 1_000_000
_picard_serial = _compile(_picard_maps, parallel=False)
_picard_parallel = _compile(_picard_maps, parallel=True)
_sequential_serial = _compile(_sequential_maps, parallel=False)
_sequential_parallel = _compile(_sequential_maps, parallel=True)


def picard_maps(tf, grow, shrink, weight, noise_var, offset, lam, mu, E, f, record, shared_noise):
    """See :func:`_picard_maps`; runs threaded when ``M·C·K_max`` is large."""
    parallel = shrink.shape[0] * lam.shape[0] * record[-1] >= PARALLEL_WORK and lam.shape[0] > 1
    kernel = _picard_parallel if parallel else _picard_serial
    return kernel(tf, grow, shrink, weight, noise_var, offset, lam, mu, E, f, record, shared_noise)


def sequential_maps(tf, decay, weight, noise_var, lam, mu, E, f):
    """See :func:`_sequential_maps`; runs threaded when ``M·C`` is large."""
    parallel = decay.shape[0] * lam.shape[0] >= PARALLEL_WORK and lam.shape[0] > 1
    kernel = _sequential_parallel if parallel else _sequential_serial
    return kernel(tf, decay, weight, noise_var, lam, mu, E, f)
