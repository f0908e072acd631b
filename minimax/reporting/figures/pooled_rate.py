"""Error against n for a group of target seeds: every seed's rows, the means over seeds, and
the pooled fit (docs/verdicts.md §6), per estimator in its fixed colour (:mod:`.style`).

Small markers are the rows of every seed (hollow: left out of that seed's own fit, the
reason in the legend), large ones the mean over seeds per n ± its se; the line is the pooled
exponent drawn through the centre of the mixed model's (seed, n) cells (mean log n, mean log e),
the band its 95% CI as a fan about that centre; the theory's slope is dotted through the same
centre and the TV estimate's noise floor dashed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.reporting.figures.rate_plot import (
    KEY_COLOR,
    _hollow_key,
    _signed,
    finish_rate_axes,
    ordered,
)
from minimax.reporting.figures.style import (
    COLUMN_WIDTH_IN,
    FIGURE_STYLE,
    estimator_style,
    exclusion_label,
    save_figure,
)


def pooled_label(fit) -> str:
    """ "DDPM: 0.31 [0.25, 0.37], J = 5" (or why there is no pooled exponent)."""
    name = estimator_style(fit.estimator).label
    if math.isfinite(fit.exponent):
        return (f"{name}: {_signed(fit.exponent)} [{_signed(fit.ci_low)}, "
                f"{_signed(fit.ci_high)}], J = {fit.J}")  # fmt: skip
    return f"{name}: not pooled ({fit.verdict.replace('not measurable: ', '')})"


def pooled_rate_figure(fits, seed_fits: dict, df: pd.DataFrame, metric: str, title: str,
                       legend_rows: int = 0):  # fmt: skip
    """A Figure of one group: ``fits`` the pooled fits (one per estimator, with ``per_seed``,
    ``exponent``, CI and ``J``); ``seed_fits`` (estimator, seed) -> that seed's RateFit (its
    exclusions); ``df`` the group's rows of ``metric``. None when no row has a positive value."""
    ok = df[(df["status"] == "ok") & (df["metric"] == metric) & (df["value"] > 0)]
    if ok.empty:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    keys: dict = {}
    fits = ordered(fits)
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.4), layout="constrained")
        ax = fig.subplots()
        for fit in fits:
            _draw_group(ax, fit, seed_fits, ok[ok["estimator"] == fit.estimator], keys)
        finish_rate_axes(fig, ax, fits, keys, metric, title, ok["n"], pooled_label, legend_rows)
    return fig


def _draw_group(ax, fit, seed_fits: dict, rows: pd.DataFrame, keys: dict) -> None:
    from matplotlib.lines import Line2D

    st = estimator_style(fit.estimator)
    c = st.color
    left = set()
    for seed in rows["target_seed"].unique():
        sf = seed_fits.get((fit.estimator, seed))
        if sf is None:
            continue
        if not sf.measured:
            left |= {
                (int(seed), int(n), int(r))
                for n, r in zip(rows["n"], rows["replicate"], strict=True)
            }
            _hollow_key(keys, f"seed not measured ({sf.verdict.replace('not measurable: ', '')})")
            continue
        for r in sf.excluded.itertuples() if len(sf.excluded) else ():
            left.add((int(seed), int(r.n), int(r.replicate)))
            _hollow_key(keys, exclusion_label(str(r.reason)))
    is_left = np.array([(int(s), int(n), int(r)) in left for s, n, r
                        in zip(rows["target_seed"], rows["n"], rows["replicate"], strict=True)],
                       dtype=bool)  # fmt: skip
    kept, out = rows[~is_left], rows[is_left]
    ax.scatter(kept["n"], kept["value"], s=4, color=c, alpha=0.4, linewidths=0, marker=st.marker)
    if len(out):
        ax.scatter(out["n"], out["value"], s=10, facecolors="none", edgecolors=c, alpha=0.8,
                   linewidths=0.5, marker=st.marker)  # fmt: skip
    per_seed = kept.groupby(["n", "target_seed"])["value"].mean()
    means = per_seed.groupby("n").agg(["mean", "std", "count"])
    se = (means["std"] / np.sqrt(means["count"])).fillna(0).to_numpy(float)
    ax.errorbar(means.index, means["mean"], yerr=se, fmt=st.marker, ms=3.5, color=c,
                capsize=1.5, elinewidth=0.7)  # fmt: skip
    trivial = rows["role"].eq("trivial").all() if len(rows) and "role" in rows else False
    cells = (
        kept.assign(y=np.log(kept["value"].astype(float))).groupby(["target_seed", "n"])["y"].mean()
    )
    if math.isfinite(fit.exponent) and len(cells):
        x = np.log(cells.index.get_level_values("n").to_numpy(float))
        x0, y0 = float(x.mean()), float(cells.mean())
        grid = np.geomspace(float(kept["n"].min()), float(kept["n"].max()), 50)
        dx = np.log(grid) - x0
        ax.plot(grid, np.exp(y0 - fit.exponent * dx), color=c, lw=0.9)
        if math.isfinite(fit.ci_low) and math.isfinite(fit.ci_high):
            a = np.exp(y0 - fit.ci_low * dx)
            b = np.exp(y0 - fit.ci_high * dx)
            ax.fill_between(grid, np.minimum(a, b), np.maximum(a, b), color=c, alpha=0.15, lw=0)
        keys.setdefault("fit", (Line2D([], [], color=KEY_COLOR, lw=0.9),
                                "pooled fit, 95% CI as a fan about the centre"))  # fmt: skip
        if not trivial and math.isfinite(fit.theory):
            ax.plot(grid, np.exp(y0 - fit.theory * dx), color=c, ls=":", lw=1.0)
            keys.setdefault("theory", (Line2D([], [], color=KEY_COLOR, ls=":", lw=1.0), "theory"))
    if "floor" in rows:
        floor = rows.groupby("n")["floor"].mean()
        floor = floor[np.isfinite(floor) & (floor > 0)]
        if len(floor):
            ax.plot(floor.index, floor.values, color=c, ls="--", lw=0.6, alpha=0.8)
            keys.setdefault("floor", (Line2D([], [], color=KEY_COLOR, ls="--", lw=0.6),
                                      "noise floor of the TV estimate"))  # fmt: skip


def plot_pooled_rates(fits, seed_fits: dict, df: pd.DataFrame, metric: str, title: str,
                      stem: Path, legend_rows: int = 0) -> list[Path]:  # fmt: skip
    """:func:`pooled_rate_figure` written as ``stem.png|pdf``; no file when nothing is drawn."""
    fig = pooled_rate_figure(fits, seed_fits, df, metric, title, legend_rows)
    return [] if fig is None else save_figure(fig, stem)
