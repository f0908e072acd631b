"""The models behind a rate fit (:class:`~minimax.study.rates.RateFit`).

``fit_log_link`` writes the main fit into the RateFit: the log-link quasi-likelihood fit of
E e = exp(c − a·log n) (``glm``), covariance CRV3 (or CRV1) clustered by n, t on G − 1 df.
``fit_ols_log`` writes the cross-check: OLS of log e on log n over the positive rows.
``log_factor_fits`` returns the exponent under n^(−a)(log n)^k for k in ``LOG_FACTORS``, each
with its CI and verdict; ``local_slope_table`` the slopes of log(mean) between successive n.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from minimax.study import glm, verdicts

if TYPE_CHECKING:
    from minimax.study.rates import RateFit

LOG_FACTORS = (0.0, 0.5, 1.0)


def fit_log_link(fit: RateFit, used: pd.DataFrame, sizes: np.ndarray) -> bool:
    """Write the log-link fit of the ``used`` rows into ``fit`` (exponent, se, CI, df, p-value
    against the theory, covariance, sizes); False, with ``fit`` untouched, if it did not
    converge."""
    y = used["value"].to_numpy(float)
    n = used["n"].to_numpy(float)
    X = glm.design(n)
    res = glm.fit_loglink(y, X, n)
    if not res.converged[0]:
        return False
    beta = res.beta[0]
    cov = res.cov[0] if fit.cov == "crv3" else glm.crv1(y, X, n, res.beta)[0]
    fit.intercept, fit.exponent = float(beta[0]), float(-beta[1])
    fit.se = float(math.sqrt(max(cov[1, 1], 0.0)))
    fit.df = float(len(sizes) - 1)
    fit.cov_params = np.asarray(cov, dtype=float)
    q = stats.t.ppf(0.5 + fit.level / 2, fit.df)
    fit.ci_low, fit.ci_high = fit.exponent - q * fit.se, fit.exponent + q * fit.se
    if math.isfinite(fit.theory):
        if fit.se > 0:
            t = (fit.exponent - fit.theory) / fit.se
            fit.p_value = float(2 * stats.t.sf(abs(t), fit.df))
        else:  # an exact fit: the theory is either met exactly or rejected
            fit.p_value = 1.0 if fit.exponent == fit.theory else 0.0
    fit.n_min, fit.n_max = int(sizes[0]), int(sizes[-1])
    fit.n_points, fit.n_rows = len(sizes), len(y)
    fit.nonpositive_rows = int((y <= 0).sum())
    return True


def fit_ols_log(fit: RateFit, used: pd.DataFrame) -> None:
    """OLS of log e on log n over the positive rows, CRV3 by n (statsmodels)."""
    import statsmodels.api as sm

    pos = used[used["value"] > 0]
    sizes = np.sort(pos["n"].unique())
    dropped = len(used) - len(pos)
    if len(sizes) < 3:
        fit.ols_note = f"not computable: {len(sizes)} sizes of n with positive values"
        return
    y, x = np.log(pos["value"].to_numpy(float)), np.log(pos["n"].to_numpy(float))
    res = sm.OLS(y, sm.add_constant(x)).fit(
        cov_type="cluster-crv3",
        cov_kwds={"groups": np.searchsorted(sizes, pos["n"].to_numpy()),
                  "use_correction": True, "df_correction": True},
        use_t=True,
    )  # fmt: skip
    lo, hi = res.conf_int(alpha=1 - fit.level)[1]
    fit.ols_exponent, fit.ols_ci_low, fit.ols_ci_high = float(-res.params[1]), -hi, -lo
    if dropped:
        fit.ols_note = f"{dropped} rows ≤ 0 dropped (the log needs e > 0)"


def log_factor_fits(fit: RateFit) -> pd.DataFrame:
    """The exponent a of E e = C n^(−a) (log n)^k for k ∈ LOG_FACTORS, each with its CI and
    verdict (k = 0 is the main fit)."""
    y = fit.used["value"].to_numpy(float)
    n = fit.used["n"].to_numpy(float)
    rows = []
    for k in LOG_FACTORS:
        res = glm.fit_loglink(y, glm.design(n), n, glm.log_factor_offset(n, k))
        a, se = float(-res.beta[0, 1]), float(math.sqrt(max(res.cov[0, 1, 1], 0.0)))
        if not res.converged[0]:
            a = se = math.nan
        q = stats.t.ppf(0.5 + fit.level / 2, fit.df)
        if math.isfinite(fit.theory) and math.isfinite(a):
            t = verdicts.tost(a, se, fit.df, fit.theory, fit.margin)
            v = verdicts.verdict_text(t, a, fit.theory)
        else:
            v = "no theory exponent" if math.isfinite(a) else "the fit did not converge"
        rows.append({"k": k, "exponent": a, "se": se, "ci_low": a - q * se,
                     "ci_high": a + q * se, "verdict": v})  # fmt: skip
    return pd.DataFrame(rows)


def local_slope_table(points: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Slopes of log(mean) between successive n, se by the delta method from the replicate
    se's (no n-level effect: indicative), t with k_i + k_j − 2 df; ``note`` says why a slope
    is missing (a mean ≤ 0, or one replicate)."""
    p = points.sort_values("n")
    n = p["n"].to_numpy(float)
    m, s, k = p["mean_fit"].to_numpy(float), p["se_fit"].to_numpy(float), p["k_fit"].to_numpy()
    dx = np.diff(np.log(n))
    with np.errstate(divide="ignore", invalid="ignore"):
        logm = np.where(m > 0, np.log(np.where(m > 0, m, 1.0)), np.nan)
        rel = s / m
        slope = -np.diff(logm) / dx
        se = np.sqrt(rel[:-1] ** 2 + rel[1:] ** 2) / dx
    dof = k[:-1] + k[1:] - 2
    q = np.where(dof > 0, stats.t.ppf(0.5 + level / 2, np.maximum(dof, 1)), np.nan)
    note = np.where(
        (m[:-1] <= 0) | (m[1:] <= 0),
        "mean ≤ 0",
        np.where(~np.isfinite(se), "one replicate", ""),
    )
    return pd.DataFrame({"n_low": n[:-1].astype(int), "n_high": n[1:].astype(int),
                         "exponent": slope, "se": se, "ci_low": slope - q * se,
                         "ci_high": slope + q * se, "note": note})  # fmt: skip
