"""Measured L1 smoothness of a density on a box, by two independent routes (docs/theory.md §7).

1. Modulus of smoothness: ω_m(q, h)_1 = sup_{|δ|<=h} ‖Δ_δ^m q‖_{L1(Ω_mδ)} with m > s behaves like
   h^s for q in B^s_{1,∞} (DeVore & Lorentz, "Constructive Approximation", ch. 2 and 12); the
   difference is taken only where every point x, x+δ, ..., x+mδ lies in the box (the domain
   modulus), so the jump at the edge of a "band" target does not count. The sup over directions
   is taken over the coordinate axes (an equivalent modulus), and δ runs over multiples of the
   grid spacing.
2. Wavelet details: the average-interpolating multiresolution of Donoho (1993), built from the
   exact dyadic cell masses: the detail at level l is the difference between the cell averages
   of level l+1 and their prediction from level l by local polynomials of degree 2R (2R + 1
   vanishing moments). Its L1 norm decays like 2^{-ls} (Cohen, "Numerical Analysis of Wavelet
   Methods", ch. 3: B^s_{1,∞} norms from detail norms). Only details whose stencil lies inside
   the box enter.

Both use the target's public pdf / cell_masses only, never the construction's coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import comb

from minimax.validation import check_int, check_real

MAX_GRID_POINTS = 2**22


@dataclass(frozen=True)
class SmoothnessEstimate:
    """Two measured L1 smoothness exponents with the curves they were fitted to.

    ``modulus_h`` is in units of the box side; ``detail_levels`` l index dyadic levels of the box
    (2^l cells per axis); fits are ordinary least squares on log2 scales over the stated ranges.
    """

    modulus_s: float
    detail_s: float
    order: int
    modulus_fit_range: tuple[float, float]
    detail_fit_range: tuple[int, int]
    modulus_h: np.ndarray = field(repr=False)
    modulus_omega: np.ndarray = field(repr=False)
    detail_levels: np.ndarray = field(repr=False)
    detail_norms: np.ndarray = field(repr=False)


def _box(target, box) -> np.ndarray:
    b = np.asarray(target.support if box is None else box, dtype=np.float64)
    if b.shape != (target.dim, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError(
            f"box={box!r} is not allowed: expected a finite (D, 2) array of [low, high] rows "
            "(required for targets with unbounded support)"
        )
    return b


def _grid_values(target, box: np.ndarray, G: int) -> np.ndarray:
    centres = [lo + (hi - lo) * (np.arange(G) + 0.5) / G for lo, hi in box]
    if hasattr(target, "grid_pdf"):
        return np.asarray(target.grid_pdf(centres))
    mesh = np.meshgrid(*centres, indexing="ij")
    return target.pdf(np.stack([m.ravel() for m in mesh], axis=1)).reshape((G,) * target.dim)


def modulus_curve(values: np.ndarray, order: int, shifts: np.ndarray) -> np.ndarray:
    """ω_m at h = shift/G from grid values (G per axis): max over axes and smaller shifts of
    mean |Δ^m| over the points whose whole stencil is on the grid (the domain modulus)."""
    G = values.shape[0]
    coef = np.array([(-1) ** (order - t) * comb(order, t, exact=True) for t in range(order + 1)])
    out = np.zeros(len(shifts))
    for n, step in enumerate(shifts):
        best = 0.0
        for axis in range(values.ndim):
            valid = G - order * step
            if valid <= 0:
                continue
            diff = np.zeros(values.shape[:axis] + (valid,) + values.shape[axis + 1 :])
            for t, c in enumerate(coef):
                sl = [slice(None)] * values.ndim
                sl[axis] = slice(t * step, t * step + valid)
                diff += c * values[tuple(sl)] if c != 1 else values[tuple(sl)]
            best = max(best, float(np.abs(diff).sum()) / G**values.ndim)
        out[n] = best
    return np.maximum.accumulate(out)


def _prediction_weights(R: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the average-interpolating prediction: the children's averages of the degree-2R
    polynomial whose averages over the 2R + 1 parent cells [m, m+1], m = -R..R, are given."""
    m = np.arange(-R, R + 1)
    powers = np.arange(2 * R + 1)
    # A[i, p] = ∫_{m_i}^{m_i+1} x^p dx
    A = ((m[:, None] + 1.0) ** (powers + 1) - m[:, None] ** (powers + 1.0)) / (powers + 1)
    left = 2 * (0.5 ** (powers + 1)) / (powers + 1)  # 2∫_0^{1/2} x^p
    right = 2 * (1.0 - 0.5 ** (powers + 1)) / (powers + 1)
    inv = np.linalg.inv(A)  # coefficients = inv @ averages
    return left @ inv, right @ inv


def detail_norms(averages: dict, R: int) -> dict:
    """L1 norms (box measure, unit cube) of the average-interpolating details between levels."""
    wl, wr = _prediction_weights(R)
    out = {}
    for level in sorted(averages)[:-1]:
        coarse, fine = averages[level], averages[level + 1]
        n = coarse.shape[0]
        if n - 2 * R < 1:
            continue
        pred, actual = coarse, fine
        for axis in range(coarse.ndim):
            moved = np.moveaxis(pred, axis, 0)
            kids = np.zeros((2 * (n - 2 * R),) + moved.shape[1:])
            for i in range(2 * R + 1):
                kids[0::2] += wl[i] * moved[i : i + n - 2 * R]
                kids[1::2] += wr[i] * moved[i : i + n - 2 * R]
            pred = np.moveaxis(kids, 0, axis)
            sl = [slice(None)] * coarse.ndim
            sl[axis] = slice(2 * R, 2 * (n - R))
            actual = actual[tuple(sl)]
        out[level] = float(np.abs(actual - pred).sum()) / (2 * n) ** coarse.ndim
    return out


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log2(x[ok]), np.log2(y[ok]), 1)[0])


