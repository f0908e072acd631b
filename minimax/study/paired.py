"""Paired slope differences: two estimators trained on the same data sets.

Every estimator of an arm sees the same training set at a given (n, replicate) (its seed
excludes the estimator: ``Cell.data_seed``). Their errors are then correlated, and a difference
of two exponents judged by two separate CIs wastes that: the paired fit uses it.

Method (docs/verdicts.md §2): keep the (n, replicate) rows that both estimators' own rate fits
used (an n enters only when it is fitted for both), fit each by the log-link fit of
:mod:`minimax.study.glm` on exactly those rows, and take the jackknife over n jointly: leaving
one n out of both fits gives replicates of a_A − a_B, and their CRV3 variance
(G−1)/G Σ_g (d_(g) − d̂)² carries the covariance of the two fits within an n, whatever its
source (shared data, shared n-level bias). t with G − 1 degrees of freedom. With positive
values and small noise this is the CRV3 fit of the per-(n, replicate) difference of log errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from minimax.study import glm


@dataclass
class PairedFit:
    """a_A − a_B over the same training sets, its CRV3 CI, and the unpaired CI for contrast."""

    first: str
    second: str
    metric: str
    arm: str
    difference: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    df: float = math.nan
    p_value: float = math.nan
    pairs: int = 0
    sizes: int = 0
    unpaired_se: float = math.nan
    level: float = 0.95
    reason: str = ""

    @property
    def measured(self) -> bool:
        return math.isfinite(self.difference)

    @property
    def verdict(self) -> str:
        if not self.measured:
            return f"not measurable: {self.reason}"
        if self.p_value < 1 - self.level:
            return (
                f"{self.first} {'steeper' if self.difference > 0 else 'flatter'} than {self.second}"
            )
        return "no difference shown"

    def text(self) -> str:
        name = f"{self.first} − {self.second}"
        if not self.measured:
            return f"{name}: {self.verdict}"
        pct = round(100 * self.level)
        q = stats.t.ppf(0.5 + self.level / 2, self.df)
        unpaired = (
            f"; unpaired ±{q * self.unpaired_se:.3f}" if math.isfinite(self.unpaired_se) else ""
        )
        return (
            f"{name}: {self.difference:+.3f} [{self.ci_low:+.3f}, {self.ci_high:+.3f}] "
            f"({pct}% CI, {self.sizes} sizes, {self.pairs} pairs, t with {self.df:g} df), "
            f"p = {self.p_value:.3g}: {self.verdict}{unpaired}"
        )

    def row(self) -> dict:
        return {
            "arm": self.arm, "metric": self.metric, "first": self.first,
            "second": self.second, "difference": self.difference, "se": self.se,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "df": self.df,
            "p_value": self.p_value, "pairs": self.pairs, "sizes": self.sizes,
            "unpaired_se": self.unpaired_se, "verdict": self.verdict,
        }  # fmt: skip


def paired_arrays(ya, yb, n):
    """Vectorised paired fit over studies: ya, yb (S, N) matched rows at sizes n (N,).

    Returns (difference, se, df) arrays; NaN where either fit did not converge."""
    n = np.asarray(n, dtype=np.float64)
    X = glm.design(n)
    fa, fb = glm.fit_loglink(ya, X, n), glm.fit_loglink(yb, X, n)
    d = -(fa.beta[:, 1] - fb.beta[:, 1])
    dj = -(fa.jack[:, :, 1] - fb.jack[:, :, 1])
    G = fa.clusters
    var = (G - 1) / G * ((dj - d[:, None]) ** 2).sum(axis=1)
    ok = fa.converged & fb.converged
    return np.where(ok, d, np.nan), np.where(ok, np.sqrt(var), np.nan), G - 1


def fit_paired(first, second, level: float = 0.95) -> PairedFit:
    """The paired difference of two RateFits of one arm and metric (their ``used`` rows)."""
    out = PairedFit(first.estimator, second.estimator, first.metric, first.arm, level=level)
    if not (first.measured and second.measured):
        out.reason = "an exponent is not measured"
        return out
    keys = ["n", "replicate"]
    both = first.used.merge(second.used, on=keys, suffixes=("_a", "_b"))
    counts = both.groupby("n").size()
    if len(counts) < 3:
        out.reason = f"{len(counts)} sizes of n fitted for both"
        return out
    both = both.sort_values(keys)
    d, se, df = paired_arrays(
        both["value_a"].to_numpy(float)[None], both["value_b"].to_numpy(float)[None], both["n"]
    )
    if not np.isfinite(d[0]):
        out.reason = "the fit did not converge"
        return out
    out.difference, out.se, out.df = float(d[0]), float(se[0]), float(df)
    q = stats.t.ppf(0.5 + level / 2, out.df)
    out.ci_low, out.ci_high = out.difference - q * out.se, out.difference + q * out.se
    if out.se > 0:
        out.p_value = float(2 * stats.t.sf(abs(out.difference) / out.se, out.df))
    else:
        out.p_value = 1.0 if out.difference == 0 else 0.0
    out.pairs, out.sizes = len(both), len(counts)
    out.unpaired_se = math.hypot(first.se, second.se)
    return out


def paired_fits(fits, df: pd.DataFrame | None = None) -> list[PairedFit]:
    """Every pair (A, B), A before B in ``fits``' order, of one arm and metric, leaving out the
    trivial baselines (``role == "trivial"`` in ``df``: their slope is 0 by construction)."""
    trivial = set()
    if df is not None and "role" in df:
        trivial = set(df.loc[df["role"] == "trivial", "estimator"])
    kept = [f for f in fits if f.estimator not in trivial]
    out = []
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if (a.arm, a.metric) == (b.arm, b.metric):
                out.append(fit_paired(a, b))
    return out
