"""Equivalence verdicts (TOST) and the coverage of the rate fit's CI, measured by simulation.

Tolerances are binomial: a proportion p̂ of S simulated studies has Monte Carlo standard error
sqrt(p(1-p)/S); a claim "p ≥ p0" is checked as p̂ ≥ p0 − 3·se(p0), which a method whose true
rate is exactly p0 fails with probability 0.13% (one-sided normal tail at 3 se); "p ≤ p0" as
p̂ ≤ p0 + 3·se(p0). docs/verdicts.md §5 quotes the numbers these tests print.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from minimax.study import verdicts
from minimax.study.coverage import Case, coverage, equivalence_rate

S = 2000  # simulated studies per case (≥ 300; each case takes well under a second)


def at_least(p_hat: float, p0: float, n: int = S) -> bool:
    return p_hat >= p0 - 3 * math.sqrt(p0 * (1 - p0) / n)


def at_most(p_hat: float, p0: float, n: int = S) -> bool:
    return p_hat <= p0 + 3 * math.sqrt(p0 * (1 - p0) / n)


def test_tost_is_the_90_percent_ci_inside_the_margin():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 0.6, 5000)
    se = rng.uniform(0.001, 0.08, 5000)
    df = rng.integers(2, 10, 5000)
    w, lo, hi, p, p2, eq, _, _ = verdicts.tost_arrays(a, se, df, 0.3, 0.05)
    q = stats.t.ppf(0.95, df)
    inside = (a - q * se > 0.25) & (a + q * se < 0.35)
    assert np.array_equal(eq, inside) and 100 < inside.sum() < 4900
    assert np.allclose(w, q * se) and np.allclose(p2, 2 * stats.t.sf(np.abs(a - 0.3) / se, df))


@pytest.mark.parametrize(
    ("a", "se", "verdict"),
    [
        (0.31, 0.005, "equivalent to theory within ±0.05"),
        (0.40, 0.005, "steeper"),
        (0.20, 0.005, "flatter"),
        (0.30, 0.04, "not resolved by this design: CI half-width 0.081 > δ = 0.05"),
        (0.33, 0.012, "not resolved by this design: CI half-width 0.024 ≤ δ = 0.05, but it "
         "crosses the margin"),
    ],
)  # fmt: skip
def test_each_verdict(a, se, verdict):
    t = verdicts.tost(a, se, 5, 0.3, 0.05)
    assert verdicts.verdict_text(t, a, 0.3) == verdict
    code = verdicts.verdict_codes(np.array([a]), np.array([se]), 5, 0.3, 0.05)[0]
    assert code == {"e": 0, "s": 1, "f": 2, "n": 3}[verdict[0]]


def test_an_exact_fit_has_a_verdict_without_division_by_zero():
    assert verdicts.tost(0.31, 0.0, 5, 0.3, 0.05).equivalent
    t = verdicts.tost(0.0, 0.0, 5, 0.3, 0.05)
    assert not t.equivalent and verdicts.verdict_text(t, 0.0, 0.3) == "flatter"


@pytest.mark.parametrize("margin", [0, -0.1, 1.5, float("nan"), "0.05"])
def test_bad_margin_is_refused(margin):
    with pytest.raises(ValueError, match="margin=.* is not allowed"):
        verdicts.check_margin(margin)


# -- error rates and coverage by simulation ---------------------------------------------------
TIGHT = dict(reps=5, tau=0.02, sigma=0.05)  # a design able to show equivalence (w ≈ 0.02)


@pytest.mark.parametrize("side", [-1, 1])
def test_type_one_error_of_equivalence_at_the_margin_is_at_most_5_percent(side):
    theory, margin = 1 / 3, 0.05
    rate = equivalence_rate(Case("exact", a=theory + side * margin, **TIGHT), theory, margin, S)
    print(f"P(equivalent | a = theory {'+' if side > 0 else '−'} δ) = {rate:.3f} (S = {S})")
    assert at_most(rate, 0.05), rate


def test_equivalence_has_power_at_the_theory_on_a_tight_design():
    # the type I error test above would pass trivially if equivalence were never declared
    rate = equivalence_rate(Case("exact", a=1 / 3, **TIGHT), 1 / 3, 0.05, S)
    print(f"P(equivalent | a = theory) = {rate:.3f}")
    assert at_least(rate, 0.80), rate


@pytest.mark.parametrize("reps", [3, 5])
def test_ci_covers_at_its_level_when_the_model_holds(reps):
    r = coverage(Case("exact", reps=reps), S, seed=reps)
    print(f"exact, {reps} replicates: coverage {r.fit:.3f}, trend flagged {r.flagged:.3f}")
    # CRV3 with 6 clusters: 94.4% measured in 20,000 studies (docs/verdicts.md), nominal 95%
    assert at_least(r.fit, 0.93) and at_most(r.fit, 0.95)
    assert at_most(r.flagged, 0.05)  # the trend check's false alarms


def test_a_log_factor_breaks_the_k0_ci_and_the_hull_over_k_covers():
    r = coverage(Case("log-factor", k_true=1.0), S, seed=10)
    print(f"log factor k=1: k=0 CI {r.fit:.3f}, hull over k ∈ {{0, ½, 1}} {r.hull:.3f}")
    assert at_least(r.hull, 0.90)
    assert not at_least(r.fit, 0.90)  # the reason for the hull: the k = 0 CI misses a
    assert at_least(r.fit_range, 0.93)  # valid for what it estimates: the range's exponent


def test_heteroscedastic_noise_with_values_below_zero_is_covered():
    r = coverage(Case("heteroscedastic", reps=5, sigma_hi=0.8), S, seed=11)
    print(
        f"heteroscedastic: coverage {r.fit:.3f} (failed fits {r.failed:.3f}); mean exponent "
        f"{r.mean_exponent:.3f} (log-link, every row) vs {r.ols_mean_exponent:.3f} (OLS on log, "
        "positive rows), true 0.333"
    )
    assert at_least(r.fit, 0.90)
    # truncation and the log bias OLS on log e: its bias is several times the log-link fit's
    assert abs(r.ols_mean_exponent - 1 / 3) > 2 * abs(r.mean_exponent - 1 / 3)


def test_a_visible_bend_is_flagged_and_the_ci_holds_the_range_exponent():
    r = coverage(Case("bend", bend=1.0, sigma=0.01, tau=0.005), S, seed=12)
    print(f"bend A=1, low noise: coverage {r.fit:.3f}, flagged {r.flagged:.3f}")
    assert at_least(r.fit_or_flagged, 0.90)
    for case in (Case("bend", bend=0.25), Case("bend", bend=1.0)):
        r = coverage(case, S, seed=13)
        print(
            f"bend A={case.bend:g}, σ=0.1: coverage of a {r.fit:.3f}, of the range exponent "
            f"{r.range_exponent:.3f}: {r.fit_range:.3f}; flagged {r.flagged:.3f}"
        )
        assert at_least(r.fit_range, 0.93)