def estimate_smoothness(
    target,
    *,
    order: int | None = None,
    h_range: tuple[float, float] | None = None,
    levels: tuple[int, int] | None = None,
    grid_level: int | None = None,
    detail_order: int = 2,
    box=None,
) -> SmoothnessEstimate:
    """Measured L1 smoothness of ``target`` on its box (or ``box``) by two routes.

    The defaults adapt to a target that states its levels j0, J and nominal L1 smoothness σ
    (``expected_smoothness``, as BesovDensity does): a finite expansion is exactly rough only
    between its coarsest and finest levels, and the fit must stay away from both ends by a margin
    that shrinks with the geometric convergence there (2^{-σ} per level at the fine end,
    2^{-(m-σ)} at the coarse end).

    order : m of the modulus ω_m (must exceed s); default floor(σ) + 2, else 3.
    h_range : (h_lo, h_hi) in box-side units for the modulus fit; default
        [2^{-J + max(2, ceil(1.5/σ))}, 2^{-(j0+2)}], else [2^-8, 2^-3].
    levels : (l_lo, l_hi), the detail levels fitted; default (j0 + 2, J - max(1, ceil(1/σ))),
        else (3, 8).
    grid_level : log2 of grid points per axis for the modulus; default J for a target with
        levels (finer grids changed the fitted slopes by < 0.005 in our checks), capped so that
        the grid has at most 2^22 points.
    detail_order : R; the prediction uses polynomials of degree 2R (2R + 1 vanishing moments).
    """
    D = target.dim
    bx = _box(target, box)
    j0, J = getattr(target, "j0", None), getattr(target, "J", None)
    s_nom = getattr(target, "expected_smoothness", None)
    m = (math.floor(s_nom) + 2 if s_nom is not None else 3) if order is None else order
    m = check_int("order", m, low=1, high=12)
    R = check_int("detail_order", detail_order, low=1, high=5)
    cap = int(math.log2(MAX_GRID_POINTS) // D)
    L = (J if J is not None else cap) if grid_level is None else grid_level
    L = check_int("grid_level", L, low=3)
    if L > cap:
        if grid_level is not None:
            raise ValueError(
                f"grid_level={grid_level!r} is not allowed: expected <= {cap} for D={D} "
                f"(at most {MAX_GRID_POINTS} grid points)"
            )
        L = cap
    adaptive = J is not None and j0 is not None and s_nom is not None
    if h_range is None:
        if adaptive:
            h_range = (2.0 ** (-J + max(2, math.ceil(1.5 / s_nom))), 2.0 ** -(j0 + 2))
        else:
            h_range = (2.0**-8, 2.0**-3)
    h_lo = check_real("h_range[0]", h_range[0], low=0.0, low_open=True)
    h_hi = check_real("h_range[1]", h_range[1], low=h_lo, low_open=True, high=1.0 / m)
    if levels is None:
        levels = (j0 + 2, J - max(1, math.ceil(1 / s_nom))) if adaptive else (3, 8)
    l_lo = check_int("levels[0]", levels[0], low=R + 1)
    l_hi = check_int("levels[1]", levels[1], low=l_lo + 1, high=cap)

    G = 2**L
    values = _grid_values(target, bx, G)
    # two shifts per octave from h_lo/4 to 4 h_hi: the sup over |δ| <= h is taken over these
    lo_exp = max(0.0, math.floor(2 * math.log2(max(h_lo * G / 4, 1.0))))
    hi_exp = 2 * math.log2(min(4 * h_hi * G, (G - 1) / m))
    shifts = np.unique(np.round(2.0 ** (np.arange(lo_exp, hi_exp + 1e-9) / 2)).astype(np.int64))
    shifts = shifts[(shifts * m < G) & (shifts >= 1)]
    omega = modulus_curve(values, m, shifts)
    h = shifts / G
    fit = (h >= h_lo * (1 - 1e-9)) & (h <= h_hi * (1 + 1e-9))
    modulus_s = _slope(h[fit], omega[fit])

    averages = {}
    for level in range(l_lo, l_hi + 2):
        edges = [np.linspace(lo, hi, 2**level + 1) for lo, hi in bx]
        averages[level] = np.asarray(target.cell_masses(edges)) * 2 ** (level * D)
    norms = detail_norms(averages, R)
    lv = np.array(sorted(norms))
    nv = np.array([norms[k] for k in lv])
    detail_s = -_slope(2.0**lv, nv)

    return SmoothnessEstimate(
        modulus_s=modulus_s,
        detail_s=detail_s,
        order=m,
        modulus_fit_range=(float(h_lo), float(h_hi)),
        detail_fit_range=(int(l_lo), int(l_hi)),
        modulus_h=h,
        modulus_omega=omega,
        detail_levels=lv,
        detail_norms=nv,
    )
