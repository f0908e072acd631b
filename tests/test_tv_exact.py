"""tv_exact against closed forms: the error must stay within the reported bound."""

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import norm

from minimax.metrics import tv_exact
from minimax.targets.base import Target


class NormalProduct(Target):
    """N(mean, sd² I) with closed-form cell masses (a stand-in for the targets package)."""

    def __init__(self, mean, sd=1.0):
        self.mean = np.asarray(mean, dtype=float)
        self.sd = sd
        self.dim = self.mean.size
        self.support = np.tile([-np.inf, np.inf], (self.dim, 1))

    def pdf(self, x):
        return np.prod(norm.pdf(self._points(x), self.mean, self.sd), axis=1)

    def sample(self, n, rng):
        return self.mean + self.sd * rng.standard_normal((n, self.dim))

    def cell_masses(self, edges):
        out = np.ones(())
        for e, m in zip(edges, self.mean, strict=True):
            out = np.multiply.outer(out, np.diff(ndtr((np.asarray(e) - m) / self.sd)))
        return out

    def describe(self):
        return {"target": "normal"}


class UniformBox(Target):
    """Uniform on [0, 1]^D."""

    def __init__(self, dim):
        self.dim = dim
        self.support = np.tile([0.0, 1.0], (dim, 1))

    def pdf(self, x):
        x = self._points(x)
        return np.all((x >= 0) & (x <= 1), axis=1).astype(float)

    def sample(self, n, rng):
        return rng.random((n, self.dim))

    def cell_masses(self, edges):
        out = np.ones(())
        for e in edges:
            out = np.multiply.outer(out, np.diff(np.clip(np.asarray(e), 0.0, 1.0)))
        return out

    def describe(self):
        return {"target": "uniform"}


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
