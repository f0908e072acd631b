"""BesovDensity: exact normalisation, pdf, cell masses and sampling; certified amplitude; input."""

import math

import numpy as np
import pytest
from helpers import chi2_pvalue
from scipy import integrate

from minimax.targets import BesovDensity

P_MIN = 1e-3  # a correct sampler fails one chi-square test with probability 1e-3


def _knot_gauss(q, per_knot_nodes):
    """Gauss-Legendre nodes/weights on every level-J knot interval of [-1, 1] (x units)."""
    n = 2**q.J
    x, w = np.polynomial.legendre.leggauss(per_knot_nodes)
    left = -1 + 2 * np.arange(n) / n
    h = 2 / n
    return (left[:, None] + h * (x + 1) / 2).ravel(), np.tile(w * h / 2, n)


@pytest.mark.parametrize("boundary", ["band", "smooth"])
@pytest.mark.parametrize("D", [1, 2])
def test_normalised_and_masses_agree_with_quadrature(D, boundary):
    q = BesovDensity(D, 1.5, J=6, boundary=boundary, seed=3)
    # fine grid, not aligned with the knots, reaching beyond the box
    edges = [np.linspace(-1.07, 1.11, 157 if D == 1 else 61)] * D
    assert abs(q.cell_masses(edges).sum() - 1) < 1e-10
    # on each knot interval the pdf is a polynomial of degree r + 1 (tilt) + r (window):
    # r + 2 Gauss nodes integrate it exactly, so the quadrature is exact up to rounding
    nodes, weights = _knot_gauss(q, q.degree + 2)
    f = q.grid_pdf([nodes] * D)
    w = weights if D == 1 else np.multiply.outer(weights, weights)
    assert abs(np.sum(f * w) - 1) < 1e-10
    # per knot cell (aligned grid) masses against the same exact quadrature
    n = 2**q.J
    kn = [np.linspace(-1, 1, n + 1)] * D
    m = q.cell_masses(kn)
    f = f.reshape((n, q.degree + 2) * D if D == 1 else (n, q.degree + 2, n, q.degree + 2))
    if D == 1:
        quad = f @ weights.reshape(n, -1)[0]
    else:
        wk = weights.reshape(n, -1)[0]
        quad = np.einsum("aibj,i,j->ab", f, wk, wk)
    np.testing.assert_allclose(quad, m, rtol=1e-9, atol=1e-14)


def test_masses_of_unaligned_cells_match_adaptive_quadrature_1d():
    q = BesovDensity(1, 1.0, J=7, boundary="smooth", seed=1)
    edges = np.array([-1.3, -0.913, -0.2071, 0.0333, 0.5, 0.9871, 1.2])
    knots = np.linspace(-1, 1, 2**q.J + 1)
    m = q.cell_masses([edges])
    for a, b, mass in zip(edges[:-1], edges[1:], m, strict=True):
        pts = knots[(knots > a) & (knots < b)]
        val, err = integrate.quad(lambda t: q.pdf([[t]])[0], a, b, points=pts, limit=400)
        assert abs(val - mass) < 1e-10 + 10 * err


@pytest.mark.parametrize("boundary", ["band", "smooth"])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_sampling_is_exact_chi_square(D, boundary):
    q = BesovDensity(D, 1.5, boundary=boundary, J={1: 8, 2: 6, 3: 5}[D], seed=2)
    x = q.sample(100_000, np.random.default_rng(10 + D))
    assert x.shape == (100_000, D)
    assert np.all(np.abs(x) <= 1)
    # grids not aligned with any dyadic knot; cell counts chosen so expected counts are >> 5
    G = {1: 101, 2: 23, 3: 9}[D]
    edges = [np.linspace(-1.0137, 0.9991, G + 1)] * D
    counts, _ = np.histogramdd(x, bins=edges)
    assert chi2_pvalue(counts, q.cell_masses(edges), len(x)) > P_MIN


def test_pdf_zero_outside_positive_inside_and_within_certified_bounds():
    for boundary in ("band", "smooth"):
        q = BesovDensity(2, 1.0, J=6, boundary=boundary, seed=4)
        lo, hi = q.certified_pdf_bounds
        c = np.linspace(-0.999, 0.999, 401)
        f = q.grid_pdf([c, c])
        assert f.max() <= hi * (1 + 1e-12)
        if boundary == "band":
            assert f.min() >= lo * (1 - 1e-12) and lo > 0
        else:
            assert f.min() >= 0 and f[200, 200] > 0
        out = np.array([[1.01, 0.0], [0.0, -1.2], [5.0, 5.0]])
        assert np.all(q.pdf(out) == 0)
        assert np.all(np.isneginf(q.logpdf(out)))


def test_grid_pdf_equals_pointwise_pdf():
    q = BesovDensity(2, 2.0, J=6, boundary="smooth", seed=5)
    a, b = np.linspace(-1.1, 1.1, 17), np.linspace(-0.95, 0.9, 13)
    pts = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
    np.testing.assert_allclose(q.grid_pdf([a, b]).ravel(), q.pdf(pts), rtol=1e-13, atol=1e-15)


