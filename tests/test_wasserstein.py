"""W1: exact in D = 1 against closed forms, sliced in D = 2."""

import numpy as np
import pytest
from helpers import NormalProduct, UniformBox

from minimax.metrics import w1


@pytest.mark.parametrize("m, shift", [(10**4, 0.05), (10**5, 0.05), (10**5, 0.3), (10**6, 0.02)])
def test_shifted_normal_in_1d(m, shift):
    rng = np.random.default_rng(m + int(100 * shift))
    r = w1(NormalProduct([0.0]), NormalProduct([shift]).sample(m, rng), rng=rng)
    assert r.method == "exact-1d"
    # W1 of a shift is |shift|; 3 influence-function se (seen calibrated in repeated runs)
    assert abs(r.value - shift) <= 3 * r.se
    assert r.details["linearisation_bound"] < 0.1 * r.se
    # the floor: W1 of M exact samples, of order 1/√M
    assert 0.1 / np.sqrt(m) < r.floor < 3 / np.sqrt(m)


def test_shifted_uniform_with_mass_outside_support():
    rng = np.random.default_rng(3)
    shift = 0.1
    x = rng.random((200_000, 1)) + shift  # U[0.1, 1.1] against U[0, 1]: W1 = 0.1
    r = w1(UniformBox(1), x, rng=rng)
    assert abs(r.value - shift) <= 3 * r.se


def test_null_matches_floor():
    q = NormalProduct([0.0])
    rng = np.random.default_rng(4)
    vals = [w1(q, q.sample(10**4, rng), rng=rng) for _ in range(8)]
    v = np.array([r.value for r in vals])
    f = np.array([r.floor for r in vals])
    # the value on q's own samples and the floor have the same law: means agree within
    # 3 se of the difference of two 8-run means
    se = np.sqrt(v.var(ddof=1) / 8 + f.var(ddof=1) / 8)
    assert abs(v.mean() - f.mean()) <= 3 * se


def test_sliced_shift_in_2d():
    rng = np.random.default_rng(5)
    v = np.array([0.3, 0.0])
    r = w1(NormalProduct([0.0, 0.0]), NormalProduct(v).sample(50_000, rng), rng=rng)
    assert r.method == "sliced"
    # E|θ·v| = (2/π)|v| for θ uniform on the circle; 3 se of direction noise, and the
    # sampling noise (at most about the floor) adds on top
    expected = 2 / np.pi * np.linalg.norm(v)
    assert expected - 3 * r.se <= r.value <= expected + 3 * r.se + 2 * r.floor
    assert r.floor < 0.1 * expected


def test_bad_input():
    q = NormalProduct([0.0])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="dimension"):
        w1(q, rng.random((100, 2)), rng=rng)
    with pytest.raises(ValueError, match="NaN"):
        w1(q, np.array([[0.0], [np.nan]]), rng=rng)
    with pytest.raises(ValueError, match="M=1"):
        w1(q, np.zeros((1, 1)), rng=rng)
    with pytest.raises(ValueError, match="rng"):
        w1(NormalProduct([0.0, 0.0]), rng.random((100, 2)))
