"""The rate fit on synthetic tables whose true exponent is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from minimax.study.rates import fit_rate, fit_rates

NS = (250, 500, 1000, 2000, 4000, 8000)


def table(
    rng,
    a=1 / 3,
    ns=NS,
    reps=3,
    noise=0.1,
    cluster=0.05,
    floor=math.nan,
    metric="tv",
    estimator="kde",
    s=1.0,
    D=1,
):
    """error = 0.8 n^-a · exp(cluster effect of n + replicate noise): a known exponent."""
    rows = []
    for n in ns:
        shared = cluster * rng.standard_normal()
        for r in range(reps):
            value = 0.8 * n**-a * math.exp(shared + noise * rng.standard_normal())
            rows.append(
                dict(
                    arm="besov D=1",
                    estimator=estimator,
                    metric=metric,
                    n=n,
                    replicate=r,
                    value=value,
                    floor=floor,
                    flag="ok",
                    status="ok",
                    s=s,
                    D=D,
                )
            )
    return pd.DataFrame(rows)


def test_point_estimate_solves_the_log_link_quasi_likelihood_equations():
    df = table(np.random.default_rng(0))
    fit = fit_rate(df)
    x, y = np.log(df["n"].to_numpy(float)), df["value"].to_numpy(float)
    mu = np.exp(fit.intercept - fit.exponent * x)
    r = (y - mu) / mu
    assert abs(r.sum()) < 1e-9 and abs((x * r).sum()) < 1e-9  # Σ x (y − μ)/μ = 0
    # with 10% noise it is close to OLS on log e: they differ at second order in the noise
    slope, _ = np.polyfit(x, np.log(y), 1)
    assert fit.exponent == pytest.approx(-slope, abs=0.01)
    assert fit.ols_exponent == pytest.approx(-slope, rel=1e-10)
    assert fit.theory == pytest.approx(1 / 3)
    assert (fit.n_min, fit.n_max, fit.n_points, fit.n_rows) == (250, 8000, 6, 18)
    assert fit.df == 5  # G - 1 clusters


def test_p_value_is_the_t_test_of_the_theory_exponent():
    fit = fit_rate(table(np.random.default_rng(1)))
    t = (fit.exponent - fit.theory) / fit.se
    assert fit.p_value == pytest.approx(2 * stats.t.sf(abs(t), fit.df), rel=1e-12)
    half = stats.t.ppf(0.975, fit.df) * fit.se
    assert fit.ci_low == pytest.approx(fit.exponent - half, rel=1e-9)
    assert fit.ci_high == pytest.approx(fit.exponent + half, rel=1e-9)


def test_ci_covers_the_true_exponent_at_its_level():
    # 300 simulated studies with an n-level random effect (what makes clustering necessary).
    # Coverage of a 95% CI: binomial se sqrt(.95·.05/300) = 0.0126; accept ±3 se.
    rng = np.random.default_rng(2)
    N = 300
    covered = sum(
        fit.ci_low <= 1 / 3 <= fit.ci_high
        for fit in (fit_rate(table(rng, ns=NS[:5], reps=3, cluster=0.08)) for _ in range(N))
    )
    assert abs(covered / N - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / N)


def test_crv1_is_available_and_narrower_with_few_clusters():
    df = table(np.random.default_rng(3), cluster=0.08)
    f3, f1 = fit_rate(df, cov="crv3"), fit_rate(df, cov="crv1")
    assert f1.exponent == pytest.approx(f3.exponent, rel=1e-12)
    assert f1.se < f3.se
    with pytest.raises(ValueError, match="cov='hc0' is not allowed"):
        fit_rate(df, cov="hc0")


def test_local_slopes_of_an_exact_power_law():
    df = table(np.random.default_rng(4), noise=1e-9, cluster=0.0)
    fit = fit_rate(df)
    assert fit.exponent == pytest.approx(1 / 3, abs=1e-6)
    assert np.allclose(fit.local_slopes["exponent"], 1 / 3, atol=1e-6)
    assert list(fit.local_slopes["n_low"]) == list(NS[:-1])
    assert fit.ols_exponent == pytest.approx(1 / 3, abs=1e-6)
    assert fit.verdict == "equivalent to theory within ±0.05"


@pytest.mark.parametrize(("a", "verdict"), [(0.6, "steeper"), (0.1, "flatter")])
def test_verdicts_for_rates_far_from_theory(a, verdict):
    # noise 0.02 over 1.5 decades: slope se ≈ 0.01, far below |a - 1/3|
    fit = fit_rate(table(np.random.default_rng(5), a=a, noise=0.02, cluster=0.0))
    assert fit.verdict == verdict
    assert fit.p_value < 1e-3


def test_a_wide_ci_is_not_resolved_and_says_its_half_width():
    # a rate with a huge CI that contains both 0 and the theory says nothing
    fit = fit_rate(table(np.random.default_rng(6), a=0.15, ns=(250, 500, 1000), noise=0.5))
    assert fit.ci_low < 0 < 1 / 3 < fit.ci_high
    w = fit.tost.half_width
    assert w == pytest.approx(stats.t.ppf(0.95, fit.df) * fit.se, rel=1e-12)
    assert fit.verdict == f"not resolved by this design: CI half-width {w:.3f} > δ = 0.05"
    assert "nan" not in fit.summary()


def test_values_at_or_below_zero_enter_the_fit():
    # a bias-corrected TV estimate can be ≤ 0: such rows are fitted as they are, not dropped
    df = table(np.random.default_rng(12), noise=0.02, cluster=0.0)
    df.loc[(df["n"] == 8000) & (df["replicate"] == 0), "value"] = -0.01
    df.loc[(df["n"] == 4000) & (df["replicate"] == 1), "value"] = 0.0
    fit = fit_rate(df)
    assert fit.n_rows == len(df) and fit.nonpositive_rows == 2 and fit.excluded.empty
    x, y = np.log(df["n"].to_numpy(float)), df["value"].to_numpy(float)
    r = (y - np.exp(fit.intercept - fit.exponent * x)) / np.exp(fit.intercept - fit.exponent * x)
    assert abs((x * r).sum()) < 1e-9
    assert "2 rows ≤ 0 dropped" in fit.ols_note and "nan" not in fit.summary()


def test_points_near_the_floor_flags_and_failures_are_excluded_and_listed():
    df = table(np.random.default_rng(7), noise=0.02, cluster=0.0)
    # floor 0.04: at n = 8000 the error 0.8·8000^-1/3 = 0.04 is below 2 floors; at 4000 it is 0.05
    df["floor"] = 0.03
    df.loc[(df["n"] == 500) & (df["replicate"] == 1), "flag"] = "rising"
    df.loc[(df["n"] == 1000) & (df["replicate"] == 2), ["status", "value"]] = ["diverged", np.nan]
    fit = fit_rate(df)
    ex = fit.excluded.set_index(["n", "replicate"])["reason"]
    assert ex[(8000, 0)] == "below 2×floor" and len(ex.loc[8000]) == 3
    assert ex[(4000, 0)] == "below 2×floor"  # 0.05 < 0.06
    assert ex[(500, 1)] == "flag rising"
    assert ex[(1000, 2)] == "diverged"
    assert len(ex) == 8
    assert fit.n_max == 2000 and fit.n_rows == 18 - 8
    assert "below 2×floor (n=4000, 8000)" in fit.summary()


def test_all_points_at_the_floor_are_not_measurable():
    df = table(np.random.default_rng(8))
    df["floor"] = 1.0
    fit = fit_rate(df)
    assert fit.verdict == "not measurable: floors"
    assert not fit.measured and len(fit.excluded) == len(df)


def test_unmeasurable_names_what_removed_the_points():
    df = table(np.random.default_rng(11))
    clean = fit_rate(df)
    df.loc[df["n"] >= 1000, "flag"] = "rising"
    flagged = fit_rate(df)
    assert flagged.verdict == "not measurable: flagged rows"
    # the same fit keeping the flagged rows is reported beside it, and shown in the points
    assert flagged.flagged_exponent == pytest.approx(clean.exponent, rel=1e-12)
    assert flagged.flagged_ci_low == pytest.approx(clean.ci_low, rel=1e-12)
    assert flagged.points["k"].tolist() == [3] * 6 and np.isfinite(flagged.points["mean"]).all()
    assert "keeping the flagged rows" in flagged.summary()
    df.loc[df["n"] >= 1000, ["status", "value"]] = ["diverged", np.nan]
    assert fit_rate(df).verdict == "not measurable: failed"


def test_score_metric_uses_its_own_theory_and_fit_rates_groups():
    rng = np.random.default_rng(9)
    df = pd.concat(
        [
            table(rng, metric="score", estimator="ddpm", a=0.6, s=1.5, D=2),
            table(rng, metric="tv", estimator="ddpm", a=0.3, s=1.5, D=2),
            table(rng, metric="tv", estimator="kde", a=0.3, s=1.5, D=2),
        ]
    )
    assert fit_rate(df, "score", "ddpm").theory == pytest.approx(2 * 1.5 / (3 + 2))
    fits = fit_rates(df, "tv")
    assert sorted(f.estimator for f in fits) == ["ddpm", "kde"]
    assert all(f.theory == pytest.approx(0.3) for f in fits)
    with pytest.raises(ValueError, match="estimator=None is not allowed"):
        fit_rate(df, "tv")


def test_band_is_centred_on_the_fit_and_widens_away_from_the_data():
    fit = fit_rate(table(np.random.default_rng(10)))
    line, lo, hi = fit.band([250, 1414, 8000, 64000])
    assert np.all(lo < line) and np.all(line < hi)
    width = np.log(hi / lo)
    assert width[1] < width[0] and width[3] > width[2]


def test_log_factor_models_recover_a_and_say_when_the_verdict_depends_on_k():
    # e = 0.8 n^-a (log n)^1 exactly: the k = 1 model recovers a; k = 0 absorbs the log factor
    # into the exponent (the slope of log log n on log n over 250..8000 is about 0.14)
    df = table(np.random.default_rng(13), noise=1e-6, cluster=0.0)
    df["value"] *= np.log(df["n"])
    fit = fit_rate(df)
    lf = fit.log_factors.set_index("k")
    assert lf.loc[1.0, "exponent"] == pytest.approx(1 / 3, abs=1e-5)
    x, ll = np.log(NS), np.log(np.log(NS))
    shift = np.polyfit(x, ll, 1)[0]
    assert lf.loc[0.0, "exponent"] == pytest.approx(1 / 3 - shift, abs=2e-3)
    assert lf.loc[0.5, "exponent"] == pytest.approx(1 / 3 - shift / 2, abs=2e-3)
    assert lf.loc[1.0, "verdict"] == "equivalent to theory within ±0.05"
    assert lf.loc[0.0, "verdict"] == "flatter" and fit.depends_on_k
    assert "the verdict depends on k" in fit.summary()


def test_a_bend_in_the_local_slopes_is_flagged():
    # steeper at small n: e = 0.8 n^-1/3 (1 + 2 (250/n)^0.5), noise 1%: a visible trend
    df = table(np.random.default_rng(14), noise=0.01, cluster=0.0)
    df["value"] *= 1 + 2 * np.sqrt(250 / df["n"])
    fit = fit_rate(df)
    assert fit.curvature.flagged and fit.curvature.slope_low > fit.curvature.slope_high
    assert "MISSPECIFIED?" in fit.summary()


def test_nothing_printed_is_nan_where_a_number_cannot_be_computed():
    df = table(np.random.default_rng(15), reps=1)  # one replicate: no local-slope CIs
    const = table(np.random.default_rng(15), estimator="uniform")
    const["value"] = 0.2  # exactly constant, se 0
    for fit in (fit_rate(df), fit_rate(const)):
        text = fit.summary()
        assert "nan" not in text.lower(), text
    assert "no CI: one replicate" in fit_rate(df).summary()
    assert fit_rate(const).verdict == "flatter"


def test_the_any_k_ci_is_the_hull_of_the_log_factor_cis():
    fit = fit_rate(table(np.random.default_rng(16)))
    lf = fit.log_factors
    assert fit.k_hull == (lf["ci_low"].min(), lf["ci_high"].max())
    assert fit.k_hull[0] == pytest.approx(fit.ci_low, rel=1e-9)  # k = 0 gives the lowest a
    assert fit.row()["ci_high_any_k"] == lf.loc[lf["k"] == 1.0, "ci_high"].item()
