"""The diffusion model's error budget per n: every component the results table holds, in a
fixed style, on log axes. The loss gap is held-out − training loss (positive: memorisation);
its negative values are drawn at |gap| with open markers."""

from __future__ import annotations

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

#: the loss-gap column of a budget frame, defined once: held-out − training loss
LOSS_GAP = "loss gap (held-out − training)"
COMPONENT_STYLES = {
    "total TV": dict(color="k", marker="o", lw=1.2),
    "oracle-score sampler TV": dict(color="#009E73", marker="^"),
    "learned score (TV − sampler TV)": dict(color="#0072B2", marker="o", ls="-."),
    "TV floor": dict(color="0.5", marker="", ls="--"),
    "outside mass": dict(color="#D55E00", marker="s"),
    "outside before reflection": dict(color="#D55E00", marker="s", ls="--", mfc="white"),
    "score error": dict(color="#CC79A7", marker="D"),
    LOSS_GAP: dict(color="#882255", marker="v", ls=":"),
}
_EXTRA = ("#117733", "#999933", "#44AA99", "#661100")


def budget_figure(budget: pd.DataFrame, title: str, legend_rows: int = 0):
    """A Figure of one arm's budget frame (index n, one column per component); None when no
    column has a positive value. ``legend_rows``: room for at least this many legend rows."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.4), layout="constrained")
        ax = fig.subplots()
        handles, labels = [], []
        for i, col in enumerate(budget.columns):
            y = budget[col].astype(float)
            st = COMPONENT_STYLES.get(col, dict(color=_EXTRA[i % len(_EXTRA)], marker="x"))
            label = col
            if col == LOSS_GAP:
                neg = y[y < 0].abs()
                if len(neg):
                    ax.plot(neg.index, neg.values, ls="", ms=3, marker=st["marker"],
                            mfc="white", color=st["color"])  # fmt: skip
                    label = "|loss gap| (held-out − training; open: < 0)"
                y = y.abs().where(y > 0)
            y = y[np.isfinite(y) & (y > 0)]
            if y.empty:
                continue
            (line,) = ax.plot(y.index, y.values, ms=3, **st)
            handles.append(line)
            labels.append(label)
        if not handles:
            return None
        n_axis(ax, budget.index.to_numpy())
        ax.set_yscale("log")
        ax.set_ylabel("DDPM error budget (means)")
        ax.set_title(title)
        ncol = 1 if max(len(lab) for lab in labels) > 30 else 2
        rows = max(-(-len(labels) // ncol), legend_rows)
        legend_below(fig, handles, labels, ncol=ncol, rows=rows)
        fig.set_size_inches(COLUMN_WIDTH_IN, 2.3 + legend_height(range(rows), 1, 0.12))
    return fig


def plot_budget(budget: pd.DataFrame, title: str, stem: Path, legend_rows: int = 0) -> list[Path]:
    """:func:`budget_figure` written as ``stem.png|pdf``; no file when nothing is drawn."""
    fig = budget_figure(budget, title, legend_rows)
    return [] if fig is None else save_figure(fig, stem)
