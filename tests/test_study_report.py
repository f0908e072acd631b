"""The report: files named after the arm (dots kept), figures per metric, fits from the table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from minimax.reporting.report import build_report


def synthetic(rng) -> pd.DataFrame:
    rows = []
    for est, a, metric in (("kde", 0.3, "tv"), ("ddpm", 0.25, "tv"), ("ddpm", 0.6, "score")):
        for n in (250, 1000, 4000):
            for r in range(2):
                rows.append(
                    dict(
                        arm="besov D=2 s=1.5 p=2 band", estimator=est, role="control",
                        metric=metric, n=n, replicate=r, status="ok", flag="ok", s=1.5, D=2,
                        value=n**-a * math.exp(0.05 * rng.standard_normal()), floor=np.nan,
                    )
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_report_writes_one_figure_pair_per_metric_and_the_fits(tmp_path):
    rep = build_report(synthetic(np.random.default_rng(0)), tmp_path)
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    stem = "rate_besov-D-2-s-1.5-p-2-band"
    assert names == [f"{stem}_{m}.{e}" for m in ("score", "tv") for e in ("pdf", "png")]
    fits = pd.read_csv(tmp_path / "fits.csv")
    assert len(fits) == 3 and len(rep.fits) == 3
    score = fits[fits["metric"] == "score"].iloc[0]
    assert score["theory"] == 2 * 1.5 / (2 * 1.5 + 2)
    assert abs(score["exponent"] - 0.6) < 0.1  # noise 0.05 over 1.2 decades: se ≈ 0.02
    assert (tmp_path / "summary.txt").read_text() == rep.text
