"""Pooled fits across target seeds, on simulated studies whose exponents are known.

Tolerances: a claimed coverage of 95% is accepted when the Clopper-Pearson 99.9% interval of the
measured fraction holds 0.95 (a calibrated CI fails this in 0.1% of runs); a conservative one
when the fraction is ≥ 0.95 − 3 binomial se; a mean estimate when it is within 3 Monte Carlo
se of the truth.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from minimax.study import glm
from minimax.study.paired import paired_arrays
from minimax.study.pooled import (
    mixed_slope,
    pooled_block,
    pooled_fits,
    pooled_frame,
    pooled_paired,
    two_stage,
)

NS = 250 * 2 ** np.arange(6)
A = 0.3  # the common exponent
#: simulated studies per coverage check (MINIMAX_POOLED_S=2000 reproduces docs/verdicts.md §6)
S = int(os.environ.get("MINIMAX_POOLED_S", 400))
J = 5  # target seeds per study


def studies(rng, S, J=J, reps=1, tau=0.03, sigma=0.1, c_sd=0.2):
    """Errors (S, J, rows) at sizes n (rows,): 0.8·exp(c_j)·n^−(A + β_j)·exp(σ ε), with seed
    effects c_j ~ N(0, c_sd²), β_j ~ N(0, τ²) and log-normal noise."""
    n = np.repeat(NS, reps).astype(float)
    beta = tau * rng.standard_normal((S, J, 1))
    c = c_sd * rng.standard_normal((S, J, 1))
    return 0.8 * np.exp(c) * n ** -(A + beta) * np.exp(
        sigma * rng.standard_normal((S, J, len(n)))
    ), n


def table(y, n, estimator="ddpm", seeds=None, arm="besov D=1 s=1 p=2 band", s=1.0, role="model"):
    """A results table of one study y (J, rows): one arm per target seed, as a sweep writes."""
    seeds = seeds if seeds is not None else range(1, len(y) + 1)
    rows = []
    for j, seed in enumerate(seeds):
        for i, (nn, v) in enumerate(zip(n, y[j], strict=True)):
            rows.append(dict(study="sim", arm=f"{arm} target_seed={seed}", target="besov", D=1, s=s,
                             p=2.0, boundary="band", target_seed=seed, n=int(nn),
                             replicate=i % max(1, int((n == nn).sum())), estimator=estimator,
                             role=role, metric="tv", value=float(v), se=np.nan, floor=np.nan,
                             flag="ok", status="ok", sampler="default", sizing="theory"))  # fmt: skip
    return pd.DataFrame(rows)


def per_seed_loglink(y, n):
    """The per-seed rate fit's engine (rates.fit_rate → glm.fit_loglink, CRV3 by n) over a
    stack of studies: exponents and se's, shaped like y without its last axis."""
    res = glm.fit_loglink(y.reshape(-1, y.shape[-1]), glm.design(n), n)
    a, se = -res.beta[:, 1], np.sqrt(res.cov[:, 1, 1])
    return a.reshape(y.shape[:-1]), se.reshape(y.shape[:-1])


def covers_095(hits) -> tuple[float, tuple[float, float]]:
    k = int(np.sum(hits))
    return k / len(hits), stats.binomtest(k, len(hits)).proportion_ci(0.999)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20240601)
    y, n = studies(rng, S)
    a, se = per_seed_loglink(y, n)
    st = two_stage(a, se)
    x, g = np.tile(np.log(n), J), np.repeat(np.arange(J), len(n))
    mixed = [mixed_slope(np.log(y[s]).ravel(), x, g) for s in range(S)]
    return y, n, st, mixed


