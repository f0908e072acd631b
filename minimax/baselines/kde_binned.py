"""The binned FFT path of the KDE: f̃ on a regular grid, its error bound, draws from it.

Linear binning of the data on a grid of spacing δ_d ≤ h_d/``grid_per_bandwidth`` (Wand & Jones
1995, App. D), then one FFT convolution per axis: the plain kernel for ``none``, the periodised
kernel on the mirror-doubled sequence for ``reflect`` (the folded sum of the binned data), and
per-node boundary coefficients for ``local``. ``BinnedGrid`` is a mixin of
:class:`minimax.baselines.kde.KDE`; besides the fitted attributes it reads (``X_``, ``h_``,
``dim_``, ``order_``, ``coef_``, ``boundary_``, ``support_``, ``norm_``, ``_grid_ok``,
``grid_per_bandwidth``, ``max_grid_points``) it uses ``_axis_coef`` of
:class:`minimax.baselines.kde_sums.KernelSums` and ``pdf_grid`` of the estimator, and caches the
grid in ``_grid_cache``, which the estimator clears whenever h changes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve

from minimax.baselines import kernels


class BinnedGrid:
    """f̃ at the nodes of the evaluation grid, the grid's error bound, exact draws from its
    multilinear interpolant."""

    def _grid_box(self) -> np.ndarray:
        if self.support_ is not None:
            return self.support_
        reach = kernels.CUTOFF * self.h_
        return np.stack([self.X_.min(axis=0) - reach, self.X_.max(axis=0) + reach], axis=1)

    def _grid_sizes(self, box: np.ndarray) -> np.ndarray:
        L = box[:, 1] - box[:, 0]
        G = np.ceil(L / (self.h_ / self.grid_per_bandwidth)).astype(np.int64) + 1
        G = np.maximum(G, 16)
        total = float(np.prod(G.astype(float)))
        if total > self.max_grid_points:
            shrink = (self.max_grid_points / total) ** (1.0 / self.dim_)
            G = np.maximum(np.floor(G * shrink).astype(np.int64), 16)
        return G

    def _grid(self):
        """(nodes per axis, f̃ at the nodes): linear binning + separable FFT convolutions."""
        if self._grid_cache is not None:
            return self._grid_cache
        box = self._grid_box()
        G = self._grid_sizes(box)
        nodes = [np.linspace(lo, hi, g) for (lo, hi), g in zip(box, G, strict=True)]
        T = _linear_binning(self.X_, box, G)
        for d in range(self.dim_):
            T = self._convolve_axis(T, d, nodes[d])
        self._grid_cache = (nodes, T)
        return self._grid_cache

    def _convolve_axis(self, T: np.ndarray, d: int, nodes: np.ndarray) -> np.ndarray:
        h = self.h_[d]
        delta = nodes[1] - nodes[0]
        G = nodes.size
        shape = [1] * T.ndim
        shape[d] = -1
        if self.boundary_ == "reflect":
            # Folding = circular convolution on the mirror-doubled sequence (period 2L) with the
            # periodised kernel; the end nodes are their own mirror images, hence the factor 2.
            first = np.take(T, [0], axis=d)
            last = np.take(T, [G - 1], axis=d)
            mid = np.take(T, np.arange(1, G - 1), axis=d)
            back = np.take(T, np.arange(G - 2, 0, -1), axis=d)
            E = np.concatenate([2 * first, mid, 2 * last, back], axis=d)
            P = E.shape[d]
            offs = np.arange(P) * delta
            period = P * delta
            m = int(math.ceil(kernels.CUTOFF * h / period)) + 1
            kper = np.zeros(P)
            for j in range(-m, m + 1):
                kper += kernels.evaluate(self.coef_, (offs + j * period) / h)
            kper /= h
            spec = np.fft.rfft(E, axis=d) * np.fft.rfft(kper).reshape(shape)
            out = np.fft.irfft(spec, n=P, axis=d)
            return np.take(out, np.arange(G), axis=d)
        R = int(math.ceil(kernels.CUTOFF * h / delta))
        u = np.arange(-R, R + 1) * delta / h
        if self.boundary_ == "none":
            kern = kernels.evaluate(self.coef_, u) / h
            return fftconvolve(T, kern.reshape(shape), mode="same", axes=d)
        coef = self._axis_coef(d, nodes)  # (G, order), varies near the faces
        out = np.zeros_like(T)
        for j in range(self.order_):
            if not np.any(coef[:, j]):
                continue
            e = np.zeros(self.order_)
            e[j] = 1.0
            kern = kernels.evaluate(e, u) / h
            out += coef[:, j].reshape(shape) * fftconvolve(
                T, kern.reshape(shape), mode="same", axes=d
            )
        return out

    def _grid_error_bound(self) -> float:
        if self.boundary_ == "local" or not self._grid_ok:
            return math.nan
        box = self._grid_box()
        G = self._grid_sizes(box)
        delta = (box[:, 1] - box[:, 0]) / (G - 1)
        s0, s2 = kernels.sup_constants(self.order_)
        peak = s0 ** (self.dim_ - 1) / np.prod(self.h_)
        per_axis = np.sum(delta**2 / 8.0 * s2 / self.h_**2) * peak
        images = 2.0**self.dim_ if self.boundary_ == "reflect" else 1.0
        return float(2.0 * per_axis * images / self.norm_)

    def _sample_grid(self, m: int, rng: np.random.Generator) -> np.ndarray:
        nodes, values = self.pdf_grid()
        D = self.dim_
        cell = values
        for d in range(D):  # average of the 2^D corners = trapezoid mass / volume
            a = np.take(cell, np.arange(cell.shape[d] - 1), axis=d)
            b = np.take(cell, np.arange(1, cell.shape[d]), axis=d)
            cell = 0.5 * (a + b)
        cdf = np.cumsum(cell.ravel())
        idx = np.searchsorted(cdf, rng.random(m) * cdf[-1], side="right")
        idx = np.minimum(idx, cdf.size - 1)
        multi = np.unravel_index(idx, cell.shape)
        # Within the cell, the multilinear interpolant Σ_c v_c Π_d (t_d or 1 − t_d) is a mixture
        # of 2^D product densities of equal mass: pick corner c ∝ v_c, then t_d = √U (density
        # 2t) where c_d = 1, else 1 − √U (density 2(1 − t)).
        corners = np.empty((m, 1 << D))
        for c in range(1 << D):
            corners[:, c] = values[tuple(multi[d] + ((c >> d) & 1) for d in range(D))]
        ccdf = np.cumsum(corners, axis=1)
        pick = (ccdf < rng.random((m, 1)) * ccdf[:, -1:]).sum(axis=1)
        pick = np.minimum(pick, (1 << D) - 1)
        out = np.empty((m, D))
        for d in range(D):
            delta = nodes[d][1] - nodes[d][0]
            root = np.sqrt(rng.random(m))
            t = np.where((pick >> d) & 1, root, 1.0 - root)
            out[:, d] = nodes[d][multi[d]] + delta * t
        return out


def _linear_binning(X: np.ndarray, box: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Weights (summing to 1) on the node grid: each point split over its 2^D corner nodes."""
    n, D = X.shape
    delta = (box[:, 1] - box[:, 0]) / (G - 1)
    pos = (X - box[:, 0]) / delta
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, G - 2)
    t = np.clip(pos - i0, 0.0, 1.0)
    out = np.zeros(int(np.prod(G)))
    for corner in range(1 << D):
        bits = [(corner >> d) & 1 for d in range(D)]
        idx = tuple(i0[:, d] + bits[d] for d in range(D))
        w = np.ones(n)
        for d in range(D):
            w = w * (t[:, d] if bits[d] else 1.0 - t[:, d])
        out += np.bincount(np.ravel_multi_index(idx, tuple(G)), weights=w, minlength=out.size)
    return out.reshape(tuple(G)) / n
