"""score_error against closed forms for a Gaussian target under a VP-type process."""

import numpy as np
import pytest

from minimax.metrics import score_error
from minimax.targets import GaussianMixture

S0 = 0.5  # target N(0, S0² I)


def marginal(t):
    return np.exp(-t), np.sqrt(-np.expm1(-2 * t))


def variance(t):
    m, s = marginal(t)
    return m * m * S0 * S0 + s * s  # q_t = N(0, v_t I)


def exact(x, t):
    return -x / variance(t)


TGRID = np.geomspace(1e-3, 1.0, 6)


@pytest.fixture
def target():
    return GaussianMixture([1.0], [[0.0, 0.0]], [[S0, S0]])


def test_exact_score_gives_zero(target):
    r = score_error(exact, exact, target, marginal, TGRID, m=1000, rng=0)
    assert r.value == 0.0 and r.se == 0.0


def test_constant_offset(target):
    c = np.array([0.3, -0.4])  # ‖c‖² = 0.25 at every t, no Monte Carlo noise
    r = score_error(lambda x, t: exact(x, t) + c, exact, target, marginal, TGRID, m=500, rng=1)
    sig2 = np.array([marginal(t)[1] ** 2 for t in TGRID])
    assert r.value == pytest.approx(0.25 * sig2.mean(), rel=1e-12)
    r2 = score_error(
        lambda x, t: exact(x, t) + c, exact, target, marginal, TGRID, m=500, rng=1, weighting="none"
    )
    assert r2.value == pytest.approx(0.25, rel=1e-12)


def test_scaled_score(target):
    # ŝ = (1 + a) s*: e(t) = a² E‖x_t‖²/v_t² = a² D / v_t
    a = 0.2
    r = score_error(
        lambda x, t: (1 + a) * exact(x, t), exact, target, marginal, TGRID, m=20_000, rng=2
    )
    for row in r.details["per_t"]:
        expected = a * a * 2 / variance(row["t"])
        assert abs(row["error"] - expected) <= 3 * row["se"]  # 3 Monte Carlo se
    expected = np.mean([marginal(t)[1] ** 2 * a * a * 2 / variance(t) for t in TGRID])
    assert abs(r.value - expected) <= 3 * r.se


def test_bad_input(target):
    with pytest.raises(ValueError, match="shape"):
        score_error(lambda x, t: x[:, :1], exact, target, marginal, TGRID, m=10, rng=0)
    with pytest.raises(ValueError, match="NaN"):
        score_error(lambda x, t: x * np.nan, exact, target, marginal, TGRID, m=10, rng=0)
    with pytest.raises(ValueError, match="t_grid"):
        score_error(exact, exact, target, marginal, [0.0, 1.0], m=10, rng=0)
    with pytest.raises(ValueError, match="m="):
        score_error(exact, exact, target, marginal, TGRID, m=1, rng=0)
    with pytest.raises(ValueError, match="weighting"):
        score_error(exact, exact, target, marginal, TGRID, m=10, rng=0, weighting="x")


def test_time_integral_is_the_unweighted_integral_in_t():
    # per-t errors e(t) = 1/t integrate to log(b/a) (exact for the trapezoid in log t: e·t = 1)
    # and e(t) = 1 to b − a (trapezoid error ≤ (Δ log t)²/12 relative on a 200-point grid)
    from minimax.metrics import MetricResult, score_error_integral

    t = np.geomspace(1e-3, 1.0, 200)
    for e, truth in ((1 / t, np.log(1e3)), (np.ones_like(t), 1.0 - 1e-3)):
        per_t = [{"t": a, "error": b, "se": 0.1 * b} for a, b in zip(t, e, strict=True)]
        r = score_error_integral(MetricResult("score", 0.0, details={"per_t": per_t}))
        assert r.metric == "score_integral"
        assert r.value == pytest.approx(truth, rel=1e-3)
        assert 0 < r.se < 0.1 * r.value  # independent per-t errors average down
