"""Integrated score error of a score model against an oracle score (docs/theory.md §8, pitfall 6).

For each t of a grid, e(t) = E‖ŝ(x_t, t) − s*(x_t, t)‖² with x_t = m(t)·x_0 + σ(t)·z,
x_0 ~ q, z ~ N(0, I), i.e. ∫‖ŝ − ∇log q_t‖² q_t dx, by Monte Carlo. The callables take and
return numpy arrays (N, D), so this module knows nothing of torch or networks.
"""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics.result import MetricResult
from minimax.targets.base import Target
from minimax.validation import check_choice, check_int, check_rng

WEIGHTINGS = ("sigma2", "none")


def _call(name: str, fn, x: np.ndarray, t: float, batch: int) -> np.ndarray:
    out = []
    for b0 in range(0, x.shape[0], batch):
        xb = x[b0 : b0 + batch]
        v = np.asarray(fn(xb, t), dtype=np.float64)
        if v.shape != xb.shape:
            raise ValueError(f"{name} returned shape {v.shape} for x of shape {xb.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} returned NaN or inf at t={t:g}: expected finite scores")
        out.append(v)
    return np.concatenate(out)


def score_error(
    score_fn,
    oracle_fn,
    target: Target,
    process_marginal,
    t_grid,
    *,
    m: int,
    rng,
    weighting: str = "sigma2",
    batch: int = 65536,
) -> MetricResult:
    """Score error per t and integrated over ``t_grid``, by Monte Carlo with ``m`` points per t.

    ``score_fn(x, t)`` and ``oracle_fn(x, t)`` map x (N, D) and a float t to scores (N, D);
    ``process_marginal(t)`` returns (m(t), σ(t)) of x_t given x_0 (e.g. ``Process.marginal``).
    Promise: ``details["per_t"]`` lists for every t the estimate e(t) = mean ‖ŝ − s*‖² over m
    fresh points x_t (independent across t) and its se = sd/√m. ``value`` is

        weighting="sigma2":  (1/J) Σ_j σ(t_j)² e(t_j)   (the ε-prediction error, dimensionless;
                             on a log-spaced grid this is the mean over log t),
        weighting="none":    (1/J) Σ_j e(t_j),

    with ``se`` = √(Σ_j w_j² se_j²)/J from the independence across t. ``floor`` is NaN (an exact
    oracle gives exactly 0; a numerical oracle's own error is not known here).
    """
    if not isinstance(target, Target):
        raise ValueError(f"target={target!r} is not allowed: expected a minimax Target")
    for name, fn in (
        ("score_fn", score_fn),
        ("oracle_fn", oracle_fn),
        ("process_marginal", process_marginal),
    ):
        if not callable(fn):
            raise ValueError(f"{name}={fn!r} is not allowed: expected a callable")
    t = np.asarray(t_grid, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"t_grid={t_grid!r} is not allowed: expected a 1-D array of times > 0")
    m = check_int("m", m, low=2)
    rng = check_rng("rng", rng)
    weighting = check_choice("weighting", weighting, WEIGHTINGS)
    batch = check_int("batch", batch, low=1)
    D = int(target.dim)
    per_t = []
    for tj in t:
        mean_coef, std = (float(v) for v in process_marginal(float(tj)))
        if not (math.isfinite(mean_coef) and math.isfinite(std) and std > 0):
            raise ValueError(
                f"process_marginal({tj:g})={(mean_coef, std)!r} is not allowed: expected finite "
                "(m, sigma) with sigma > 0"
            )
        x0 = np.asarray(target.sample(m, rng), dtype=np.float64).reshape(m, D)
        xt = mean_coef * x0 + std * rng.standard_normal((m, D))
        diff = _call("score_fn", score_fn, xt, float(tj), batch) - _call(
            "oracle_fn", oracle_fn, xt, float(tj), batch
        )
        sq = np.einsum("nd,nd->n", diff, diff)
        per_t.append(
            {
                "t": float(tj),
                "mean_coef": mean_coef,
                "sigma": std,
                "error": float(sq.mean()),
                "se": float(sq.std(ddof=1) / math.sqrt(m)),
            }
        )
    w = np.array([r["sigma"] ** 2 if weighting == "sigma2" else 1.0 for r in per_t])
    e = np.array([r["error"] for r in per_t])
    s = np.array([r["se"] for r in per_t])
    J = len(per_t)
    return MetricResult(
        metric="score_error",
        value=float(w @ e / J),
        se=float(math.sqrt(np.sum((w * s) ** 2)) / J),
        method=f"mc-{weighting}",
        m=m,
        details={"per_t": per_t, "weighting": weighting},
    )


def time_integral(result: MetricResult) -> MetricResult:
    """The unweighted time integral ∫_{t_1}^{t_J} e(t) dt of a ``score_error`` result's per-t
    errors: the quantity Oko et al. bound by n^(-2s/(2s+D)) over [T̲, T̄] (docs/theory.md §10),
    not the σ²-weighted mean. Trapezoid rule in log t, ∫ e dt = ∫ e·t d(log t), on the result's
    own grid; se from the independence of the per-t estimates. A log-spaced grid puts points
    where e(t)·t changes fastest, near T̲."""
    per_t = result.details["per_t"]
    t = np.array([r["t"] for r in per_t])
    f = np.array([r["error"] for r in per_t]) * t
    s = np.array([r["se"] for r in per_t]) * t
    if t.size < 2:
        raise ValueError("a score error on fewer than 2 times is not allowed: expected a grid")
    d = np.diff(np.log(t))
    w = np.zeros_like(t)
    w[:-1] += d / 2
    w[1:] += d / 2
    return MetricResult(
        metric="score_integral",
        value=float(w @ f),
        se=float(math.sqrt(np.sum((w * s) ** 2))),
        method="trapezoid in log t",
        m=result.m,
        details={"t_min": float(t[0]), "t_max": float(t[-1]), "points": int(t.size)},
    )