def test_both_pooled_cis_cover_the_common_exponent(simulated):
    y, n, st, mixed = simulated
    p2, (lo, hi) = covers_095((st["ci_low"] <= A) & (A <= st["ci_high"]))
    m = np.array([f.exponent for f in mixed])
    pm, (mlo, mhi) = covers_095([f.ci_low <= A <= f.ci_high for f in mixed])
    dropped = np.mean([f.model == "random intercept" for f in mixed])
    print(f"coverage (S = {S}): two-stage {p2:.3f} [{lo:.3f}, {hi:.3f}], mixed {pm:.3f} "
          f"[{mlo:.3f}, {mhi:.3f}]; random slope dropped in {dropped:.3f}; mean half-width "
          f"two-stage {np.mean(st['ci_high'] - st['exponent']):.4f}, "
          f"mixed {np.mean([f.ci_high - f.exponent for f in mixed]):.4f}")  # fmt: skip
    assert lo <= 0.95 <= hi
    # t_{J−1} is conservative for the mixed model when the within-seed noise carries much of
    # the slope's variance (its variance estimate then has more than J − 1 df)
    assert pm >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / S)
    assert all(f.model in ("random slope", "random intercept") for f in mixed)
    assert all(
        f.note.startswith("random slope dropped") for f in mixed if f.model != "random slope"
    )
    for est in (st["exponent"], m):
        assert abs(est.mean() - A) < 3 * est.std() / math.sqrt(S)


def test_pooled_fits_of_a_table_are_the_two_estimators_on_it(simulated):
    y, n, st, mixed = simulated
    (pf,) = pooled_fits(table(y[0], n))
    assert (pf.J, pf.df, pf.primary, pf.nonpositive_dropped) == (J, J - 1, "mixed model", 0)
    assert pf.stage["exponent"] == pytest.approx(st["exponent"][0], abs=1e-9)
    assert pf.stage["ci_high"] == pytest.approx(st["ci_high"][0], abs=1e-9)
    assert pf.mixed.exponent == pytest.approx(mixed[0].exponent, abs=1e-6)
    assert (pf.exponent, pf.ci_low) == (pf.mixed.exponent, pf.mixed.ci_low)
    assert pf.theory == pytest.approx(1 / 3)
    assert list(pf.per_seed["target_seed"]) == [1, 2, 3, 4, 5]
    assert pf.tost.margin == 0.05 and pf.tost.half_width < pf.ci_high - pf.exponent
    text = pooled_block(table(y[0], n))
    assert text.startswith("== pooled over target seeds · tv") and "two-stage" in text
    margins = {f"besov D=1 s=1 p=2 band target_seed={j}": 0.1 for j in range(1, 6)}
    assert pooled_fits(table(y[0], n), margin=margins)[0].margin == 0.1
    margins["besov D=1 s=1 p=2 band target_seed=3"] = 0.08  # the study's δ per arm: the smallest
    assert pooled_fits(table(y[0], n), margin=margins)[0].tost.margin == 0.08
    frame = pooled_frame(table(y[0], n))
    assert len(frame) == 1 and frame.loc[0, "exponent"] == pytest.approx(pf.exponent)


def test_without_between_seed_variation_the_mixed_slope_is_the_pooled_ols_slope():
    import statsmodels.api as sm

    rng = np.random.default_rng(7)
    for _ in range(3):
        y, n = studies(rng, 1, reps=3, tau=0.0)
        df = table(y[0], n)
        df = df.drop(index=rng.choice(len(df), 10, replace=False))  # unbalanced
        (pf,) = pooled_fits(df)
        ols = sm.OLS(np.log(df["value"]), sm.add_constant(np.log(df["n"].astype(float)))).fit()
        assert abs(pf.mixed.exponent + ols.params.iloc[1]) < pf.mixed.se


def pairs(rng, S, delta, reps=3):
    """Two estimators on the same training sets: B's exponent A − delta, both with a seed's
    slope effect β_j, B an own seed effect of sd 0.02, a shared n-level effect (sd 0.1) and a
    shared replicate effect (sd 0.1), each its own noise (sd 0.05)."""
    n = np.repeat(NS, reps).astype(float)
    beta = 0.03 * rng.standard_normal((S, J, 1))
    own = 0.02 * rng.standard_normal((S, J, 1))
    u = np.repeat(0.1 * rng.standard_normal((S, J, len(NS))), reps, axis=2)
    common = np.exp(u + 0.1 * rng.standard_normal((S, J, len(n))))
    noise = lambda: np.exp(0.05 * rng.standard_normal((S, J, len(n))))  # noqa: E731
    ya = 0.8 * n ** -(A + beta) * common * noise()
    yb = 0.5 * n ** -(A - delta + beta + own) * common * noise()
    return ya, yb, n


