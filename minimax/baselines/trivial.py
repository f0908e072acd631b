"""Trivial baselines: what an estimator must beat to have learned anything (issue 7).

* ``UniformBox``: the uniform density on the box, "knowing nothing" but the support.
* ``BestGaussian``: the maximum-likelihood Gaussian with full covariance.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal

from minimax.estimator import Estimator
from minimax.validation import check_int, check_points, check_rng


class UniformBox(Estimator):
    """Uniform density on ``support`` (D, 2), or on the bounding box of the data when None."""

    has_pdf = True

    def __init__(self, support=None):
        self.support = support

    def fit(self, X, rng=None) -> UniformBox:
        """Fix the box; the data are used only when no support is given. Returns self."""
        if rng is not None:
            check_rng("rng", rng)
        X = check_points("X", X)
        n, D = X.shape
        if n < 1:
            raise ValueError("X has 0 rows: expected at least 1 point")
        if self.support is None:
            box = np.stack([X.min(axis=0), X.max(axis=0)], axis=1)
            if np.any(box[:, 1] <= box[:, 0]):
                raise ValueError("X has zero spread along some axis: expected a box of volume > 0")
        else:
            box = np.asarray(self.support, dtype=np.float64)
            if (
                box.shape != (D, 2)
                or not np.all(np.isfinite(box))
                or np.any(box[:, 1] <= box[:, 0])
            ):
                raise ValueError(
                    f"support={self.support!r} is not allowed: expected a finite (D={D}, 2) box "
                    "with low < high"
                )
        self.box_ = box
        self.dim_ = D
        self.volume_ = float(np.prod(box[:, 1] - box[:, 0]))
        return self

    def pdf(self, x) -> np.ndarray:
        """1/volume inside the box, 0 outside."""
        x = check_points("x", x, self.dim_)
        inside = np.all((x >= self.box_[:, 0]) & (x <= self.box_[:, 1]), axis=1)
        return inside / self.volume_

    def sample(self, m: int, rng) -> np.ndarray:
        m = check_int("m", m, low=0)
        rng = check_rng("rng", rng)
        lo, hi = self.box_[:, 0], self.box_[:, 1]
        return lo + (hi - lo) * rng.random((m, self.dim_))

    def describe(self) -> dict:
        return {
            "estimator": "uniform",
            "uniform_from": "data" if self.support is None else "support",
        }


class BestGaussian(Estimator):
    """N(μ̂, Σ̂) with the maximum-likelihood estimates μ̂ = mean, Σ̂ = (1/n) Σ (X − μ̂)(X − μ̂)ᵀ."""

    has_pdf = True

    def fit(self, X, rng=None) -> BestGaussian:
        """Estimate mean and covariance; raises ValueError when Σ̂ is singular. Returns self."""
        if rng is not None:
            check_rng("rng", rng)
        X = check_points("X", X)
        n, D = X.shape
        if n <= D:
            raise ValueError(f"X has {n} rows: expected more than D={D} for a full covariance")
        self.mean_ = X.mean(axis=0)
        self.cov_ = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
        if np.linalg.matrix_rank(self.cov_) < D:
            raise ValueError("X has a singular covariance: expected points spanning all D axes")
        self.dim_ = D
        self._dist = multivariate_normal(self.mean_, self.cov_)
        return self

    def pdf(self, x) -> np.ndarray:
        x = check_points("x", x, self.dim_)
        return np.atleast_1d(self._dist.pdf(x)).reshape(-1)

    def sample(self, m: int, rng) -> np.ndarray:
        m = check_int("m", m, low=0)
        rng = check_rng("rng", rng)
        return rng.multivariate_normal(self.mean_, self.cov_, size=m, method="cholesky")

    def describe(self) -> dict:
        return {"estimator": "gaussian"}
