"""tv_exact against closed forms: the error must stay within the reported bound."""

import numpy as np
import pytest
from helpers import NormalProduct, UniformBox
from scipy.stats import norm

from minimax.metrics import tv_exact


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("shift", [0.02, 0.3, 1.0])
def test_shifted_normals_within_bound(dim, shift):
    q = NormalProduct(np.zeros(dim))
    p = NormalProduct(np.r_[shift, np.zeros(dim - 1)])
    r = tv_exact(q, p.pdf, tol=2e-4)
    truth = 2 * norm.cdf(shift / 2) - 1
    assert r.flag == "ok"
    assert abs(r.value - truth) <= r.se
    assert r.se <= 2e-4 + r.details["tail_mass_outside_box"]
    assert r.ci_low <= truth <= r.ci_high


def test_identical_density_gives_zero():
    q = NormalProduct(np.zeros(2))
    r = tv_exact(q, q.pdf)
    assert r.value <= r.se and r.se < 1e-4


def test_cosine_perturbation_of_uniform():
    # p̂ = 1 + a cos(2π x1) on [0,1]²: TV = ½ a ∫|cos 2πx| dx = a/π
    a = 0.3
    r = tv_exact(UniformBox(2), lambda x: 1 + a * np.cos(2 * np.pi * x[:, 0]))
    assert abs(r.value - a / np.pi) <= r.se
    assert r.flag == "ok"


def test_mass_outside_support_is_counted():
    # p̂ uniform on [-0.1, 1] × [0, 1]: TV = 1 - 1/1.1 (the 1/11 outside plus the deficit inside)
    def pdf(x):
        inside = (x[:, 0] >= -0.1) & (x[:, 0] <= 1) & (x[:, 1] >= 0) & (x[:, 1] <= 1)
        return inside / 1.1

    r = tv_exact(UniformBox(2), pdf)
    assert abs(r.value - (1 - 1 / 1.1)) <= r.se
    assert abs(r.details["outside_mass"] - 0.1 / 1.1) < 1e-3


def test_linear_density_in_1d():
    # p̂ = 2x on [0, 1] against uniform: ∫(1 - 2x)_+ = 1/4
    r = tv_exact(UniformBox(1), lambda x: 2 * x[:, 0])
    assert abs(r.value - 0.25) <= r.se


def test_bad_input():
    q = UniformBox(1)
    with pytest.raises(ValueError, match="NaN"):
        tv_exact(q, lambda x: np.full(len(x), np.nan))
    with pytest.raises(ValueError, match="negative"):
        tv_exact(q, lambda x: -np.ones(len(x)))
    with pytest.raises(ValueError, match="values for"):
        tv_exact(q, lambda x: np.ones(3))
    with pytest.raises(ValueError, match="pdf="):
        tv_exact(q, 3.0)
    with pytest.raises(ValueError, match="tol="):
        tv_exact(q, q.pdf, tol=0.0)
