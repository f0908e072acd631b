"""The headline figure: measured TV exponent with its 95% CI against s, one panel per D,
beside the minimax exponent s/(2s+D), in the estimators' fixed colours (:mod:`.style`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from minimax.reporting.figures.rate_plot import ordered
from minimax.reporting.figures.style import (
    COLUMN_WIDTH_IN,
    FIGURE_STYLE,
    TEXT_WIDTH_IN,
    estimator_style,
    legend_below,
    legend_height,
    save_figure,
)
from minimax.study.registry import tv_exponent


def exponent_figure(fits, arms: dict, roles: dict | None = None):
    """A Figure of the TV fits (``arms``: arm -> (D, s); trivial baselines, by ``roles``, are
    left out: their exponent is 0 by construction). Fits whose every usable row was flagged
    (rising, unresolved, below_rule) are drawn hollow at the exponent with those rows kept (TV
    lower bounds: indicative only). None when no exponent can be drawn."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    roles = roles or {}
    tv = [f for f in fits if f.metric == "tv" and roles.get(f.estimator) != "trivial"]
    tv = [f for f in tv if f.measured or math.isfinite(f.flagged_exponent)]
    dims = sorted({arms[f.arm][0] for f in tv})
    if not dims:
        return None
    tv = ordered(tv)
    ests = list(dict.fromkeys(f.estimator for f in tv))
    s_all = np.array([arms[f.arm][1] for f in tv], dtype=float)
    step = 0.05 * max(float(np.ptp(s_all)), 0.5) / max(len(ests) - 1, 1)
    if any(getattr(f, "per_seed", None) is not None for f in tv):
        step *= 2.5  # room for each seed's exponent beside the pooled one
    grid = np.linspace(max(0.05, s_all.min() - 0.25), s_all.max() + 0.25, 200)
    with matplotlib.rc_context(FIGURE_STYLE):
        width = COLUMN_WIDTH_IN if len(dims) == 1 else TEXT_WIDTH_IN
        fig = Figure(figsize=(width, 2.4), layout="constrained")
        axes = fig.subplots(1, len(dims), squeeze=False, sharey=True)[0]
        hollow = seeds_drawn = False
        for ax, D in zip(axes, dims, strict=True):
            ax.plot(grid, tv_exponent(grid, D), color="k", lw=1.0)
            ax.axhline(0, color="0.7", lw=0.5)
            for j, est in enumerate(ests):
                st = estimator_style(est)
                dx = (j - (len(ests) - 1) / 2) * step
                for f in (f for f in tv if f.estimator == est and arms[f.arm][0] == D):
                    x = arms[f.arm][1] + dx
                    if f.measured:
                        y, lo, hi, mfc = f.exponent, f.ci_low, f.ci_high, st.color
                    else:
                        y, lo, hi = f.flagged_exponent, f.flagged_ci_low, f.flagged_ci_high
                        mfc, hollow = "white", True
                    ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], fmt=st.marker, ms=3.5,
                                capsize=1.5, color=st.color, mfc=mfc, elinewidth=0.8)  # fmt: skip
                    per_seed = getattr(f, "per_seed", None)  # a fit pooled over target seeds
                    if per_seed is not None and len(per_seed):
                        a = per_seed["exponent"].astype(float).to_numpy()
                        a = a[np.isfinite(a)]
                        ax.scatter(np.full(len(a), x + 0.3 * step), a, s=3, color=st.color,
                                   alpha=0.6, linewidths=0, marker=st.marker)  # fmt: skip
                        seeds_drawn = True
            ax.set_title(f"D = {D}")
            ax.set_xlabel("smoothness s")
        axes[0].set_ylabel(r"TV exponent $a$ (error $\propto n^{-a}$), 95% CI")
        handles = [Line2D([], [], color="k", lw=1.0)]
        labels = ["minimax exponent s/(2s+D)"]
        for est in ests:
            st = estimator_style(est)
            handles.append(Line2D([], [], color=st.color, marker=st.marker, ms=3.5, ls=""))
            labels.append(st.label)
        if seeds_drawn:
            handles.append(Line2D([], [], color="0.25", marker="o", ms=1.8, ls="", alpha=0.6))
            labels.append("small: each target seed's own exponent")
        if hollow:
            handles.append(Line2D([], [], color="0.25", marker="o", ms=3.5, ls="", mfc="white"))
            labels.append("open: every usable row flagged; fit of the flagged rows (lower bounds)")
        ncol = 1 if len(dims) == 1 else min(len(labels), 4)  # row by row, four to a row
        legend_below(fig, handles, labels, ncol=ncol)
        fig.set_size_inches(width, 2.3 + legend_height(labels, ncol, 0.12))
    return fig


def plot_exponents(fits, arms: dict, stem: Path, roles: dict | None = None) -> list[Path]:
    """:func:`exponent_figure` written as ``stem.png|pdf``; no file when nothing is drawn."""
    fig = exponent_figure(fits, arms, roles)
    return [] if fig is None else save_figure(fig, stem)
