"""The figures of ``report`` and ``paper``, drawn in one style (:mod:`.style`).

- :mod:`.rate_plot`: error against n per estimator (``rate_figure``, ``plot_rates``);
- :mod:`.exponents`: the measured exponents against s per D (``plot_exponents``);
- :mod:`.budget_plot`: the diffusion model's error budget per n (``plot_budget``);
- :mod:`.targets`: the target densities q (``plot_targets``).
"""

from minimax.reporting.figures.budget_plot import LOSS_GAP, budget_figure, plot_budget
from minimax.reporting.figures.exponents import exponent_figure, plot_exponents
from minimax.reporting.figures.rate_plot import fit_label, plot_rates, rate_figure
from minimax.reporting.figures.style import (
    COLUMN_WIDTH_IN,
    ESTIMATOR_STYLES,
    FIGURE_STYLE,
    METRIC_LABELS,
    TEXT_WIDTH_IN,
    THEORY_LABELS,
    estimator_style,
    exclusion_label,
    frame_title,
    save_figure,
    target_title,
)
from minimax.reporting.figures.targets import plot_targets, target_figure

__all__ = [
    "COLUMN_WIDTH_IN",
    "ESTIMATOR_STYLES",
    "FIGURE_STYLE",
    "LOSS_GAP",
    "METRIC_LABELS",
    "TEXT_WIDTH_IN",
    "THEORY_LABELS",
    "budget_figure",
    "estimator_style",
    "exclusion_label",
    "exponent_figure",
    "fit_label",
    "frame_title",
    "plot_budget",
    "plot_exponents",
    "plot_rates",
    "plot_targets",
    "rate_figure",
    "save_figure",
    "target_figure",
    "target_title",
]
