"""Nested regular grids for ``tv_grid``: sample counts, exact masses and per-level partitions.

Level l has 2^l cells per axis over a box (the target's support, or a covering box of an
unbounded target). ``level_masses`` gives q's exact masses of every level up to L from one call
of ``target.cell_masses``; ``flat_index`` and ``bin_counts`` bin samples on the finest level and
``coarsen`` sums 2^D sibling blocks into their parent. ``Partition`` is one level's partition into
cells kept individually and low-mass groups (``tv_grid``'s module docstring), with its null floor
B0 from ``demoivre_mean_abs``; ``Analysis`` holds one sample set's counts and partitions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from minimax.metrics._correction import h
from minimax.targets.base import Target


def demoivre_mean_abs(M: int, p: np.ndarray) -> np.ndarray:
    """E|X − Mp| for X ~ Bin(M, p), exact (de Moivre): 2ν·C(M,ν)·p^ν(1−p)^{M−ν+1}, ν=⌊Mp⌋+1."""
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros_like(p)
    ok = (p > 0) & (p < 1)
    pk = p[ok]
    nu = np.floor(M * pk) + 1
    logv = (
        math.log(2.0)
        + np.log(nu)
        + gammaln(M + 1)
        - gammaln(nu + 1)
        - gammaln(M - nu + 1)
        + nu * np.log(pk)
        + (M - nu + 1) * np.log1p(-pk)
    )
    out[ok] = np.exp(logv)
    return out


class Partition:
    """One level's partition: cells with M·p ≥ ``min_expected`` kept individually; the low-mass
    cells grouped with their low-mass siblings under the finest ancestor (parent, grandparent, …)
    whose group reaches M·p ≥ ``min_expected``, and whatever is left, with the tail outside a
    covering box, in one pool under the root; then the cell outside the box. Grouping by ancestor
    keeps low-density regions resolved at the coarser level they can afford, where one global
    pool would hide all their structure (a coarser partition is still a lower bound on TV).
    ``pooled_mass`` = q's mass in groups coarser than the parent level (plus the pooled tail): the
    mass whose structure this level does not resolve even one level up. ``reduce(counts)`` maps
    the level's cell counts to the partition."""

    def __init__(self, masses: np.ndarray, outside_mass: float, M: int, min_expected: float):
        masses = np.asarray(masses, dtype=np.float64)
        D = masses.ndim
        l = int(round(math.log2(masses.shape[0]))) if masses.size > 1 else 0
        flat = masses.reshape(-1)
        self.big = M * flat >= min_expected
        n_big = int(self.big.sum())
        # labels of the low-mass cells, found level by level on whole grids (no sorting): at
        # step k the still-ungrouped mass under each ancestor of level l − k is summed by
        # coarsening, and the ancestors with enough of it (all of them at the root) become parts
        rest = ~self.big.reshape(masses.shape)
        label = np.full(masses.shape, -1, dtype=np.int64)
        n_parts, pooled = n_big, 0.0
        self.root_part = None
        anc_mass = np.where(rest, masses, 0.0)
        for k in range(1, l + 1):
            if not rest.any():
                break
            anc_mass = coarsen(anc_mass)  # ungrouped mass under each level-(l−k) cell
            ok = (M * anc_mass >= min_expected) if k < l else (anc_mass > 0) | rest.any()
            ids = np.where(ok, np.cumsum(ok).reshape(ok.shape) - 1 + n_parts, -1)
            up = ids
            for axis in range(D):  # the ancestor's id on every level-l cell
                up = np.repeat(up, 2**k, axis=axis)
            take = rest & (up >= 0)
            label[take] = up[take]
            n_new = int(ok.sum())
            if k == l:
                self.root_part = n_parts if n_new else None
            if k >= 2:
                pooled += float(np.where(ok, anc_mass, 0.0).sum())
            n_parts += n_new
            rest &= ~take
            # what is left under the ancestors taken is no longer ungrouped
            anc_mass = np.where(ok, 0.0, anc_mass)
        if rest.any():  # level 0 (one cell) with too little mass: it is its own part
            label[rest] = n_parts
            n_parts += 1
        small = ~self.big
        self.small_labels = label.reshape(-1)[small] - n_big
        self.n_groups = n_parts - n_big
        # the tail outside a covering box (unbounded q) joins the root pool (its own part if none)
        self.out_pooled = outside_mass > 0
        p = np.r_[flat[self.big], np.bincount(self.small_labels, weights=flat[small],
                                              minlength=self.n_groups)]  # fmt: skip
        if self.out_pooled:
            if self.root_part is None:
                p, n_parts = np.r_[p, 0.0], n_parts + 1
                self.root_part = n_parts - 1
            p[self.root_part] += outside_mass
            pooled += outside_mass
        self.n_parts = n_parts
        self.p = p
        self.M = M
        self.corr = M * self.p >= min_expected  # a root pool may be small
        self.sigma = np.sqrt(self.p * (1 - self.p) / M)
        self.b0 = 0.5 * float(demoivre_mean_abs(M, self.p).sum()) / M
        self.pooled_mass = pooled

    def reduce(self, counts: np.ndarray, outside: np.ndarray) -> np.ndarray:
        """(B, n_parts + 1) counts: the partition's parts, then the outside cell (last)."""
        counts = counts.reshape(counts.shape[0], -1)
        out = np.zeros((counts.shape[0], self.n_parts + 1), dtype=np.float64)
        n_big = counts.shape[1] - self.small_labels.size
        out[:, :n_big] = counts[:, self.big]
        if self.n_groups:
            small = counts[:, ~self.big]
            for b in range(counts.shape[0]):
                out[b, n_big : n_big + self.n_groups] = np.bincount(
                    self.small_labels, weights=small[b], minlength=self.n_groups
                )
        if self.out_pooled:
            out[:, self.root_part] += outside
        else:
            out[:, -1] = outside
        return out

    def values(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(plug-in, corrected) for rows of partition counts c (B, K_part + 1)."""
        M = self.M
        dev = c[:, :-1] / M - self.p
        plug = np.abs(dev)
        sig = np.sqrt(self.p * (1 - self.p) / M)
        inv = np.where(self.corr, 1.0 / np.where(sig > 0, sig, 1.0), 0.0)
        corr = np.where(self.corr, sig * h(dev * inv), plug)
        outside = c[:, -1] / M
        return 0.5 * (plug.sum(axis=1) + outside), 0.5 * (corr.sum(axis=1) + outside)


def flat_index(x: np.ndarray, box: np.ndarray, L: int) -> np.ndarray:
    """Flat index of each sample's cell on the level-L grid; -1 for samples outside the box."""
    n = 2**L
    flat = np.zeros(x.shape[0], dtype=np.int64)
    outside = np.zeros(x.shape[0], dtype=bool)
    for i, (lo, hi) in enumerate(box):
        u = x[:, i] - lo
        u *= n / (hi - lo)
        outside |= (u < 0) | (u > n)
        idx = u.astype(np.int64)  # truncation = floor for u >= 0; outside rows are dropped
        np.minimum(idx, n - 1, out=idx)  # the upper edge belongs to the last cell
        flat *= n
        flat += idx
    flat[outside] = -1
    return flat


def bin_counts(flat: np.ndarray, D: int, L: int) -> tuple[np.ndarray, int]:
    """Counts on the level-L grid (shape (2^L,)*D) and the number of samples outside the box."""
    inside = flat[flat >= 0]
    counts = np.bincount(inside, minlength=2 ** (L * D)).reshape((2**L,) * D)
    return counts, int(flat.size - inside.size)


def coarsen(a: np.ndarray) -> np.ndarray:
    """Sum 2^D blocks: level l+1 array → level l array (any leading batch axis excluded)."""
    D = a.ndim
    n = a.shape[0] // 2
    return a.reshape((n, 2) * D).sum(axis=tuple(range(1, 2 * D, 2)))


class Analysis:
    """Counts and per-level partitions for one sample set, from its finest-level counts."""

    def __init__(self, fine, outside, levels, masses, outside_mass, min_expected, cache=None):
        self.outside = outside
        self.M = int(fine.sum()) + outside
        self.counts = {levels[-1]: fine}
        for l in range(levels[-1] - 1, levels[0] - 1, -1):
            self.counts[l] = coarsen(self.counts[l + 1])
        cache = {} if cache is None else cache  # partitions depend on (level, M) only
        self.parts = {}
        for l in levels:
            if (l, self.M) not in cache:
                cache[l, self.M] = Partition(masses[l], outside_mass, self.M, min_expected)
            self.parts[l] = cache[l, self.M]

    def level_values(self, l):
        part = self.parts[l]
        c = part.reduce(self.counts[l][None], np.array([self.outside]))
        plug, corr = part.values(c)
        return float(plug[0]), float(corr[0])


def level_masses(target: Target, box: np.ndarray, L: int) -> dict:
    """Exact q masses of every level ≤ L (the finest from the target, coarser ones by summing)."""
    D = box.shape[0]
    edges = [np.linspace(lo, hi, 2**L + 1) for lo, hi in box]
    edges = [np.r_[e[:-1], hi] for e, (_, hi) in zip(edges, box, strict=True)]
    fine = np.asarray(target.cell_masses(edges), dtype=np.float64).reshape((2**L,) * D)
    # exact masses can round to -1e-17 or 1 + 1e-16; probabilities must stay in [0, 1]
    fine = np.clip(fine, 0.0, 1.0)
    out = {L: fine}
    for l in range(L - 1, -1, -1):
        out[l] = coarsen(out[l + 1])
    return out
