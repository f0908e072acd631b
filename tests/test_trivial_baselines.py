"""Trivial baselines: uniform on the box and the maximum-likelihood Gaussian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from minimax.baselines import BestGaussian, UniformBox
from minimax.estimator import Estimator

BOX = np.array([[-1.0, 1.0], [0.0, 3.0]])


def test_uniform_pdf_integrates_to_one_on_the_box():
    u = UniformBox(support=BOX).fit(np.zeros((3, 2)) + [0.0, 1.0], np.random.default_rng(0))
    # midpoint rule on [-2, 2] x [-1, 4] with the box edges on cell edges: exact for a step
    # function whose jumps sit on cell edges, so the only error is rounding.
    k = 400
    ex, ey = np.linspace(-2, 2, k + 1), np.linspace(-1, 4, k + 1)
    cx, cy = 0.5 * (ex[1:] + ex[:-1]), 0.5 * (ey[1:] + ey[:-1])
    g = np.stack(np.meshgrid(cx, cy, indexing="ij"), -1).reshape(-1, 2)
    total = u.pdf(g).sum() * (4 / k) * (5 / k)
    assert abs(total - 1.0) < 1e-9
    assert u.pdf(np.array([[0.0, 1.0]]))[0] == pytest.approx(1 / 6)
    assert u.pdf(np.array([[1.5, 1.0]]))[0] == 0.0


def test_uniform_samples_are_uniform_on_the_box():
    rng = np.random.default_rng(1)
    u = UniformBox(support=BOX).fit(rng.random((10, 2)), rng)
    Y = u.sample(60_000, rng)
    assert np.all((Y >= BOX[:, 0]) & (Y <= BOX[:, 1]))
    counts, _, _ = np.histogram2d(Y[:, 0], Y[:, 1], bins=[8, 6], range=BOX)
    # equal cell masses under H0; fixed seed, reject only at p < 1e-3
    assert chisquare(counts.ravel()).pvalue > 1e-3


def test_uniform_without_support_uses_the_data_bounding_box():
    rng = np.random.default_rng(2)
    X = rng.uniform([-2, 5], [1, 6], size=(500, 2))
    u = UniformBox().fit(X, rng)
    np.testing.assert_allclose(u.box_, np.stack([X.min(0), X.max(0)], 1))
    assert u.pdf(X).min() == pytest.approx(1 / np.prod(X.max(0) - X.min(0)))


def test_best_gaussian_recovers_mean_and_covariance():
    rng = np.random.default_rng(3)
    mu = np.array([0.5, -1.0, 2.0])
    A = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.2, 0.5]])
    cov = A @ A.T
    n = 20_000
    X = rng.multivariate_normal(mu, cov, size=n)
    g = BestGaussian().fit(X, rng)
    # se of a sample mean: sqrt(Σ_ii/n); of a covariance entry: sqrt((Σ_ii Σ_jj + Σ_ij²)/n)
    # (Anderson 2003, Thm 3.4.4). k = 4 standard errors.
    se_mu = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(g.mean_ - mu) < 4 * se_mu)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(g.cov_ - cov) < 4 * se_cov)
    # it is the MLE: divisor n, not n - 1
    np.testing.assert_allclose(g.cov_, np.cov(X, rowvar=False, bias=True), rtol=1e-12)
    # its sampler draws from N(mean_, cov_): the same 4-se checks on m fresh draws
    m = 50_000
    Y = g.sample(m, rng)
    assert np.all(np.abs(Y.mean(0) - g.mean_) < 4 * np.sqrt(np.diag(g.cov_) / m))
    se_y = np.sqrt((np.outer(np.diag(g.cov_), np.diag(g.cov_)) + g.cov_**2) / m)
    assert np.all(np.abs(np.cov(Y, rowvar=False) - g.cov_) < 4 * se_y)


def test_best_gaussian_pdf_is_the_normal_density():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 1)) * 2 + 1
    g = BestGaussian().fit(X, rng)
    x = np.linspace(-10, 12, 20001)[:, None]
    s2 = g.cov_[0, 0]
    expect = np.exp(-((x[:, 0] - g.mean_[0]) ** 2) / (2 * s2)) / np.sqrt(2 * np.pi * s2)
    np.testing.assert_allclose(g.pdf(x), expect, rtol=1e-10, atol=1e-300)


def test_the_study_builds_each_classical_baseline_by_its_name():
    from minimax.study.registry import ESTIMATORS
    from minimax.study.spec import spec_from_values
    from minimax.targets import make_target

    names = [k for k, e in ESTIMATORS.items() if not e.uses_torch and not e.plugin]
    assert names == ["kde", "kde-oracle", "wavelet", "uniform", "gaussian"]
    spec = spec_from_values({"D": 2, "s": 1.5, "n": [300, 600, 1200]}, name="t")
    target = make_target("besov", D=2, s=1.5, n_max=1200)
    rng = np.random.default_rng(5)
    X = target.sample(300, rng)
    for name in names:
        est = ESTIMATORS[name].build(target, spec, 300, {})
        assert isinstance(est, Estimator) and est.has_pdf
        est.fit(X, rng)
        Y = est.sample(100, rng)
        assert Y.shape == (100, 2) and np.all(np.isfinite(est.pdf(Y)))
        assert est.describe()["estimator"] == name


def test_bad_input_is_refused():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 2))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        UniformBox().fit(bad, rng)
    with pytest.raises(ValueError, match="NaN"):
        BestGaussian().fit(bad, rng)
    with pytest.raises(ValueError, match="support"):
        UniformBox(support=[[0, 1]]).fit(X, rng)
    with pytest.raises(ValueError, match="support"):
        UniformBox(support=[[1, 0], [0, 1]]).fit(X, rng)
    with pytest.raises(ValueError, match="singular"):
        BestGaussian().fit(np.c_[X[:, 0], 2 * X[:, 0]], rng)
    g = BestGaussian().fit(X, rng)
    with pytest.raises(ValueError, match="dimension"):
        g.pdf(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="m="):
        g.sample(-1, rng)
