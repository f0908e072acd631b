"""Statistical helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import ndtr
from scipy.stats import norm

from minimax.metrics.calibration_cases import UnitCube
from minimax.targets.base import Target


def chi2_pvalue(counts, masses, n):
    """Pearson chi-square p-value of n draws against exact cell masses; cells with expected
    count < 5 and the mass outside the grid are pooled into one cell."""
    counts, masses = counts.ravel().astype(float), masses.ravel()
    exp = n * masses
    small = exp < 5
    obs = np.append(counts[~small], counts[small].sum() + n - counts.sum())
    e = np.append(exp[~small], exp[small].sum() + n * (1 - masses.sum()))
    keep = e > 0
    chi2 = ((obs[keep] - e[keep]) ** 2 / e[keep]).sum()
    return stats.chi2.sf(chi2, keep.sum() - 1)


class NormalProduct(Target):
    """N(mean, sd² I) with closed-form cell masses (a stand-in for the targets package)."""

    def __init__(self, mean, sd=1.0):
        self.mean = np.asarray(mean, dtype=float)
        self.sd = sd
        self.dim = self.mean.size
        self.support = np.tile([-np.inf, np.inf], (self.dim, 1))

    def pdf(self, x):
        return np.prod(norm.pdf(self._points(x), self.mean, self.sd), axis=1)

    def sample(self, n, rng):
        return self.mean + self.sd * rng.standard_normal((n, self.dim))

    def cell_masses(self, edges):
        out = np.ones(())
        for e, m in zip(edges, self.mean, strict=True):
            out = np.multiply.outer(out, np.diff(ndtr((np.asarray(e) - m) / self.sd)))
        return out

    def describe(self):
        return {"target": "normal"}


# the uniform density on [0, 1]^D of the calibration cases
UniformBox = UnitCube
