"""The random-sign multilevel coefficients of the Besov density (docs/theory.md §7).

Level j of the perturbation P = Σ_{j=j0..J} a_j Σ_k ε_jk Π_i N_r(2^j u_i − k_i) has its atoms
inside the inner box [b, 1 − b]^D (``interior_range``), signs ε_jk = ±1 from
``default_rng([seed, j])`` (so a finer J keeps every coarser level's signs), and amplitude
a_j = 2^{−js} (dense) or 2^{−j(s − D/p)} n_j^{−1/p}, n_j = 2^{jDθ} (sparse: level j keeps a
fraction 2^{−jD(1−θ)} of its atoms, chosen at random). ``LevelCoefficients.refined`` refines
every level into the level-J B-spline basis by the two-scale relation, exactly up to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minimax.targets import bspline


def default_j0(D: int, r: int, band: float) -> int:
    """Coarsest level with at least two atoms per axis inside [band, 1 - band]."""
    j = 1
    while interior_range(j, r, band)[1] - interior_range(j, r, band)[0] + 1 < 2:
        j += 1
    return j


def default_J(D: int, s: float, j0: int, n_max: int) -> int:
    """Finest level: spacing 2·2^{-J} (x units) at most a quarter of the smallest bandwidth
    h = n_max^{-1/(2s+D)} a study up to n_max will see (docs/theory.md §7: a finite expansion is
    C^∞ beyond its finest level), i.e. J = ceil(3 + log2(n_max)/(2s+D)), and at least j0 + 4."""
    return max(math.ceil(3 + math.log2(n_max) / (2 * s + D) - 1e-12), j0 + 4)


def interior_range(j: int, r: int, band: float) -> tuple[int, int]:
    """First and last k whose atom N_r(2^j u - k) lies in [band, 1 - band]."""
    n = 2**j
    lo = math.ceil(band * n - 1e-9)
    hi = math.floor((1 - band) * n + 1e-9) - r - 1
    return lo, hi


def expected_l1_smoothness(s: float, D: int, p: float, pattern: str, theta: float) -> float:
    """L1 smoothness the construction should have: s (dense); s + D(1-θ)(1-1/p) (sparse)."""
    if pattern == "dense":
        return s
    return s + D * (1 - theta) * (1 - 1 / p)


def max_amplitude(d_min: float, mean: float, min_ratio: float, j0: int, J: int) -> float:
    """Largest c0 with certified min of 1 + c0·P >= min_ratio · (1 + c0·mean P).

    ``d_min`` is the smallest level-J coefficient of P, ``mean`` its integral over the unit
    cube. The band's coefficients are 0, so d_min <= 0 and the denominator is > 0 unless the
    perturbation is identically zero; then ValueError.
    """
    rho = min_ratio
    denom = rho * mean - d_min
    if denom <= 0:
        raise ValueError(f"J={J!r} is not allowed: no atom is active between j0={j0} and J")
    return (1 - rho) / denom


@dataclass(frozen=True)
class LevelCoefficients:
    """The levels of one Besov density: D, s, p, B-spline degree r, band b, sign seed, pattern
    and θ (1.0 for the dense pattern)."""

    D: int
    s: float
    p: float
    degree: int
    band: float
    seed: int
    pattern: str
    theta: float

    def amplitude(self, j: int) -> float:
        """a_j of level j (module docstring)."""
        D, s, p = self.D, self.s, self.p
        if self.pattern == "dense":
            return 2.0 ** (-j * s)
        return 2.0 ** (-j * (s - D / p)) * 2.0 ** (-j * D * self.theta / p)

    def atoms(self, j: int) -> np.ndarray:
        """Signed unit coefficients of level j on the extended index grid (2^j + r)^D."""
        D, r = self.D, self.degree
        lo, hi = interior_range(j, r, self.band)
        m = hi - lo + 1
        rng = np.random.default_rng([self.seed, j])
        signs = rng.choice(np.array([-1.0, 1.0]), size=(m,) * D)
        if self.pattern == "sparse":
            total = m**D
            keep = max(1, round(total * 2.0 ** (-j * D * (1 - self.theta))))
            mask = np.zeros(total, dtype=bool)
            mask[rng.choice(total, size=min(keep, total), replace=False)] = True
            signs = signs * mask.reshape(signs.shape)
        out = np.zeros((2**j + r,) * D)
        out[(slice(lo + r, hi + r + 1),) * D] = signs
        return out

    def refined(self, j0: int, J: int) -> np.ndarray:
        """Level-J coefficients (shape (2^J + r,)*D) of Σ_{j=j0..J} a_j Σ_k ε_jk B_{j,k}."""
        r = self.degree
        c = self.amplitude(j0) * self.atoms(j0)
        for j in range(j0, J):
            for axis in range(self.D):
                c = bspline.refine_axis(c, axis, j, r)
            c += self.amplitude(j + 1) * self.atoms(j + 1)
        return c
