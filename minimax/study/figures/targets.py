"""The target densities q of a study: 1-D densities as curves in one panel, 2-D ones as heat
maps (a D ≥ 3 target as its slice through the centre), each titled in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minimax.study.figures.style import (
    FIGURE_STYLE,
    TEXT_WIDTH_IN,
    legend_below,
    legend_height,
    save_figure,
)

#: curve colours of the 1-D panel, by position among the 1-D targets (they are all q)
CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#555555")
#: panels per row
PER_ROW = 3


def target_figure(targets: list[tuple[str, object]], grid: int = 1001, image: int = 300):
    """A Figure of ``targets`` (pairs of a short label and a Target with ``dim``, ``support``
    and ``pdf``); None when there are none."""
    if not targets:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    curves = [(lab, t) for lab, t in targets if t.dim == 1]
    maps = [(lab, t) for lab, t in targets if t.dim >= 2]
    panels = (1 if curves else 0) + len(maps)
    cols = min(panels, PER_ROW)
    rows = -(-panels // cols)
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(TEXT_WIDTH_IN * cols / PER_ROW, 2.3 * rows), layout="constrained")
        axes = list(np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel())
        for ax in axes[panels:]:
            ax.set_visible(False)
        k = 0
        if curves:
            ax = axes[k]
            k += 1
            handles, labels = [], []
            for i, (label, t) in enumerate(curves):
                lo, hi = np.asarray(t.support, dtype=float)[0]
                x = np.linspace(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo), grid)
                (line,) = ax.plot(x, t.pdf(x[:, None]), color=CURVE_COLORS[i % len(CURVE_COLORS)],
                                  lw=0.9)  # fmt: skip
                handles.append(line)
                labels.append(label)
            ax.set_xlabel("x")
            ax.set_ylabel("q(x)")
            ax.set_title("D = 1")
            ax.set_ylim(bottom=0)
            ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.22),
                      frameon=False, ncol=1)  # fmt: skip
        for label, t in maps:
            ax = axes[k]
            k += 1
            sup = np.asarray(t.support, dtype=float)
            u = np.linspace(sup[0, 0], sup[0, 1], image)
            v = np.linspace(sup[1, 0], sup[1, 1], image)
            U, V = np.meshgrid(u, v)
            pts = np.zeros((U.size, t.dim))
            pts[:, 0], pts[:, 1] = U.ravel(), V.ravel()
            if t.dim > 2:  # the slice through the centre of the other axes
                pts[:, 2:] = sup[2:].mean(axis=1)
            z = t.pdf(pts).reshape(U.shape)
            im = ax.imshow(z, origin="lower", extent=(*sup[0], *sup[1]), cmap="viridis",
                           vmin=0, aspect="equal", interpolation="nearest")  # fmt: skip
            fig.colorbar(im, ax=ax, shrink=0.85, label="q(x)")
            ax.set_xlabel("x₁")
            ax.set_ylabel("x₂")
            ax.set_title(label if t.dim == 2 else f"{label} (slice x₃.. = 0)")
        if not curves and maps:
            legend_below(fig, [], [])
        fig.set_size_inches(
            TEXT_WIDTH_IN * cols / PER_ROW,
            2.3 * rows + (legend_height([c[0] for c in curves], 1, 0.12) if curves else 0),
        )
    return fig


def plot_targets(targets: list[tuple[str, object]], stem: Path) -> list[Path]:
    """:func:`target_figure` written as ``stem.png|pdf``; no file when there is no target."""
    fig = target_figure(targets)
    return [] if fig is None else save_figure(fig, stem)
