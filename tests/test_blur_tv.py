"""The exact early-stop blur TV against answers computed another way (docs/tv.md §9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

from minimax.metrics.blur_tv import axis_transition, blur_tv
from minimax.metrics.calibration_cases import UnitCube
from minimax.targets.base import Target


class StepDensity(Target):
    """q = a on [-1, 0), b on [0, 1] (a + b = 1): a jump inside and at both faces."""

    dim = 1
    support = np.array([[-1.0, 1.0]])

    def __init__(self, a: float):
        self.a, self.b = a, 1.0 - a

    def pdf(self, x):
        x = np.asarray(x, float).reshape(-1)
        inside = (x >= -1) & (x <= 1)
        return np.where(inside, np.where(x < 0, self.a, self.b), 0.0)

    def cdf(self, x):
        x = np.clip(np.asarray(x, float), -1, 1)
        return np.where(x < 0, self.a * (x + 1), self.a + self.b * x)

    def cell_masses(self, edges):
        return np.diff(self.cdf(np.asarray(edges[0], float)))

    def sample(self, n, rng):
        left = rng.random(n) < self.a
        u = rng.random(n)
        return np.where(left, u - 1.0, u)[:, None]

    def describe(self):
        return {"a": self.a}


def _pointwise_blur(q: StepDensity, y, m, tau, images=3):
    """The reflected blur's density at y by the method of images: Σ over mirror copies of the
    density of c + m U + τZ with U ~ q (closed form per constant piece)."""

    def line(x):  # density on the whole line of m U + τ Z
        out = 0.0
        for lo, hi, h in ((-1.0, 0.0, q.a), (0.0, 1.0, q.b)):
            out = out + h / m * (ndtr((x - m * lo) / tau) - ndtr((x - m * hi) / tau))
        return out

    total = 0.0
    for k in range(-images, images + 1):  # reflections at ±1 are periodic with period 4
        total = total + line(y + 4 * k) + line(-2 - (y + 4 * k))
    return total


@pytest.mark.parametrize("m,tau", [(1.0, 0.05), (0.995, 0.02), (0.98, 0.1)])
def test_matches_pointwise_quadrature_of_the_reflected_blur(m, tau):
    q = StepDensity(0.7)
    exact, _ = integrate.quad(lambda y: abs(_pointwise_blur(q, y, m, tau) - q.pdf([y])[0]),
                              -1, 1, points=[-1 + 1e-9, 0.0, 1 - 1e-9], limit=400)  # fmt: skip
    res = blur_tv(q, m, tau, centre=0.0)
    # the quadrature's own stated error plus the integrator's tolerance
    assert res.flag == "ok"
    assert abs(res.value - 0.5 * exact) <= (res.ci_high - res.value) + 1e-6 + 1e-4 * exact


def test_uniform_cube_is_invariant_under_a_reflected_blur():
    for D in (1, 2):
        assert blur_tv(UnitCube(D), 1.0, 0.03).value < 1e-10


def test_without_reflection_the_tv_is_the_mass_that_leaves_the_box():
    tau = 0.02
    leak = 2 * tau / math.sqrt(2 * math.pi)  # per axis, two faces (τ ≪ box width)
    for D in (1, 2):
        res = blur_tv(UnitCube(D), 1.0, tau, boundary="none")
        outside = 1 - (1 - leak) ** D
        # TV = ½(missing mass inside + mass outside) = the mass outside
        assert res.value == pytest.approx(outside, rel=1e-6)
        assert res.details["outside_mass"] == pytest.approx(outside, rel=1e-6)


def test_a_density_constant_along_an_axis_has_the_one_dimensional_tv():
    class Product(Target):
        dim = 2
        support = np.array([[-1.0, 1.0], [0.0, 3.0]])

        def __init__(self):
            self.q = StepDensity(0.8)

        def pdf(self, x):
            return self.q.pdf(np.asarray(x)[:, :1]) / 3.0

        def cell_masses(self, edges):
            return self.q.cell_masses(edges[:1])[:, None] * (np.diff(edges[1]) / 3.0)[None, :]

        def sample(self, n, rng):
            return np.column_stack([self.q.sample(n, rng)[:, 0], 3 * rng.random(n)])

        def describe(self):
            return {}

    one = blur_tv(StepDensity(0.8), 1.0, 0.04, cells=1 << 12)
    two = blur_tv(Product(), 1.0, [0.04, 0.06], cells=1 << 10)
    assert two.value == pytest.approx(one.value, rel=2e-3)


def test_the_transition_is_the_law_of_the_sampler_last_step():
    """Cell masses of the blurred law against a histogram of x_T̲ = c + m(x0 − c) + τz folded by
    the estimators' own reflection: a chi-square test at a 1e-4 false-failure rate."""
    from scipy import stats

    from minimax.diffusion.estimator import _reflect_into_box

    q, m, tau, cells = StepDensity(0.65), 0.99, 0.15, 1 << 10
    K, _ = axis_transition(-1.0, 1.0, cells, 0.0, m, tau, reflect=True)
    p_fine = K.T @ q.cell_masses([np.linspace(-1, 1, cells + 1)])
    p = p_fine.reshape(32, -1).sum(axis=1)
    rng = np.random.default_rng(7)
    x0 = q.sample(400_000, rng)
    y = _reflect_into_box(m * x0 + tau * rng.standard_normal(x0.shape), np.array([[-1.0, 1.0]]))
    counts = np.histogram(y[:, 0], bins=np.linspace(-1, 1, 33))[0]
    chi2 = float(((counts - len(y) * p) ** 2 / (len(y) * p)).sum())
    assert abs(p.sum() - 1) < 1e-12
    assert stats.chi2.sf(chi2, 31) > 1e-4


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="boundary"):
        blur_tv(UnitCube(1), 1.0, 0.1, boundary="wrap")
    with pytest.raises(ValueError, match="tau"):
        blur_tv(UnitCube(1), 1.0, 0.0)
