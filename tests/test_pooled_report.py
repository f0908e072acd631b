"""The pooled section of a report: printed, and gated by the pooled calibration offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_pooled import studies, table

from minimax.reporting.pooled_report import pooled_section
from minimax.reporting.report import build_report


def _study(offset: float, seed: int = 3) -> pd.DataFrame:
    """5 target seeds: a DDPM scored from samples, a KDE scored exactly and from samples whose
    sampled exponent is steeper by ``offset`` (n^-offset on its values)."""
    rng = np.random.default_rng(seed)
    y, n = studies(rng, 1, reps=2)
    ddpm = table(y[0], n, "ddpm", role="diffusion").assign(method="adaptive-crossfit")
    kde = table(y[0] * 1.1, n, "kde", role="control").assign(method="quadrature")
    sampled = kde.assign(metric="tv_sampled", method="adaptive-crossfit",
                         value=kde["value"] * (kde["n"] / 250.0) ** -offset)  # fmt: skip
    return pd.concat([ddpm, kde, sampled], ignore_index=True)


@pytest.mark.parametrize("offset,gated", [(0.0, False), (0.05, True)])
def test_pooled_ddpm_verdict_is_gated_by_the_pooled_kde_offset(offset, gated):
    rep = build_report(_study(offset))
    assert "== pooled over target seeds · tv" in rep.text
    line = next(
        ln for ln in rep.text.splitlines() if ln.startswith("ddpm · tv · ") and "J = 5" in ln
    )
    assert ("measurement chain is the limit: pooled kde calibration offset" in line) is gated
    if gated:
        assert "+0.050" in line  # the offset planted, recovered exactly (same rows, n^-0.05)


def test_no_pooled_section_without_several_seeds():
    df = _study(0.0)
    one = df[df["target_seed"] == df["target_seed"].min()]
    text, fits, pairs = pooled_section(one, 0.05, {})
    assert text == "" and fits.empty


def test_the_sampled_pair_carries_the_measurement_offset_the_exact_pair_does_not():
    """DDPM values equal the KDE's up to a constant; the KDE's sampled TV is steeper by 0.05:
    DDPM − KDE (exact) is 0 and DDPM − KDE (sampled) is −0.05, on every seed."""
    from minimax.reporting.pooled_report import sampled_pairs
    from minimax.study.pooled import pooled_paired

    df = _study(0.05)
    exact = pooled_paired(df, "ddpm", "kde", "tv", 0.05)[0]
    same = sampled_pairs(df, 0.05)[0]
    assert exact.stage["exponent"] == pytest.approx(0.0, abs=1e-9)
    assert same.stage["exponent"] == pytest.approx(-0.05, abs=1e-9)
    assert "ddpm − kde (sampled)" in build_report(df).text
