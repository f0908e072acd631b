"""Measured L1 smoothness: sharp for the Besov construction, saturating for smooth densities."""

import numpy as np
import pytest
import torch

from minimax.targets import BesovDensity, default_gmm, estimate_smoothness

# The tolerance. Over sign seeds 0-2 the spread of both estimates was about ±0.07
# (±0.16 for the modulus at D = 2, s = 2.5, smooth boundary); the seeds here are fixed.
TOL = 0.15
J_FOR_D = {1: 12, 2: 10}

CASES = [(1, s, b) for s in (0.5, 1.0, 1.5, 2.0, 2.5) for b in ("band", "smooth")]
CASES += [(2, s, "band") for s in (0.5, 1.0, 1.5, 2.0, 2.5)] + [(2, 1.5, "smooth")]


@pytest.mark.parametrize("D, s, boundary", CASES)
def test_both_estimates_are_sharp(D, s, boundary):
    torch.set_num_threads(1)
    q = BesovDensity(D, s, J=J_FOR_D[D], boundary=boundary, seed=0)
    est = estimate_smoothness(q)
    assert abs(est.modulus_s - s) <= TOL, est
    assert abs(est.detail_s - s) <= TOL, est
    assert est.order > s
    lo, hi = est.modulus_fit_range
    assert 2.0**-q.J < lo < hi <= 2.0 ** -(q.j0 + 1)
    assert q.j0 < est.detail_fit_range[0] < est.detail_fit_range[1] < q.J


def test_other_sign_seeds_same_smoothness():
    values = []
    for seed in (1, 2, 3):
        q = BesovDensity(1, 1.5, J=12, seed=seed)
        est = estimate_smoothness(q)
        values += [est.modulus_s, est.detail_s]
    assert max(abs(v - 1.5) for v in values) <= TOL


def test_sparse_pattern_is_smoother_in_l1_as_predicted():
    # p = 4, θ = 0.25: L1 smoothness s + D(1-θ)(1-1/p) = 1 + 0.5625
    q = BesovDensity(1, 1.0, p=4.0, pattern="sparse", density=0.25, J=13)
    est = estimate_smoothness(q)
    assert q.expected_smoothness == pytest.approx(1.5625)
    assert est.detail_s > 1.0 + 0.3  # clearly smoother than the nominal s


def test_smooth_density_saturates_at_the_order():
    # a C^∞ density: ω_m(h) ~ h^m, so the measured slope is the order m, not a Besov s
    q = default_gmm(1)
    # (h well below the mixture's std 0.3, where the h^2 law is reached to within 1%)
    est = estimate_smoothness(
        q, box=[[-1.0, 1.0]], order=2, grid_level=12, h_range=(2.0**-9, 2.0**-5)
    )
    assert est.modulus_s == pytest.approx(2.0, abs=0.05)


def test_the_edge_jump_counts_when_measured_across_it():
    # measured on a box larger than the support, the jump of a "band" target dominates:
    # ‖Δ_h q‖_1 ≍ h (BV), so the slope drops to near 1 (the h^2.5 interior part still adds a
    # little at the larger h) even though s = 2.5 inside
    q = BesovDensity(1, 2.5, J=12, boundary="band")
    est = estimate_smoothness(q, box=[[-1.25, 1.25]], h_range=(2.0**-10, 2.0**-6))
    assert 0.9 < est.modulus_s < 1.3
    inside = estimate_smoothness(q)
    assert inside.modulus_s > 2.3


def test_bad_input():
    q = BesovDensity(1, 1.0, J=8)
    with pytest.raises(ValueError, match="box="):
        estimate_smoothness(default_gmm(1))
    with pytest.raises(ValueError, match="order="):
        estimate_smoothness(q, order=0)
    with pytest.raises(ValueError, match="h_range"):
        estimate_smoothness(q, h_range=(0.1, 0.01))
    with pytest.raises(ValueError, match="grid_level="):
        estimate_smoothness(q, grid_level=30)
    assert np.isfinite(estimate_smoothness(q).modulus_s)
