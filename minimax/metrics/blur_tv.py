"""The exact TV cost of a diffusion sampler's early stop: TV(q, law of x_T̲ as the sampler leaves it).

With the true score and no discretisation, a sampler that stops at T̲ without a final denoising
step returns x_T̲ = c + m(x_0 − c) + τ z per axis (x_0 ~ q, z standard normal; m = m(T̲) and
τ = σ(T̲)·scale from the forward process and the data standardisation, c the box's centre),
then folds what left the box back in (reflection) or keeps it outside. docs/tv.md §9 derives
the quadrature: q is taken uniform within each cell of a regular grid of N cells per axis
(exact cell masses from the target), the per-axis transition of one uniform cell through the
affine map and the Gaussian is integrated in closed form,

    P(Y ≤ y | U ~ Unif[a, b]) = τ/(m (b − a)) · [G(v(a)) − G(v(b))],  v(u) = (y − c − m(u − c))/τ,
    G(v) = v Φ(v) + φ(v),

and the folded cell masses are compared with q's. The value converges as N grows; the result
reports the change from N/2 to N as its numerical error and is flagged ``ok`` only when that
change is at most ``REL_TOL`` of the value.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.special import ndtr

from minimax.metrics.result import MetricResult

#: the largest relative change from N/2 to N cells per axis that still counts as converged
REL_TOL = 0.02
#: Gaussian tails beyond this many τ are dropped (mass < 2e-23 per cell)
TAILS = 10.0
#: cells per axis by dimension: the finest grid whose cell masses stay below ~2^21 cells
DEFAULT_CELLS = {1: 1 << 14, 2: 1 << 10, 3: 1 << 7}
#: at most this many cells per τ: finer cells change the value by O((w/τ)²) only, and the
#: transition's band (2·TAILS·τ/w cells per row) sets the memory
CELLS_PER_TAU = 64


def _g(v: np.ndarray) -> np.ndarray:
    """G(v) = ∫_{-∞}^{v} Φ(u) du = v Φ(v) + φ(v)."""
    return v * ndtr(v) + np.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)


def axis_transition(low: float, high: float, cells: int, centre: float, shrink: float,
                    tau: float, reflect: bool) -> tuple[sparse.csr_matrix, np.ndarray]:  # fmt: skip
    """(K, outside): K[i, k] = P(Y in inside cell k | U uniform in cell i) for Y = c + m(U − c) + τZ,
    folded into [low, high] when ``reflect`` (one reflection at each face, repeated until the
    tails are inside); ``outside[i]``: the probability that Y leaves [low, high] (0 if reflected).
    """
    if not (tau > 0 and 0 < shrink <= 1):
        raise ValueError(
            f"tau={tau!r}, shrink={shrink!r} are not allowed: expected τ > 0, 0 < m ≤ 1"
        )
    w = (high - low) / cells
    a = low + w * np.arange(cells + 1)
    reach = TAILS * tau + (1.0 - shrink) * max(abs(low - centre), abs(high - centre))
    extra = int(math.ceil(reach / w)) + 2
    band = int(math.ceil((shrink * w + 2 * TAILS * tau) / w)) + 3
    # output cells on the extended line: edges low - extra w + k w, k = 0..cells + 2 extra
    lo_img = centre + shrink * (a[:-1] - centre) - TAILS * tau
    k0 = np.floor((lo_img - (low - extra * w)) / w).astype(np.int64) - 1
    k = k0[:, None] + np.arange(band + 1)[None, :]  # (cells, band + 1) edge indices
    edges = low - extra * w + w * k
    lo_u, hi_u = a[:-1, None], a[1:, None]
    F = tau / (shrink * w) * (_g((edges - centre - shrink * (lo_u - centre)) / tau)
                              - _g((edges - centre - shrink * (hi_u - centre)) / tau))  # fmt: skip
    mass = np.diff(F, axis=1)  # (cells, band): mass in extended cell k[:, j] .. k[:, j] + 1
    out_idx = k[:, :-1] - extra  # index relative to the inside grid; may be < 0 or ≥ cells
    rows = np.broadcast_to(np.arange(cells)[:, None], out_idx.shape)
    inside = (out_idx >= 0) & (out_idx < cells)
    if reflect:
        period = 2 * cells  # reflection at both faces is periodic with period 2 (high − low)
        j = np.mod(out_idx, period)
        folded = np.where(j < cells, j, period - 1 - j)
        K = sparse.coo_matrix((mass.ravel(), (rows.ravel(), folded.ravel())), shape=(cells, cells))
        outside = np.zeros(cells)
    else:
        K = sparse.coo_matrix((mass[inside], (rows[inside], out_idx[inside])), shape=(cells, cells))
        outside = np.where(inside, 0.0, mass).sum(axis=1)
    return K.tocsr(), outside


def _blurred_masses(q: np.ndarray, kernels) -> np.ndarray:
    """Apply each axis's transition to the cell-mass array q (axis d by kernels[d])."""
    p = q
    for d, K in enumerate(kernels):
        moved = np.moveaxis(p, d, 0)
        shape = moved.shape
        out = K.T @ moved.reshape(shape[0], -1)
        p = np.moveaxis(np.asarray(out).reshape(shape), 0, d)
    return p


