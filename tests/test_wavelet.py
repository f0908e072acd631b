"""WaveletThreshold: exact density (mass 1, cell masses, sampler), reconstruction, rate."""

import math

import numpy as np
import pytest
from helpers import chi2_pvalue

from minimax.baselines import WaveletThreshold
from minimax.baselines.wavelet import prediction_matrix
from minimax.metrics import tv_exact
from minimax.targets import BesovDensity

BOX1 = np.array([[-1.0, 1.0]])


def test_prediction_reproduces_polynomials_of_degree_2R_up_to_the_faces():
    for R in (1, 2):
        N = 16
        edges = np.linspace(0, 1, N + 1)
        fine = np.linspace(0, 1, 2 * N + 1)
        for deg in range(2 * R + 1):
            prim = lambda t, d=deg: t ** (d + 1) / (d + 1)  # noqa: E731
            coarse = np.diff(prim(edges)) * N
            exact = np.diff(prim(fine)) * 2 * N
            np.testing.assert_allclose(prediction_matrix(N, R) @ coarse, exact, atol=1e-12)


@pytest.mark.parametrize("D", [1, 2])
def test_pdf_integrates_to_one_masses_and_sampler_agree(D):
    q = BesovDensity(D, 1.5, J=6, seed=1)
    X = q.sample({1: 3000, 2: 6000}[D], np.random.default_rng(5))
    w = WaveletThreshold(q.support).fit(X)
    G = w.values_.shape[0]
    # piecewise constant on G cells per axis: the midpoint sum is its exact integral
    mid = -1 + (2 * np.arange(G) + 1) / G
    pts = mid[:, None] if D == 1 else np.stack([g.ravel() for g in np.meshgrid(mid, mid)], 1)
    f = w.pdf(pts)
    assert f.min() >= 0 and abs(f.sum() * (2 / G) ** D - 1) < 1e-12
    assert np.all(w.pdf(np.full((3, D), 1.2)) == 0)
    # cell masses of an unaligned grid reaching beyond the box sum to 1; a cell inside one
    # dyadic cell has mass = value × volume
    edges = [np.linspace(-1.3, 1.17, {1: 301, 2: 37}[D])] * D
    m = w.cell_masses(edges)
    assert abs(m.sum() - 1) < 1e-12
    a, b = -0.5 + 0.1 / G, -0.5 + 0.9 / G
    small = w.cell_masses([np.array([a, b])] * D).ravel()[0]
    assert small == pytest.approx(w.pdf(np.full((1, D), (a + b) / 2))[0] * (b - a) ** D, rel=1e-12)
    # the sampler draws the same density: chi-square on an unaligned grid (p > 1e-3: a correct
    # sampler fails with probability 1e-3)
    M = 200_000
    y = w.sample(M, np.random.default_rng(6))
    g = [np.linspace(-1.0137, 0.9991, {1: 200, 2: 30}[D])] * D
    counts, _ = np.histogramdd(y, bins=g)
    assert chi2_pvalue(counts, w.cell_masses(g), M) > 1e-3


def test_no_threshold_reproduces_the_histogram_a_huge_one_the_coarse_projection():
    q = BesovDensity(1, 1.5, J=7, seed=2)
    X = q.sample(2000, np.random.default_rng(7))
    # keeping every detail (κ = 0; no extra levels) gives back the histogram's cell masses
    w = WaveletThreshold(BOX1, kappa=0.0, extra_levels=0).fit(X)
    assert w.clipped_mass_ < 1e-15 and w.kept_fraction_ > 0.9  # rounding only
    e = [np.linspace(-1, 1, 2**w.L_ + 1)]
    counts = np.histogram(X[:, 0], bins=e[0])[0]
    np.testing.assert_allclose(w.cell_masses(e), counts / len(X), atol=1e-12)
    # with no detail kept only the 2^jc coarse cell masses are data; the rest is prediction,
    # which keeps them (average interpolation) through every refinement
    w_big = WaveletThreshold(BOX1, kappa=1e6).fit(X)
    assert w_big.kept_fraction_ == 0 and w_big.clipped_mass_ == 0
    e = [np.linspace(-1, 1, 2**w_big.jc_ + 1)]
    counts = np.histogram(X[:, 0], bins=e[0])[0]
    np.testing.assert_allclose(w_big.cell_masses(e), counts / len(X), atol=1e-12)
    # and is smooth: no jump between neighbouring output cells larger than the coarse ones'
    v = w_big.values_
    assert np.abs(np.diff(v)).max() < 0.1 * np.ptp(v)


def test_exact_tv_falls_with_n_on_a_smooth_target():
    """Dense Besov target s = 2 (D = 1): minimax exponent 0.4, so from n = 500 to 32,000 the TV
    should fall by 64^0.4 ≈ 5.3; asked: by at least 2.5 in the mean of 3 replicates."""
    q = BesovDensity(1, 2.0, n_max=32_000, seed=4)
    means = []
    for n in (500, 4000, 32_000):
        tv = []
        for rep in range(3):
            X = q.sample(n, np.random.default_rng([n, rep]))
            w = WaveletThreshold(q.support).fit(X)
            res = tv_exact(q, w.pdf)
            assert res.flag == "ok"
            tv.append(res.value)
        means.append(np.mean(tv))
    assert means[0] > means[1] > means[2]
    assert means[0] / means[2] > 2.5
    slope = -np.polyfit(np.log([500, 4000, 32_000]), np.log(means), 1)[0]
    assert 0.2 < slope < 0.6, slope


def test_describe_and_bad_input():
    X = np.random.default_rng(0).uniform(-1, 1, (500, 1))
    w = WaveletThreshold(BOX1, kappa=1.0, threshold="universal").fit(X)
    d = w.describe()
    assert d["estimator"] == "wavelet" and d["wavelet_threshold"] == pytest.approx(
        math.sqrt(2 * math.log(500))
    )
    with pytest.raises(ValueError, match="support"):
        WaveletThreshold(None).fit(X)
    with pytest.raises(ValueError, match="threshold"):
        WaveletThreshold(BOX1, threshold="soft").fit(X)
    with pytest.raises(ValueError, match="kappa"):
        WaveletThreshold(BOX1, kappa=-1).fit(X)
    with pytest.raises(ValueError, match="outside"):
        WaveletThreshold(BOX1).fit(X * 2)


def test_study_runs_the_controls_on_the_sparse_target(tmp_path, capsys):
    """`--estimators wavelet,kde-oracle` through the command line: exact, resolved TVs, with
    the target's own tv_exact resolution (base grid >= finest spike level + 2)."""
    import json

    import pandas as pd

    from minimax.study.cli import main

    out = tmp_path / "sparse"
    argv = ["rate", "--target", "sparse-multiscale", "--D", "1", "--s", "2", "--p", "0.45"]
    argv += ["--n", "200,400,800", "--replicates", "1", "--estimators", "wavelet,kde-oracle"]
    assert main([*argv, "--jobs", "1", "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    df = pd.read_parquet(out / "results.parquet")
    tv = df[df["metric"] == "tv"]
    assert len(tv) == 6 and (tv["status"] == "ok").all() and (tv["flag"] == "ok").all()
    assert (tv["value"] > 0).all() and (tv["value"] < 0.5).all()
    assert set(tv["target"]) == {"sparse-multiscale"}
    params = json.loads(tv["target_params"].iloc[0])
    assert params["J"] == 9 and params["smoothness_l1"] == pytest.approx(0.9)
    oracle = tv[tv["estimator"] == "kde-oracle"]
    assert all(json.loads(p)["oracle_evaluations"] >= 3 for p in oracle["estimator_params"])
