"""The per-axis profile of the Besov density: a linear tilt times an optional smooth window.

h(u) = (1 + β(2u − 1))·W(u) on [0, 1] and 0 outside. The tilt is a positive C^∞ factor, so it
leaves the Besov smoothness s unchanged; the window (``boundary="smooth"``) is a degree-r spline
on level-J knots whose wide ramp keeps its own contribution to the modulus of smoothness small.
Because h·B_{J,k} is a polynomial on every level-J knot piece, the density's cell masses are
exact Gauss-Legendre sums (``bspline.weighted_cell_integral_matrix``).
"""

from __future__ import annotations

import math

import numpy as np

from minimax.targets import bspline


class AxisProfile:
    """h(u) = (1 + β(2u - 1))·W(u) on [0, 1], 0 outside: the tilt times the optional window.

    W is the sum of the level-Jw atoms inside [0, 1] (1 on [r 2^{-Jw}, 1 - r 2^{-Jw}]), with
    Jw = ceil(log2(4r)) so that the ramp is at most a quarter of the side; a spline of degree r
    whose knots are level-J knots, so h·B_{J,k} is a polynomial on every level-J knot piece.
    """

    def __init__(self, tilt: float, window_degree: int | None):
        self.tilt = tilt
        self.tilt_poly = np.polynomial.Polynomial([1.0 - tilt, 2.0 * tilt])
        self.r = window_degree
        if window_degree is not None:
            self.Jw = math.ceil(math.log2(4 * window_degree) - 1e-12)
            w = np.zeros(2**self.Jw + window_degree)
            w[window_degree : 2**self.Jw] = 1.0  # atoms k = 0 .. 2^Jw - r - 1
            self.w = w

    def degree(self) -> int:
        return (1 if self.tilt > 0 else 0) + (self.r or 0)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        out = self.tilt_poly(u) * ((u >= 0) & (u <= 1))
        if self.r is not None:
            out = out * (bspline.basis_matrix(u.ravel(), self.Jw, self.r) @ self.w).reshape(u.shape)
        return out

    def cell_max(self, J: int) -> np.ndarray:
        """Upper bounds of h on the 2^J cells of level J (tilt: larger end; window: largest
        refined coefficient of the atoms alive on the cell, by the convex-hull property)."""
        ends = self.tilt_poly(np.arange(2**J + 1) / 2**J)
        out = np.maximum(ends[:-1], ends[1:])
        if self.r is not None:
            w = self.w
            for j in range(self.Jw, J):
                w = bspline.refine_axis(w, 0, j, self.r)
            if J < self.Jw:
                raise ValueError(f"J={J!r} is not allowed: the smooth window needs J >= {self.Jw}")
            wmax = np.lib.stride_tricks.sliding_window_view(w, self.r + 1).max(axis=-1)
            out = out * np.minimum(wmax, 1.0)
        return out
