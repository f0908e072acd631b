"""The candidate partitions of the sampled TV (``minimax.metrics.tv``, docs/tv.md §2-3): the
finest dyadic grid a call can use and q's masses on it (``_Setup``), the corrected value of a
fixed partition with its bias bound and witness lower bound, the cross-fitted adaptive
partitions and the regular grids of the ladder.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

from minimax.metrics import _dyadic
from minimax.metrics._box import covering_box
from minimax.metrics._correction import h, worst_bias
from minimax.metrics.tv_grid import _flat_index, demoivre_mean_abs
from minimax.targets.base import Target

MAX_FINE_CELLS = 1 << 21
# a regular grid is a candidate while this much of q's mass is in cells the correction covers
# (docs/tv.md §3, step 5); 0.99 kept a density that is small near the faces half a grid level
# coarser than one that is not, at every M (docs/decisions.md, fourteenth session)
MIN_CORRECTED_MASS = 0.9


class _Setup:
    """What every cross-fit of one call shares: the box, the levels, q's rectangle masses."""

    def __init__(self, target: Target, M_half: int, tail_mass: float, min_expected: float):
        self.D = D = int(target.dim)
        if target.bounded:
            self.box, self.outside_mass = np.asarray(target.support, dtype=np.float64), 0.0
        else:
            self.box, self.outside_mass = covering_box(target, tail_mass)
        # a rectangle can be split only where both halves expect ≥ min_expected samples of a
        # half: levels beyond log2(M_half/min_expected) are reachable only where q is ≥ 8 times
        # its box average, hence the margin of 3
        reach = int(math.floor(math.log2(max(M_half / min_expected, 1.0)))) + 3
        self.L = max(1, min(int(math.log2(MAX_FINE_CELLS)) // D, reach))
        self.by_sum = _dyadic.level_tuples(D, self.L, reach)
        self.tuples = {t for ts in self.by_sum.values() for t in ts}
        edges = [np.linspace(lo, hi, 2**self.L + 1) for lo, hi in self.box]
        fine = np.asarray(target.cell_masses(edges), dtype=np.float64).reshape((2**self.L,) * D)
        self.fine = np.clip(fine, 0.0, 1.0)
        self._grid_masses: dict[int, np.ndarray] = {}
        self.masses = _dyadic.sums(self.fine, self.L, self.tuples)
        self.min_expected = min_expected

    def flat_index(self, x: np.ndarray) -> np.ndarray:
        """Flat index of each sample's finest cell; −1 outside the box (upper edges inside)."""
        return _flat_index(x, self.box, self.L)

    def counts(self, flat: np.ndarray) -> np.ndarray:
        """Finest-grid counts with the outside count appended (flat, length 2^{LD} + 1)."""
        inside = flat[flat >= 0]
        return np.r_[np.bincount(inside, minlength=2 ** (self.L * self.D)), flat.size - inside.size]

    def grid_masses(self, k: int) -> np.ndarray:
        """q's masses on the regular grid of k cells per axis (flat; ``_dyadic.regular_sums``)."""
        level = k.bit_length() - 1
        if k == 2**level:
            return self.masses[(level,) * self.D].reshape(-1)
        if k not in self._grid_masses:
            self._grid_masses[k] = _dyadic.regular_sums(self.fine, k).reshape(-1)
        return self._grid_masses[k]

    def grid_counts(self, sums: _dyadic.CountSums, rects: dict):
        """k -> a half's counts on the regular grid of k cells per axis (flat)."""

        def on(k: int) -> np.ndarray:
            level = k.bit_length() - 1
            if k == 2**level:
                return rects[(level,) * self.D].reshape(-1)
            return sums.regular(k).reshape(-1)

        return on

    def count_sums(self, counts: np.ndarray) -> _dyadic.CountSums:
        return _dyadic.CountSums(counts[:-1].reshape((2**self.L,) * self.D))


def _score_parts(setup: _Setup, sel: dict, M_sel: int) -> dict:
    """t -> (σ, h(u)) of a selection half's rectangles: what ``_score`` needs at any penalty."""
    out = {}
    for t, p in setup.masses.items():
        sig = np.sqrt(np.maximum(p * (1 - p), 0.0) / M_sel)
        u = (sel[t] / M_sel - p) / np.where(sig > 0, sig, 1.0)
        out[t] = (sig, h(u))
    return out


def _score(parts: dict, penalty: float) -> dict:
    return {t: 0.5 * sig * (hu - penalty) for t, (sig, hu) in parts.items()}


def _cells_value(setup: _Setup, p: np.ndarray, c: np.ndarray, out_count: float, M: int) -> dict:
    """Corrected TV of a fixed partition (cell masses p, counts c of M samples) and its bias
    bound. Cells with M·p ≥ min_expected enter corrected (worst bias β(M·p)·σ), smaller ones
    and a cell holding all of q's mass (σ = 0) as plug-in (worst bias: its exact null mean,
    de Moivre); the mass outside the box enters as plug-in."""
    sig = np.sqrt(np.maximum(p * (1 - p), 0.0) / M)
    dev = c / M - p
    big = (M * p >= setup.min_expected) & (sig > 0)
    safe = np.where(big, sig, 1.0)
    corrected = np.where(big, sig * h(dev / safe), np.abs(dev))
    null_mean = demoivre_mean_abs(M, p) / M
    bias = np.where(big, worst_bias(M * p) * sig, null_mean)
    out_dev = out_count / M - setup.outside_mass
    return {
        "value": 0.5 * (float(corrected.sum()) + abs(out_dev)),
        "plugin": 0.5 * (float(np.abs(dev).sum()) + abs(out_dev)),
        "bias_bound": 0.5 * float(bias.sum()),
        "b0": 0.5 * float(null_mean.sum()),
        "cells": int(p.size),
    }


def _witness(setup, p, c_sel, out_sel, M_sel, c_est, out_est, M_est, alpha) -> float:
    """Lower 1 − α/2 bound on TV: W = cells over-represented in the selection half; on the
    other half P̂(W) ≥ its Clopper–Pearson bound, and TV ≥ P̂(W) − Q(W)."""
    w = c_sel / M_sel > p
    k, pw = float(c_est[w].sum()), float(p[w].sum())
    if out_sel / M_sel > setup.outside_mass:
        k, pw = k + out_est, pw + setup.outside_mass
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, M_est - k + 1))
    return low - pw


