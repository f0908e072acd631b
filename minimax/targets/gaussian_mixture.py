"""Gaussian mixtures with diagonal covariances: exact pdf, score, sampler, cell masses.

Every forward process of the form x_t = m·x_0 + σ·z maps a Gaussian mixture to another one
(docs/theory.md §5), so the exact score of every marginal is analytic; the diffusion engine's
exact score source and its tests lean on ``marginal`` and ``score``/``score_torch``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, ndtr

from minimax.targets._grid import check_edges, outer
from minimax.targets.base import Target
from minimax.validation import check_int, check_real, check_rng

_LOG_2PI = float(np.log(2.0 * np.pi))


def _finite_array(name: str, value, ndim_allowed: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not allowed: expected a numeric array") from None
    if arr.ndim not in ndim_allowed:
        raise ValueError(
            f"{name} with shape {arr.shape} is not allowed: expected "
            + " or ".join(f"{d}-D" for d in ndim_allowed)
            + " array"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}={value!r} is not allowed: expected finite values (no NaN/inf)")
    return arr


class GaussianMixture(Target):
    """q(x) = Σ_k w_k Π_i N(x_i; μ_ki, σ_ki²) on R^D.

    Parameters
    ----------
    weights : (K,) positive, normalised here to sum to one.
    means : (K, D).
    stds : (K, D) per-axis standard deviations, or (K,) isotropic, all > 0.
    """

    def __init__(self, weights, means, stds):
        w = _finite_array("weights", weights, (1,))
        mu = _finite_array("means", means, (2,))
        sd = _finite_array("stds", stds, (1, 2))
        K = w.shape[0]
        if K < 1 or np.any(w <= 0):
            raise ValueError(f"weights={weights!r} is not allowed: expected K >= 1 positive values")
        if mu.shape[0] != K or mu.shape[1] < 1:
            raise ValueError(
                f"means with shape {mu.shape} is not allowed: expected (K={K}, D >= 1)"
            )
        D = mu.shape[1]
        if sd.ndim == 1:
            if sd.shape[0] != K:
                raise ValueError(
                    f"stds with shape {sd.shape} is not allowed: expected ({K},) or ({K}, {D})"
                )
            sd = np.repeat(sd[:, None], D, axis=1)
        if sd.shape != (K, D):
            raise ValueError(
                f"stds with shape {sd.shape} is not allowed: expected ({K},) or ({K}, {D})"
            )
        if np.any(sd <= 0):
            raise ValueError(f"stds={stds!r} is not allowed: expected values > 0")
        w = w / w.sum()
        for a in (w, mu, sd):
            a.setflags(write=False)
        self.weights, self.means, self.stds = w, mu, sd
        self.dim = D
        self.n_components = K
        self.support = np.tile(np.array([-np.inf, np.inf]), (D, 1))
        self.support.setflags(write=False)
        self._log_w = np.log(w)
        self._log_norm = -0.5 * D * _LOG_2PI - np.log(sd).sum(axis=1)  # (K,)
        self._frozen = True

    # ---- density -------------------------------------------------------------------------
    def _component_logpdf(self, x: np.ndarray) -> np.ndarray:
        """(N, K): log w_k + log N(x; μ_k, diag σ_k²)."""
        z = (x[:, None, :] - self.means[None]) / self.stds[None]
        return self._log_w + self._log_norm - 0.5 * np.einsum("nkd,nkd->nk", z, z)

    def logpdf(self, x) -> np.ndarray:
        """Exact log density by logsumexp over components, shape (N,)."""
        return logsumexp(self._component_logpdf(self._points(x)), axis=1)

    def pdf(self, x) -> np.ndarray:
        """Exact density, shape (N,)."""
        return np.exp(self.logpdf(x))

    def score(self, x) -> np.ndarray:
        """∇_x log q(x) = Σ_k r_k(x)·(μ_k − x)/σ_k², float64 (N, D).

        The responsibilities r_k are normalised in log space (logsumexp), so the score stays
        finite far from every component.
        """
        x = self._points(x)
        lc = self._component_logpdf(x)
        r = np.exp(lc - logsumexp(lc, axis=1, keepdims=True))  # (N, K)
        var = self.stds**2
        return np.einsum("nk,nkd->nd", r, (self.means[None] - x[:, None, :]) / var[None])

    def score_torch(self, x):
        """The same score for a torch tensor x of shape (..., D).

        Computed in float64 on x's device; returned with x's shape, dtype and device.
        """
        import torch

        if x.shape[-1] != self.dim:
            raise ValueError(f"x has dimension {x.shape[-1]}: expected D={self.dim}")
        xd = x.to(torch.float64)
        mu = torch.tensor(self.means, dtype=torch.float64, device=x.device)
        sd = torch.tensor(self.stds, dtype=torch.float64, device=x.device)
        lw = torch.tensor(self._log_w + self._log_norm, dtype=torch.float64, device=x.device)
        diff = mu - xd.unsqueeze(-2)  # (..., K, D)
        z = diff / sd
        lc = lw - 0.5 * (z * z).sum(-1)  # (..., K)
        r = torch.softmax(lc, dim=-1)
        out = (r.unsqueeze(-1) * diff / (sd * sd)).sum(-2)
        return out.to(x.dtype)

    # ---- forward-process marginals ----------------------------------------------------------
    def marginal(self, mean_coef: float, std: float) -> GaussianMixture:
        """The law of m·X + std·Z, X ~ q, Z ~ N(0, I): weights w_k, means m·μ_k,
        stds sqrt(m²σ_k² + std²) (docs/theory.md §5)."""
        m = check_real("mean_coef", mean_coef)
        s = check_real("std", std, low=0.0)
        new_sd = np.sqrt((m * self.stds) ** 2 + s**2)
        if np.any(new_sd <= 0):
            raise ValueError(
                f"std={std!r} is not allowed: expected std > 0 when mean_coef={mean_coef!r} is 0"
            )
        return GaussianMixture(self.weights, m * self.means, new_sd)

    # ---- sampling and cells -----------------------------------------------------------------
    def sample(self, n: int, rng) -> np.ndarray:
        """n exact draws: component by a categorical draw, then independent normals."""
        n = check_int("n", n, low=0)
        rng = check_rng("rng", rng)
        k = rng.choice(self.n_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[k] + self.stds[k] * z

    def cell_masses(self, edges) -> np.ndarray:
        """Exact cell probabilities: Σ_k w_k Π_i [Φ((b−μ_ki)/σ_ki) − Φ((a−μ_ki)/σ_ki)]."""
        edges = check_edges(edges, self.dim)
        out = None
        for k in range(self.n_components):
            factors = []
            for i, e in enumerate(edges):
                z = (e - self.means[k, i]) / self.stds[k, i]
                # difference of upper tails on the right half keeps precision far out
                cdf = ndtr(z)
                sf = ndtr(-z)
                factors.append(np.where(z[:-1] > 0, sf[:-1] - sf[1:], cdf[1:] - cdf[:-1]))
            term = self.weights[k] * outer(factors)
            out = term if out is None else out + term
        return out

    def mean(self) -> np.ndarray:
        """E[X], shape (D,)."""
        return self.weights @ self.means

    def cov(self) -> np.ndarray:
        """Cov[X], shape (D, D)."""
        m = self.mean()
        second = np.einsum("k,kd,ke->de", self.weights, self.means, self.means)
        second += np.diag(self.weights @ self.stds**2)
        return second - np.outer(m, m)

    def describe(self) -> dict:
        return {
            "target": "gmm",
            "D": self.dim,
            "components": self.n_components,
            "boundary": "none",
            "s": float("inf"),
            "p": float("nan"),
            "min_std": float(self.stds.min()),
            "max_std": float(self.stds.max()),
        }

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, D={self.dim})"
