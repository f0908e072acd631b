"""One figure style for `report` and `paper` (minimax.reporting.figures): fixed colours per
estimator, hollow markers with their reason for what a fit left out, labelled lines, legends
off the data, human titles. Drawn from the tiny fixture (a real run of the tool)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from minimax.reporting.figures import (
    ESTIMATOR_STYLES,
    estimator_style,
    exponent_figure,
    rate_figure,
    target_figure,
    target_title,
)
from minimax.reporting.figures.budget_plot import budget_figure
from minimax.study.rates import fit_rates

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tiny"


@pytest.fixture(scope="module")
def table():
    return pd.read_parquet(FIXTURE / "results.parquet")


def _arm(df, D):
    return str(df.loc[df["D"] == D, "arm"].iloc[0])


def test_each_estimator_has_one_style_and_unknown_ones_a_deterministic_one():
    colors = [s.color for s in ESTIMATOR_STYLES.values()]
    assert len(set(colors)) == len(colors)
    for name in ("ddpm", "kde", "empirical-score", "oracle-score", "ddpm-fixed-tmin", "uniform",
                 "gaussian", "gan", "vae", "wavelet"):  # fmt: skip
        assert name in ESTIMATOR_STYLES
    a, b = estimator_style("my-histogram"), estimator_style("my-histogram")
    assert a == b and a.label == "my-histogram"
    assert a.color not in colors  # a fallback never takes a known estimator's colour


def test_human_titles():
    assert (
        target_title("besov", 2, 1.5, 2.0, "band") == "Besov, D = 2, s = 1.5, jump at the boundary"
    )
    assert target_title("sparse-multiscale", 1, 1.0, 0.5, "band").startswith(
        "Sparse multiscale, D = 1, s = 1, p = 0.5"
    )


def _line_colors(ax, label_prefix=None):
    return {to_hex(line.get_color()) for line in ax.get_lines() if line.get_xydata().size}


def test_the_kde_has_the_same_colour_whatever_the_plot_order(table):
    arm = _arm(table, 1)
    adf = table[(table["arm"] == arm) & (table["metric"] == "tv")]
    fits = fit_rates(table[table["arm"] == arm], "tv")
    one = rate_figure(fits, adf, "tv", arm)
    two = rate_figure(list(reversed(fits)), adf, "tv", arm)
    kde = to_hex(ESTIMATOR_STYLES["kde"].color)
    for fig in (one, two):
        handles = fig.legends[0].legend_handles
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        (i,) = [k for k, lab in enumerate(labels) if lab.startswith("KDE")]
        assert to_hex(handles[i].get_color()) == kde
        assert kde in _line_colors(fig.axes[0])


def test_rate_figure_titles_labels_and_legend_below_the_axes(table):
    arm = _arm(table, 1)
    adf = table[(table["arm"] == arm) & (table["metric"] == "tv")]
    fig = rate_figure(fit_rates(table[table["arm"] == arm], "tv"), adf, "tv", arm)
    ax = fig.axes[0]
    assert ax.get_title() == target_title(adf["target"].iloc[0], 1, adf["s"].iloc[0], 2.0, "band")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lab.startswith("theory slope s/(2s+D) = ") for lab in labels)
    assert "noise floor of the TV estimate" in labels  # the DDPM is scored from samples
    fig.draw_without_rendering()  # runs the constrained layout
    legend = fig.legends[0].get_window_extent()
    axes = ax.get_window_extent()
    assert legend.y1 <= axes.y0  # below the axes: off the data


def test_points_left_out_of_a_fit_are_hollow_with_their_reason(table):
    arm = _arm(table, 1)
    adf = table[table["arm"] == arm].copy()
    # flag every row of the DDPM at the largest n as rising: the fit leaves them out
    n_max = adf["n"].max()
    adf.loc[
        (adf["estimator"] == "ddpm") & (adf["metric"] == "tv") & (adf["n"] == n_max), "flag"
    ] = "rising"
    fits = fit_rates(adf, "tv")
    ddpm = next(f for f in fits if f.estimator == "ddpm")
    assert (ddpm.excluded["reason"] == "flag rising").any()
    fig = rate_figure(fits, adf[adf["metric"] == "tv"], "tv", arm)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("left out of the fit" in lab and "flagged rising" in lab for lab in labels)
    hollow = [line for line in fig.axes[0].get_lines()
              if line.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
              and np.any(line.get_xdata() == n_max)]  # fmt: skip
    assert hollow, "the mean at the left-out n is drawn hollow"


def test_exponent_budget_and_target_figures(table):
    fits = [f for arm in table["arm"].unique() for f in fit_rates(table[table["arm"] == arm], "tv")]
    arms = {a: (int(g["D"].iloc[0]), float(g["s"].iloc[0])) for a, g in table.groupby("arm")}
    roles = table.groupby("estimator")["role"].first().to_dict()
    fig = exponent_figure(fits, arms, roles)
    assert [ax.get_title() for ax in fig.axes] == ["D = 1", "D = 2"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "minimax exponent s/(2s+D)" in labels and "uniform" not in labels
    b = pd.DataFrame({"total TV": [0.1, 0.07, 0.05], "TV floor": [0.01, 0.008, 0.006],
                      "loss gap (held-out − training)": [0.02, -0.01, 0.004]},
                     index=[200, 400, 800])  # fmt: skip
    fig = budget_figure(b, "Besov, D = 1, s = 1, jump at the boundary")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "|loss gap| (held-out − training; open: < 0)" in labels
    assert fig.axes[0].get_title() == "Besov, D = 1, s = 1, jump at the boundary"

    class Box:  # the smallest Target: a uniform density on [-1, 1]^D
        def __init__(self, dim):
            self.dim, self.support = dim, np.array([[-1.0, 1.0]] * dim)

        def pdf(self, x):
            return np.full(len(x), 0.5**self.dim)

    fig = target_figure([("s = 1", Box(1)), ("D = 2", Box(2))], grid=51, image=20)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:2] == ["D = 1", "D = 2"]
