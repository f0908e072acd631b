"""The rate fit's engine: a log-link fit of the mean error, with CRV3 by cluster, vectorised.

Model: E e_i = exp(x_i·β + o_i) for rows i (replicates), x_i = (1, log n_i, ...), o_i a fixed
offset (k·log log n for a log factor). β solves the quasi-likelihood equations of the Gamma
variance function V(μ) = μ² with the log link,

    Σ_i x_i (e_i − μ_i)/μ_i = 0,

by iteratively reweighted least squares (with this link and variance the IRLS weights are 1,
so every iteration is an ordinary least-squares solve with one fixed projection). Rows enter
with their values as measured: zero and negative values (a bias-corrected TV estimate can be
≤ 0) need no logarithm and are not truncated. docs/verdicts.md says why this fit is the default.

Covariance: CRV3, the leave-one-cluster-out jackknife (G−1)/G Σ_g (β_(g) − β̂)(β_(g) − β̂)ᵀ
(Bell & McCaffrey 2002; MacKinnon, Nielsen & Webb 2023), the same form statsmodels'
``cov_type="cluster-crv3"`` computes for OLS; each β_(g) is the same quasi-likelihood fit
without cluster g, started from β̂. Inference uses t with G − 1 degrees of freedom.

Every function takes ``y`` of shape (S, N), S independent studies over one design, so the
simulation studies of docs/verdicts.md fit thousands of studies at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ITER = 200
TOL = 1e-10
#: the largest change of a coefficient in one IRLS step (log units); keeps early steps sane
MAX_STEP = 2.0


@dataclass
class LogLinkFit:
    """β̂ (S, p), its CRV3 covariance (S, p, p), the jackknife replicates (S, G, p),
    whether each study's fits converged (S,), and the number of clusters G."""

    beta: np.ndarray
    cov: np.ndarray
    jack: np.ndarray
    converged: np.ndarray
    clusters: int


def start_values(y: np.ndarray, X: np.ndarray, offset: np.ndarray, groups: np.ndarray):
    """OLS of log(per-cluster mean) on the design, each mean floored at a small positive
    value: only a starting point, the fit itself never takes a logarithm of the data."""
    labels = np.unique(groups)
    idx = np.array([np.flatnonzero(groups == g)[0] for g in labels])
    means = np.stack([y[:, groups == g].mean(axis=1) for g in labels], axis=1)
    scale = np.maximum(np.abs(means).max(axis=1, keepdims=True), 1e-300)
    logm = np.log(np.maximum(means, 1e-3 * scale)) - offset[idx]
    Xg = X[idx]
    coef, *_ = np.linalg.lstsq(Xg, logm.T, rcond=None)
    return coef.T


def irls(y, X, offset, beta0, mask=None):
    """Solve Σ x (y − μ)/μ = 0 for each row of ``y`` (S, N); ``mask`` (N,) keeps some rows.

    Returns (β (S, p), converged (S,)). A study whose iteration does not settle within
    MAX_ITER steps, or leaves the finite numbers, is returned as not converged."""
    if mask is not None:
        y, X, offset = y[:, mask], X[mask], offset[mask]
    P = np.linalg.pinv(X)  # (p, N): the OLS projection, the same at every iteration
    beta = beta0.copy()
    done = np.zeros(len(y), dtype=bool)
    for _ in range(MAX_ITER):
        eta = beta @ X.T + offset
        mu = np.exp(eta)
        z = eta - offset + (y - mu) / mu
        step = z @ P.T - beta
        step = np.where(np.isfinite(step), step, 0.0)
        big = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, MAX_STEP / np.maximum(big, 1e-300))
        beta = beta + np.where(done[:, None], 0.0, step)
        done |= big[:, 0] < TOL * (1 + np.abs(beta).max(axis=1))
        if done.all():
            break
    ok = done & np.isfinite(beta).all(axis=1)
    return beta, ok


def fit_loglink(y, X, groups, offset=None) -> LogLinkFit:
    """Fit E y = exp(Xβ + offset) with CRV3 by ``groups`` (one label per row).

    ``y`` is (N,) or (S, N); X (N, p). Needs at least p + 1 clusters (each jackknife fit
    leaves one out); otherwise the covariance is NaN."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    X = np.asarray(X, dtype=np.float64)
    groups = np.asarray(groups)
    offset = np.zeros(X.shape[0]) if offset is None else np.asarray(offset, dtype=np.float64)
    labels = np.unique(groups)
    G, p = len(labels), X.shape[1]
    beta, ok = irls(y, X, offset, start_values(y, X, offset, groups))
    jack = np.full((len(y), G, p), np.nan)
    if G > p:
        for j, g in enumerate(labels):
            keep = groups != g
            if np.linalg.matrix_rank(X[keep]) < p:
                ok[:] = False
                continue
            bj, okj = irls(y, X, offset, beta, keep)
            jack[:, j] = bj
            ok &= okj
    d = jack - beta[:, None, :]
    cov = (G - 1) / G * np.einsum("sgi,sgj->sij", d, d)
    beta = np.where(ok[:, None], beta, np.nan)
    cov = np.where(ok[:, None, None], cov, np.nan)
    return LogLinkFit(beta=beta, cov=cov, jack=jack, converged=ok, clusters=G)


def design(n, *, quadratic: bool = False) -> np.ndarray:
    """Columns 1, log n (and (log n − its mean)² for the curvature check)."""
    x = np.log(np.asarray(n, dtype=np.float64))
    cols = [np.ones_like(x), x]
    if quadratic:
        cols.append((x - x.mean()) ** 2)
    return np.stack(cols, axis=1)


def log_factor_offset(n, k: float) -> np.ndarray:
    """k·log log n: with it, E e = C n^(−a) (log n)^k is the model the fit sees."""
    return k * np.log(np.log(np.asarray(n, dtype=np.float64)))


def crv1(y, X, groups, beta, offset=None) -> np.ndarray:
    """The textbook cluster sandwich (CRV1, small-sample factor G/(G−1)·(N−1)/(N−p)) of the
    same quasi-likelihood fit: bread (XᵀX)⁻¹, meat Σ_g s_g s_gᵀ with s_g = Σ_{i∈g} x_i r_i,
    r_i = (y_i − μ_i)/μ_i. Shapes as :func:`fit_loglink`."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    X = np.asarray(X, dtype=np.float64)
    offset = np.zeros(X.shape[0]) if offset is None else np.asarray(offset, dtype=np.float64)
    labels = np.unique(groups)
    G, (N, p) = len(labels), X.shape
    mu = np.exp(beta @ X.T + offset)
    r = (y - mu) / mu
    scores = np.stack([(r[:, groups == g]) @ X[groups == g] for g in labels], axis=1)
    meat = np.einsum("sgi,sgj->sij", scores, scores)
    bread = np.linalg.inv(X.T @ X)
    return G / (G - 1) * (N - 1) / (N - p) * bread @ meat @ bread
