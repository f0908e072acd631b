"""Wavelet hard-thresholding density estimator on a box: the nonlinear control (issue 18).

Donoho, Johnstone, Kerkyacharian & Picard (Ann. Statist. 1996): hard thresholding of empirical
wavelet coefficients attains the minimax rate n^{-s/(2s+D)} over Besov balls B^s_{p,q} with
p < 1 too, where every linear estimator (a KDE) is slower. This one uses the average-
interpolating multiresolution of Donoho (1993), which needs only cell counts:

1. Data. u = unit-cube coordinates of the n points; A_L = the histogram's cell averages at the
   finest level L (2^L cells per axis; default 2^{LD} ≈ n/log n, the usual j1 of DJKP), and A_j
   (j = j_c..L) their dyadic aggregates; j_c = the coarsest level with 2^j >= 2R + 1.
2. Prediction (the boundary treatment). Per axis, the children averages of a cell at level j
   are predicted from the polynomial of degree 2R whose averages over 2R + 1 neighbouring cells
   of level j equal A_j; near the box's faces the stencil is shifted to stay inside the box
   (one-sided stencils), so the prediction reproduces polynomials of degree 2R up to the edge and
   no mass is ever put outside. D > 1: the tensor product of the per-axis predictions.
3. Details d_{j+1} = A_{j+1} − P_j A_j, the empirical detail coefficients (2^D per parent,
   summing to 0).
4. Threshold. The detail of cell c is a linear function Σ_i a_ci N_i/n of the cell counts, so
   its multinomial variance is v_c = (1/n)(Σ_i a_ci² p_i − (Σ_i a_ci p_i)²); the "local noise
   sd" ŝ_c is its plug-in value with p_i = N_i/n, floored at one point's worth a_cc/n. The 2^D
   details of a parent are kept when max_c |d_c|/ŝ_c > t_j, else set to 0 (D = 1: the two
   children's details are ± one number). ``threshold="level"`` (default): t_j = κ·√(2 log
   2^{(j+1)D}), the universal threshold for the number of details of level j + 1 (the
   level-dependent thresholds λ_j ∝ √(j/n) of DJKP 1996); ``"universal"``: t = κ·√(2 log n).
   Default κ = 1. Tuned on the sparse target with target seed 1 (the study reports seed 0),
   n = 500, 4000, 32,000, 2 replicates: the level rule with κ = 1 had the smallest TV at
   n = 32,000 (0.033 vs 0.038-0.043 for the universal rule with κ = 0.5-1) and the steepest
   slope (0.31 vs 0.24-0.26); R = 2 gave the same TV (docs/sparse_targets.md).
5. Reconstruction: A_{j+1} = P_j A_j + kept details from j_c to L, then ``extra_levels`` more
   refinements with zero details (a smoother piecewise-constant rendering of the limit
   function). Nonnegativity: negative cell values are clipped to 0 and the result renormalised
   to mass 1 (the clipped mass is reported).

The estimate is piecewise constant on the 2^{L+E} dyadic cells per axis: pdf, cell masses of any
rectangular grid and the sampler are exact.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from minimax.estimator import Estimator
from minimax.targets import bspline
from minimax.validation import check_choice, check_int, check_points, check_real, check_rng

#: finest output level 2^{(L+E)D} per dimension (tv_exact resolves it at its default budget)
MAX_OUTPUT_LEVEL = {1: 16, 2: 8, 3: 5}


def prediction_weights(R: int, offset: int) -> np.ndarray:
    """(2, 2R+1): averages over [0, ½] and [½, 1] of the degree-2R polynomial whose averages
    over the cells [m, m+1], m = −offset .. 2R − offset, are given (the parent is m = 0)."""
    m = np.arange(-offset, 2 * R + 1 - offset, dtype=np.float64)
    pw = np.arange(2 * R + 1)
    A = ((m[:, None] + 1.0) ** (pw + 1) - m[:, None] ** (pw + 1.0)) / (pw + 1)
    left = 2 * 0.5 ** (pw + 1) / (pw + 1)
    right = 2 * (1.0 - 0.5 ** (pw + 1)) / (pw + 1)
    inv = np.linalg.inv(A)
    return np.stack([left @ inv, right @ inv])


def prediction_matrix(N: int, R: int) -> sp.csr_matrix:
    """Sparse (2N, N) per-axis prediction of level-(j+1) averages from N level-j averages,
    with the stencil shifted inside [0, N) at the faces."""
    k = np.arange(N)
    start = np.clip(k - R, 0, N - 2 * R - 1)
    w = np.stack([prediction_weights(R, o) for o in range(2 * R + 1)])  # (offsets, 2, 2R+1)
    wk = w[k - start]  # (N, 2, 2R + 1)
    rows = np.broadcast_to(2 * k[:, None, None] + np.arange(2)[None, :, None], wk.shape)
    cols = np.broadcast_to(start[:, None, None] + np.arange(2 * R + 1)[None, None, :], wk.shape)
    return sp.csr_matrix((wk.ravel(), (rows.ravel(), cols.ravel())), shape=(2 * N, N))


def _restriction(N: int) -> sp.csr_matrix:
    """(N, 2N) averaging of children into parents."""
    i = np.arange(2 * N)
    return sp.csr_matrix((np.full(2 * N, 0.5), (i // 2, i)), shape=(N, 2 * N))


def _apply(mats, v):
    return np.asarray(bspline.apply_along_axes(mats, v))


class WaveletThreshold(Estimator):
    """Average-interpolating wavelet hard thresholding on ``support`` (module docstring).

    Parameters: support (the box (D, 2), required), kappa (κ of the threshold), threshold
    ("level" or "universal", module docstring),
    R (prediction degree 2R: 2R + 1 vanishing moments), finest_level (L; default
    floor(log2(n/log n)/D), clipped to [j_c + 1, MAX_OUTPUT_LEVEL[D] − 1]), extra_levels (E,
    default: up to 3 within MAX_OUTPUT_LEVEL).
    """

    has_pdf = True

    def __init__(
        self,
        support=None,
        *,
        kappa=1.0,
        threshold="level",
        R=1,
        finest_level=None,
        extra_levels=None,
    ):
        self.support = support
        self.kappa = kappa
        self.threshold = threshold
        self.R = R
        self.finest_level = finest_level
        self.extra_levels = extra_levels

    def fit(self, X, rng=None) -> WaveletThreshold:
        """Threshold the empirical details of X (n, D); deterministic given X. Returns self."""
        if rng is not None:
            check_rng("rng", rng)
        X = check_points("X", X)
        n, D = X.shape
        if n < 2:
            raise ValueError(f"X has {n} rows: expected at least 2 points")
        if D not in MAX_OUTPUT_LEVEL:
            raise ValueError(f"X has D={D} columns: expected D in 1..3")
        box = np.asarray(self.support if self.support is not None else np.nan, dtype=np.float64)
        if box.shape != (D, 2) or not np.all(np.isfinite(box)) or np.any(box[:, 1] <= box[:, 0]):
            raise ValueError(
                f"support={self.support!r} is not allowed: expected a finite (D={D}, 2) box"
            )
        kappa = check_real("kappa", self.kappa, low=0.0)
        rule = check_choice("threshold", self.threshold, ("level", "universal"))
        R = check_int("R", self.R, low=0, high=4)
        jc = max(0, math.ceil(math.log2(2 * R + 1) - 1e-12))
        top = MAX_OUTPUT_LEVEL[D]
        if self.finest_level is None:
            L = int(min(max(math.floor(math.log2(n / math.log(n)) / D), jc + 1), top - 1))
        else:
            L = check_int("finest_level", self.finest_level, low=jc + 1, high=top)
        E = min(3, top - L) if self.extra_levels is None else self.extra_levels
        E = check_int("extra_levels", E, low=0, high=top - L)
        u = (X - box[:, 0]) / (box[:, 1] - box[:, 0])
        if np.any((u < 0) | (u > 1)):
            raise ValueError("X has rows outside the support: expected none")

        N = 2**L
        idx = np.minimum((u * N).astype(np.int64), N - 1)
        counts = np.bincount(np.ravel_multi_index(idx.T, (N,) * D), minlength=N**D)
        phat = {L: counts.reshape((N,) * D) / n}  # cell probabilities
        for j in range(L - 1, jc - 1, -1):
            c = phat[j + 1]
            for axis in range(D):
                c = np.add.reduceat(c, np.arange(0, c.shape[axis], 2), axis=axis)
            phat[j] = c
        A = phat[jc] * 2.0 ** (jc * D)  # cell averages (density in unit-cube units)
        kept, total = 0, 0
        for j in range(jc, L):
            Nj = 2**j
            P = prediction_matrix(Nj, R)
            Q = (P @ _restriction(Nj)).tocsr()  # level j+1 → its own prediction
            p1 = phat[j + 1]
            scale = 2.0 ** ((j + 1) * D)
            d = scale * (p1 - _apply([Q] * D, p1))
            # Σ_i T_ci² p_i for T = I − ⊗Q (entrywise square of a difference of tensors)
            diag = np.ones(())
            for _ in range(D):
                diag = np.multiply.outer(diag, Q.diagonal())
            Q2 = Q.multiply(Q).tocsr()
            second = p1 - 2 * diag * p1 + _apply([Q2] * D, p1)
            var = scale**2 / n * (second - (d / scale) ** 2)
            floor = (scale * (1 - diag)) ** 2 / n**2
            sd = np.sqrt(np.maximum(var, floor))
            ratio = np.abs(d) / sd
            for axis in range(D):  # max over the 2^D children of each parent
                ratio = np.maximum.reduceat(ratio, np.arange(0, 2 * Nj, 2), axis=axis)
            logs = math.log(n) if rule == "universal" else (j + 1) * D * math.log(2.0)
            keep = ratio > kappa * math.sqrt(2 * logs)
            kept += int(keep.sum())
            total += keep.size
            mask = keep
            for axis in range(D):
                mask = np.repeat(mask, 2, axis=axis)
            A = _apply([P] * D, A) + np.where(mask, d, 0.0)
        for j in range(L, L + E):
            A = _apply([prediction_matrix(2**j, R)] * D, A)
        neg = float(np.clip(-A, 0, None).sum()) / A.size
        A = np.maximum(A, 0.0)
        A = A / A.mean()
        self.values_ = A  # density in unit-cube units on the 2^{L+E} cells per axis
        self.box_ = box
        self.volume_ = float(np.prod(box[:, 1] - box[:, 0]))
        self.dim_, self.n_ = D, n
        self.L_, self.E_, self.jc_, self.R_ = L, E, jc, R
        self.threshold_ = kappa * math.sqrt(2 * math.log(n)) if rule == "universal" else math.nan
        self.kept_fraction_ = kept / max(total, 1)
        self.clipped_mass_ = neg
        self._cdf = None
        return self

    def _check_fitted(self):
        if not hasattr(self, "values_"):
            raise RuntimeError("WaveletThreshold is not fitted: call fit(X, rng) first")

    def pdf(self, x) -> np.ndarray:
        """The piecewise-constant estimate at x (N, D); 0 outside the box."""
        self._check_fitted()
        x = check_points("x", x, self.dim_)
        u = (x - self.box_[:, 0]) / (self.box_[:, 1] - self.box_[:, 0])
        inside = np.all((u >= 0) & (u <= 1), axis=1)
        G = self.values_.shape[0]
        idx = np.minimum((u[inside] * G).astype(np.int64), G - 1)
        out = np.zeros(x.shape[0])
        out[inside] = self.values_[tuple(idx.T)] / self.volume_
        return out

    def cell_masses(self, edges) -> np.ndarray:
        """Exact masses of the cells of a rectangular grid: finite differences of the integral
        function I(u) = ∫_{[0,u]} f̂, which is multilinear on every dyadic cell, so its
        per-axis linear interpolation between the cumulative sums at the knots is exact."""
        self._check_fitted()
        G = self.values_.shape[0]
        C = self.values_ / G**self.dim_
        for axis in range(self.dim_):
            C = np.concatenate(
                [np.zeros_like(np.take(C, [0], axis=axis)), np.cumsum(C, axis=axis)], axis=axis
            )
        mats = []
        for d, e in enumerate(edges):
            e = np.asarray(e, dtype=np.float64)
            t = np.clip((e - self.box_[d, 0]) / (self.box_[d, 1] - self.box_[d, 0]), 0, 1) * G
            i = np.minimum(np.floor(t).astype(np.int64), G - 1)
            w = t - i
            rows = np.repeat(np.arange(e.size), 2)
            cols = np.stack([i, i + 1], axis=1).ravel()
            vals = np.stack([1 - w, w], axis=1).ravel()
            mats.append(sp.csr_matrix((vals, (rows, cols)), shape=(e.size, G + 1)))
        out = _apply(mats, C)
        for axis in range(self.dim_):
            out = np.diff(out, axis=axis)
        return out

    def sample(self, m: int, rng) -> np.ndarray:
        """m exact draws: a cell ∝ its mass, then uniform within it."""
        self._check_fitted()
        m = check_int("m", m, low=0)
        rng = check_rng("rng", rng)
        if self._cdf is None:
            c = np.cumsum(self.values_.ravel())
            self._cdf = c / c[-1]
        cell = np.minimum(
            np.searchsorted(self._cdf, rng.random(m), side="right"), self._cdf.size - 1
        )
        G = self.values_.shape[0]
        idx = np.stack(np.unravel_index(cell, self.values_.shape), axis=1)
        u = (idx + rng.random((m, self.dim_))) / G
        return self.box_[:, 0] + u * (self.box_[:, 1] - self.box_[:, 0])

    def describe(self) -> dict:
        out = {
            "estimator": "wavelet",
            "wavelet_kappa": float(self.kappa),
            "wavelet_R": int(self.R),
            "wavelet_threshold_rule": str(self.threshold),
        }
        if hasattr(self, "values_"):
            out.update(
                wavelet_finest_level=self.L_,
                wavelet_extra_levels=self.E_,
                wavelet_coarsest_level=self.jc_,
                wavelet_threshold=self.threshold_,
                wavelet_kept_fraction=self.kept_fraction_,
                wavelet_clipped_mass=self.clipped_mass_,
                n_train=self.n_,
            )
        return out
