"""Wasserstein-1 distance between samples of q̂ and the target q.

D = 1: exact, W1 = ∫|F_M(x) − F(x)| dx (Vallender 1973) with F from the target's exact cell
masses at every sample point. D > 1: sliced W1 (Rabin et al. 2011; Bonneel et al. 2015), the
mean over random unit directions θ of the 1-D W1 between the projections θ·X of the samples and
of a large exact sample of q (a lower bound on W1: every projection is 1-Lipschitz).
"""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics._box import covering_box
from minimax.metrics.result import MetricResult
from minimax.targets.base import Target
from minimax.validation import check_int, check_points, check_real, check_rng


def _segment_abs_integral(c, a, b, width):
    """∫ over a segment of |c − F| with F linear from a to b (a ≤ b) and F_M = c constant."""
    mid = 0.5 * (a + b)
    span = b - a
    inside = (c > a) & (c < b)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = width * ((c - a) ** 2 + (b - c) ** 2) / (2 * np.where(span > 0, span, 1))
    return np.where(inside, crossing, width * np.abs(c - mid))


def _w1_exact_1d(target: Target, x: np.ndarray, box: np.ndarray, grid_cells: int):
    """(W1, influence-function se, linearisation bound) for 1-D samples x against target."""
    M = x.size
    xs = np.sort(x)
    lo, hi = min(box[0], xs[0]), max(box[1], xs[-1])
    pts = np.union1d(xs, np.linspace(lo, hi, grid_cells + 1))
    # F exact at every point: cumulative exact masses from lo (the box's lower edge holds all
    # but a negligible tail of q, which the edge choice makes explicit)
    masses = np.asarray(target.cell_masses([pts]), dtype=np.float64)
    F = np.r_[0.0, np.cumsum(masses)]
    if not target.bounded:
        below = float(np.sum(target.cell_masses([np.array([-1e300, pts[0]])])))
        F = F + below
    FM = np.searchsorted(xs, pts, side="right") / M  # F_M on [pts[j], pts[j+1])
    width = np.diff(pts)
    seg = _segment_abs_integral(FM[:-1], F[:-1], F[1:], width)
    value = float(seg.sum())
    # F is monotone, so on a segment |F − F_lin| ≤ F(b) − F(a): a crude but sure bound
    lin_bound = float(np.sum(width * (F[1:] - F[:-1])))
    # influence function of ∫|F_M − F|: ψ(X) = ∫_X^∞ sign(F_M − F) dt, se = sd(ψ(X_i))/√M
    sign = np.sign(FM[:-1] - 0.5 * (F[:-1] + F[1:]))
    tail = np.r_[np.cumsum((sign * width)[::-1])[::-1], 0.0]  # ∫_{pts[j]}^{hi}
    psi = tail[np.searchsorted(pts, xs)]
    se = float(np.std(psi, ddof=1) / math.sqrt(M)) if M > 1 else math.nan
    return value, se, lin_bound


def _w1_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise W1 between empirical measures with sorted columns a (n, P) and b (m, P).

    W1 = ∫_0^1 |F_a^{-1}(u) − F_b^{-1}(u)| du, exact for empirical measures: the two quantile
    functions are constant between the breakpoints {i/n} ∪ {j/m}.
    """
    n, m = a.shape[0], b.shape[0]
    if n == m:
        return np.mean(np.abs(a - b), axis=0)
    u = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    du = np.diff(np.r_[0.0, u])
    mid = u - du / 2
    ia = np.minimum((mid * n).astype(np.int64), n - 1)
    ib = np.minimum((mid * m).astype(np.int64), m - 1)
    return du @ np.abs(a[ia] - b[ib])


def _sliced(x: np.ndarray, ref_sorted: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    return _w1_sorted(np.sort(x @ thetas.T, axis=0), ref_sorted)


def w1(
    target: Target,
    samples,
    *,
    rng=None,
    floor_samples: bool = True,
    n_projections: int = 64,
    n_reference: int | None = None,
    grid_cells: int = 4096,
    tail_mass: float = 1e-9,
) -> MetricResult:
    """W1(q̂, q) from M samples of q̂: exact in D = 1, sliced in D > 1.

    D = 1 (``method="exact-1d"``): value = ∫|F_M − F| with F exact at the samples and at
    ``grid_cells`` + 1 points of the box (support, or the box holding 1 − ``tail_mass`` of q),
    F taken linear between neighbouring points (``details["linearisation_bound"]`` bounds that
    error; the integral beyond the box, E(a − X)_+ + E(X − b)_+ under q, is left out).
    ``se`` = sd(ψ(X_i))/√M with ψ the influence function of ∫|F_M − F| (delta method: valid
    when W1 is well above the floor). ``floor`` = the same on M fresh exact samples of q.

    D > 1 (``method="sliced"``): mean over ``n_projections`` directions drawn uniformly on the
    sphere (from ``rng``) of the 1-D W1 between projected samples and projected
    ``n_reference`` (default max(M, 10^5)) exact samples of q. ``se`` = sd over directions/√P
    (direction noise only). ``floor`` = the same with M fresh exact samples of q in place of the
    samples (the reference sample's own noise is inside it).
    """
    if not isinstance(target, Target):
        raise ValueError(f"target={target!r} is not allowed: expected a minimax Target")
    D = int(target.dim)
    x = check_points("samples", samples, D)
    M = x.shape[0]
    if M < 2:
        raise ValueError(f"samples with M={M} rows is not allowed: expected M >= 2")
    n_projections = check_int("n_projections", n_projections, low=1)
    grid_cells = check_int("grid_cells", grid_cells, low=1)
    tail_mass = check_real("tail_mass", tail_mass, low=0.0, high=0.01, low_open=True)
    if floor_samples or D > 1:
        rng = check_rng("rng", rng)
    if D == 1:
        box = covering_box(target, tail_mass)[0][0]
        value, se, lin = _w1_exact_1d(target, x[:, 0], box, grid_cells)
        floor, floor_se = math.nan, math.nan
        if floor_samples:
            fresh = check_points("target.sample", target.sample(M, rng), 1)
            floor, floor_se, _ = _w1_exact_1d(target, fresh[:, 0], box, grid_cells)
        return MetricResult(
            metric="w1",
            value=value,
            se=se,
            floor=floor,
            method="exact-1d",
            m=M,
            details={"linearisation_bound": lin, "floor_se": floor_se, "box": box.tolist()},
        )
    n_ref = max(M, 100_000) if n_reference is None else check_int("n_reference", n_reference, low=2)
    thetas = rng.standard_normal((n_projections, D))
    thetas /= np.linalg.norm(thetas, axis=1, keepdims=True)
    ref = check_points("target.sample", target.sample(n_ref, rng), D)
    ref_sorted = np.sort(ref @ thetas.T, axis=0)
    per = _sliced(x, ref_sorted, thetas)
    floor = math.nan
    if floor_samples:
        fresh = check_points("target.sample", target.sample(M, rng), D)
        floor = float(_sliced(fresh, ref_sorted, thetas).mean())
    return MetricResult(
        metric="w1",
        value=float(per.mean()),
        se=float(per.std(ddof=1) / math.sqrt(n_projections)) if n_projections > 1 else math.nan,
        floor=floor,
        method="sliced",
        m=M,
        details={"n_projections": n_projections, "n_reference": n_ref, "per_projection": per},
    )
