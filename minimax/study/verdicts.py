"""Verdicts on a fitted exponent: equivalence to theory by two one-sided tests, or a difference.

With a margin δ fixed before the run (``--margin``, stored in study.json), the exponent a is
tested against the theory θ = s/(2s+D) by Schuirmann's (1987) two one-sided tests (TOST):
H0⁻: a ≤ θ − δ and H0⁺: a ≥ θ + δ, each one-sided at α = 0.05, which is the same as asking
that the 90% CI lie inside (θ − δ, θ + δ). The verdicts, in order:

- ``equivalent to theory within ±δ``: both one-sided tests reject;
- ``steeper`` / ``flatter``: the two-sided test of a = θ rejects at 5% (the 95% CI excludes θ)
  and equivalence was not shown;
- ``not resolved by this design: CI half-width w > δ``: neither; w is the half-width of the 90%
  CI, and with w ≥ δ no estimate could have shown equivalence. When w < δ the text says that
  the CI crosses the margin instead.

The type I error of "equivalent" is at most α at the margin (a = θ ± δ) when the t statistic
is calibrated; docs/verdicts.md has the simulated rates. All functions are vectorised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
EQUIVALENT = "equivalent to theory within ±{margin:g}"
NOT_RESOLVED = "not resolved by this design: CI half-width {w:.3f} > δ = {margin:g}"
CROSSES = (
    "not resolved by this design: CI half-width {w:.3f} ≤ δ = {margin:g}, but it crosses the margin"
)

#: the verdict kinds, for counting (paper macros)
KINDS = ("Equivalent", "Steeper", "Flatter", "Unresolved", "Unmeasured")


@dataclass
class Tost:
    """Two one-sided tests of |a − θ| ≥ δ: the 90% CI, its half-width, the p-values."""

    margin: float
    half_width: float
    low: float
    high: float
    p_lower: float
    p_upper: float
    p_value: float
    p_two_sided: float
    equivalent: bool


def tost_arrays(exponent, se, df, theory, margin, alpha: float = ALPHA):
    """Vectorised TOST: (half-width, low, high, p_tost, p_two_sided, equivalent) arrays.

    se = 0 (an exact fit) is allowed: the CI is the point, equivalence holds iff |a − θ| < δ."""
    a, se, df = (np.asarray(v, dtype=np.float64) for v in (exponent, se, df))
    q = stats.t.ppf(1 - alpha, df)
    w = q * se
    with np.errstate(divide="ignore", invalid="ignore"):
        t_lo = (a - (theory - margin)) / se
        t_hi = (a - (theory + margin)) / se
        t0 = (a - theory) / se
    p_lo = np.where(se > 0, stats.t.sf(t_lo, df), np.where(a > theory - margin, 0.0, 1.0))
    p_hi = np.where(se > 0, stats.t.cdf(t_hi, df), np.where(a < theory + margin, 0.0, 1.0))
    p_tost = np.maximum(p_lo, p_hi)
    p_two = np.where(se > 0, 2 * stats.t.sf(np.abs(t0), df), np.where(a == theory, 1.0, 0.0))
    finite = np.isfinite(a) & np.isfinite(se)
    equivalent = finite & (p_tost < alpha)
    return w, a - w, a + w, p_tost, p_two, equivalent, p_lo, p_hi


def tost(exponent: float, se: float, df: float, theory: float, margin: float) -> Tost:
    """The TOST of one fit (see the module doc)."""
    w, lo, hi, p, p2, eq, p_lo, p_hi = tost_arrays(exponent, se, df, theory, margin)
    return Tost(
        margin=float(margin),
        half_width=float(w),
        low=float(lo),
        high=float(hi),
        p_lower=float(p_lo),
        p_upper=float(p_hi),
        p_value=float(p),
        p_two_sided=float(p2),
        equivalent=bool(eq),
    )


def verdict_codes(exponent, se, df, theory, margin, alpha: float = ALPHA) -> np.ndarray:
    """Vectorised verdict: 0 equivalent, 1 steeper, 2 flatter, 3 not resolved, -1 no fit."""
    w, _, _, _, p2, eq, _, _ = tost_arrays(exponent, se, df, theory, margin, alpha)
    a = np.asarray(exponent, dtype=np.float64)
    code = np.full(a.shape, 3)
    differs = ~eq & (p2 < alpha)
    code[differs & (a > theory)] = 1
    code[differs & (a < theory)] = 2
    code[eq] = 0
    code[~(np.isfinite(a) & np.isfinite(w))] = -1
    return code


def verdict_text(t: Tost, exponent: float, theory: float) -> str:
    """The verdict of one fit as printed (see the module doc)."""
    if t.equivalent:
        return EQUIVALENT.format(margin=t.margin)
    if t.p_two_sided < ALPHA:
        return "steeper" if exponent > theory else "flatter"
    fmt = NOT_RESOLVED if t.half_width >= t.margin else CROSSES
    return fmt.format(w=t.half_width, margin=t.margin)


def verdict_kind(verdict: str) -> str:
    """One of KINDS for a verdict string."""
    if verdict.startswith("equivalent"):
        return "Equivalent"
    if verdict == "steeper":
        return "Steeper"
    if verdict == "flatter":
        return "Flatter"
    if verdict.startswith("not resolved"):
        return "Unresolved"
    return "Unmeasured"


def check_margin(margin) -> float:
    """δ must be a number in (0, 1): the exponents s/(2s+D) all lie in (0, 1/2)."""
    from minimax.validation import check_real

    return check_real("margin", margin, low=0, high=1, low_open=True, high_open=True)


# -- misspecification: a trend in the local slopes ------------------------------------------
@dataclass
class Curvature:
    """The quadratic term b of log E e = c − a log n + b (log n − mean)², its CRV3 test, and
    the local exponent the quadratic implies at the smallest and the largest n."""

    b: float = math.nan
    se: float = math.nan
    p_value: float = math.nan
    slope_low: float = math.nan
    slope_high: float = math.nan

    @property
    def flagged(self) -> bool:
        return math.isfinite(self.p_value) and self.p_value < ALPHA


def curvature_arrays(y, n, groups):
    """Vectorised curvature check over studies y (S, N): (b, se, p, slope_low, slope_high).

    Needs 4 sizes of n or more (3 parameters and a jackknife); NaN otherwise."""
    from minimax.study.glm import design, fit_loglink

    y = np.atleast_2d(y)
    X = design(n, quadratic=True)
    G = len(np.unique(groups))
    S = len(y)
    if G < 4:
        nan = np.full(S, np.nan)
        return nan, nan, nan, nan, nan
    fit = fit_loglink(y, X, groups)
    b, se = fit.beta[:, 2], np.sqrt(fit.cov[:, 2, 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.t.sf(np.abs(b / se), G - 1)
    x = np.log(np.asarray(n, dtype=np.float64))
    xm = x.mean()
    slope = [-(fit.beta[:, 1] + 2 * fit.beta[:, 2] * (xe - xm)) for xe in (x.min(), x.max())]
    return b, se, p, slope[0], slope[1]


def curvature(y, n, groups) -> Curvature:
    b, se, p, lo, hi = (float(v[0]) for v in curvature_arrays(y, n, groups))
    return Curvature(b=b, se=se, p_value=p, slope_low=lo, slope_high=hi)
