"""The target densities q of a study: 1-D densities as curves in one panel, 2-D ones as heat
maps (a D ≥ 3 target as its slice through the centre), each titled in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minimax.reporting.figures.style import (
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


def target_figure(targets: list[tuple], grid: int = 1001, image: int = 300):
    """A Figure of ``targets`` (pairs of a short label and a Target with ``dim``, ``support``
    and ``pdf``; or triples (panel title, label, target): the 1-D curves of one title share a
    panel, e.g. the target seeds of one class); None when there are none."""
    if not targets:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    targets = [t if len(t) == 3 else ("D = 1", *t) for t in targets]
    curve_panels: dict[str, list] = {}
    for title, lab, t in targets:
        if t.dim == 1:
            curve_panels.setdefault(title, []).append((lab, t))
    maps = [(lab, t) for _, lab, t in targets if t.dim >= 2]
    curves = [c for cs in curve_panels.values() for c in cs]
    panels = len(curve_panels) + len(maps)
    cols = min(panels, PER_ROW)
    rows = -(-panels // cols)
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(TEXT_WIDTH_IN * cols / PER_ROW, 2.3 * rows), layout="constrained")
        axes = list(np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel())
        for ax in axes[panels:]:
            ax.set_visible(False)
        k = 0
        legend_rows = max((len(cs) for cs in curve_panels.values()), default=0)
        for panel_title, panel_curves in curve_panels.items():
            ax = axes[k]
            k += 1
            handles, labels = [], []
            for i, (label, t) in enumerate(panel_curves):
                lo, hi = np.asarray(t.support, dtype=float)[0]
                x = np.linspace(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo), grid)
                (line,) = ax.plot(x, t.pdf(x[:, None]), color=CURVE_COLORS[i % len(CURVE_COLORS)],
                                  lw=0.9)  # fmt: skip
                handles.append(line)
                labels.append(label)
            ax.set_xlabel("x")
            ax.set_ylabel("q(x)")
            ax.set_title(panel_title)
            ax.set_ylim(bottom=0)
            ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.22),
                      frameon=False, ncol=1 if len(panel_curves) < 4 else 2)  # fmt: skip
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
            2.3 * rows
            + (
                legend_height(range(legend_rows), 1 if legend_rows < 4 else 2, 0.12)
                if curves
                else 0
            ),
        )
    return fig


def plot_targets(targets: list[tuple], stem: Path) -> list[Path]:
    """:func:`target_figure` written as ``stem.png|pdf``; no file when there is no target."""
    fig = target_figure(targets)
    return [] if fig is None else save_figure(fig, stem)
