"""The learned score's error against diffusion time, one line per n: where in t the error sits
and where it falls with n (the per-time errors the worker keeps in the score rows' audit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.reporting.figures.style import COLUMN_WIDTH_IN, FIGURE_STYLE, legend_below, save_figure


def score_profile(df: pd.DataFrame, estimator: str) -> pd.DataFrame:
    """Per (n, t): the mean over rows of E‖ŝ − ∇log q_t‖² and its se, from the score rows'
    ``audit`` (empty when the table has none)."""
    if "audit" not in df:
        return pd.DataFrame()
    sel = df[(df["metric"] == "score") & (df["estimator"] == estimator) & (df["status"] == "ok")]
    rows = []
    for n, audit in zip(sel["n"], sel["audit"], strict=True):
        try:
            per_t = json.loads(audit).get("per_t", []) if isinstance(audit, str) else []
        except ValueError:
            continue
        rows += [{"n": int(n), "t": float(p["t"]), "error": float(p["error"])} for p in per_t]
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows).groupby(["n", "t"])["error"].agg(["mean", "std", "count"])
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out.reset_index()


def plot_score_profile(df: pd.DataFrame, estimator: str, title: str, stem: Path) -> list[Path]:
    """Log-log error against t, coloured by n (light to dark as n grows), ± 2 se bars; no file
    when the table has no per-time errors."""
    prof = score_profile(df, estimator)
    if prof.empty:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(FIGURE_STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6), layout="constrained")
        sizes = sorted(prof["n"].unique())
        colours = plt.cm.viridis(np.linspace(0.85, 0.1, len(sizes)))
        for n, colour in zip(sizes, colours, strict=True):
            g = prof[prof["n"] == n].sort_values("t")
            ax.errorbar(g["t"], g["mean"], yerr=2 * g["se"].fillna(0), color=colour, marker="o",
                        ms=2.5, lw=1, capsize=1.5, label=f"n = {n:,}")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("diffusion time t")
        ax.set_ylabel(r"$E\,\|\hat s - \nabla \log q_t\|^2$")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        legend_below(fig, handles, labels, ncol=3)
        files = save_figure(fig, stem)
        plt.close(fig)
    return files
