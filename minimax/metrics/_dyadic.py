"""Anisotropic dyadic partitions of a box, chosen by dynamic programming (docs/tv.md §2).

A dyadic rectangle of the box has a level per axis, ℓ = (l_1, …, l_D) with 0 ≤ l_a ≤ L, and an
index per axis; it has 2^{Σℓ} siblings of its shape. Every rectangle may be kept whole or split
in two along any axis a with l_a < L, so the partitions reachable are those of dyadic decision
trees (Scott & Nowak 2006): a strip of width 2^{-8} along one face costs two or three cells of
shape 2^{-8} × 1/2 instead of 2^8 square ones. The best partition for an additive score is found
exactly by one pass over the rectangles from the finest to the root (``choose``).

Arrays are kept per level tuple: ``sums(fine, L, tuples)`` turns counts or masses on the finest
grid (2^L cells per axis) into the sums over every rectangle of each wanted tuple.
"""

from __future__ import annotations

from itertools import product

import numpy as np

Tuple = tuple[int, ...]


def level_tuples(D: int, L: int, max_sum: int) -> dict[int, list[Tuple]]:
    """Level tuples with every level ≤ L and Σℓ ≤ max_sum, grouped by their sum."""
    out: dict[int, list[Tuple]] = {}
    for t in product(range(L + 1), repeat=D):
        if sum(t) <= max_sum:
            out.setdefault(sum(t), []).append(t)
    return out


def halve(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum neighbouring pairs along ``axis`` (one level coarser on that axis)."""
    shape = a.shape[:axis] + (a.shape[axis] // 2, 2) + a.shape[axis + 1 :]
    return a.reshape(shape).sum(axis=axis + 1)


def sums(fine: np.ndarray, L: int, keep: set[Tuple]) -> dict[Tuple, np.ndarray]:
    """Sums of ``fine`` (shape (2^L,)*D) over every rectangle of each level tuple in ``keep``.

    Axis by axis by successive halving, so the cost is a few passes over ``fine``."""
    D = fine.ndim
    out: dict[Tuple, np.ndarray] = {}

    def walk(a: np.ndarray, axis: int, prefix: Tuple) -> None:
        if axis == D:
            if prefix in keep:
                out[prefix] = a
            return
        for l in range(L, -1, -1):
            walk(a, axis + 1, prefix + (l,))
            if l:
                a = halve(a, axis)

    walk(fine, 0, ())
    return out


def _child(t: Tuple, axis: int) -> Tuple:
    return t[:axis] + (t[axis] + 1,) + t[axis + 1 :]


def split_masks(splittable: dict[Tuple, np.ndarray], by_sum) -> dict:
    """(t, a) -> where a rectangle of tuple t has both halves along axis a ``splittable``: what
    ``choose`` needs of ``splittable``, computed once for every score it is run on."""
    out = {}
    for ts in by_sum.values():
        for t in ts:
            for a in range(len(t)):
                c = _child(t, a)
                if c in splittable:
                    out[t, a] = halve(splittable[c].astype(np.int8), a) == 2
    return out


def choose(score: dict[Tuple, np.ndarray], splittable: dict[Tuple, np.ndarray], by_sum,
           masks: dict | None = None) -> dict:  # fmt: skip
    """The partition maximising the sum of ``score`` over its cells.

    ``score[t]`` is the value of keeping each rectangle of tuple t whole; a rectangle may be split
    along axis a only where both halves are ``splittable`` (tuple t + e_a present; ``masks``:
    ``split_masks(splittable, by_sum)`` when already computed). Returns the choice per
    rectangle: 0 = keep whole, a + 1 = split along axis a."""
    if masks is None:
        masks = split_masks(splittable, by_sum)
    value: dict[Tuple, np.ndarray] = {}
    choice: dict[Tuple, np.ndarray] = {}
    for S in sorted(by_sum, reverse=True):
        for t in by_sum[S]:
            best = score[t].copy()
            ch = np.zeros(best.shape, dtype=np.int8)
            for a in range(len(t)):
                c = _child(t, a)
                if c not in value:
                    continue
                cand = np.where(masks[t, a], halve(value[c], a), -np.inf)
                better = cand > best
                best = np.where(better, cand, best)
                ch[better] = a + 1
            value[t], choice[t] = best, ch
    return choice


def leaves(choice: dict, by_sum) -> list[tuple[Tuple, np.ndarray]]:
    """The cells of the chosen partition: (tuple, boolean mask over that tuple's rectangles)."""
    D = len(by_sum[0][0])
    root = (0,) * D
    active = {root: np.ones((1,) * D, dtype=bool)}
    out = []
    for S in sorted(by_sum):
        for t in by_sum[S]:
            act = active.get(t)
            if act is None or not act.any():
                continue
            ch = choice[t]
            keep = act & (ch == 0)
            if keep.any():
                out.append((t, keep))
            for a in range(D):
                split = act & (ch == a + 1)
                if split.any():
                    c = _child(t, a)
                    grown = np.repeat(split, 2, axis=a)
                    active[c] = grown if c not in active else active[c] | grown
    return out


def gather(arrays: dict[Tuple, np.ndarray], cells) -> np.ndarray:
    """The values of ``arrays`` on the partition's cells, concatenated in ``cells`` order."""
    return np.concatenate([arrays[t][mask] for t, mask in cells])


def regular_starts(side: int, k: int) -> np.ndarray:
    """First finest cell of each of the k cells per axis of ``regular_sums``' grid."""
    return np.round(np.arange(k) * (side / k)).astype(np.int64)


def regular_sums(fine: np.ndarray, k: int) -> np.ndarray:
    """Sums of ``fine`` (shape (2^L,)*D) over a regular grid of k ≤ 2^L cells per axis, whose
    edges are the finest grid's edges nearest to i/k (each cell ⌊2^L/k⌋ or ⌈2^L/k⌉ finest
    cells wide): the grids between dyadic levels, with masses still exact sums of fine ones."""
    starts = regular_starts(fine.shape[0], k)
    out = fine
    for axis in range(fine.ndim):
        out = np.add.reduceat(out, starts, axis=axis)
    return out


class CountSums:
    """Sums of integer counts on the finest grid over any product grid whose edges are finest
    edges, from one table of prefix sums: each grid then costs its own cells, not a pass over
    the finest grid. Integer arithmetic, so every sum equals ``sums``' and ``regular_sums``'
    exactly (as float64)."""

    def __init__(self, fine_counts: np.ndarray):
        D, side = fine_counts.ndim, fine_counts.shape[0]
        prefix = np.zeros((side + 1,) * D, dtype=np.int64)
        prefix[(slice(1, None),) * D] = fine_counts
        for axis in range(D):
            np.cumsum(prefix, axis=axis, out=prefix)
        self.prefix, self.side, self.D = prefix, side, D

    def on(self, edges) -> np.ndarray:
        """Sums over the cells between consecutive edges (finest-edge indices from 0 to 2^L),
        ``edges`` holding one such array per axis."""
        out = self.prefix[np.ix_(*edges)]
        for axis in range(self.D):
            out = np.diff(out, axis=axis)
        return out.astype(np.float64)

    def dyadic(self, keep) -> dict[Tuple, np.ndarray]:
        """``sums(counts, L, keep)``: every rectangle of each level tuple in ``keep``."""
        return {t: self.on([np.arange(0, self.side + 1, self.side >> lev) for lev in t])
                for t in keep}  # fmt: skip

    def regular(self, k: int) -> np.ndarray:
        """``regular_sums(counts, k)``."""
        return self.on([np.r_[regular_starts(self.side, k), self.side]] * self.D)
