"""The previous sampled-TV estimator (nested regular grids, metrics.tv_grid), kept for comparison."""

import numpy as np
import pytest
from helpers import NormalProduct, UniformBox
from scipy.stats import norm

from minimax.metrics.tv_grid import tv


def _shift_tv(shift):
    return 2 * norm.cdf(shift / 2) - 1  # docs/theory.md §5, unit-variance Gaussians


@pytest.mark.parametrize(
    "dim, m, shift",
    [
        (1, 10**5, 0.1),
        (1, 10**6, 0.025),
        (1, 10**5, 0.75),
        (2, 10**5, 0.1),
        (2, 10**5, 0.75),
        (2, 10**6, 0.025),
    ],
)
def test_shifted_gaussians(dim, m, shift):
    rng = np.random.default_rng(1000 * dim + int(1000 * shift))
    q = NormalProduct(np.zeros(dim))
    x = NormalProduct(np.r_[shift, np.zeros(dim - 1)]).sample(m, rng)
    r = tv(q, x, rng=rng, n_boot=100)
    truth = _shift_tv(shift)
    assert r.flag == "ok"
    # within 5 %, or 3 bootstrap se (sampling noise; the se was seen to be slightly conservative)
    assert abs(r.value - truth) <= max(0.05 * truth, 3 * r.se)
    assert r.ci_low <= truth
    assert r.floor < 0.3 * r.value
    assert r.details["outside_mass"] < 1e-5


def _cosine_samples(n, a, rng):
    # rejection from the uniform: density 1 + a cos(2π x1) on [0, 1]²
    out = []
    while sum(len(o) for o in out) < n:
        u = rng.random((2 * n, 2))
        keep = rng.random(2 * n) * (1 + a) < 1 + a * np.cos(2 * np.pi * u[:, 0])
        out.append(u[keep])
    return np.concatenate(out)[:n]


def test_cosine_perturbation_on_the_cube():
    rng = np.random.default_rng(5)
    a = 0.1  # TV = a/π
    r = tv(UniformBox(2), _cosine_samples(200_000, a, rng), rng=rng, n_boot=100)
    assert r.flag in ("ok", "rising")
    # binning can only lose TV: allow 5 % binning loss below, 3 se above
    assert a / np.pi * 0.95 - 3 * r.se <= r.value <= a / np.pi + 3 * r.se
    assert r.ci_low <= a / np.pi


def test_samples_from_q_give_zero_well_below_b0():
    rng = np.random.default_rng(7)
    q = NormalProduct(np.zeros(2))
    r = tv(q, q.sample(200_000, rng), rng=rng, n_boot=50)
    # near 0: within 3 bootstrap se, and of the order of the floor (same law)
    assert abs(r.value) <= 3 * r.se
    assert abs(r.value) <= 3 * max(abs(r.floor), r.se)
    # Fine levels (K >= 1000 cells): the plug-in sits at its null mean B0 (relative sd
    # ≈ 0.75/√K ≤ 0.024, so 10 % is 4 sd); the corrected value at its null mean, +0.19σ_k per cell
    # = 0.24·B0 (the minimax h's bias at μ = 0; relative sd ≈ 1.75/√K ≤ 0.055, so 0.45 is 3.8 sd)
    fine = [row for row in r.details["curve"] if row["cells"] >= 1000]
    assert fine
    for row in fine:
        assert row["plugin"] == pytest.approx(row["b0"], rel=0.1)
        assert abs(row["corrected"]) < 0.45 * row["b0"]
        assert abs(row["floor"]) < 0.45 * row["b0"]


def test_lower_bound_coverage_under_the_null():
    # TV = 0: ci_low > 0 must happen with probability <= alpha = 0.05; over 40 runs,
    # P(Binomial(40, 0.05) >= 7) = 0.4 %, so more than 6 violations means the bound is wrong
    q = NormalProduct(np.zeros(2))
    violations = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        r = tv(q, q.sample(20_000, rng), n_boot=0, floor_samples=False)
        violations += r.ci_low > 0
    assert violations <= 6


def test_plugin_worse_than_corrected_where_floor_matches_tv():
    # D = 1, M = 1e5, TV = 0.01 at level 7 (128 cells): B0 ≈ TV
    q = NormalProduct(np.zeros(1))
    p = NormalProduct([0.025])
    truth = _shift_tv(0.025)
    plug, corr = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        r = tv(q, p.sample(10**5, rng), levels=[1, 7], n_boot=0, floor_samples=False)
        row = r.details["curve"][-1]
        assert row["b0"] == pytest.approx(truth, rel=0.3)
        plug.append(row["plugin"] - truth)
        corr.append(row["corrected"] - truth)
    # the plug-in's bias (≈ +0.4 TV) is > 3 times the corrected one; sd of a 6-rep mean ≈ 0.0008
    assert np.mean(plug) > 0.003
    assert abs(np.mean(corr)) < np.mean(plug) / 3


