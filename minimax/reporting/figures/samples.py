"""A fitted model's samples against the truth q: one panel per (arm, n), titled with the TV.

D = 1: the density histogram of the kept samples (the estimator's colour) over the curve of q.
D = 2: q as a heat map in the first column, then the samples' 2-D histogram at each n, on one
colour scale. A D ≥ 3 model is drawn by its first two coordinates, against q's marginal
histogram from as many of q's own samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minimax.reporting.figures.style import (
    FIGURE_STYLE,
    TEXT_WIDTH_IN,
    estimator_style,
    legend_below,
    save_figure,
)

#: histogram bins per axis (1-D, 2-D)
BINS_1D, BINS_2D = 120, 64


def samples_figure(drawn):
    """A Figure of ``drawn`` (``minimax.study.samples.CellSamples``, grouped by arm in the
    order given); None when empty."""
    if not drawn:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    arms = list(dict.fromkeys(c.arm for c in drawn))
    rows = [[c for c in drawn if c.arm == a] for a in arms]
    two_d = [r[0].samples.shape[1] >= 2 for r in rows]
    cols = max(len(r) + int(d) for r, d in zip(rows, two_d, strict=True))
    with matplotlib.rc_context(FIGURE_STYLE):
        width = min(TEXT_WIDTH_IN, 1.75 * cols + 0.4)
        fig = Figure(figsize=(width, 1.9 * len(rows) + 0.35), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), cols, squeeze=False))
        handles = {}
        for i, (row, is2d) in enumerate(zip(rows, two_d, strict=True)):
            for ax in axes[i, len(row) + int(is2d) :]:
                ax.set_visible(False)
            if is2d:
                _draw_2d(fig, axes[i], row)
            else:
                for ax, c in zip(axes[i], row, strict=False):
                    handles.update(_draw_1d(ax, c))
                axes[i, 0].set_ylabel(f"{_row_label(row[0])}\ndensity")
        legend_below(fig, list(handles.values()), list(handles), ncol=len(handles) or 1)
    return fig


def _row_label(c) -> str:
    """The row's target in a few words: "D = 1, s = 1.5, seed 11"."""
    t = c.spec.target
    return f"D = {t.D}, s = {t.s:g}, seed {t.seed}"


def _title(c) -> str:
    return f"n = {c.n:,}: TV {c.tv_recomputed:.3f} (M = {c.M:,})"


def _draw_1d(ax, c) -> dict:
    style = estimator_style(c.estimator)
    lo, hi = np.asarray(c.target.support, dtype=float)[0]
    edges = np.linspace(lo, hi, BINS_1D + 1)
    h = ax.hist(c.samples[:, 0], bins=edges, density=True, histtype="stepfilled",
                color=style.color, alpha=0.45, lw=0)  # fmt: skip
    x = np.linspace(lo, hi, 2001)
    (line,) = ax.plot(x, c.target.pdf(x[:, None]), color="black", lw=0.8)
    ax.set_xlim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("x")
    ax.set_title(_title(c))
    label = f"{style.label} samples (histogram)"
    return {label: h[2][0], "q (exact density)": line}


def _draw_2d(fig, axes, row) -> None:
    t = row[0].target
    sup = np.asarray(t.support, dtype=float)
    ex = [np.linspace(sup[k, 0], sup[k, 1], BINS_2D + 1) for k in range(2)]
    centres = [(e[1:] + e[:-1]) / 2 for e in ex]
    if t.dim == 2:
        U, V = np.meshgrid(*centres, indexing="ij")
        truth = t.pdf(np.column_stack([U.ravel(), V.ravel()])).reshape(U.shape)
        what = "q (exact density)"
    else:  # no closed-form 2-D marginal: q's own samples, as many as the model's
        rng = np.random.default_rng(0)
        y = t.sample(len(row[0].samples), rng)
        truth = np.histogram2d(y[:, 0], y[:, 1], bins=ex, density=True)[0]
        what = "q (its samples' histogram, x1 and x2)"
    hists = [np.histogram2d(c.samples[:, 0], c.samples[:, 1], bins=ex, density=True)[0]
             for c in row]  # fmt: skip
    vmax = float(np.quantile(np.concatenate([truth.ravel(), *[h.ravel() for h in hists]]), 0.995))
    extent = (*sup[0], *sup[1])
    panels = [(truth, what)] + [(h, f"{estimator_style(c.estimator).label} {_title(c)}")
                                for h, c in zip(hists, row, strict=True)]  # fmt: skip
    im = None
    for ax, (z, title) in zip(axes, panels, strict=False):
        im = ax.imshow(z.T, origin="lower", extent=extent, cmap="viridis", vmin=0, vmax=vmax,
                       aspect="equal", interpolation="nearest")  # fmt: skip
        ax.set_title(title)
        ax.set_xlabel(f"x₁ ({_row_label(row[0])})")
        ax.set_ylabel("x₂")
    if im is not None:
        fig.colorbar(im, ax=list(axes[: len(panels)]), shrink=0.8, label="density")


def plot_samples(drawn, stem: Path) -> list[Path]:
    """:func:`samples_figure` written as ``stem.png|pdf``; no file when nothing was drawn."""
    fig = samples_figure(drawn)
    return [] if fig is None else save_figure(fig, stem)
