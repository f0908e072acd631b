"""The calibration arm's offset and the verdict it gates (docs/tv.md §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimax.study.calibration import MAX_OFFSET, calibration_fits, gate_verdicts
from minimax.study.rates import fit_rates

NS = (250, 500, 1000, 2000, 4000, 8000)


def arm(offset: float, rng, reps: int = 3) -> pd.DataFrame:
    """A KDE scored exactly (0.8 n^-1/3 times a shared per-(n, rep) effect) and from samples
    (the same values times n^-offset), and a DDPM scored from samples (0.9 n^-1/3)."""
    rows = []
    for n in NS:
        for r in range(reps):
            common = np.exp(0.05 * rng.standard_normal())
            kde = 0.8 * n ** (-1 / 3) * common
            for est, metric, method, v in (
                ("kde", "tv", "quadrature-gl4", kde),
                ("kde", "tv_sampled", "adaptive-crossfit",
                 kde * n**-offset * np.exp(0.005 * rng.standard_normal())),
                ("ddpm", "tv", "adaptive-crossfit", 0.9 * n ** (-1 / 3) * common),
            ):  # fmt: skip
                rows.append(dict(arm="x", estimator=est, metric=metric, method=method, n=n,
                                 replicate=r, value=v, floor=np.nan, flag="ok", status="ok",
                                 s=1.0, D=1, role="control"))  # fmt: skip
    return pd.DataFrame(rows)


def test_offset_is_measured_on_the_same_rows():
    # the sampled scoring is the exact one times n^-0.03 (and its own 0.5 % noise), so the
    # offset is +0.03; its se is about 0.005/(√18·sd(log n)) ≈ 0.001, so 0.01 is 10 se
    df = arm(0.03, np.random.default_rng(0))
    (pair,) = calibration_fits(df)
    assert pair.first == "kde sampled" and pair.pairs == 18
    assert abs(pair.difference - 0.03) < 0.01
    assert pair.ci_low <= 0.03 <= pair.ci_high


def test_a_sampled_verdict_stands_only_where_the_offset_is_small():
    for offset, gated in ((0.0, False), (0.05, True)):
        df = arm(offset, np.random.default_rng(1))
        cals = calibration_fits(df)
        fits = fit_rates(df, "tv")
        before = {f.estimator: f.verdict for f in fits}
        gate_verdicts(fits, df, cals)
        after = {f.estimator: f.verdict for f in fits}
        assert after["kde"] == before["kde"]  # exact scoring is never gated
        assert after["ddpm"].startswith("measurement chain is the limit") == gated
        assert (abs(cals[0].difference) > MAX_OFFSET) == gated


def test_no_control_scored_from_samples_gates_the_sampled_verdict():
    df = arm(0.0, np.random.default_rng(2))
    df = df[df["metric"] != "tv_sampled"]
    fits = fit_rates(df, "tv")
    gate_verdicts(fits, df, calibration_fits(df))
    ddpm = next(f for f in fits if f.estimator == "ddpm")
    assert "no explicit-density control scored from samples" in ddpm.verdict


def test_the_sampled_pair_cancels_the_measurement_offset():
    """A DDPM whose sampled TV is the KDE's exact TV times n^-0.04, and a KDE whose sampled TV
    carries the same n^-0.04: DDPM − KDE exact reads +0.04, DDPM − KDE sampled reads 0."""
    from minimax.study.calibration import sampled_pair_fits
    from minimax.study.paired import fit_paired

    rng = np.random.default_rng(2)
    rows = []
    for n in (250, 500, 1000, 2000, 4000, 8000):
        for rep in range(3):
            e = 0.6 * n ** (-1 / 3) * np.exp(0.05 * rng.standard_normal())
            shrink = (n / 250) ** -0.04
            for est, role, metric, v in (("kde", "control", "tv", e),
                                         ("kde", "control", "tv_sampled", e * shrink),
                                         ("ddpm", "diffusion", "tv", e * shrink)):  # fmt: skip
                rows.append(dict(study="t", arm="a", target="besov", D=1, s=1.0, p=2.0,
                                 boundary="band", n=n, replicate=rep, estimator=est, role=role,
                                 metric=metric, value=v, se=np.nan, floor=np.nan, flag="ok",
                                 status="ok", theory=1 / 3))  # fmt: skip
    df = pd.DataFrame(rows)
    same = sampled_pair_fits(df)
    assert len(same) == 1 and same[0].second == "kde (sampled)"
    assert same[0].difference == pytest.approx(0.0, abs=1e-9)
    fits = {f.estimator: f for f in fit_rates(df, "tv")}
    exact = fit_paired(fits["ddpm"], fits["kde"])
    assert exact.difference == pytest.approx(0.04, abs=1e-9)


def test_an_offset_at_the_gate_is_printed_with_the_digit_that_decides_it():
    from minimax.study.calibration import MAX_OFFSET, offset_text

    # the confirmatory study's pooled offsets were +0.01022 and -0.01007: rounded to 3 decimals
    # they would read as the gate itself while the gate rejects them
    assert offset_text(0.01022) == "+0.0102" and offset_text(-0.01007) == "-0.0101"
    assert offset_text(0.0149) == "+0.015" and offset_text(-0.0042) == "-0.004"
    assert offset_text(0.0100006) == "+0.010001"  # a seed of the same study: 4 digits still tie
    assert MAX_OFFSET == 0.01


def test_the_gate_reading_says_where_the_ci_lies():
    from minimax.study.calibration import gate_reading

    assert gate_reading(0.004, -0.002, 0.009) == "within ±0.01 with its CI"
    assert gate_reading(0.03, 0.015, 0.045) == "outside ±0.01 with its CI"
    assert gate_reading(-0.012, -0.04, 0.016) == "past ±0.01 as a point, CI half-width 0.028"
    text = gate_reading(0.005, -0.005, 0.015)
    assert text == "within ±0.01 as a point only, CI half-width 0.010"


def test_the_offsets_half_width_falls_as_one_over_root_replicates():
    # the rule behind the predicted half-widths of studies/calibration_replicates_summary.py:
    # with no per-size scatter beyond the replicates', at the same sizes the CRV3 se of the
    # paired offset (paired_arrays, what fit_paired computes for one arm) scales as 1/sqrt(R).
    # Over 400 simulated arms (a shared per-(n, rep) effect of sd 0.05, the sampled scoring's
    # own noise of sd 0.005) each mean se has a relative se of about 0.33/20 (5 df), so the
    # ratio's is about 0.024; ±0.06 around sqrt(3/12) = 0.5 is about 5 of them
    from minimax.study.paired import paired_arrays

    def mean_se(reps: int, seed: int) -> float:
        rng = np.random.default_rng(seed)
        n = np.repeat(np.asarray(NS, float), reps)
        exact = 0.8 * n ** (-1 / 3) * np.exp(0.05 * rng.standard_normal((400, n.size)))
        sampled = exact * np.exp(0.005 * rng.standard_normal(exact.shape))
        _, se, df = paired_arrays(sampled, exact, n)
        assert df == len(NS) - 1  # clustered by n: the degrees of freedom do not grow with R
        return float(np.mean(se))

    ratio = mean_se(12, 5) / mean_se(3, 6)
    assert abs(ratio - 0.5) < 0.06
