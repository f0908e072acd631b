"""Gaussian-based kernels of order 2, 4, 6 and their local-polynomial boundary versions.

Every kernel here has the form K(u) = Σ_j c_j u^j φ(u) (φ the standard normal density). The
coefficients are those of the local-polynomial equivalent kernel of degree ℓ = order − 1
(Fan & Gijbels 1996, §3.2.2; Jones 1993 for ℓ = 1):

    c = M⁻¹ e₀,   M_jk = ∫_lo^hi u^{j+k} φ(u) du,

so that ∫_lo^hi u^k K(u) du = δ_k0 for k = 0..ℓ. On the whole line (lo, hi) = (−∞, ∞) this gives
the classical Gaussian higher-order kernels: order 2 → φ, order 4 → (3 − u²)/2 φ,
order 6 → (15 − 10u² + u⁴)/8 φ (Wand & Jones 1995, §2.8). Near the edge of a box the range of
u = (x − X)/h is truncated and the same formula gives a boundary kernel of the same order.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

ORDERS = (2, 4, 6)
#: Kernels are treated as zero beyond this many bandwidths (u^5 φ(u) < 1e-11 there).
CUTOFF = 9.0
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def phi(u: np.ndarray) -> np.ndarray:
    """The standard normal density."""
    return np.exp(-0.5 * np.square(u)) / _SQRT_2PI


def truncated_moments(lo: np.ndarray, hi: np.ndarray, kmax: int) -> np.ndarray:
    """m_k = ∫_lo^hi u^k φ(u) du for k = 0..kmax, shape lo.shape + (kmax + 1,).

    Recurrence m_k = −[u^{k−1} φ(u)]_lo^hi + (k − 1) m_{k−2} (integration by parts);
    infinite limits are allowed.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    out = np.empty(np.broadcast(lo, hi).shape + (kmax + 1,))
    lo_f = np.where(np.isfinite(lo), lo, 0.0)
    hi_f = np.where(np.isfinite(hi), hi, 0.0)
    phl = np.where(np.isfinite(lo), phi(lo_f), 0.0)
    phh = np.where(np.isfinite(hi), phi(hi_f), 0.0)
    out[..., 0] = ndtr(hi) - ndtr(lo)
    if kmax >= 1:
        out[..., 1] = phl - phh
    for k in range(2, kmax + 1):
        out[..., k] = (lo_f ** (k - 1)) * phl - (hi_f ** (k - 1)) * phh + (k - 1) * out[..., k - 2]
    return out


def coefficients(order: int, lo=-np.inf, hi=np.inf) -> np.ndarray:
    """Coefficients c_0..c_ℓ (ℓ = order − 1) of the kernel of ``order`` on u ∈ [lo, hi].

    Shape broadcast(lo, hi).shape + (order,). On the whole line the odd coefficients are 0.
    """
    ell = order - 1
    m = truncated_moments(lo, hi, 2 * ell)
    idx = np.add.outer(np.arange(ell + 1), np.arange(ell + 1))
    M = m[..., idx]
    e0 = np.zeros(ell + 1)
    e0[0] = 1.0
    rhs = np.broadcast_to(e0, M.shape[:-1])
    return np.linalg.solve(M, rhs[..., None])[..., 0]


def interior_coefficients(order: int) -> np.ndarray:
    """Coefficients of the whole-line kernel of ``order`` (exact rationals, see module doc)."""
    c = coefficients(order)
    c[1::2] = 0.0  # exactly zero by symmetry
    return c


def evaluate(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """K(u) = Σ_j c_j u^j φ(u) with c broadcast against u (c has a trailing coefficient axis)."""
    poly = np.zeros(np.broadcast_shapes(u.shape, c.shape[:-1]))
    for j in range(c.shape[-1] - 1, -1, -1):  # Horner
        poly = poly * u + c[..., j]
    return poly * phi(u)


def sup_constants(order: int) -> tuple[float, float]:
    """(sup|K|, sup|K''|) of the whole-line kernel of ``order``, on a fine grid of u."""
    u = np.linspace(-CUTOFF, CUTOFF, 20001)
    c = interior_coefficients(order)
    k = evaluate(c, u)
    du = u[1] - u[0]
    k2 = np.gradient(np.gradient(k, du), du)
    return float(np.max(np.abs(k))), float(np.max(np.abs(k2)))