def test_max_amplitude_is_certified_and_far_from_uniform():
    for D, s in ((1, 1.0), (2, 1.5)):
        for boundary in ("band", "smooth"):
            q = BesovDensity(D, s, boundary=boundary)
            d = q.describe()
            assert d["tv_to_uniform"] >= 0.2, d
        # the perturbed factor's certified minimum is exactly min_ratio times its mean
        q = BesovDensity(D, s, tilt=0.0)
        lo = q.certified_pdf_bounds[0]
        assert lo == pytest.approx(0.2 / 2**D, rel=1e-9)
        # a 10% larger amplitude would break the certificate's bound
        bigger = BesovDensity(D, s, tilt=0.0, amplitude=1.1 * q.amplitude)
        assert bigger.certified_pdf_bounds[0] < 0.2 / 2**D


def test_tv_to_uniform_matches_independent_quadrature():
    q = BesovDensity(1, 1.0, J=7)
    x = np.linspace(-1, 1, 400_001)
    f = q.pdf(x[:, None])
    tv = 0.5 * integrate.trapezoid(np.abs(f - 0.5), x)
    assert abs(tv - q.tv_to_uniform) < 1e-5  # trapezoid error O(h^2 f'') ~ 1e-8 plus kinks


def test_reproducible_and_seed_dependent():
    a = BesovDensity(2, 1.5, J=6, seed=7)
    b = BesovDensity(2, 1.5, J=6, seed=7)
    c = BesovDensity(2, 1.5, J=6, seed=8)
    x = np.random.default_rng(0).uniform(-1, 1, (500, 2))
    np.testing.assert_array_equal(a.pdf(x), b.pdf(x))
    np.testing.assert_array_equal(
        a.sample(1000, np.random.default_rng(3)), b.sample(1000, np.random.default_rng(3))
    )
    assert np.max(np.abs(a.pdf(x) - c.pdf(x))) > 0.01
    # a finer J keeps the coarser levels' signs (level j draws from default_rng([seed, j]))
    finer = BesovDensity(2, 1.5, J=7, seed=7)
    for j in range(a.j0, a.J + 1):
        np.testing.assert_array_equal(a._level_atoms(j), finer._level_atoms(j))


def test_sparse_pattern_and_p_below_one():
    q = BesovDensity(1, 2.0, p=0.5, pattern="sparse", density=0.5, J=8)
    d = q.describe()
    # L1 smoothness s + D(1-θ)(1-1/p)
    assert d["smoothness_l1"] == pytest.approx(2.0 + 0.5 * (1 - 2))
    assert abs(q.cell_masses([np.linspace(-1, 1, 33)]).sum() - 1) < 1e-12
    dense = BesovDensity(1, 2.0, J=8)
    nz_sparse = np.count_nonzero(q._coef - 1.0)
    assert nz_sparse < np.count_nonzero(dense._coef - 1.0)


def test_default_levels_follow_n_max():
    q = BesovDensity(1, 1.0, n_max=10**6)
    h_min = (10**6) ** (-1 / 3)
    assert 2 * 2.0**-q.J <= h_min / 4  # finest knot spacing (x units) <= a quarter bandwidth
    assert q.J == math.ceil(3 + math.log2(10**6) / 3)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(D=1, s=0.0), "s="),
        (dict(D=1, s=-1.0), "s="),
        (dict(D=1, s=float("nan")), "s="),
        (dict(D=1.5, s=1.0), "D="),
        (dict(D=0, s=1.0), "D="),
        (dict(D=1, s=1.0, p=0.0), "p="),
        (dict(D=1, s=1.0, p=float("nan")), "p="),
        (dict(D=2, s=0.9, p=1.0), "s="),  # s must exceed D(1/p - 1/2) = 1
        (dict(D=1, s=1.0, j0=5, J=4), "J="),
        (dict(D=3, s=1.0, J=10), "J="),  # level too fine to evaluate in memory
        (dict(D=8, s=1.5), "D="),  # even the coarsest level does not fit: the user typed D
        (dict(D=1, s=1.0, amplitude=float("nan")), "amplitude="),
        (dict(D=1, s=1.0, amplitude=1e6), "amplitude="),
        (dict(D=1, s=1.0, tilt=1.0), "tilt="),
        (dict(D=1, s=1.0, pattern="blocks"), "pattern="),
        (dict(D=1, s=1.0, boundary="hard"), "boundary="),
        (dict(D=1, s=1.0, density=0.5), "density="),
        (dict(D=1, s=1.0, pattern="sparse", density=1.5), "density="),
        (dict(D=1, s=2.0, degree=2), "degree="),
        (dict(D=1, s=1.0, seed=-1), "seed="),
    ],
)
def test_bad_input_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=f"^{name}.* is not allowed"):
        BesovDensity(**kw)


def test_bad_points_and_edges():
    q = BesovDensity(2, 1.0, J=5)
    with pytest.raises(ValueError, match="x"):
        q.pdf(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="edges"):
        q.cell_masses([np.array([0.0, 1.0])])
    with pytest.raises(ValueError, match="edges"):
        q.cell_masses([np.array([0.0, np.nan]), np.array([0.0, 1.0])])
    with pytest.raises(ValueError, match="n="):
        q.sample(-1, np.random.default_rng(0))