def _tv_at(target, cells: int, centre, shrink: float, tau, reflect: bool) -> tuple[float, float]:
    support = np.asarray(target.support, dtype=np.float64)
    edges = [np.linspace(lo, hi, cells + 1) for lo, hi in support]
    q = np.asarray(target.cell_masses(edges), dtype=np.float64)
    kernels, stay = [], []
    for d, (lo, hi) in enumerate(support):
        K, out = axis_transition(lo, hi, cells, centre[d], shrink, tau[d], reflect)
        kernels.append(K)
        stay.append(1.0 - out)
    p = _blurred_masses(q, kernels)
    outside = 0.0
    if not reflect:  # the mass that left through some face: 1 − Σ q · Π_d (1 − out_d)
        kept = q
        for d, s in enumerate(stay):
            kept = np.moveaxis(np.moveaxis(kept, d, -1) * s, -1, d)
        outside = float(q.sum() - kept.sum())
    return 0.5 * float(np.abs(p - q).sum()) + 0.5 * outside, outside


def blur_tv(target, shrink: float, tau, centre=None, boundary: str = "reflect",
            cells: int | None = None) -> MetricResult:  # fmt: skip
    """TV(q, law of c + m(x_0 − c) + τ z, folded into the box when boundary == "reflect").

    ``shrink``: m(T̲); ``tau``: σ(T̲) in data units per axis (scalar or (D,)); ``centre``: the
    point the process shrinks towards (default: the box's centre, as the box standardisation
    gives). The target must have a bounded box support. ``value`` is the quadrature at
    ``cells`` per axis (default DEFAULT_CELLS[D], or fewer so that a cell is no narrower than
    τ/CELLS_PER_TAU); ``ci_low``/``ci_high`` ± the change from
    cells/2; ``flag`` "ok" when that change ≤ REL_TOL · value, else "unresolved".
    """
    if boundary not in ("reflect", "none"):
        raise ValueError(f"boundary={boundary!r} is not allowed: expected 'reflect' or 'none'")
    support = np.asarray(target.support, dtype=np.float64)
    if not np.isfinite(support).all():
        return MetricResult("blur_tv", math.nan, flag="failed",
                            method="exact early-stop blur needs a target on a bounded box")  # fmt: skip
    D = support.shape[0]
    tau = np.broadcast_to(np.asarray(tau, dtype=np.float64), (D,))
    if not (np.all(tau > 0) and 0 < shrink <= 1):
        raise ValueError(
            f"tau={tau.tolist()!r}, shrink={shrink!r} are not allowed: expected τ > 0, 0 < m ≤ 1"
        )
    centre = (
        support.mean(axis=1) if centre is None else np.broadcast_to(np.asarray(centre, float), (D,))
    )
    if cells is None:
        finest = min(
            CELLS_PER_TAU * (hi - lo) / t for (lo, hi), t in zip(support, tau, strict=True)
        )
        cells = min(DEFAULT_CELLS.get(D, 1 << 5), 1 << max(4, int(math.floor(math.log2(finest)))))
    cells = int(cells)
    reflect = boundary == "reflect"
    fine, outside = _tv_at(target, cells, centre, float(shrink), tau, reflect)
    coarse, _ = _tv_at(target, cells // 2, centre, float(shrink), tau, reflect)
    change = abs(fine - coarse)
    ok = change <= REL_TOL * fine
    return MetricResult(
        "blur_tv", fine, se=0.0, ci_low=fine - change, ci_high=fine + change,
        method=f"exact quadrature, {cells} cells per axis (change from {cells // 2}: {change:.2g})",
        flag="ok" if ok else "unresolved", m=cells**D,
        details={"coarse": coarse, "outside_mass": outside, "shrink": float(shrink), "tau": tau.tolist()},
    )  # fmt: skip
