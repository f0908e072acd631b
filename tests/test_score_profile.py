"""The score error's fixed time grid and its per-time profile figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from minimax.metrics.score_metric import SCORE_GRID, score_times
from minimax.reporting.figures.score_profile import plot_score_profile, score_profile


def test_score_times_run_over_exactly_the_interval_on_a_grid_shared_by_every_n():
    a, b = score_times(0.0065, 1.0), score_times(0.001, 1.0)
    for t, lo in ((a, 0.0065), (b, 0.001)):
        assert t[0] == lo and t[-1] == 1.0 and np.all(np.diff(t) > 0)
        assert set(t[1:-1]) <= set(SCORE_GRID)
    # the times both n share are the same numbers, so their per-time errors compare directly
    assert set(a[1:-1]) <= set(b[1:-1])


def test_profile_averages_the_rows_per_time(tmp_path):
    rows = []
    for n, scale in ((250, 2.0), (8000, 1.0)):
        for rep in range(3):
            per_t = [{"t": t, "error": scale * (1 + rep) / t} for t in (0.01, 0.1, 1.0)]
            rows.append({"metric": "score", "estimator": "ddpm", "status": "ok", "n": n,
                         "audit": json.dumps({"per_t": per_t})})  # fmt: skip
    prof = score_profile(pd.DataFrame(rows), "ddpm")
    got = prof.set_index(["n", "t"])["mean"]
    assert got[(250, 0.1)] == 2.0 * 2 / 0.1 and got[(8000, 1.0)] == 2.0
    files = plot_score_profile(pd.DataFrame(rows), "ddpm", "t", tmp_path / "p")
    assert [f.suffix for f in files] == [".png", ".pdf"] and all(
        f.stat().st_size > 0 for f in files
    )
    assert (
        plot_score_profile(pd.DataFrame(rows).drop(columns="audit"), "ddpm", "t", tmp_path / "q")
        == []
    )