@pytest.mark.parametrize("delta", [0.0, 0.15])
def test_paired_pooled_difference_covers_it_and_detects_015(delta):
    rng = np.random.default_rng(11)
    ya, yb, n = pairs(rng, S, delta)
    d, _, _ = paired_arrays(ya.reshape(-1, len(n)), yb.reshape(-1, len(n)), n)
    st = two_stage(d.reshape(S, J))
    p, (lo, hi) = covers_095((st["ci_low"] <= delta) & (delta <= st["ci_high"]))
    power = float(np.mean(st["ci_low"] > 0))
    print(f"paired pooled difference {delta}: coverage {p:.3f} [{lo:.3f}, {hi:.3f}], CI above 0 "
          f"in {power:.3f}, mean {st['exponent'].mean():+.4f}")  # fmt: skip
    assert lo <= 0.95 <= hi
    assert abs(st["exponent"].mean() - delta) < 3 * st["exponent"].std() / math.sqrt(S)
    if delta:
        assert power >= 0.99
    df = pd.concat([table(ya[0], n), table(yb[0], n, "kde", role="control")])
    (pp,) = pooled_paired(df, "ddpm", "kde")
    assert pp.stage["exponent"] == pytest.approx(st["exponent"][0], abs=1e-9)
    assert pp.verdict == ("differ: ddpm steeper than kde" if delta else "equivalent within ±0.05")
    assert pp.text().startswith("ddpm − kde · tv · besov D=1 s=1 p=2 band · J = 5 seeds: ")


def test_one_seed_groups_give_no_pooled_fit_and_nonpositive_rows_are_reported():
    rng = np.random.default_rng(3)
    y, n = studies(rng, 1, J=3, reps=3)
    y = y[0]
    y[1, -1], y[2, -2] = -0.001, 0.0  # two rows ≤ 0, at the largest n of seeds 2 and 3
    lone, _ = studies(rng, 1, J=1, reps=3)
    df = pd.concat([
        table(y, n),
        table(lone[0], n, "kde", role="control"),  # the KDE on one seed only
        table(lone[0], n, arm="besov D=1 s=2 p=2 band", s=2.0),  # another arm, one seed
    ])  # fmt: skip
    fits = pooled_fits(df)
    assert [(f.estimator, f.arm, f.J) for f in fits] == [("ddpm", "besov D=1 s=1 p=2 band", 3)]
    (pf,) = fits
    assert pf.nonpositive_dropped == 2 and pf.primary == "two-stage"
    assert pf.exponent == pf.stage["exponent"] and "2 rows ≤ 0 dropped" in pf.notes[-1]
    assert "2 rows ≤ 0 dropped" in pooled_block(df)
    assert pf.per_seed["nonpositive"].tolist() == [0, 1, 1]  # the two-stage fits kept them
    assert pooled_paired(df, "ddpm", "kde") == []
    single = df[df["target_seed"] == 1]
    assert pooled_block(single) == "" and pooled_frame(single).empty and pooled_fits(single) == []


def test_rows_the_per_seed_fit_leaves_out_stay_out_and_unmeasured_seeds_are_named():
    rng = np.random.default_rng(5)
    y, n = studies(rng, 1, J=4, reps=3)
    df = table(y[0], n)
    base = pooled_fits(df)[0]
    wild = df.iloc[[0]].assign(replicate=9, value=50.0, flag="rising")
    few = df[(df["target_seed"] == 4) & (df["n"] <= 500)]  # seed 5: two sizes of n
    few = few.assign(target_seed=5, arm="besov D=1 s=1 p=2 band target_seed=5")
    (pf,) = pooled_fits(pd.concat([df, wild, few]))
    assert pf.seeds == (1, 2, 3, 4) and len(pf.per_seed) == 5
    assert pf.mixed.exponent == pytest.approx(base.mixed.exponent, abs=1e-9)
    assert any(note.startswith("left out: seed 5: not measurable") for note in pf.notes)
