"""A sparse multiscale Besov density (p < 1): where linear estimators provably lose (issue 18).

q = (1 − m)·q_dense + m·S/‖S‖₁ on the box [-1, 1]^D, u = (x + 1)/2 the unit coordinates:

* q_dense is the dense random-sign ``BesovDensity`` of smoothness s (in B^s_{p,∞} for every p);
* the spike train S(u) = Σ_{j=j0..J} h_j Σ_{k∈S_j} Π_i N_2(2^j u_i − k_i) has, at level j,
  K_j = max(1, round(c·2^{(D − s·p)·j})) tensor-product quadratic B-splines of side 3·2^{-j}
  (``bspline.cdf`` integrates them in closed form), at spread-out positions on the level-j
  grid (a golden-ratio / Kronecker sequence per axis, inside the band-free inner box), with the
  height h_j = 2^{(D − s·p)·j}/K_j ∈ [2/3, 2]/c chosen so that each level's mass is exactly
  2^{-j·s·p} (∫Π N_2(2^j u − k) du = 2^{-jD}).

Why it is in B^s_{p,∞}: for atoms normalised in L∞ the norm is ≍ sup_j 2^{j(s − D/p)}‖c_j‖_p
(docs/theory.md §7) and ‖c_j‖_p = h_j K_j^{1/p} ≍ 2^{j(D/p − s)}, so every level has the same
weight; for p < 1 the class allows that many bumps, and a linear estimator is slower on it.
Its L1 smoothness is σ = s·p: ‖c_j‖₁·2^{-jD} = level mass = 2^{-j·s·p} (docs/sparse_targets.md).

Exactness: pdf, cell masses of any rectangular grid and the sampler are exact (the dense
part's own, plus the spike train's: products of B-spline cdf differences per axis; a draw is
a bump chosen ∝ its mass, then k + U1 + U2 + U3 per axis, N_2 being the density of the sum of
three uniforms).
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from minimax.targets import bspline
from minimax.targets._grid import check_edges
from minimax.targets.base import Target
from minimax.targets.besov import BesovDensity
from minimax.validation import check_int, check_real, check_rng

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_KRONECKER = (_GOLDEN, math.sqrt(2.0) - 1.0, math.sqrt(3.0) - 1.0)  # one irrational per axis
_R = 2  # quadratic B-splines: N_2 on [0, 3], max 3/4


def default_levels(D: int, n_max: int) -> tuple[int, int]:
    """(j0, J): D = 1: j0 = 5, J = clip(ceil(log2 n_max) − 1, 9, 15) (15 at n_max = 64,000);
    D = 2: j0 = 4, J = 6 (tv_exact's base grid, which must reach J + 2, has at most 2^8 cells
    per axis in D = 2 at its default point budget); D >= 3: j0 = 2, J = 4."""
    if D == 1:
        return 5, min(15, max(9, math.ceil(math.log2(n_max) - 1e-12) - 1))
    if D == 2:
        return 4, 6
    return 2, 4


class SparseMultiscaleDensity(Target):
    """(1 − m)·dense Besov density + m·sparse multiscale spike train (module docstring).

    Parameters
    ----------
    D, s, p : dimension, Besov smoothness and integrability of the class B^s_{p,∞}; p < 1
        makes the spike train sparse (K_j grows slower than the 2^{jD} atoms of a level), and
        s > D(1/p − 1/2) is Oko et al.'s condition. s·p < s is the L1 smoothness.
    j0, J : coarsest and finest spike levels (default ``default_levels``).
    n_max : the largest training size (sets the default J for D = 1).
    spike_mass : m, the probability of the spike train (default 0.19).
    spikes_per_level : c in K_j = max(1, round(c·2^{(D − s·p)j})) (default 1.4: 2-4 per level
        for D = 1, s = 2, p = 0.45, j = 5..15).
    boundary, band, seed, tilt : of the dense part (``BesovDensity``); the spikes stay inside
        [band, 1 − band]^D in unit coordinates, so with "band" q is constant-tilted near the edge.
        The spike positions are deterministic; the seed sets the dense part's signs.
    """

    def __init__(
        self,
        D,
        s,
        p=0.45,
        *,
        j0=None,
        J=None,
        n_max=100_000,
        spike_mass=0.19,
        spikes_per_level=1.4,
        boundary="band",
        band=1 / 16,
        tilt=0.7,
        seed=0,
    ):
        D = check_int("D", D, low=1, high=3)
        s = check_real("s", s, low=0.0, low_open=True)
        p = check_real("p", p, low=0.0, high=1.0, low_open=True, high_open=True)
        n_max = check_int("n_max", n_max, low=2)
        d_j0, d_J = default_levels(D, n_max)
        j0 = d_j0 if j0 is None else check_int("j0", j0, low=2, high=20)
        J = max(d_J, j0) if J is None else check_int("J", J, low=j0, high=20)
        if 2.0 ** (J * D) > 2**24:
            raise ValueError(f"J={J!r} is not allowed: expected 2^(J·D) <= 2^24 (D={D})")
        self.spike_mass = check_real("spike_mass", spike_mass, low=0.0, high=1.0, high_open=True)
        self.c = check_real("spikes_per_level", spikes_per_level, low=0.0, low_open=True)
        # the dense part checks s > D(1/p - 1/2)_+ itself; its "p" is only a label (dense)
        self.dense = BesovDensity(
            D, s, p, n_max=n_max, boundary=boundary, band=band, tilt=tilt, seed=seed
        )
        self.dim, self.s, self.p, self.j0, self.J = D, s, p, j0, J
        self.n_max, self.boundary, self.band, self.seed = n_max, boundary, band, seed
        self.support = self.dense.support
        levels, pos, heights, placed = [], [], [], []
        for j in range(j0, J + 1):
            K = max(1, round(self.c * 2.0 ** ((D - s * p) * j)))
            lo = math.ceil(band * 2**j - 1e-9)
            hi = math.floor((1 - band) * 2**j + 1e-9) - (_R + 1)  # last k with support inside
            if hi < lo:
                raise ValueError(f"j0={j0!r} is not allowed: no spike fits inside the band")
            if K > (hi - lo + 1) ** D:
                raise ValueError(
                    f"spikes_per_level={spikes_per_level!r} is not allowed: level {j} needs "
                    f"{K} spikes but has {(hi - lo + 1) ** D} positions"
                )
            k = self._place(j, K, lo, hi, placed)
            levels.append(np.full(K, j))
            pos.append(k)
            heights.append(np.full(K, 2.0 ** ((D - s * p) * j) / K))
        self._level = np.concatenate(levels)
        self._k = np.concatenate(pos)
        self._h = np.concatenate(heights)
        # mass of each bump in u units: h 2^{-jD}; Σ over a level = 2^{-j s p}
        self._bump_mass = self._h * 2.0 ** (-self._level * D)
        self._spike_total = float(self._bump_mass.sum())
        self._frozen = True

    # ---- spike train ----------------------------------------------------------------------
    def _place(self, j: int, K: int, lo: int, hi: int, placed: list) -> np.ndarray:
        """K positions k (K, D) on level j, from a Kronecker sequence per axis, skipping any
        whose support box (k, k + 3)·2^{-j} overlaps a bump already placed: supports are pairwise disjoint, so the spike train's sup is its largest bump."""
        D, width = self.dim, (_R + 1) * 2.0**-j
        alpha = np.array(_KRONECKER[:D])
        out = []
        for i in range(200 * K + 1000):
            k = lo + np.floor(np.mod((i + 0.5 + 7.0 * j) * alpha, 1.0) * (hi - lo + 1))
            a = k * 2.0**-j
            b = a + width
            if all(np.any((b <= a2) | (b2 <= a)) for a2, b2 in placed):
                placed.append((a, b))
                out.append(k.astype(np.int64))
                if len(out) == K:
                    return np.array(out)
        raise ValueError(
            f"spikes_per_level={self.c!r} is not allowed: level {j} has no room for {K} "
            "disjoint spikes; lower spikes_per_level or spike levels"
        )

    def _spike_unnormalised(self, u: np.ndarray) -> np.ndarray:
        """S(u) for u (N, D) in unit coordinates (levels and bumps few: a loop over bumps)."""
        out = np.zeros(u.shape[0])
        for j in np.unique(self._level):
            sel = self._level == j
            t = u * 2.0**j
            for k, h in zip(self._k[sel], self._h[sel], strict=True):
                lo, hi = k, k + _R + 1
                near = np.all((t >= lo) & (t <= hi), axis=1)
                if not np.any(near):
                    continue
                y = t[near] - k
                val = np.full(y.shape[0], h)
                for d in range(self.dim):
                    val *= _n2(y[:, d])
                out[near] += val
        return out

    def _spike_pdf(self, x: np.ndarray) -> np.ndarray:
        """Spike-train density in x units (∫ over the box = 1)."""
        return self._spike_unnormalised((x + 1.0) / 2.0) / (self._spike_total * 2.0**self.dim)

    def _spike_cell_masses(self, edges: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(tuple(len(e) - 1 for e in edges))
        us = [(np.clip(e, -1.0, 1.0) + 1.0) / 2.0 for e in edges]
        for k, j, w in zip(self._k, self._level, self._bump_mass, strict=True):
            factors = [np.diff(bspline.cdf(u * 2.0**j - k[d], _R)) for d, u in enumerate(us)]
            block = factors[0]
            for f in factors[1:]:
                block = np.multiply.outer(block, f)
            out += w * block
        return out / self._spike_total

    # ---- Target contract ------------------------------------------------------------------
    def pdf(self, x) -> np.ndarray:
        """Exact density at x (N, D); 0 outside the box."""
        x = self._points(x)
        m = self.spike_mass
        return (1 - m) * self.dense.pdf(x) + m * self._spike_pdf(x)

    def cell_masses(self, edges) -> np.ndarray:
        """Exact probabilities of the cells of any rectangular grid (mass outside not included)."""
        edges = check_edges(edges, self.dim)
        m = self.spike_mass
        return (1 - m) * self.dense.cell_masses(edges) + m * self._spike_cell_masses(edges)

    def sample(self, n: int, rng) -> np.ndarray:
        """n exact draws: Binomial(n, m) from the spike train, the rest from the dense part,
        in random order."""
        n = check_int("n", n, low=0)
        rng = check_rng("rng", rng)
        n_spike = int(rng.binomial(n, self.spike_mass))
        dense = self.dense.sample(n - n_spike, rng)
        prob = self._bump_mass / self._spike_total
        idx = rng.choice(prob.size, size=n_spike, p=prob)
        u = (self._k[idx] + rng.random((n_spike, self.dim, 3)).sum(axis=2)) / (
            2.0 ** self._level[idx]
        )[:, None]
        out = np.concatenate([dense, 2.0 * u - 1.0])
        return out[rng.permutation(n)]

    # ---- metadata -------------------------------------------------------------------------
    @property
    def expected_smoothness(self) -> float:
        """L1 smoothness σ = min(s, s·p) = s·p (spike train; the dense part has s)."""
        return min(self.s, self.s * self.p)

    @property
    def tv_exact_options(self) -> dict:
        """What ``tv_exact`` needs to resolve the finest spikes: base grid level >= J + 2."""
        return {"min_level": self.J + 2}

    @cached_property
    def besov_levels(self) -> np.ndarray:
        """Per spike level j (j0..J), 2^{j(s − D/p)}·‖c_j‖_p with c_j the level's bump
        coefficients in x-density units (atoms Π N_2 normalised to max 1, i.e. c = (3/4)^D·height
        of the pdf): the B^s_{p,∞} sequence weights, constant in j by construction."""
        D, s, p = self.dim, self.s, self.p
        scale = self.spike_mass / (self._spike_total * 2.0**D) * 0.75**D
        out = []
        for j in range(self.j0, self.J + 1):
            c = self._h[self._level == j] * scale
            out.append(2.0 ** (j * (s - D / p)) * float(np.sum(np.abs(c) ** p)) ** (1 / p))
        return np.array(out)

    @cached_property
    def certified_pdf_bounds(self) -> tuple[float, float]:
        """[lower, upper] bounds on the pdf inside the box: the dense part's certified bounds
        (× 1 − m) plus, above, the largest bump's peak (3/4)^D·h (supports are disjoint)."""
        lo, hi = self.dense.certified_pdf_bounds
        D = self.dim
        spike_hi = float(self._h.max()) * 0.75**D / (self._spike_total * 2.0**D)
        m = self.spike_mass
        return (1 - m) * lo, (1 - m) * hi + m * spike_hi

    def describe(self) -> dict:
        lo, hi = self.certified_pdf_bounds
        b = self.besov_levels
        counts = np.bincount(self._level - self.j0)
        return {
            "target": "sparse-multiscale",
            "D": self.dim,
            "s": self.s,
            "p": self.p,
            "boundary": self.boundary,
            "pattern": "sparse-multiscale",
            "j0": self.j0,
            "J": self.J,
            "n_max": self.n_max,
            "seed": self.seed,
            "spike_mass": self.spike_mass,
            "spikes_per_level": self.c,
            "spikes_total": int(self._level.size),
            "spikes_min_per_level": int(counts.min()),
            "spikes_max_per_level": int(counts.max()),
            "besov_norm_spikes": float(b.max()),
            "besov_level_ratio": float(b.min() / b.max()),
            "dense_J": self.dense.J,
            "smoothness_l1": self.expected_smoothness,
            "pdf_min_certified": lo,
            "pdf_max_certified": hi,
        }

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"SparseMultiscaleDensity(D={self.dim}, s={self.s:g}, p={self.p:g}, j0={self.j0}, "
            f"J={self.J}, spike_mass={self.spike_mass:g}, seed={self.seed})"
        )


def _n2(y: np.ndarray) -> np.ndarray:
    """Quadratic cardinal B-spline N_2 on [0, 3] (0 elsewhere)."""
    out = np.zeros_like(y)
    a = (y >= 0) & (y < 1)
    b = (y >= 1) & (y < 2)
    c = (y >= 2) & (y <= 3)
    out[a] = 0.5 * y[a] ** 2
    out[b] = 0.75 - (y[b] - 1.5) ** 2
    out[c] = 0.5 * (3 - y[c]) ** 2
    return out
