"""The KDE control: normalisation, sampler, bandwidth rules, kernels, binned path, rate."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy.integrate import quad
from scipy.stats import chisquare, gaussian_kde, norm

from minimax.baselines import KDE, kernels

BOX1 = np.array([[-1.0, 1.0]])
BOX2 = np.array([[-1.0, 1.0], [-1.0, 1.0]])


def _gl_integral(f, box, cells=64, order=6):
    """Gauss–Legendre tensor quadrature of f over box: per-cell masses and their total."""
    x, w = leggauss(order)
    D = box.shape[0]
    edges = [np.linspace(lo, hi, cells + 1) for lo, hi in box]
    nodes, weights = [], []
    for e in edges:
        half = 0.5 * np.diff(e)
        nodes.append(((0.5 * (e[1:] + e[:-1]))[:, None] + half[:, None] * x).ravel())
        weights.append((half[:, None] * w).ravel())
    grid = np.stack(np.meshgrid(*nodes, indexing="ij"), -1).reshape(-1, D)
    W = weights[0]
    for wd in weights[1:]:
        W = np.multiply.outer(W, wd)
    vals = (f(grid) * W.ravel()).reshape([cells, order] * D)
    masses = vals.sum(axis=tuple(range(1, 2 * D, 2)))
    return masses, edges


def _beta_sample(rng, n, D):
    """A density with a jump at the box edge and nonzero slope there: Beta(2, 1.3) on [-1, 1]."""
    return 2 * rng.beta(2.0, 1.3, size=(n, D)) - 1


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("boundary", ["none", "reflect", "local"])
@pytest.mark.parametrize("order", [2, 4, 6])
def test_pdf_integrates_to_one_inside_the_box(boundary, order):
    rng = np.random.default_rng(10 + order)
    X = _beta_sample(rng, 400, 1)
    k = KDE(0.15, order=order, boundary=boundary, support=BOX1, evaluation="exact").fit(X, rng)
    masses, _ = _gl_integral(k.pdf, BOX1, cells=256, order=8)
    # 8-point GL on cells of width h/19 integrates the smooth parts to ~1e-12; the clipped
    # kernels have kinks, where GL is second-order: (h/19)^2 * |f''| ~ 1e-6 in total. Z itself
    # is a trapezoid on the grid for clipped/local kernels: error <= the measured grid error
    # (sup norm) times the box length, plus the trapezoid error of the same O(delta^2).
    tol = 1e-6 if Z_is_exact(order, boundary) else 2 * k.grid_error(512) * 2 + 1e-5
    assert abs(masses.sum() - 1.0) < tol
    assert np.all(k.pdf(np.array([[-1.001], [1.001]])) == 0.0)


def Z_is_exact(order, boundary):
    return order == 2 and boundary in ("none", "reflect")


def test_pdf_integrates_to_one_in_2d_and_without_support():
    rng = np.random.default_rng(11)
    X = _beta_sample(rng, 300, 2)
    k = KDE(0.2, support=BOX2).fit(X, rng)  # auto boundary: reflect
    assert k.boundary_ == "reflect"
    masses, _ = _gl_integral(k.pdf, BOX2, cells=40, order=6)
    assert abs(masses.sum() - 1.0) < 1e-6  # GL error on cells of width h/4: ~1e-8
    free = KDE(0.2, boundary="none").fit(X, rng)
    big = np.array([[-3.0, 3.0], [-3.0, 3.0]])  # the data ± 9h
    masses, _ = _gl_integral(free.pdf, big, cells=60, order=6)
    assert abs(masses.sum() - 1.0) < 1e-6


def test_reflection_equals_the_image_sum():
    """One point: the folded density is Σ_k φ((x−X−4k)/h)/h + φ((x+X+2−4k)/h)/h on [−1, 1]."""
    X0, h = 0.83, 0.4
    k = KDE(h, boundary="reflect", support=BOX1, evaluation="exact").fit(np.array([[X0], [X0]]))
    x = np.linspace(-1, 1, 101)
    expect = sum(norm.pdf(x, X0 + 4 * j, h) + norm.pdf(x, -2 - X0 + 4 * j, h) for j in range(-5, 6))
    np.testing.assert_allclose(k.pdf(x[:, None]), expect, rtol=1e-12)
    k.evaluation = "grid"
    assert np.max(np.abs(k.pdf(x[:, None]) - expect)) <= k.grid_error_bound_


# --------------------------------------------------------------------------- sampler
@pytest.mark.parametrize(
    "boundary,order,D",
    [("reflect", 2, 1), ("none", 2, 1), ("reflect", 2, 2), ("local", 4, 1), ("none", 4, 2)],
)
def test_sample_matches_pdf(boundary, order, D):
    rng = np.random.default_rng(20 + D + order)
    X = _beta_sample(rng, 200, D)
    box = BOX1 if D == 1 else BOX2
    k = KDE(0.12 if D == 1 else 0.2, order=order, boundary=boundary, support=box).fit(X, rng)
    masses, edges = _gl_integral(k.pdf, box, cells=20 if D == 1 else 8, order=8)
    M = 200_000
    Y = k.sample(M, rng)
    assert Y.shape == (M, D) and np.all((Y >= box[:, 0]) & (Y <= box[:, 1]))
    counts, _ = np.histogramdd(Y, bins=edges)
    expected = M * masses.ravel() / masses.sum()
    # The exact samplers must pass at p > 1e-3 (fixed seed). The grid sampler draws from the
    # trapezoid histogram on cells of width h/32, whose cell masses differ from these by
    # O((h/32)^2 f'') ~ 1e-6 relative: far below the chi-square resolution 1/sqrt(M p).
    assert chisquare(counts.ravel(), expected).pvalue > 1e-3


# --------------------------------------------------------------------------- bandwidth rules
def test_bandwidth_rules_give_the_known_values_on_a_normal_sample():
    rng = np.random.default_rng(30)
    n = 20_000
    sigma = np.array([2.0, 0.5])
    X = rng.normal(size=(n, 2)) * sigma
    scott = KDE("scott", boundary="none").fit(X, rng).h_
    silver = KDE("silverman", boundary="none").fit(X, rng).h_
    # relative se of the sample sd: 1/sqrt(2n); of IQR/1.349 for a normal: 1.166/sqrt(n)
    # (asymptotic variance of sample quantiles); k = 4 se.
    np.testing.assert_allclose(scott, sigma * n ** (-1 / 6), rtol=4 / np.sqrt(2 * n))
    np.testing.assert_allclose(
        silver, (4 / 4) ** (1 / 6) * sigma * n ** (-1 / 6), rtol=4 * 1.166 / np.sqrt(n)
    )
    # D = 1: Silverman's 1.06 σ n^{-1/5}, and Scott's rule is scipy's gaussian_kde bandwidth
    x1 = X[:, :1]
    h1 = KDE("silverman", boundary="none").fit(x1, rng).h_[0]
    assert h1 == pytest.approx(1.06 * 2.0 * n ** (-1 / 5), rel=4 * 1.166 / np.sqrt(n) + 0.001)
    ref = gaussian_kde(x1[:, 0])
    assert KDE("scott", boundary="none").fit(x1, rng).h_[0] == pytest.approx(
        np.sqrt(ref.covariance[0, 0]),
        rel=1e-12,  # scipy: covariance = factor² · S²
    )
    th = KDE("theory", smoothness=1.5, c=0.7, boundary="none").fit(X, rng).h_
    np.testing.assert_allclose(th, 0.7 * n ** (-1 / (2 * 1.5 + 2)), rtol=1e-14)


def test_cross_validation_bandwidth_is_sensible():
    rng = np.random.default_rng(31)
    n = 2000
    X = rng.normal(size=(n, 1))
    k = KDE("cv", boundary="none").fit(X, rng)
    assert not k.cv_at_edge_
    # Likelihood CV targets the KL-optimal h, asymptotically 1.06 n^{-1/5} for the normal, with
    # relative spread O(n^{-1/10}) ≈ 0.47 here (Hall & Marron 1987): a factor-2 window.
    assert 0.5 < k.h_[0] / (1.06 * n ** (-1 / 5)) < 2.0
    # the chosen bandwidth maximises the leave-one-out likelihood it reports
    assert k.h_[0] == pytest.approx(
        k.cv_factors_[np.argmax(k.cv_scores_)] * np.std(X, ddof=1) * n**-0.2
    )


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("order", [2, 4, 6])
def test_higher_order_kernel_moments(order):
    c = kernels.interior_coefficients(order)
    mom = [
        quad(lambda u, k=k: u**k * kernels.evaluate(c, np.array(u)), -np.inf, np.inf)[0]
        for k in range(order + 1)
    ]
    assert mom[0] == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(mom[1:order], 0.0, atol=1e-10)
    assert abs(mom[order]) > 0.5  # the first nonvanishing moment: 1, -3, 15 (Wand & Jones §2.8)
    # boundary versions keep the moments on the truncated range (local polynomial kernels)
    for lo, hi in [(-12.0, 0.0), (-0.7, 9.0), (-np.inf, 1.3)]:
        cb = kernels.coefficients(order, lo, hi)
        mb = [
            quad(lambda u, k=k, cb=cb: u**k * kernels.evaluate(cb, np.array(u)), lo, hi)[0]
            for k in range(order)
        ]
        np.testing.assert_allclose(mb, np.eye(order)[0], atol=1e-8)


def test_higher_order_kernel_reduces_bias_on_a_smooth_density():
    """With n huge the error is the bias: order 4 beats order 2 at the same h (normal data)."""
    rng = np.random.default_rng(32)
    X = rng.normal(size=(200_000, 1))
    x = np.linspace(-3, 3, 601)[:, None]
    err = {}
    for order in (2, 4):
        k = KDE(0.4, order=order, boundary="none").fit(X, rng)
        err[order] = np.max(np.abs(k.pdf(x) - norm.pdf(x[:, 0])))
    # bias at h = 0.4: order 2 ≈ h²/2 |φ''| ≤ 0.032; order 4 ≈ h⁴·3/24 |φ''''| ≈ 0.001; the
    # sampling sd is ≈ sqrt(φ(0)·0.28/(n h)) ≈ 0.0012, so 0.01 separates them at > 5 sd.
    assert err[2] > 0.02 > 0.01 > err[4]


# --------------------------------------------------------------------------- binned path
@pytest.mark.parametrize("boundary", ["none", "reflect"])
@pytest.mark.parametrize("D", [1, 2])
def test_grid_evaluation_matches_direct_within_the_binning_bound(boundary, D):
    rng = np.random.default_rng(40 + D)
    box = BOX1 if D == 1 else BOX2
    X = _beta_sample(rng, 3000, D)
    k = KDE("scott", boundary=boundary, support=box).fit(X, rng)
    err = k.grid_error(400, rng)
    assert err <= k.grid_error_bound_
    assert err > 0  # the two paths are different computations


def test_grid_error_of_local_kernels_falls_like_delta_squared():
    rng = np.random.default_rng(43)
    X = _beta_sample(rng, 3000, 1)
    errs = []
    for g in (16, 32, 64):
        k = KDE(0.1, order=4, boundary="local", support=BOX1, grid_per_bandwidth=g).fit(X, rng)
        errs.append(k.grid_error(2000, np.random.default_rng(0)))
    # second-order methods: halving δ divides the error by 4; allow 2.5 for pre-asymptotics
    assert errs[0] / errs[1] > 2.5 and errs[1] / errs[2] > 2.5
    assert errs[1] < 2e-3 * k.pdf(np.linspace(-1, 1, 201)[:, None]).max()


# --------------------------------------------------------------------------- bad input
def test_bad_input_is_refused():
    rng = np.random.default_rng(50)
    X = rng.uniform(-1, 1, size=(100, 2))
    for h in (0.0, -0.1, float("nan"), [0.1, -0.1], [0.1, 0.2, 0.3]):
        with pytest.raises(ValueError, match="bandwidth"):
            KDE(h, support=BOX2).fit(X, rng)
    bad = X.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KDE(0.1).fit(bad, rng)
    with pytest.raises(ValueError, match="support"):
        KDE(0.1, support=BOX1).fit(X, rng)
    with pytest.raises(ValueError, match="outside"):
        KDE(0.1, support=BOX2).fit(X * 2, rng)
    with pytest.raises(ValueError, match="smoothness"):
        KDE("theory", support=BOX2).fit(X, rng)
    with pytest.raises(ValueError, match="order"):
        KDE(0.1, order=3).fit(X, rng)
    with pytest.raises(ValueError, match="boundary"):
        KDE(0.1, boundary="reflect").fit(X, rng)
    with pytest.raises(ValueError, match="bandwidth"):
        KDE("plugin").fit(X, rng)
    k = KDE(0.1, support=BOX2).fit(X, rng)
    with pytest.raises(ValueError, match="dimension"):
        k.pdf(np.zeros((3, 1)))
