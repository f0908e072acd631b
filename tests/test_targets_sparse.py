"""SparseMultiscaleDensity: exact masses, pdf and sampler; class membership; L1 smoothness s·p."""

import numpy as np
import pytest
from helpers import chi2_pvalue

from minimax.targets import SparseMultiscaleDensity, estimate_smoothness, make_target

P_MIN = 1e-3  # a correct sampler fails one chi-square test with probability 1e-3

CASES = {1: dict(D=1, s=2.0, p=0.45), 2: dict(D=2, s=2.0, p=0.8)}


@pytest.mark.parametrize("D", [1, 2])
def test_sampler_agrees_with_cell_masses_chi_square(D):
    q = SparseMultiscaleDensity(**CASES[D], J={1: 12, 2: 6}[D], seed=1)
    M = 400_000
    x = q.sample(M, np.random.default_rng(20 + D))
    assert x.shape == (M, D) and np.all(np.abs(x) <= 1)
    # grids aligned with no dyadic knot; fine enough in D = 1 that the coarse spikes span
    # several cells. Two tests per D (coarse, fine) at 1e-3 each: false-failure rate <= 2e-3.
    for G in {1: (157, 1009), 2: (23, 61)}[D]:
        edges = [np.linspace(-1.0137, 0.9991, G + 1)] * D
        counts, _ = np.histogramdd(x, bins=edges)
        assert chi2_pvalue(counts, q.cell_masses(edges), M) > P_MIN


def test_sampler_sees_the_spikes_a_wrong_mass_would_fail():
    """The chi-square test has power: the spikes' own draws against masses without spikes."""
    q = SparseMultiscaleDensity(1, 2.0, 0.45, J=12, seed=1)
    x = q.sample(400_000, np.random.default_rng(3))
    edges = [np.linspace(-1.0137, 0.9991, 1010)]
    counts, _ = np.histogramdd(x, bins=edges)
    assert chi2_pvalue(counts, q.dense.cell_masses(edges), len(x)) < 1e-12


