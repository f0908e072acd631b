"""How large a study must be for its exponent's CI to reach a target half-width.

From a fitted (pilot) study, the relative residuals r = (e − μ̂)/μ̂ of the log-link fit split
into a within-n part (replicate scatter, variance σ_w², pooled over sizes) and a between-n part
(each size's shared deviation from the line, variance σ_b² = var of the per-n mean residuals
− σ_w²/k, floored at 0). The slope's variance of a design with G sizes of n, k replicates each,
is then ∝ (σ_b² + σ_w²/k) / S_xx with S_xx = Σ_n (log n − mean)². A new design's CI half-width
is the pilot's CRV3 half-width scaled by the square root of that ratio and by the ratio of
t quantiles (t with G − 1 df): the pilot's own CI anchors the projection, the variance split
only says how it moves. docs/verdicts.md derives it.

Two ways to narrow the CI are sized: more replicates at the same sizes of n, and more sizes of
n at the same log spacing (a wider range) with the same replicates. Between-n scatter does not
average out with replicates, so the first can be impossible; the text then says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MAX_REPLICATES = 1000
MAX_SIZES = 200


@dataclass
class VarianceSplit:
    """σ_w² (within n), σ_b² (between n, beyond the line), the pilot's G, k, spacing h of log n,
    S_xx, and its CRV3 se and t level."""

    within: float
    between: float
    sizes: int
    replicates: float
    spacing: float
    sxx: float
    se: float
    level_q: float = 0.90


@dataclass
class Need:
    """What a design needs for a CI half-width ``width`` (``None``: not reachable that way)."""

    width: float
    half_width: float
    replicates: int | None
    sizes: int | None
    decades: float | None
    n_max: int | None
    reason: str = ""

    def text(self) -> str:
        """One line: the half-width reached and what reaching ``width`` would take."""
        if not math.isfinite(self.half_width):
            return f"no plan: {self.reason}"
        head = f"CI half-width {self.half_width:.3f} (90%, the TOST's)"
        if self.half_width <= self.width:
            return f"{head} ≤ {self.width:g}: this design reaches it"
        opts = []
        if self.replicates is not None:
            opts.append(f"{self.replicates} replicates at these sizes of n")
        else:
            opts.append(f"no number of replicates at these n ({self.reason})")
        if self.sizes is not None:
            opts.append(
                f"{self.sizes} sizes at this spacing (n up to {self.n_max}, "
                f"{self.decades:.1f} decades) with these replicates"
            )
        else:
            opts.append(f"more than {MAX_SIZES} sizes of n")
        return f"{head}; to reach {self.width:g}: " + " or ".join(opts)


def variance_split(y, n, mu, se: float) -> VarianceSplit:
    """Split the relative residuals of one fit (rows y at sizes n, fitted means mu)."""
    y, n, mu = (np.asarray(v, dtype=np.float64) for v in (y, n, mu))
    r = (y - mu) / mu
    sizes = np.unique(n)
    means = np.array([r[n == m].mean() for m in sizes])
    ks = np.array([(n == m).sum() for m in sizes])
    dev = [((r[n == m] - r[n == m].mean()) ** 2).sum() for m in sizes]
    dof = (ks - 1).sum()
    within = float(np.sum(dev) / dof) if dof > 0 else 0.0
    G = len(sizes)
    k = float(np.mean(ks))
    between = float(max(np.sum(means**2) / max(G - 2, 1) - within / k, 0.0))
    x = np.log(sizes)
    h = float(np.mean(np.diff(x))) if G > 1 else math.nan
    return VarianceSplit(
        within=within,
        between=between,
        sizes=G,
        replicates=k,
        spacing=h,
        sxx=float(((x - x.mean()) ** 2).sum()),
        se=float(se),
    )


def half_width(split: VarianceSplit, replicates: float, sizes: int, alpha: float = 0.05) -> float:
    """The projected 90% half-width of a design with ``sizes`` sizes at the pilot's spacing
    (starting at the pilot's smallest n) and ``replicates`` per size."""
    if sizes < 3:
        return math.inf
    v0 = split.between + split.within / split.replicates
    v1 = split.between + split.within / replicates
    sxx = split.spacing**2 * sizes * (sizes**2 - 1) / 12  # equally spaced log n
    sxx0 = split.sxx
    ratio = (v1 / v0) * (sxx0 / sxx) if v0 > 0 else 0.0
    q1 = stats.t.ppf(1 - alpha, sizes - 1)
    return float(q1 * split.se * math.sqrt(ratio))


def plan(split: VarianceSplit, width: float, n_min: int) -> Need:
    """The replicates (same sizes) and the sizes (same replicates, same spacing) for ``width``."""
    q0 = stats.t.ppf(0.95, split.sizes - 1)
    w0 = float(q0 * split.se)
    need = Need(width, w0, None, None, None, None)
    if not math.isfinite(w0):
        need.reason = "the fit has no standard error"
        return need
    if w0 <= width:
        need.replicates, need.sizes = math.ceil(split.replicates), split.sizes
        return need
    G0 = split.sizes
    # the pilot's own G, at more replicates; the projected width at G0 uses its S_xx exactly
    for k in range(math.ceil(split.replicates), MAX_REPLICATES + 1):
        v0 = split.between + split.within / split.replicates
        v1 = split.between + split.within / k
        if q0 * split.se * math.sqrt(v1 / v0) <= width:
            need.replicates = k
            break
    else:
        floor_w = (
            q0
            * split.se
            * math.sqrt(split.between / (split.between + split.within / split.replicates))
        )
        need.reason = f"the scatter between sizes of n alone gives {floor_w:.3f}"
    for G in range(G0 + 1, MAX_SIZES + 1):
        if half_width(split, split.replicates, G) <= width:
            need.sizes = G
            need.decades = (G - 1) * split.spacing / math.log(10)
            need.n_max = int(round(n_min * math.exp((G - 1) * split.spacing)))
            break
    return need


def fit_split(fit) -> VarianceSplit | None:
    """The variance split of a measured RateFit (its fitted rows and its CRV3 se)."""
    if not fit.measured or fit.used.empty:
        return None
    n = fit.used["n"].to_numpy(float)
    mu = np.exp(fit.intercept - fit.exponent * np.log(n))
    return variance_split(fit.used["value"], n, mu, fit.se)


def plan_lines(fits, width: float | None = None) -> list[str]:
    """One line per fit: its CI half-width and the design that would reach ``width`` (default:
    the fit's own margin δ), from the fit's residual variance (see the module doc)."""
    lines = []
    for f in fits:
        head = f"{f.arm} · {f.metric} · {f.estimator}"
        target = f.margin if width is None else width
        split = fit_split(f)
        if split is None:
            lines.append(f"{head}: no plan: {f.verdict}")
            continue
        need = plan(split, target, f.n_min)
        lines.append(
            f"{head}: exponent {f.exponent:.3f} over n {f.n_min}..{f.n_max} ({f.n_points} sizes, "
            f"{split.replicates:.3g} replicates per n on average); {need.text()}"
        )
    return lines
