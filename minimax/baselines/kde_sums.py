"""Direct kernel sums of the KDE: f̃(x) = (1/n) Σ_i Π_d K^{(d)}_{x_d}((x_d − X_id)/h_d)/h_d.

``KernelSums`` is a mixin of :class:`minimax.baselines.kde.KDE`; it reads the fitted attributes
``X_``, ``n_``, ``h_``, ``order_``, ``coef_``, ``boundary_`` and ``support_``. Its sums are exact
up to the kernel cutoff ``kernels.CUTOFF``·h: ``local`` boundaries use the degree order − 1
boundary kernels of ``kernels.coefficients`` within the cutoff of a face, ``reflect`` adds every
mirror image of the data that reaches the box.
"""

from __future__ import annotations

import math

import numpy as np

from minimax.baselines import kernels

_CHUNK = 1 << 21  # pairs per block of the direct sum


class KernelSums:
    """f̃ at arbitrary points by chunked direct sums, and each point's own term (for CV)."""

    def _axis_coef(self, d: int, x: np.ndarray) -> np.ndarray:
        """Kernel coefficients (N, order) at positions x along axis d."""
        c = np.broadcast_to(self.coef_, (x.shape[0], self.order_)).copy()
        if self.boundary_ == "local":
            a, b = self.support_[d]
            h = self.h_[d]
            near = (x - a < kernels.CUTOFF * h) | (b - x < kernels.CUTOFF * h)
            if np.any(near):
                c[near] = kernels.coefficients(self.order_, (x[near] - b) / h, (x[near] - a) / h)
        return c

    def _images(self, d: int) -> list[tuple[float, float]]:
        """(sign, shift) of the mirror images sign·X + shift that reach the box (reflect)."""
        if self.boundary_ != "reflect":
            return [(1.0, 0.0)]
        a, b = self.support_[d]
        L, reach = b - a, kernels.CUTOFF * self.h_[d]
        kmax = int(math.ceil((L + reach) / (2 * L))) + 1
        out = []
        for k in range(-kmax, kmax + 1):
            lo, hi = a + 2 * k * L, b + 2 * k * L  # range of X + 2kL
            if lo <= b + reach and hi >= a - reach:
                out.append((1.0, 2 * k * L))
            lo, hi = 2 * a - b + 2 * k * L, a + 2 * k * L  # range of 2a − X + 2kL
            if lo <= b + reach and hi >= a - reach:
                out.append((-1.0, 2 * a + 2 * k * L))
        return out

    def _axis_factor(self, d, x, c, Xd, images):
        """Σ_images K_x((x − image)/h)/h for x (N, 1), coefficients c (N, 1, order), Xd (1, m)."""
        h = self.h_[d]
        acc = kernels.evaluate(c, (x - Xd) / h)
        if len(images) > 1:
            a, b = self.support_[d]
            reach = kernels.CUTOFF * h
            row = Xd.shape[0] > 1  # (n, 1) pairs for the self term, else one row of data
            for sign, shift in images:
                if sign == 1.0 and shift == 0.0:
                    continue
                img = sign * Xd + shift
                # only points within reach of a face have a mirror image that reaches the box
                near = ((img >= a - reach) & (img <= b + reach)).ravel()
                if not np.any(near):
                    continue
                if row:
                    acc[near] += kernels.evaluate(c[near], (x[near] - img[near]) / h)
                else:
                    acc[:, near] += kernels.evaluate(c, (x - img[:, near]) / h)
        return acc / h

    def _raw_exact(self, x: np.ndarray) -> np.ndarray:
        """f̃(x) by chunked direct sums (exact up to the 9h kernel cutoff)."""
        N, D = x.shape
        n = self.n_
        coefs = [self._axis_coef(d, x[:, d])[:, None, :] for d in range(D)]
        images = [self._images(d) for d in range(D)]
        out = np.zeros(N)
        bx = max(1, min(N, _CHUNK // n)) if n <= _CHUNK else 1
        bX = max(1, _CHUNK // bx)
        plain = self.order_ == 2 and self.boundary_ == "none"
        for i0 in range(0, N, bx):
            i1 = min(N, i0 + bx)
            for j0 in range(0, n, bX):
                j1 = min(n, j0 + bX)
                if plain:  # one exp per pair instead of one per axis
                    z = x[i0:i1, None, :] / self.h_ - self.X_[None, j0:j1, :] / self.h_
                    out[i0:i1] += np.exp(-0.5 * np.einsum("ijk,ijk->ij", z, z)).sum(axis=1)
                    continue
                prod = 1.0
                for d in range(D):
                    prod = prod * self._axis_factor(
                        d, x[i0:i1, d, None], coefs[d][i0:i1], self.X_[None, j0:j1, d], images[d]
                    )
                out[i0:i1] += prod.sum(axis=1)
        if plain:
            out *= (2 * np.pi) ** (-D / 2) / np.prod(self.h_)
        return out / n

    def _self_term(self, X: np.ndarray) -> np.ndarray:
        """Each point's own contribution n·(1/n)K(X_i − X_i) to n f̃(X_i) (for leave-one-out)."""
        prod = np.ones(X.shape[0])
        for d in range(X.shape[1]):
            c = self._axis_coef(d, X[:, d])[:, None, :]
            f = self._axis_factor(d, X[:, d, None], c, X[:, d, None], self._images(d))
            prod = prod * f[:, 0]
        return prod
