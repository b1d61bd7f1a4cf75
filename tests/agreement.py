"""Exact-law agreement tests shared by the oracle and ODE test modules: do samples come from a given
Gaussian? Mean by the exact χ² of the known-covariance Hotelling statistic, covariance by the
Bartlett-corrected likelihood-ratio test (Anderson 2003, §10.8)."""

import numpy as np
import torch
from scipy import stats

from analytic import Gaussian


def bartlett_constants(d: int, dof: int) -> tuple[float, float, int]:
    """``(ρ, ω, f)`` of the modified LR test of Σ = Σ₀ (Anderson 2003, §10.8, Thm 10.8.4):
    ``P(ρ·stat ≤ z) = F_f(z) + ω [F_{f+4}(z) - F_f(z)] + O(dof⁻³)`` with ``f = d(d+1)/2``,
    ``ρ = 1 - (2d² + 3d - 1)/(6·dof·(d+1))``, ``ω = d(2d⁴ + 6d³ + d² - 12d - 13)/(288(d+1)) / (ρ·dof)²``."""
    rho = 1.0 - (2 * d * d + 3 * d - 1) / (6.0 * dof * (d + 1))
    gamma2 = d * (2 * d**4 + 6 * d**3 + d * d - 12 * d - 13) / (288.0 * (d + 1))
    return rho, gamma2 / (rho * dof) ** 2, d * (d + 1) // 2


def covariance_lrt_pvalue(W: np.ndarray, dof: int) -> float:
    """p-value of H0: E W = I for ``W = A/dof``, ``A ~ Wishart_d(dof, Σ)`` (whitened scatter matrix).

    Statistic ``dof·[tr W - log det W - d]`` (−2 log of the modified LR criterion), Bartlett-scaled
    by ρ, with Anderson's second-order term. Why not the exact law: under H0 the statistic is
    a function of a standard Wishart matrix (trace and log-determinant: sums over the independent χ²
    and normal entries of its Bartlett decomposition) whose CDF has no closed form, while the
    expansion is accurate to O(dof⁻³). Here the second-order coefficient is already small,
    ω ≈ 8e-5 (d = 32, dof = 10⁴) and 3e-10 (d = 2, dof = 2·10⁴), and the neglected third-order term
    is smaller still; ``test_covariance_lrt_is_calibrated`` checks the calibration at dof = 30 … 300,
    where the corrections are orders of magnitude larger.
    """
    d = W.shape[0]
    rho, omega, f = bartlett_constants(d, dof)
    logdet = np.linalg.slogdet(W)[1]
    stat = rho * dof * (np.trace(W) - logdet - d)
    p = stats.chi2.sf(stat, f) + omega * (stats.chi2.sf(stat, f + 4) - stats.chi2.sf(stat, f))
    return float(min(1.0, max(p, 0.0)))


def gaussian_pvalues(x: torch.Tensor, law: Gaussian) -> dict[str, float]:
    """Exact tests of ``x_1 … x_n ~iid N(m, S)`` for the claimed law N(m, S).

    mean: ``n (x̄ - m)ᵀ S⁻¹ (x̄ - m) ~ χ²_d`` exactly (S is the claimed covariance, not estimated);
    cov: the Bartlett-corrected LR test of Σ = S with the mean estimated (``dof = n - 1``).
    Under H0 the two statistics are independent (x̄ and the scatter matrix of a Gaussian sample).
    """
    X = x.double().numpy()
    n, d = X.shape
    m, S = law.mean.double().numpy(), law.cov.double().numpy()
    L = np.linalg.cholesky(S)
    Z = np.linalg.solve(L, (X - m).T).T  # whitened: N(0, I) under H0
    zbar = Z.mean(axis=0)
    p_mean = float(stats.chi2.sf(n * zbar @ zbar, d))
    C = Z - zbar
    W = C.T @ C / (n - 1)
    return {"mean": p_mean, "cov": covariance_lrt_pvalue(W, n - 1)}
