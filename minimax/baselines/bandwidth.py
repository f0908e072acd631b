"""Bandwidth rules for the product-kernel KDE: one bandwidth per axis.

* ``scott``: h_d = σ_d · n^{−1/(D+4)} (Scott 1992, eq. 6.42; the factor of scipy's gaussian_kde).
* ``silverman``: h_d = (4/(D+2))^{1/(D+4)} · min(σ_d, IQR_d/1.349) · n^{−1/(D+4)}, the normal
  reference rule (Silverman 1986, eq. 4.14; = 1.06 σ n^{−1/5} in D = 1) with the robust scale of
  his eq. 3.30.
* ``theory``: h_d = c · n^{−1/(2s+D)}, the rate-optimal order for smoothness s (docs/theory.md §6).

Cross-validation (likelihood, leave-one-out) is in ``kde.py`` because it evaluates the estimate.
"""

from __future__ import annotations

import numpy as np

from minimax.validation import check_real


def scott(X: np.ndarray) -> np.ndarray:
    """Scott's rule per axis (see module doc)."""
    n, D = X.shape
    return _scale(X, robust=False) * n ** (-1.0 / (D + 4))


def silverman(X: np.ndarray) -> np.ndarray:
    """Silverman's normal-reference rule per axis with the robust scale (see module doc)."""
    n, D = X.shape
    return (4.0 / (D + 2)) ** (1.0 / (D + 4)) * _scale(X, robust=True) * n ** (-1.0 / (D + 4))


def theory(n: int, D: int, smoothness: float, c: float = 1.0) -> float:
    """h = c · n^{−1/(2s+D)}: bias h^s and deviation (n h^D)^{−1/2} balance at this order."""
    smoothness = check_real("smoothness", smoothness, low=0.0, low_open=True)
    c = check_real("c", c, low=0.0, low_open=True)
    return c * n ** (-1.0 / (2.0 * smoothness + D))


def _scale(X: np.ndarray, robust: bool) -> np.ndarray:
    sd = np.std(X, axis=0, ddof=1)
    if robust:
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        iqr = (q75 - q25) / 1.349
        sd = np.where(iqr > 0, np.minimum(sd, iqr), sd)
    if np.any(sd <= 0):
        raise ValueError(
            f"X has zero spread along axis {int(np.argmin(sd))}: "
            "expected data that vary along every axis for a data-driven bandwidth"
        )
    return sd
