"""Cardinal B-splines on uniform dyadic knots: values, integrals and two-scale refinement.

N_r is the cardinal B-spline of degree r, supported on [0, r+1] with ∫N_r = 1 (de Boor, "A
Practical Guide to Splines", ch. IX). At level J on [0, 1] the atoms are B_{J,k}(u) = N_r(2^J u - k);
the K = 2^J + r atoms k = -r, ..., 2^J - 1 that meet [0, 1] are stored at index k + r and form a
partition of unity there. Every routine uses only sums of nonnegative terms (Cox-de Boor
recursion), so values are accurate to a few ulps.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.special import comb


def local_values(tau: np.ndarray, r: int) -> np.ndarray:
    """V[:, l] = N_r(tau + l) for l = 0..r and tau in [0, 1) (Cox-de Boor on integer knots)."""
    tau = np.asarray(tau, dtype=np.float64)
    v = np.ones(tau.shape + (1,))
    for d in range(1, r + 1):
        new = np.zeros(tau.shape + (d + 1,))
        ls = np.arange(d)
        # N_d(y) = [y N_{d-1}(y) + (d+1-y) N_{d-1}(y-1)] / d with y = tau + l
        new[..., :d] += (tau[..., None] + ls) * v
        new[..., 1:] += (d - tau[..., None] - ls) * v
        v = new / d
    return v


def cdf(y: np.ndarray, r: int) -> np.ndarray:
    """F_r(y) = ∫_{-inf}^y N_r = Σ_{m>=0} N_{r+1}(y - m)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.where(y >= r + 1, 1.0, 0.0)
    inside = (y > 0) & (y < r + 1)
    yi = y[inside]
    i = np.floor(yi).astype(np.int64)
    cum = np.cumsum(local_values(yi - i, r + 1), axis=-1)
    out[inside] = np.take_along_axis(cum, np.minimum(i, r + 1)[:, None], axis=-1)[:, 0]
    return out


def basis_matrix(u: np.ndarray, J: int, r: int) -> sp.csr_matrix:
    """Sparse (N, 2^J + r) matrix of B_{J,k}(u_n) at column k + r; rows outside [0, 1] are 0."""
    u = np.asarray(u, dtype=np.float64)
    n_cells = 2**J
    inside = (u >= 0) & (u <= 1)
    t = u[inside] * n_cells
    i = np.minimum(np.floor(t).astype(np.int64), n_cells - 1)
    vals = local_values(t - i, r)  # column l is the atom k = i - l
    rows = np.repeat(np.flatnonzero(inside), r + 1)
    cols = (i[:, None] - np.arange(r + 1) + r).ravel()
    return sp.csr_matrix((vals.ravel(), (rows, cols)), shape=(u.size, n_cells + r))


def cell_integral_matrix(edges_u: np.ndarray, J: int, r: int) -> sp.csr_matrix:
    """Sparse (G, 2^J + r) matrix of ∫_{cell g ∩ [0,1]} B_{J,k}(u) du, from the B-spline cdf.

    ``edges_u`` are G + 1 increasing cell edges in [0, 1] coordinates (any values; clipped).
    """
    n_cells = 2**J
    e = np.clip(np.asarray(edges_u, dtype=np.float64), 0.0, 1.0) * n_cells
    ta, tb = e[:-1], e[1:]
    k_lo = np.floor(ta).astype(np.int64) - r
    k_hi = np.ceil(tb).astype(np.int64) - 1
    k_lo = np.maximum(k_lo, -r)
    k_hi = np.minimum(k_hi, n_cells - 1)
    counts = np.where(tb > ta, np.maximum(k_hi - k_lo + 1, 0), 0)
    rows = np.repeat(np.arange(ta.size), counts)
    starts = np.cumsum(counts) - counts
    k = np.repeat(k_lo, counts) + (np.arange(counts.sum()) - np.repeat(starts, counts))
    vals = (cdf(tb[rows] - k, r) - cdf(ta[rows] - k, r)) / n_cells
    return sp.csr_matrix((vals, (rows, k + r)), shape=(ta.size, n_cells + r))


def refine_axis(c: np.ndarray, axis: int, j: int, r: int) -> np.ndarray:
    """Coefficients at level j+1 of the same spline along ``axis`` (two-scale relation
    N_r(t) = 2^{-r} Σ_m C(r+1, m) N_r(2t - m)); exact on [0, 1]."""
    c = np.moveaxis(c, axis, 0)
    n_in = 2**j + r
    n_out = 2 ** (j + 1) + r
    out = np.zeros((n_out,) + c.shape[1:])
    base = 2 * np.arange(n_in) - r
    for m in range(r + 2):
        idx = base + m
        ok = (idx >= 0) & (idx < n_out)
        out[idx[ok]] += comb(r + 1, m, exact=True) / 2**r * c[ok]
    return np.moveaxis(out, 0, axis)


def apply_along_axes(mats: list, v: np.ndarray) -> np.ndarray:
    """out[g0, ..., gD-1] = Σ_k Π_d mats[d][g_d, k_d] v[k] (separable tensor contraction)."""
    out = v
    for axis, m in enumerate(mats):
        moved = np.moveaxis(out, axis, 0)
        shape = moved.shape
        res = m @ moved.reshape(shape[0], -1)
        out = np.moveaxis(np.asarray(res).reshape((m.shape[0],) + shape[1:]), 0, axis)
    return out


def weighted_cell_integral_matrix(edges_u: np.ndarray, J: int, r: int, weight) -> sp.csr_matrix:
    """Sparse (G, 2^J + r) matrix of ∫_{cell g ∩ [0,1]} w(u) B_{J,k}(u) du for a polynomial w
    (``numpy.polynomial.Polynomial``).

    Each cell is split at the level-J knots; on every piece w·B_{J,k} is a polynomial of degree
    r + deg w, which Gauss-Legendre with ceil((r + deg w + 1)/2) nodes integrates exactly.
    """
    n_cells = 2**J
    e = np.clip(np.asarray(edges_u, dtype=np.float64), 0.0, 1.0)
    lo, hi = e[0], e[-1]
    knots = np.arange(math.floor(lo * n_cells), math.ceil(hi * n_cells) + 1) / n_cells
    bps = np.unique(np.concatenate([e, knots[(knots > lo) & (knots < hi)]]))
    a, b = bps[:-1], bps[1:]
    cell = np.searchsorted(e, a, side="right") - 1
    keep = (b > a) & (cell < e.size - 1)
    a, b, cell = a[keep], b[keep], cell[keep]
    n_nodes = math.ceil((r + weight.degree() + 1) / 2)
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    nodes = ((a + b)[:, None] + (b - a)[:, None] * x) / 2
    wts = (b - a)[:, None] / 2 * w * weight(nodes)
    basis = basis_matrix(nodes.ravel(), J, r)
    agg = sp.csr_matrix(
        (wts.ravel(), (np.repeat(cell, n_nodes), np.arange(nodes.size))),
        shape=(e.size - 1, nodes.size),
    )
    return (agg @ basis).tocsr()
