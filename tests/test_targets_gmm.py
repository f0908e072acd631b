"""GaussianMixture: exact pdf, score, marginals, sampler and cell masses."""

import numpy as np
import pytest
from helpers import chi2_pvalue
from scipy import stats

from minimax.targets import GaussianMixture

P_MIN = 1e-3  # chi-square tests at fixed seeds: a correct sampler fails with probability 1e-3


def _gmm(D=2):
    rng = np.random.default_rng(0)
    return GaussianMixture([0.3, 0.7], rng.normal(size=(2, D)), 0.5 + rng.random((2, D)))


def test_pdf_matches_scipy_mixture():
    q = _gmm(3)
    x = np.random.default_rng(1).normal(size=(50, 3)) * 2
    ref = sum(
        w * stats.multivariate_normal(m, np.diag(s**2)).pdf(x)
        for w, m, s in zip(q.weights, q.means, q.stds, strict=True)
    )
    np.testing.assert_allclose(q.pdf(x), ref, rtol=1e-12)
    np.testing.assert_allclose(q.logpdf(x), np.log(ref), rtol=1e-12)


def test_score_matches_finite_differences_and_is_stable_far_out():
    q = _gmm(2)
    x = np.random.default_rng(2).normal(size=(40, 2)) * 2
    h = 1e-5
    fd = np.stack(
        [(q.logpdf(x + h * e) - q.logpdf(x - h * e)) / (2 * h) for e in np.eye(2)], axis=1
    )
    # central difference error O(h^2 · |∂³ log q|) plus rounding O(eps/h) ~ 1e-10
    np.testing.assert_allclose(q.score(x), fd, atol=1e-6)
    far = np.array([[1e4, -1e4]])
    assert np.all(np.isfinite(q.score(far)))
    assert np.isfinite(q.logpdf(far)).all()


def test_score_torch_matches_numpy_and_keeps_dtype():
    torch = pytest.importorskip("torch")
    q = _gmm(2)
    x = np.random.default_rng(3).normal(size=(4, 5, 2))
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        xt = torch.as_tensor(x, dtype=dtype)
        st = q.score_torch(xt)
        assert st.shape == xt.shape and st.dtype == dtype and st.device == xt.device
        ref = q.score(x.reshape(-1, 2)).reshape(x.shape)
        np.testing.assert_allclose(st.double().numpy(), ref, rtol=tol, atol=tol)


def test_marginal_law_matches_monte_carlo():
    q = _gmm(2)
    m, s = 0.6, 0.8
    rng = np.random.default_rng(4)
    x = m * q.sample(100_000, rng) + s * rng.standard_normal((100_000, 2))
    qt = q.marginal(m, s)
    edges = [np.linspace(-3.1, 3.3, 13), np.linspace(-2.7, 3.6, 11)]
    counts, _ = np.histogramdd(x, bins=edges)
    assert chi2_pvalue(counts, qt.cell_masses(edges), len(x)) > P_MIN
    # the score of the marginal is the one the closed form gives
    np.testing.assert_allclose(qt.stds, np.sqrt(m**2 * q.stds**2 + s**2))


def test_cell_masses_match_sampling_and_normalise():
    q = _gmm(2)
    x = q.sample(100_000, np.random.default_rng(5))
    edges = [np.linspace(-3, 3, 9), np.linspace(-2.5, 3.5, 7)]
    counts, _ = np.histogramdd(x, bins=edges)
    assert chi2_pvalue(counts, q.cell_masses(edges), len(x)) > P_MIN
    full = [np.array([-np.inf, -1.0, 0.3, np.inf])] * 2
    assert abs(q.cell_masses(full).sum() - 1) < 1e-14


def test_cell_mass_over_small_cell_is_pdf():
    q = _gmm(1)
    x0, h = 0.37, 1e-4
    mass = q.cell_masses([np.array([x0 - h, x0 + h])])[0]
    # midpoint rule error is O(h^2 q''), far below 1e-7 relative
    assert abs(mass / (2 * h) / q.pdf([[x0]])[0] - 1) < 1e-7


def test_reproducible_and_moments():
    q = _gmm(2)
    a = q.sample(10, np.random.default_rng(7))
    b = q.sample(10, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    x = q.sample(200_000, np.random.default_rng(8))
    se = np.sqrt(np.diag(q.cov()) / len(x))
    assert np.all(np.abs(x.mean(0) - q.mean()) < 5 * se)  # 5 standard errors


@pytest.mark.parametrize(
    "kw",
    [
        dict(weights=[1, np.nan], means=[[0.0], [1.0]], stds=[1, 1]),
        dict(weights=[1, -1], means=[[0.0], [1.0]], stds=[1, 1]),
        dict(weights=[1, 1], means=[[0.0], [1.0]], stds=[1, 0]),
        dict(weights=[1, 1], means=[[0.0]], stds=[1, 1]),
        dict(weights=[1, 1], means=[[0.0], [1.0]], stds=[[1, 1], [1, 1]]),
    ],
)
def test_bad_input(kw):
    with pytest.raises(ValueError, match="is not allowed"):
        GaussianMixture(**kw)


def test_bad_marginal_and_points():
    q = _gmm(2)
    with pytest.raises(ValueError, match="mean_coef"):
        q.marginal(float("nan"), 1.0)
    with pytest.raises(ValueError, match="std"):
        q.marginal(0.0, 0.0)
    with pytest.raises(ValueError, match="x"):
        q.pdf(np.ones((3, 3)))
