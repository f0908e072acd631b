"""Monte Carlo TV of explicit densities under the mixture (docs/tv.md §7)."""

import numpy as np
import pytest
from helpers import UniformBox

from minimax.metrics import tv_exact, tv_mc


class CornerMixture:
    """(1 − ε)·U[0,1]^D + ε·U(corner cube of side w): TV to U = ε(1 − w^D) exactly."""

    def __init__(self, D, eps, w):
        self.D, self.eps, self.w = D, eps, w

    def pdf(self, x):
        corner = np.all(x >= 1 - self.w, axis=1) & np.all(x <= 1, axis=1)
        inside = np.all((x >= 0) & (x <= 1), axis=1)
        return inside * (1 - self.eps) + corner * self.eps / self.w**self.D

    def sample(self, m, rng):
        x = rng.random((m, self.D))
        k = rng.random(m) < self.eps
        x[k] = 1 - self.w * rng.random((int(k.sum()), self.D))
        return x

    def tv(self):
        return self.eps * (1 - self.w**self.D)


@pytest.mark.parametrize("dim", [1, 3, 4])
def test_unbiased_with_an_honest_se(dim):
    # 40 runs: each within 2 se of the truth with probability 0.954 under a normal estimate;
    # P(Binomial(40, 0.954) < 33) ≈ 0.3 %, so fewer than 33 means the se or the mean is wrong
    model = CornerMixture(dim, 0.05, 0.25)
    hits, values = 0, []
    for seed in range(40):
        r = tv_mc(UniformBox(dim), model.pdf, model.sample, points=20_000, rng=seed)
        hits += abs(r.value - model.tv()) <= 2 * r.se
        values.append(r.value)
        assert r.flag == "ok" and r.ci_low <= r.ci_high
    assert hits >= 33
    # the mean of 40 unbiased estimates: within 4 se of the mean
    assert abs(np.mean(values) - model.tv()) <= 4 * r.se / np.sqrt(40)


@pytest.mark.parametrize("dim, s", [(1, 1.0), (2, 1.5)])
def test_agrees_with_quadrature_on_a_kde(dim, s):
    from minimax.baselines import KDE
    from minimax.targets.besov import BesovDensity

    rng = np.random.default_rng(3)
    q = BesovDensity(dim, s, seed=0)
    est = KDE("theory", smoothness=s, support=q.support).fit(q.sample(500, rng))
    exact = tv_exact(q, est.pdf, tol=1e-4)
    r = tv_mc(q, est.pdf, est.sample, points=100_000, rng=rng)
    assert abs(r.value - exact.value) <= 4 * r.se + exact.se


def test_bad_input():
    model = CornerMixture(2, 0.05, 0.25)
    with pytest.raises(ValueError, match="points"):
        tv_mc(UniformBox(2), model.pdf, model.sample, points=10)
    with pytest.raises(ValueError, match="pdf"):
        tv_mc(UniformBox(2), lambda x: -np.ones(len(x)), model.sample, points=1000)
