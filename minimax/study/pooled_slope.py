"""The common slope of grouped (log n, log e) data, two ways (docs/verdicts.md §6).

- :func:`mixed_slope`: a linear mixed model of log e on log n (statsmodels ``MixedLM``, REML)
  with an independent random intercept and random slope per group, the random slope dropped,
  and said so, when its variance is on the boundary or the fit fails;
- :func:`two_stage`: per-group estimates pooled as mean ± t_{J−1}·sd/√J.

Both CIs use t with J − 1 df (J groups). :mod:`minimax.study.pooled` applies them to the target
seeds of an arm.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

_NAN = {k: math.nan for k in ("exponent", "se", "df", "ci_low", "ci_high", "sd", "between_sd")}


@dataclass
class MixedSlope:
    """The mixed model's fixed slope as an exponent, its GLS se, t CI, the random-effect sd's
    (log n in its own units), and the model used ("random slope", "random intercept", or ""
    when none could be fitted, with ``note`` saying why)."""

    exponent: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    df: float = math.nan
    slope_sd: float = math.nan
    intercept_sd: float = math.nan
    model: str = ""
    note: str = ""


def _mixedlm(y, X, g, slope: bool):
    """One REML fit (bfgs, then lbfgs), diagonal random-effect covariance, started at the
    per-group OLS moment estimates; returns (result, why it is not usable or "")."""
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

    k = 2 if slope else 1
    coef, s2, var = [], [], []
    for j in np.unique(g):
        m = g == j
        if m.sum() > 2:
            b = np.linalg.lstsq(X[m], y[m], rcond=None)[0]
            coef.append(b)
            s2.append(float(np.sum((y[m] - X[m] @ b) ** 2)) / (m.sum() - 2))
            var.append(1 / np.array([m.sum(), (X[m, 1] ** 2).sum()]))
    kw = {"free": MixedLMParams.from_components(np.ones(2), np.eye(2))} if slope else {}
    if len(coef) > 1:  # variances by moments, in units of the residual variance
        s2m = max(float(np.mean(s2)), 1e-12)
        v = np.maximum(np.var(coef, axis=0, ddof=1) - s2m * np.mean(var, axis=0), 0.01 * s2m)
        kw["start_params"] = MixedLMParams.from_components(np.mean(coef, 0), np.diag(v[:k]) / s2m)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixedLM(y, X, groups=g, exog_re=X[:, :k])
        res = model.fit(reml=True, method=["bfgs", "lbfgs"], **kw)
    flat = any("not positive definite" in str(w.message) for w in caught)
    cov_re = np.asarray(res.cov_re, dtype=float)
    with np.errstate(divide="ignore"):  # a perfect fit has llf = +inf: "did not converge" below
        llf = res.llf
    if not (res.converged and np.isfinite(llf) and np.isfinite(cov_re).all()):
        return res, "the fit did not converge"
    tiny = 1e-4 * res.scale * float(np.mean(var, axis=0)[1]) if var else 0.0
    if slope and (flat or cov_re[1, 1] <= tiny):
        return res, "its variance is estimated on the boundary"
    return res, ""


def mixed_slope(log_e, log_n, groups, level: float = 0.95) -> MixedSlope:
    """The common exponent −b of log e = (c + γ_j) + (b + β_j)·log n + ε by REML, with γ_j and
    β_j independent normal effects of group j; γ_j alone (and ``note`` says so) when β_j's
    variance is on the boundary (the REML Hessian is singular there, or the variance ≤ 10⁻⁴ of
    a group's own slope variance) or the fit fails. The se is the GLS one,
    (Σ_j X_jᵀ V̂_j⁻¹ X_j)⁻¹ at the REML variances; the CI uses t on J − 1 df."""
    y, x, g = (np.asarray(v) for v in (log_e, log_n, groups))
    y, x = y.astype(float), x.astype(float)
    J = len(np.unique(g))
    out = MixedSlope(df=float(J - 1))
    if J < 2 or len(y) < 2 * J + 2 or x.std() == 0:
        out.note = f"not fitted: {J} groups, {len(y)} cells"
        return out
    xs = x.std()
    X = np.column_stack([np.ones_like(x), (x - x.mean()) / xs])
    res, why = _mixedlm(y, X, g, slope=True)
    out.model = "random slope"
    if why:
        res, why2 = _mixedlm(y, X, g, slope=False)
        out.model, out.note = "random intercept", f"random slope dropped ({why})"
        if why2:
            out.model, out.note = "", f"not fitted: {out.note}; random intercept: {why2}"
            return out
    cov_re = np.asarray(res.cov_re, dtype=float)
    Z = X[:, : len(cov_re)]
    info = np.zeros((2, 2))
    for j in np.unique(g):
        m = g == j
        V = Z[m] @ cov_re @ Z[m].T + res.scale * np.eye(int(m.sum()))
        info += X[m].T @ np.linalg.solve(V, X[m])
    out.exponent = -float(res.fe_params[1]) / xs
    out.se = math.sqrt(np.linalg.inv(info)[1, 1]) / xs
    q = stats.t.ppf(0.5 + level / 2, out.df)
    out.ci_low, out.ci_high = out.exponent - q * out.se, out.exponent + q * out.se
    out.slope_sd = math.sqrt(cov_re[1, 1]) / xs if len(cov_re) > 1 else 0.0
    out.intercept_sd = math.sqrt(cov_re[0, 0])
    return out


def two_stage(a, se=None, level: float = 0.95) -> dict:
    """Per-group estimates ``a`` (..., J ≥ 2) pooled as their mean ± t_{J−1}·sd/√J: valid
    whatever the between-group spread of the true values, for â_j iid normal around their
    mean; vectorised over leading axes (floats for 1-D ``a``). With ``se`` (..., J), the
    per-group se's, the between-group sd by moments, √max(0, sd² − mean se²). Keys: those of
    ``_NAN``."""
    a = np.asarray(a, dtype=float)
    J = a.shape[-1]
    mean, sd = a.mean(axis=-1), a.std(axis=-1, ddof=1)
    half = stats.t.ppf(0.5 + level / 2, J - 1) * sd / math.sqrt(J)
    between = np.nan * mean
    if se is not None:
        between = np.sqrt(np.maximum(sd**2 - (np.asarray(se, float) ** 2).mean(axis=-1), 0.0))
    out = dict(exponent=mean, se=sd / math.sqrt(J), df=J - 1, ci_low=mean - half,
               ci_high=mean + half, sd=sd, between_sd=between)  # fmt: skip
    return {k: float(v) for k, v in out.items()} if a.ndim == 1 else out
