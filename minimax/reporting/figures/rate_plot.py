"""Error against n per estimator, log-log: the rate plot of ``report`` and ``paper``.

Replicates are small dots, means ± se larger markers, the fit a line with its 95% band, the
theory's slope a dotted line through the fitted points and the TV estimate's noise floor a
dashed line, all in the estimator's own colour (:mod:`.style`). What the fit left out is
hollow, and the legend, below the axes, says why.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.reporting.figures.style import (
    COLUMN_WIDTH_IN,
    FIGURE_STYLE,
    METRIC_LABELS,
    THEORY_LABELS,
    estimator_style,
    exclusion_label,
    frame_title,
    legend_below,
    legend_height,
    n_axis,
    save_figure,
)

#: the order in which estimators are drawn and listed
ORDER = ("ddpm", "kde", "empirical-score", "oracle-score", "ddpm-fixed-tmin", "gan", "vae",
         "wavelet", "kde-oracle", "uniform", "gaussian")  # fmt: skip
KEY_COLOR = "0.25"


def ordered(fits):
    """Fits in the drawing order (known estimators first, then by name)."""
    rank = {e: i for i, e in enumerate(ORDER)}
    return sorted(fits, key=lambda f: (rank.get(f.estimator, len(ORDER)), f.estimator))


def _signed(v: float, d: int = 2) -> str:
    """A number with a true minus sign and no negative zero ("−0.00" reads as a sign)."""
    text = f"{v:.{d}f}"
    return text[1:] if text == f"-{0:.{d}f}" else text.replace("-", "−")


def fit_label(fit) -> str:
    """The legend entry of one estimator: its name and exponent [95% CI], or why there is none."""
    name = estimator_style(fit.estimator).label
    if fit.measured:
        return f"{name}: {_signed(fit.exponent)} [{_signed(fit.ci_low)}, {_signed(fit.ci_high)}]"
    if math.isfinite(fit.flagged_exponent):
        return f"{name}: not fitted (flagged rows ≈ {_signed(fit.flagged_exponent)})"
    return f"{name}: {fit.verdict.replace('not measurable: ', 'not fitted: ')}"


def _point_reasons(fit) -> dict[int, str]:
    """n -> the reason its mean is hollow (only for n the fit did not use)."""
    out = {}
    ex = fit.excluded
    for r in fit.points.itertuples():
        if r.used and fit.measured:
            continue
        rows = ex[ex["n"] == r.n]["reason"] if len(ex) else pd.Series(dtype=object)
        if len(rows):
            out[int(r.n)] = exclusion_label(str(rows.value_counts().idxmax()))
        else:
            out[int(r.n)] = "not fitted: fewer than 3 usable sizes of n"
    return out


def rate_figure(fits, df: pd.DataFrame, metric: str, title: str | None = None,
                legend_rows: int = 0):  # fmt: skip
    """Error vs n (log-log) per estimator as a ``matplotlib.figure.Figure`` (no pyplot, no
    file); None when no cell has a positive value. ``title`` defaults to the human title of
    the table's target; a raw arm identifier given as the title is replaced by it too.
    ``legend_rows``: room for at least this many legend rows (figures of one grid then share
    their height and axes size)."""
    ok = df[(df["status"] == "ok") & (df["value"] > 0)]
    if ok.empty:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    if title is None or ("arm" in df.columns and title in set(df["arm"])):
        title = frame_title(df, title or "")
    fits = ordered(fits)
    keys: dict = {}
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.4), layout="constrained")
        ax = fig.subplots()
        for fit in fits:
            _draw_fit(ax, fit, df, keys)
        finish_rate_axes(fig, ax, fits, keys, metric, title, df["n"], fit_label, legend_rows)
    return fig


def finish_rate_axes(fig, ax, fits, keys: dict, metric: str, title, sizes, label_of,
                     legend_rows: int = 0) -> None:  # fmt: skip
    """The axes, title and legend every rate figure shares: log n and log error axes, one
    legend entry per fit (``label_of(fit)``), then the line keys (fit, theory, floor, ...)."""
    from matplotlib.lines import Line2D

    n_axis(ax, np.unique(np.asarray(sizes)))
    ax.set_yscale("log")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title(title)
    handles, labels = [], []
    for fit in fits:
        st = estimator_style(fit.estimator)
        handles.append(Line2D([], [], color=st.color, marker=st.marker, ms=3.5))
        labels.append(label_of(fit))
    theory = next((f.theory for f in fits if math.isfinite(f.theory)), math.nan)
    for key in sorted(keys, key=_key_rank):
        handle, label = keys[key]
        if key == "theory" and math.isfinite(theory):
            label = f"theory slope {THEORY_LABELS.get(metric, 'a')} = {theory:.3f}"
        handles.append(handle)
        labels.append(label)
    rows = max(len(labels), legend_rows)
    legend_below(fig, handles, labels, ncol=1, rows=rows)
    fig.set_size_inches(COLUMN_WIDTH_IN, 2.3 + legend_height(range(rows), 1, 0.118))


def _key_rank(key: str) -> tuple:
    order = ("fit", "theory", "floor")
    return (order.index(key), "") if key in order else (len(order), key)


def _draw_fit(ax, fit, df: pd.DataFrame, keys: dict) -> None:
    from matplotlib.lines import Line2D

    st = estimator_style(fit.estimator)
    c = st.color
    rows = df[(df["estimator"] == fit.estimator) & (df["status"] == "ok") & (df["value"] > 0)]
    left = set()
    if len(fit.excluded):
        left = {(int(r.n), int(r.replicate)) for r in fit.excluded.itertuples()}
    is_left = np.array([(int(n), int(r)) in left for n, r in zip(rows["n"], rows["replicate"], strict=True)],
                       dtype=bool)  # fmt: skip
    if not fit.measured:
        is_left[:] = True
    kept = rows[~is_left]
    ax.scatter(kept["n"], kept["value"], s=4, color=c, alpha=0.35, linewidths=0, marker=st.marker)
    out = rows[is_left]
    if len(fit.excluded):  # every reason a drawn row was left out goes into the key
        drawn = {(int(n), int(r)) for n, r in zip(out["n"], out["replicate"], strict=True)}
        for r in fit.excluded.itertuples():
            if (int(r.n), int(r.replicate)) in drawn:
                _hollow_key(keys, exclusion_label(str(r.reason)))
    if len(out):
        ax.scatter(out["n"], out["value"], s=10, facecolors="none", edgecolors=c, alpha=0.8,
                   linewidths=0.5, marker=st.marker)  # fmt: skip
    pts = fit.points
    reasons = _point_reasons(fit)
    used = pts[pts["used"] & np.isfinite(pts["mean_fit"]) & (pts["mean_fit"] > 0)]
    used = used[~used["n"].isin(list(reasons))]
    if len(used):
        ax.errorbar(used["n"], used["mean_fit"], yerr=np.nan_to_num(used["se_fit"].to_numpy(float)),
                    fmt=st.marker, ms=3.5, color=c, capsize=1.5, elinewidth=0.7)  # fmt: skip
    for n, reason in reasons.items():
        p = pts[pts["n"] == n].iloc[0]
        if not (math.isfinite(p["mean"]) and p["mean"] > 0):
            continue
        ax.errorbar([n], [p["mean"]], yerr=[np.nan_to_num(p["se"])], fmt=st.marker, ms=3.5,
                    color=c, mfc="white", capsize=1.5, elinewidth=0.7)  # fmt: skip
        _hollow_key(keys, reason)
    trivial = rows["role"].eq("trivial").all() if len(rows) and "role" in rows else False
    if fit.measured:
        grid = np.geomspace(fit.n_min, fit.n_max, 50)
        line, lo, hi = fit.band(grid)
        ax.plot(grid, line, color=c, lw=0.9)
        ax.fill_between(grid, lo, hi, color=c, alpha=0.15, lw=0)
        keys.setdefault("fit", (Line2D([], [], color=KEY_COLOR, lw=0.9), "fit with its 95% band"))
        if not trivial and math.isfinite(fit.theory):
            fitted = pts[pts["used"] & np.isfinite(pts["mean_log"])]
            x0 = float(np.mean(np.log(fitted["n"])))
            y0 = float(np.mean(fitted["mean_log"]))
            ax.plot(grid, np.exp(y0 - fit.theory * (np.log(grid) - x0)), color=c, ls=":", lw=1.0)
            keys.setdefault(
                "theory", (Line2D([], [], color=KEY_COLOR, ls=":", lw=1.0), "theory slope")
            )
    floor = pts[np.isfinite(pts["floor"]) & (pts["floor"] > 0)]
    if len(floor):
        ax.plot(floor["n"], floor["floor"], color=c, ls="--", lw=0.6, alpha=0.8)
        keys.setdefault("floor", (Line2D([], [], color=KEY_COLOR, ls="--", lw=0.6),
                                  "noise floor of the TV estimate"))  # fmt: skip


def _hollow_key(keys: dict, reason: str) -> None:
    from matplotlib.lines import Line2D

    handle = Line2D([], [], ls="", marker="o", ms=3.5, color=KEY_COLOR, mfc="white")
    keys.setdefault(f"left out: {reason}", (handle, f"open: left out of the fit, {reason}"))


def plot_rates(fits, df: pd.DataFrame, metric: str, title: str | None, stem: Path,
               legend_rows: int = 0) -> list[Path]:  # fmt: skip
    """:func:`rate_figure` written as ``stem.png`` (300 dpi) and ``stem.pdf``, one paper
    column wide; no file when no cell has a positive value (e.g. every training diverged)."""
    fig = rate_figure(fits, df, metric, title, legend_rows)
    if fig is None:
        return []
    return save_figure(fig, stem)
