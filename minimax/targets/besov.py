"""Densities of exact Besov smoothness on the box [-1, 1]^D (docs/theory.md §7).

q(x) ∝ Π_i h(u_i) · (1 + c0 Σ_{j=j0..J} a_j Σ_k ε_jk Π_i N_r(2^j u_i - k_i)),  u = (x + 1)/2,

random signs ε_jk = ±1, cardinal B-splines N_r of degree r >= ceil(s) + 1, a_j = 2^{-js} (dense)
or 2^{-j(s - D/p)} n_j^{-1/p} with n_j = 2^{jDθ} (sparse). Every atom lies inside the inner box
[b, 1-b]^D, so with ``boundary="band"`` q is constant (up to the tilt) in the band of width b at
the edge and jumps to 0 outside: Oko et al.'s class. The per-axis profile h = g·W is a linear
tilt g(u) = 1 + β(2u - 1) (β = ``tilt``; issue 7: it moves q away from the uniform density; a
positive C^∞ factor leaves the Besov smoothness s unchanged) times, for ``boundary="smooth"``, a
window W: a degree-r spline (sum of the level-Jw atoms inside [0, 1]) that is 1 in the middle and
vanishes like dist^r at the edge over a ramp of about a quarter of the side; a wide ramp keeps
its own (smooth) contribution to the modulus of smoothness small.

The perturbed factor is held as one tensor-product spline of level J: all levels are refined
into the level-J basis by the two-scale relation, so the pdf is exact to rounding; the
normalising constant and the cell masses of any rectangular grid are exact sums of products of
1-D integrals (B-spline antiderivatives, or Gauss-Legendre on the level-J knot pieces where h·B
is a polynomial); by the convex-hull property the factor lies between its smallest and largest
coefficient, which certifies positivity and gives a per-cell envelope for exact rejection
sampling.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from minimax.targets import bspline
from minimax.targets._grid import check_edges
from minimax.targets.base import Target
from minimax.targets.besov_levels import (
    LevelCoefficients,
    default_J,
    default_j0,
    expected_l1_smoothness,
    interior_range,
    max_amplitude,
)
from minimax.targets.besov_profile import AxisProfile
from minimax.validation import check_choice, check_int, check_real, check_rng

MAX_COEFFICIENTS = 2**24  # 128 MiB of float64 for the level-J coefficient array
_EVAL_CHUNK = 2**16


class BesovDensity(Target):
    """Random-sign multilevel B-spline density of Besov smoothness s on [-1, 1]^D.

    Parameters
    ----------
    D : dimension (integer >= 1).
    s : smoothness, > D(1/p - 1/2)_+.
    p : integrability (> 0); enters the level amplitudes of the sparse pattern.
    j0, J : coarsest and finest levels (knot spacing 2^{-j} of the unit cube). Default j0: the
        coarsest level with two atoms per axis inside the band; default J: ``default_J`` (finest
        spacing at most a quarter of n_max^{-1/(2s+D)}, a two-level margin), capped at the finest
        level whose (2^J + r)^D coefficients fit in memory (2^24; J = 5 for D = 4).
    n_max : the largest training-sample size the target must serve (sets the default J).
    pattern : "dense" (every atom of every level, |c_jk| = a_j) or "sparse" (level j keeps a
        fraction 2^{-jD(1-θ)} of its atoms, chosen at random, θ = ``density``).
    density : θ in (0, 1) for the sparse pattern (default 0.5).
    boundary : "band" (constant near the edge, jump to 0 outside) or "smooth" (vanishes smoothly).
    band : width b of the edge band free of atoms, as a fraction of the side (default 1/16).
    degree : B-spline degree r (default and minimum ceil(s) + 1).
    amplitude : "max" (the largest c0 whose certified minimum of the perturbed factor is
        >= ``min_ratio`` times its mean) or a positive number c0 (must keep the density positive).
    min_ratio : the certified lower bound for amplitude="max", as a fraction of the mean level.
    tilt : β in [0, 1) of the smooth base g(x) = Π_i (1 + β x_i) (0: no base). The default 0.7
        is what makes TV(q, uniform) >= 0.2 for D = 1, s = 1 and D = 2, s = 1.5: the random-sign
        perturbation alone, at the largest certified amplitude, gives only about 0.14 and 0.05-0.11.
    seed : sign (and sparse position) seed; level j uses ``default_rng([seed, j])``.
    """

    def __init__(
        self,
        D,
        s,
        p=2.0,
        *,
        j0=None,
        J=None,
        n_max=100_000,
        pattern="dense",
        density=None,
        boundary="band",
        band=1 / 16,
        degree=None,
        amplitude="max",
        min_ratio=0.2,
        tilt=0.7,
        seed=0,
    ):
        D = check_int("D", D, low=1)
        s = check_real("s", s, low=0.0, low_open=True)
        p = check_real("p", p, low=0.0, low_open=True)
        s_min = D * max(1 / p - 0.5, 0.0)
        if s <= s_min:
            raise ValueError(
                f"s={s!r} is not allowed: expected s > D(1/p - 1/2)_+ = {s_min:g} (D={D}, p={p:g})"
            )
        pattern = check_choice("pattern", pattern, ("dense", "sparse"))
        if pattern == "sparse":
            theta = (
                0.5
                if density is None
                else check_real("density", density, low=0, high=1, low_open=True, high_open=True)
            )
        else:
            if density is not None:
                raise ValueError(f"density={density!r} is not allowed: only for pattern='sparse'")
            theta = 1.0
        boundary = check_choice("boundary", boundary, ("band", "smooth"))
        band = check_real("band", band, low=0.0, high=0.25, low_open=True)
        r_min = math.ceil(s) + 1
        r = r_min if degree is None else check_int("degree", degree, low=r_min, high=10)
        n_max = check_int("n_max", n_max, low=2)
        j0 = default_j0(D, r, band) if j0 is None else check_int("j0", j0, low=1, high=30)
        lo, hi = interior_range(j0, r, band)
        if hi < lo:
            raise ValueError(
                f"j0={j0!r} is not allowed: no atom of degree {r} fits inside the band "
                f"{band:g} at that level; use j0 >= {default_j0(D, r, band)}"
            )
        if J is None:
            # the default never exceeds what fits in memory (D >= 4 hits this first)
            J_mem = max(j for j in range(0, 31) if (2**j + r) ** D <= MAX_COEFFICIENTS)
            J = max(min(default_J(D, s, j0, n_max), J_mem), j0)
            if (2**J + r) ** D > MAX_COEFFICIENTS:  # even the coarsest level is too fine
                fits = [d for d in range(1, D) if (2 ** default_j0(d, r, band) + r) ** d
                        <= MAX_COEFFICIENTS]  # fmt: skip
                raise ValueError(
                    f"D={D!r} is not allowed for the Besov target with s={s:g}: its coarsest "
                    f"level j0={J} has {(2**J + r) ** D:.3g} coefficients > {MAX_COEFFICIENTS} "
                    f"(memory); use D <= {max(fits, default=1)}"
                )
        else:
            J = check_int("J", J, low=0)
        if J < j0:
            raise ValueError(f"J={J!r} is not allowed: expected J >= j0={j0}")
        n_coef = (2**J + r) ** D
        if n_coef > MAX_COEFFICIENTS:
            J_ok = max(j for j in range(0, 31) if (2**j + r) ** D <= MAX_COEFFICIENTS)
            raise ValueError(
                f"J={J!r} is not allowed: level too fine to evaluate in memory "
                f"({n_coef:.3g} level-J coefficients > {MAX_COEFFICIENTS}); use J <= {J_ok}"
            )
        min_ratio = check_real("min_ratio", min_ratio, low=0.0, high=1.0, high_open=True)
        tilt = check_real("tilt", tilt, low=0.0, high=1.0, high_open=True)
        seed = check_int("seed", seed, low=0)

        self.dim = D
        self.s, self.p, self.degree = s, p, r
        self.j0, self.J, self.n_max = j0, J, n_max
        self.pattern, self.theta = pattern, theta
        self.boundary, self.band, self.seed = boundary, band, seed
        self.min_ratio, self.tilt = min_ratio, tilt
        self._profile = AxisProfile(tilt, r if boundary == "smooth" else None)
        self.support = np.tile(np.array([-1.0, 1.0]), (D, 1))
        self.support.setflags(write=False)

        self._levels = LevelCoefficients(D, s, p, r, band, seed, pattern, theta)
        pert = self._levels.refined(j0, J)  # level-J coefficients of Σ_j a_j Σ_k ε B (c0 = 1)
        cell = 2.0 ** (-J * D)
        self._pert_mean = float(pert.sum()) * cell  # ∫_{[0,1]^D} of the perturbation
        d_min, d_max = float(pert.min()), float(pert.max())
        if amplitude == "max":
            c0 = max_amplitude(d_min, self._pert_mean, min_ratio, j0, J)
        else:
            c0 = check_real("amplitude", amplitude, low=0.0, low_open=True)
            if 1 + c0 * d_min <= 0:
                raise ValueError(
                    f"amplitude={amplitude!r} is not allowed: the density would not be "
                    f"certified positive; expected amplitude < {1 / -d_min:.6g}"
                )
        self.amplitude = c0
        v = 1.0 + c0 * pert
        v.setflags(write=False)
        self._coef = v
        # the perturbed factor 1 + c0·P lies in [1 + c0 d_min, 1 + c0 d_max] (convex hull)
        self._factor_bounds = (1 + c0 * d_min, 1 + c0 * d_max)
        ints = [self._integral_matrix(np.array([0.0, 1.0]))] * D
        self._mass_u = float(bspline.apply_along_axes(ints, v).ravel()[0])  # Z in u units
        self._volume = 2.0**D
        self._frozen = True

    # ---- construction (besov_levels); one level at a time, as tests and benchmarks read it --
    def _level_amplitude(self, j: int) -> float:
        """a_j of level j (``besov_levels``)."""
        return self._levels.amplitude(j)

    def _level_atoms(self, j: int) -> np.ndarray:
        """Signed unit coefficients of level j on the extended index grid (2^j + r)^D."""
        return self._levels.atoms(j)

    # ---- density -------------------------------------------------------------------------
    def _to_unit(self, x: np.ndarray) -> np.ndarray:
        return (x + 1.0) / 2.0

    def _spline(self, u: np.ndarray) -> np.ndarray:
        """Σ_k v_k Π_i B_{J,k_i}(u_i) at points u (N, D) in [0, 1]^D (0 elsewhere)."""
        D, r, J = self.dim, self.degree, self.J
        n_cells = 2**J
        K = n_cells + r
        out = np.zeros(u.shape[0])
        flat = self._coef.ravel()
        strides = K ** np.arange(D - 1, -1, -1)
        offsets = np.zeros(1, dtype=np.int64)
        for d in range(D):  # flat offsets of the (r+1)^D neighbouring atoms, l = 0..r per axis
            offsets = (offsets[:, None] - np.arange(r + 1) * strides[d]).ravel()
        for start in range(0, u.shape[0], _EVAL_CHUNK):
            uc = u[start : start + _EVAL_CHUNK]
            inside = np.all((uc >= 0) & (uc <= 1), axis=1)
            t = uc[inside] * n_cells
            i = np.minimum(np.floor(t).astype(np.int64), n_cells - 1)
            vals = bspline.local_values(t - i, r)  # (n, D, r+1)
            weight = vals[:, 0, :]
            for d in range(1, D):
                weight = (weight[:, :, None] * vals[:, d, None, :]).reshape(
                    len(t), (r + 1) ** (d + 1)
                )
            base = (i + r) @ strides
            res = np.einsum("nm,nm->n", weight, flat[base[:, None] + offsets[None, :]])
            block = np.zeros(uc.shape[0])
            block[inside] = res
            out[start : start + _EVAL_CHUNK] = block
        return out

    def _base(self, u: np.ndarray) -> np.ndarray:
        return np.prod(self._profile(u), axis=1)

    def _unnormalised(self, u: np.ndarray) -> np.ndarray:
        """g · spline at points u in unit coordinates (0 outside [0, 1]^D)."""
        return np.maximum(self._spline(u), 0.0) * self._base(u)

    def _integral_matrix(self, edges_u: np.ndarray):
        if self._profile.degree() == 0:
            return bspline.cell_integral_matrix(edges_u, self.J, self.degree)
        return bspline.weighted_cell_integral_matrix(edges_u, self.J, self.degree, self._profile)

    def pdf(self, x) -> np.ndarray:
        """Exact density at x (N, D): base × level-J spline over its exact integral; 0 outside."""
        x = self._points(x)
        return self._unnormalised(self._to_unit(x)) / (self._mass_u * self._volume)

    def cell_masses(self, edges) -> np.ndarray:
        """Exact probabilities of the cells of any rectangular grid (not necessarily aligned
        with the knots): products of 1-D B-spline antiderivative differences."""
        edges = check_edges(edges, self.dim)
        mats = [self._integral_matrix(self._to_unit(np.clip(e, -2.0, 2.0))) for e in edges]
        return bspline.apply_along_axes(mats, self._coef) / self._mass_u

    def grid_pdf(self, centres) -> np.ndarray:
        """pdf on the tensor grid centres[0] × ... × centres[D-1] (fast, separable)."""
        us = [self._to_unit(np.asarray(c, dtype=np.float64)) for c in centres]
        mats = [bspline.basis_matrix(u, self.J, self.degree) for u in us]
        f = np.maximum(bspline.apply_along_axes(mats, self._coef), 0.0)
        g = self._profile(us[0])
        for u in us[1:]:
            g = np.multiply.outer(g, self._profile(u))
        return f * g / (self._mass_u * self._volume)

    # ---- sampling ------------------------------------------------------------------------
    @cached_property
    def _envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """Per level-J cell, the largest coefficient of the atoms alive there (>= the spline on
        the cell by the convex-hull property), and the cumulative cell probabilities."""
        env = self._coef
        r = self.degree
        for axis in range(self.dim):
            win = np.lib.stride_tricks.sliding_window_view(env, r + 1, axis=axis)
            env = win.max(axis=-1)
        gmax = self._profile.cell_max(self.J)
        g = gmax
        for _ in range(self.dim - 1):
            g = np.multiply.outer(g, gmax)
        env = np.maximum(env, 0.0) * g * (1 + 1e-12)  # guard the bound against rounding
        cdf = np.cumsum(env.ravel())
        return env.ravel(), cdf / cdf[-1]

    def sample(self, n: int, rng) -> np.ndarray:
        """n exact draws by rejection from the piecewise-constant level-J envelope."""
        n = check_int("n", n, low=0)
        rng = check_rng("rng", rng)
        D, J = self.dim, self.J
        env, cdf = self._envelope
        n_cells = 2**J
        accept_rate = self._mass_u / (env.sum() * n_cells ** (-D))
        out = []
        have = 0
        while have < n:
            m = int((n - have) / accept_rate * 1.05) + 64
            cells = np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), cdf.size - 1)
            idx = np.stack(np.unravel_index(cells, (n_cells,) * D), axis=1)
            u = (idx + rng.random((m, D))) / n_cells
            ok = rng.random(m) * env[cells] < self._unnormalised(u)
            out.append(u[ok])
            have += int(ok.sum())
        return np.concatenate(out)[:n] * 2.0 - 1.0

    # ---- metadata ------------------------------------------------------------------------
    @property
    def expected_smoothness(self) -> float:
        return expected_l1_smoothness(self.s, self.dim, self.p, self.pattern, self.theta)

    @property
    def certified_pdf_bounds(self) -> tuple[float, float]:
        """Certified [min, max] of the pdf where the window is 1 (the whole box for "band")."""
        z = self._mass_u * self._volume
        g_lo, g_hi = (1 - self.tilt) ** self.dim, self._profile.cell_max(self.J).max() ** self.dim
        return float(g_lo * self._factor_bounds[0] / z), float(g_hi * self._factor_bounds[1] / z)

    @cached_property
    def tv_to_uniform(self) -> float:
        """TV(q, uniform on the box) = ½∫|q - 2^{-D}|, by Gauss-Legendre quadrature (3 nodes
        per axis) on cells of a grid of at most 2^19 cells that refines the level-J knots."""
        D, J = self.dim, self.J
        per_axis = 2 ** min(J + 1, max(1, 19 // D))
        nodes, weights = np.polynomial.legendre.leggauss(3)
        cell = 2.0 / per_axis
        left = -1.0 + cell * np.arange(per_axis)
        pts = (left[:, None] + cell * (nodes + 1) / 2).ravel()
        w1 = np.tile(weights * cell / 2, per_axis)
        q = self.grid_pdf([pts] * D)
        w = w1
        for _ in range(D - 1):
            w = np.multiply.outer(w, w1)
        return float(0.5 * np.sum(w * np.abs(q - 1 / self._volume)))

    def describe(self) -> dict:
        lo, hi = self.certified_pdf_bounds
        return {
            "target": "besov",
            "D": self.dim,
            "s": self.s,
            "p": self.p,
            "boundary": self.boundary,
            "pattern": self.pattern,
            "density": self.theta if self.pattern == "sparse" else float("nan"),
            "j0": self.j0,
            "J": self.J,
            "n_max": self.n_max,
            "degree": self.degree,
            "band": self.band,
            "seed": self.seed,
            "amplitude": self.amplitude,
            "min_ratio": self.min_ratio,
            "tilt": self.tilt,
            "smoothness_l1": self.expected_smoothness,
            "pdf_min_certified": lo,
            "pdf_max_certified": hi,
            "uniform_level": 1 / self._volume,
            "tv_to_uniform": self.tv_to_uniform,
        }

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"BesovDensity(D={self.dim}, s={self.s:g}, p={self.p:g}, j0={self.j0}, J={self.J}, "
            f"pattern={self.pattern!r}, boundary={self.boundary!r}, seed={self.seed})"
        )