@pytest.mark.parametrize("D", [1, 2])
def test_masses_sum_to_one_and_pdf_integrates_to_them(D):
    q = SparseMultiscaleDensity(**CASES[D], J={1: 12, 2: 6}[D], seed=2)
    edges = [np.linspace(-1.07, 1.11, {1: 301, 2: 41}[D])] * D
    assert abs(q.cell_masses(edges).sum() - 1) < 1e-10
    if D == 1:
        # unaligned cells: split at every level-J knot (the pdf is a polynomial of degree <= 4
        # on each knot piece: dense cubic × linear tilt, spikes quadratic), 3-point
        # Gauss-Legendre per piece is exact
        knots = np.linspace(-1, 1, 2**q.J + 1)
        e = np.array([-1.3, -0.913, -0.2071, 0.0333, 0.5, 0.9871, 1.2])
        bps = np.unique(np.concatenate([np.clip(e, -1, 1), knots]))
        a, b = bps[:-1], bps[1:]
        gx, gw = np.polynomial.legendre.leggauss(3)
        nodes = (a + b)[:, None] / 2 + (b - a)[:, None] / 2 * gx
        piece = q.pdf(nodes.reshape(-1, 1)).reshape(nodes.shape) @ gw * (b - a) / 2
        cell = np.searchsorted(e, (a + b) / 2) - 1
        quad = np.bincount(cell, weights=piece, minlength=e.size - 1)
        np.testing.assert_allclose(quad, q.cell_masses([e]), rtol=1e-10, atol=1e-14)
    else:
        # the pdf is a polynomial of degree <= 4 per axis on every level-7 knot cell (dense
        # part: degree 3 + tilt; spikes: degree 2), so 3-point Gauss-Legendre per cell is exact
        n = 2**7
        gx, gw = np.polynomial.legendre.leggauss(3)
        left = -1 + 2 * np.arange(n) / n
        nodes = (left[:, None] + (gx + 1) / n).ravel()
        w = np.tile(gw / n, n)
        X, Y = np.meshgrid(nodes, nodes, indexing="ij")
        f = q.pdf(np.stack([X.ravel(), Y.ravel()], axis=1)).reshape(X.shape)
        mass = np.einsum("ij,i,j->", f, w, w)
        assert abs(mass - 1) < 1e-10
        # per cell of a coarse aligned grid
        quad = np.einsum("aibj,i,j->ab", f.reshape(16, 24, 16, 24), w[:24], w[:24])
        m = q.cell_masses([np.linspace(-1, 1, 17)] * 2)
        np.testing.assert_allclose(quad, m, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("D", [1, 2])
def test_pdf_nonnegative_and_within_certified_bounds(D):
    q = SparseMultiscaleDensity(**CASES[D], seed=0)
    lo, hi = q.certified_pdf_bounds
    c = np.linspace(-0.9999, 0.9999, {1: 200_001, 2: 701}[D])
    pts = c[:, None] if D == 1 else np.stack([g.ravel() for g in np.meshgrid(c, c)], axis=1)
    f = q.pdf(pts)
    assert lo > 0 and f.min() >= lo * (1 - 1e-12) and f.max() <= hi * (1 + 1e-12)
    assert np.all(q.pdf(pts * 1.5)[np.any(np.abs(pts * 1.5) > 1, axis=1)] == 0)


def test_class_membership_from_the_coefficients():
    """2^{j(s − D/p)}·‖c_j‖_p is bounded over the levels (B^s_{p,∞}); the ℓ1 counterpart
    2^{j(σ − D)}‖c_j‖_1 with σ = s·p is too, while with σ + 0.2 it grows."""
    for D in (1, 2):
        q = SparseMultiscaleDensity(**CASES[D], seed=0)
        b = q.besov_levels
        assert b.size == q.J - q.j0 + 1 and b.min() / b.max() > 0.5
        d = q.describe()
        assert d["besov_norm_spikes"] == pytest.approx(b.max())
        assert d["smoothness_l1"] == pytest.approx(q.s * q.p)
        # level masses are exactly ∝ 2^{-j s p}
        lv = q._level
        mass = np.array([q._bump_mass[lv == j].sum() for j in range(q.j0, q.J + 1)])
        js = np.arange(q.j0, q.J + 1)
        np.testing.assert_allclose(mass, 2.0 ** (-js * q.s * q.p), rtol=1e-12)


def test_l1_smoothness_is_s_times_p():
    q = SparseMultiscaleDensity(1, 2.0, 0.45, n_max=64_000, seed=0)
    assert q.J == 15
    est = estimate_smoothness(q)
    assert abs(est.modulus_s - 0.9) < 0.1
    assert abs(est.detail_s - 0.9) < 0.1


def test_registry_builds_it_and_tv_exact_resolves_the_finest_spikes():
    from minimax.metrics import tv_exact

    q = make_target("sparse-multiscale", D=1, s=2.0, p=0.45, n_max=4000, seed=0)
    assert isinstance(q, SparseMultiscaleDensity) and q.J == 11
    assert q.tv_exact_options["min_level"] == q.J + 2
    # TV to the uniform density: exact by quadrature; also TV to the dense part alone, which
    # must come out as the spike mass's share m·TV(spikes, dense) ∈ (0, m]
    res = tv_exact(q, lambda x: np.full(len(x), 0.5), **q.tv_exact_options)
    assert res.flag == "ok" and 0.1 < res.value < 0.5
    r2 = tv_exact(q, q.dense.pdf, **q.tv_exact_options)
    assert r2.flag == "ok" and 0.5 * q.spike_mass < r2.value <= q.spike_mass + r2.se


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="p="):
        SparseMultiscaleDensity(1, 2.0, 1.5)
    with pytest.raises(ValueError, match="s="):
        SparseMultiscaleDensity(1, 1.0, 0.45)  # s <= D(1/p - 1/2)
    with pytest.raises(ValueError, match="spikes_per_level"):
        SparseMultiscaleDensity(1, 2.0, 0.45, spikes_per_level=100.0)