def _fold(setup, sel, out_sel, M_sel, est, out_est, M_est, penalty, split, alpha):
    """Partition chosen on ``sel`` (rectangle counts; ``split``: (its score parts, the
    splittable rectangles, their split masks)), scored on ``est``."""
    parts, splittable, masks = split
    choice = _dyadic.choose(_score(parts, penalty), splittable, setup.by_sum, masks)
    cells = _dyadic.leaves(choice, setup.by_sum)
    p = _dyadic.gather(setup.masses, cells)
    c = _dyadic.gather(est, cells)
    res = _cells_value(setup, p, c, out_est, M_est)
    res["parts"] = [(0.5, p, c, out_est, M_est)]
    res["finest_side"] = min(2.0 ** -max(t) for t, _ in cells)
    if alpha is not None:
        c_sel = _dyadic.gather(sel, cells)
        res["ci_low"] = _witness(setup, p, c_sel, out_sel, M_sel, c, out_est, M_est, alpha)
        res["ci_high"] = res["plugin"] + math.sqrt(math.log(2 / alpha) / (2 * M_est))
    return res


def _splits(setup, ra, rb, Ma, Mb) -> tuple:
    """What the adaptive partitions of one pair of halves share at every penalty: per half its
    score parts, the splittable rectangles and their split masks."""
    m_min = min(Ma, Mb)
    splittable = {t: m_min * p >= setup.min_expected for t, p in setup.masses.items()}
    masks = _dyadic.split_masks(splittable, setup.by_sum)
    return ((_score_parts(setup, ra, Ma), splittable, masks),
            (_score_parts(setup, rb, Mb), splittable, masks))  # fmt: skip


def _adaptive(setup, ra, rb, out_a, out_b, Ma, Mb, penalty, alpha, splits) -> dict:
    """Both folds of the adaptive partition at one penalty (``splits``: ``_splits``' result),
    and their mean."""
    folds = (
        _fold(setup, ra, out_a, Ma, rb, out_b, Mb, penalty, splits[0], alpha),
        _fold(setup, rb, out_b, Mb, ra, out_a, Ma, penalty, splits[1], alpha),
    )
    out = {k: 0.5 * (folds[0][k] + folds[1][k]) for k in ("value", "plugin", "bias_bound", "b0")}
    out["fold_values"] = [f["value"] for f in folds]
    out["cells"] = [f["cells"] for f in folds]
    out["parts"] = folds[0]["parts"] + folds[1]["parts"]
    out["finest_side"] = min(f["finest_side"] for f in folds)
    out["partition"] = f"adaptive(penalty={penalty:g})"
    if alpha is not None:
        out["ci_low"] = max(f["ci_low"] for f in folds)
        out["ci_high"] = max(f["ci_high"] for f in folds)
    return out


def grid_ladder(top_level: int) -> list[int]:
    """Cells per axis of the regular-grid candidates: 2^ℓ and, between two dyadic levels, the
    nearest integer to 2^(ℓ+½) (docs/tv.md §3), up to 2^top_level."""
    ks = {2**lev for lev in range(1, top_level + 1)}
    ks |= {round(2 ** (lev + 0.5)) for lev in range(1, top_level)}
    return sorted(ks)


def _grid(setup, grids_a, grids_b, out_a, out_b, Ma, Mb, k, alpha) -> dict:
    """The regular grid of k cells per axis, scored on all samples (a fixed partition needs no
    cross-fitting); its witness bound is still cross-fitted. ``grids_a``/``grids_b`` give a
    half's counts on a grid of k cells per axis."""
    p, ca, cb = setup.grid_masses(k), grids_a(k), grids_b(k)
    out = _cells_value(setup, p, ca + cb, out_a + out_b, Ma + Mb)
    out["parts"] = [(1.0, p, ca + cb, out_a + out_b, Ma + Mb)]
    out["cells"] = [out["cells"]] * 2
    out["fold_values"] = [out["value"]] * 2
    out["finest_side"] = 1.0 / k
    level = k.bit_length() - 1
    out["partition"] = f"grid(level={level})" if k == 2**level else f"grid(k={k})"
    if alpha is not None:
        out["ci_low"] = max(
            _witness(setup, p, ca, out_a, Ma, cb, out_b, Mb, alpha),
            _witness(setup, p, cb, out_b, Mb, ca, out_a, Ma, alpha),
        )
        out["ci_high"] = out["plugin"] + math.sqrt(math.log(2 / alpha) / (2 * (Ma + Mb)))
    return out


def _grid_sizes(setup: _Setup, M: int) -> list[int]:
    """Cells per axis of the regular-grid candidates at M samples: ``grid_ladder`` while at
    least MIN_CORRECTED_MASS of q's mass is in cells with M·p ≥ min_expected."""
    top_level = max(lev for lev in range(setup.L + 1) if (lev,) * setup.D in setup.masses)
    ks = []
    for k in grid_ladder(top_level):
        p = setup.grid_masses(k)
        if p[M * p >= setup.min_expected].sum() < MIN_CORRECTED_MASS:
            break  # finer grids are mostly plug-in cells, biased up by their null mean
        ks.append(k)
    return ks
