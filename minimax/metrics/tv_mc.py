"""TV between an explicit density and the target by Monte Carlo under their mixture
(docs/tv.md §7): cost linear in the number of points whatever the dimension.

With m = (p̂ + q)/2 and f = |p̂ − q|/(p̂ + q) ∈ [0, 1] (0 where both vanish),

    TV(p̂, q) = ½∫|p̂ − q| = E_m f = ½ E_q f + ½ E_p̂ f,

so N/2 draws from each of q and p̂ give an unbiased estimate with the exact-variance se
√(¼ Var_q f/N_q + ¼ Var_p̂ f/N_p̂) ≤ ½·√(TV/N)·2 (f ≤ 1, so Var f ≤ E f). It needs p̂'s density at
points and a sampler of p̂ — any explicit-density estimator has both — and no grid.
"""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics.result import MetricResult
from minimax.targets.base import Target
from minimax.validation import check_int, check_points, check_real, check_rng


def _ratio(target: Target, pdf, x: np.ndarray) -> np.ndarray:
    q = np.asarray(target.pdf(x), dtype=np.float64).reshape(-1)
    p = np.asarray(pdf(x), dtype=np.float64).reshape(-1)
    if p.shape != q.shape or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pdf returned values that are not finite and >= 0, one per point")
    total = p + q
    return np.divide(np.abs(p - q), total, out=np.zeros_like(total), where=total > 0)


def tv_mc(target: Target, pdf, sample, *, points: int = 200_000, rng=None,
          alpha: float = 0.05) -> MetricResult:  # fmt: skip
    """Unbiased Monte Carlo TV(p̂, q) from ``points`` draws, half from q and half from p̂.

    ``pdf(x)`` is p̂'s density at points (N, D); ``sample(m, rng)`` draws m points from p̂.
    ``value`` is unbiased, ``se`` its standard error, ``ci_low``/``ci_high`` the normal-theory
    1 − α interval clipped to [0, 1]; ``flag`` is always ``"ok"``: the estimate has no bias, so
    its stated accuracy is its se. Raises ValueError for bad input."""
    if not isinstance(target, Target):
        raise ValueError(f"target={target!r} is not allowed: expected a minimax Target")
    points = check_int("points", points, low=100)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    rng = check_rng("rng", 0 if rng is None else rng)
    D = int(target.dim)
    half = points // 2
    fq = _ratio(target, pdf, check_points("target.sample", target.sample(half, rng), D))
    fp = _ratio(target, pdf, check_points("sample", sample(points - half, rng), D))
    value = 0.5 * (float(fq.mean()) + float(fp.mean()))
    se = 0.5 * math.sqrt(float(fq.var(ddof=1)) / fq.size + float(fp.var(ddof=1)) / fp.size)
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    return MetricResult(
        metric="tv",
        value=value,
        se=se,
        ci_low=max(0.0, value - z * se),
        ci_high=min(1.0, value + z * se),
        method="monte-carlo-mixture",
        flag="ok",
        m=points,
        details={"points_from_q": fq.size, "points_from_estimate": fp.size},
    )
