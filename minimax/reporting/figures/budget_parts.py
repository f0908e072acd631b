"""The diffusion model's error budget per n as parts that add up (docs/tv.md §9): the TV and
its early-stop blur, sampler (oracle − blur) and learned (TV − oracle) parts, each ± its 95%
CI, on a linear TV axis (a part may be below 0 within its CI) against log n."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.reporting.figures.style import (
    COLUMN_WIDTH_IN,
    FIGURE_STYLE,
    legend_below,
    legend_height,
    n_axis,
    save_figure,
)

#: (frame column, legend label, style) of each drawn part, in drawing order
PART_STYLES = (
    ("tv", "TV (total)", dict(color="k", marker="o", lw=1.2)),
    ("blur", "early-stop blur (exact)", dict(color="#E69F00", marker="s", ls="--")),
    ("sampler", "sampler: oracle − blur", dict(color="#009E73", marker="^", ls=":")),
    ("learned", "learned score: TV − oracle", dict(color="#0072B2", marker="D", ls="-.")),
    ("unsplit", "sampler + learned (not split)", dict(color="#56B4E9", marker="v", ls="-.")),
)
Z95 = 1.959963984540054


def budget_parts_figure(budget: pd.DataFrame, title: str, legend_rows: int = 0):
    """A Figure of one unit's budget frame (paper_budget.budget_frame: index n, a column and
    ``<col>_se`` per part); None without a part to draw."""
    import matplotlib
    from matplotlib.figure import Figure

    if budget is None or budget.empty:
        return None
    drawn = [p for p in PART_STYLES if p[0] in budget and budget[p[0]].notna().any()]
    if len(drawn) < 2:  # the TV alone is no budget
        return None
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.4), layout="constrained")
        ax = fig.subplots()
        handles, labels = [], []
        n = budget.index.to_numpy(float)
        for k, (key, label, st) in enumerate(drawn):
            y = budget[key].astype(float).to_numpy()
            se = budget.get(f"{key}_se", pd.Series(math.nan, index=budget.index)).astype(float)
            err = np.nan_to_num(Z95 * se.to_numpy(), nan=0.0)
            # a small offset in log n per part keeps overlapping error bars apart
            x = n * np.exp(0.03 * (k - (len(drawn) - 1) / 2))
            h = ax.errorbar(x, y, yerr=err, ms=3, capsize=1.5, elinewidth=0.7, **st)
            handles.append(h)
            labels.append(label)
        ax.axhline(0, color="0.6", lw=0.5)
        n_axis(ax, n)
        ax.set_ylabel("part of the TV (mean ± 95% CI)")
        ax.set_title(title)
        rows = max(-(-len(labels) // 2), legend_rows)
        legend_below(fig, handles, labels, ncol=2, rows=rows)
        fig.set_size_inches(COLUMN_WIDTH_IN, 2.3 + legend_height(range(rows), 1, 0.12))
    return fig


def plot_budget_parts(
    budget: pd.DataFrame, title: str, stem: Path, legend_rows: int = 0
) -> list[Path]:
    """:func:`budget_parts_figure` written as ``stem.png|pdf``; no file when nothing is drawn."""
    fig = budget_parts_figure(budget, title, legend_rows)
    return [] if fig is None else save_figure(fig, stem)