def test_bad_input():
    q = UniformBox(2)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="dimension"):
        tv(q, rng.random((1000, 3)), rng=rng)
    x = rng.random((1000, 2))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tv(q, x, rng=rng)
    with pytest.raises(ValueError, match="too few"):
        tv(q, rng.random((15, 2)), rng=rng)
    with pytest.raises(ValueError, match="rng"):
        tv(q, rng.random((1000, 2)))
    with pytest.raises(ValueError, match="levels"):
        tv(q, rng.random((1000, 2)), rng=rng, levels=[])
    with pytest.raises(ValueError, match="alpha"):
        tv(q, rng.random((1000, 2)), rng=rng, alpha=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("dim, s, n", [(1, 1.0, 1000), (2, 1.5, 1000)])
def test_agrees_with_tv_exact_on_a_kde(dim, s, n):
    # the positive control of issue 4: a KDE has an explicit density, so its TV is known by
    # quadrature; the sample-based estimate must agree within 5 % or 3 bootstrap se
    from minimax.baselines import KDE
    from minimax.metrics import tv_exact
    from minimax.targets.besov import BesovDensity

    rng = np.random.default_rng(11)
    q = BesovDensity(dim, s, seed=0)
    est = KDE("theory", smoothness=s, support=q.support).fit(q.sample(n, rng))
    exact = tv_exact(q, est.pdf, tol=1e-4)
    assert exact.flag == "ok"
    r = tv(q, est.sample(10**6, rng), rng=rng, n_boot=100)
    assert r.flag == "ok"
    assert abs(r.value - exact.value) <= max(0.05 * exact.value, 3 * r.se) + exact.se
    assert r.ci_low <= exact.value + exact.se


@pytest.mark.parametrize("expected_count", [10, 50])
def test_per_cell_bias_under_the_exact_binomial(expected_count):
    # E[σ h(u)] − |p̂ − p| summed exactly over the binomial law of a count (no Monte Carlo):
    # the corrected cell term stays within 0.27σ for every deviation μ, the plug-in reaches 0.79σ
    from scipy.stats import binom

    from minimax.metrics._correction import h

    M = 10**6
    p = expected_count / M
    sig = np.sqrt(p * (1 - p) / M)
    k = np.arange(0, 4 * expected_count + 80)
    worst_corr = worst_plug = 0.0
    for mu in np.linspace(-3.0, 4.0, 71):
        w = binom.pmf(k, M, p + mu * sig)
        truth = abs(mu) * sig
        worst_corr = max(worst_corr, abs(w @ (sig * h((k / M - p) / sig)) - truth) / sig)
        worst_plug = max(worst_plug, abs(w @ np.abs(k / M - p) - truth) / sig)
    assert worst_corr < 0.27
    assert worst_plug > 0.78


def test_low_density_corner_stays_resolved_at_fine_levels():
    """q̂ = (1 − ε) q + ε·uniform on a tilted D = 2 Besov target whose corner density is 2 % of
    the uniform level: TV(q̂, q) = ε·TV(uniform, q) exactly, and binned at level l it is
    ε·½Σ|u_k − p_k|. With M = 2e5 one global pool of the low-mass cells held 1.2 % of q's mass at
    level 6 and made it inadmissible; grouped under their ancestors, level 6 stays admissible."""
    from minimax.metrics.tv_grid import _level_masses, _Partition
    from minimax.targets import make_target

    q = make_target("besov", D=2, s=1.5, boundary="smooth", seed=0, n_max=64000)
    box = np.asarray(q.support, dtype=np.float64)
    M, eps = 200_000, 0.15
    masses = _level_masses(q, box, 7)
    # the partition: mass and counts conserved, every part but a root pool resolvable
    for level in range(1, 8):
        part = _Partition(masses[level], 0.0, M, 10.0)
        assert abs(part.p.sum() - 1.0) < 1e-9
        counts = np.random.default_rng(level).multinomial(M, masses[level].reshape(-1))
        assert part.reduce(counts[None], np.array([7])).sum() == M + 7
        assert np.all(M * part.p[:-1] >= 10.0)  # parts are built big; only the last can be small
    assert _Partition(masses[6], 0.0, M, 10.0).pooled_mass < 0.01

    rng = np.random.default_rng(11)
    k = rng.binomial(M, eps)
    x = np.vstack([q.sample(M - k, rng), rng.uniform(box[:, 0], box[:, 1], size=(k, 2))])
    r = tv(q, x, rng=rng, n_boot=100)
    level = r.details["level"]
    p = masses[level].reshape(-1)
    binned = eps * 0.5 * np.abs(1.0 / p.size - p).sum()
    assert r.flag == "ok" and level >= 5, (r.flag, r.details["curve"])
    # the corrected value's bias is within ±0.24·B0 (module docstring), its noise 3 se
    assert abs(r.value - binned) <= 3 * r.se + 0.24 * r.details["b0"], (r.value, binned)
    assert r.value <= eps * q.describe()["tv_to_uniform"] + 3 * r.se
