"""The rate fit: log(error) on log(n), its CI, and a test of the theory's exponent.

Model: log e_{n,r} = c - a·log n + u_{n,r}, fitted by OLS on replicate-level rows. Replicates at
one n share that n's bias (finite-n effects), so errors are correlated within an n: the standard
errors are cluster-robust with n as the cluster, with G - 1 degrees of freedom for the t
distribution (statsmodels ``use_correction=True, df_correction=True``). A study has few
clusters (4-9 sizes of n), and there the usual CRV1 sandwich (``cov_type="cluster"``)
under-covers: in 1,000 simulated fits with 4-9 sizes, 2-5 replicates and an n-level random
effect, its 95% intervals held the true slope 84-90% of the time, plain OLS 79-96%, while the
jackknife form CRV3 (``cov_type="cluster-crv3"``; Bell & McCaffrey 2002, MacKinnon, Nielsen &
Webb 2023) held it 95-96% of the time. CRV3 is therefore the default; ``cov="crv1"`` gives the
textbook one. An alternative, WLS on the per-n means of log e with weights 1/se², is reported
beside it, together with local slopes between successive n (theory.md §8: pre-asymptotic regimes
show up there first).

What is left out of the fit, and listed: failed cells; rows flagged ``rising`` or ``unresolved``
by the TV estimator; non-positive values; and every row of an n whose mean error is below twice
its mean noise floor (a point near its floor measures the floor, not the rate). Floors are
judged per n, not per row, because dropping only the low replicates of an n would bias its mean
upward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from minimax.study.registry import theory_exponent
from minimax.validation import check_choice, check_real

BAD_FLAGS = ("rising", "unresolved")
COV_TYPES = {"crv3": "cluster-crv3", "crv1": "cluster"}

VERDICTS = (
    "consistent with theory",
    "steeper",
    "flatter",
    "inconclusive: CI contains theory and 0",
    "not measurable: floors",
    "not measurable: flagged rising/unresolved",
    "not measurable: failed",
    "not measurable: too few points",
    "no theory exponent",
)


@dataclass
class RateFit:
    """A fitted rate error ≍ n^(-exponent) with its uncertainty and the theory beside it."""

    metric: str
    estimator: str
    arm: str
    theory: float
    exponent: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    level: float = 0.95
    df: float = math.nan
    p_value: float = math.nan
    intercept: float = math.nan
    cov: str = "crv3"
    cov_params: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan), repr=False)
    n_min: int = 0
    n_max: int = 0
    n_points: int = 0
    n_rows: int = 0
    wls_exponent: float = math.nan
    wls_se: float = math.nan
    #: the same fit keeping rows flagged rising/unresolved (lower bounds), when any were dropped
    flagged_exponent: float = math.nan
    flagged_ci_low: float = math.nan
    flagged_ci_high: float = math.nan
    verdict: str = "not measurable: too few points"
    points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    local_slopes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def measured(self) -> bool:
        return math.isfinite(self.exponent)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def predict_log(self, n) -> tuple[np.ndarray, np.ndarray]:
        """Fitted mean of log error at n and its (cluster-robust) standard error."""
        x = np.log(np.asarray(n, dtype=np.float64))
        mean = self.intercept - self.exponent * x
        X = np.stack([np.ones_like(x), x], axis=-1)
        var = np.einsum("...i,ij,...j->...", X, self.cov_params, X)
        return mean, np.sqrt(np.maximum(var, 0.0))

    def band(self, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fit, lower, upper) of the error at n: the fitted line and its pointwise CI band."""
        mean, se = self.predict_log(n)
        q = stats.t.ppf(0.5 + self.level / 2, self.df) if math.isfinite(self.df) else np.nan
        return np.exp(mean), np.exp(mean - q * se), np.exp(mean + q * se)

    def row(self) -> dict:
        """One row of the table of fits."""
        return {
            "arm": self.arm,
            "estimator": self.estimator,
            "metric": self.metric,
            "exponent": self.exponent,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "theory": self.theory,
            "p_value": self.p_value,
            "df": self.df,
            "cov": self.cov,
            "n_min": self.n_min,
            "n_max": self.n_max,
            "n_points": self.n_points,
            "n_rows": self.n_rows,
            "wls_exponent": self.wls_exponent,
            "wls_se": self.wls_se,
            "excluded_rows": len(self.excluded),
            "flagged_exponent": self.flagged_exponent,
            "flagged_ci_low": self.flagged_ci_low,
            "flagged_ci_high": self.flagged_ci_high,
            "verdict": self.verdict,
        }

    def summary(self) -> str:
        """A few lines: the exponent with its CI beside theory, the test, the alternatives."""
        head = f"{self.estimator} · {self.metric} · {self.arm}"
        lines = [head]
        if self.measured:
            pct = round(100 * self.level)
            lines.append(
                f"  exponent {self.exponent:.3f}  [{self.ci_low:.3f}, {self.ci_high:.3f}] "
                f"({pct}% CI, {self.cov.upper()} cluster-robust by n, t with {self.df:g} df)   "
                f"theory {self.theory:.3f}   p = {self.p_value:.3g}"
            )
            lines.append(
                f"  n {self.n_min}..{self.n_max} ({self.n_points} sizes, {self.n_rows} rows); "
                f"WLS on means {self.wls_exponent:.3f} ± {self.wls_se:.3f}"
            )
            if len(self.local_slopes):
                parts = [
                    f"{int(r.n_low)}→{int(r.n_high)}: {r.exponent:.2f}±{r.se:.2f}"
                    for r in self.local_slopes.itertuples()
                ]
                lines.append("  local slopes " + ", ".join(parts))
        lines.append(f"  verdict: {self.verdict}")
        if math.isfinite(self.flagged_exponent):
            lines.append(
                f"  keeping the rising/unresolved rows (TV lower bounds; indicative only): "
                f"{self.flagged_exponent:.3f} [{self.flagged_ci_low:.3f}, {self.flagged_ci_high:.3f}]"
            )
        if len(self.excluded):
            by = self.excluded.groupby("reason")["n"].apply(lambda s: sorted(set(s)))
            lines.append(
                "  excluded: "
                + "; ".join(f"{reason} (n={', '.join(map(str, ns))})" for reason, ns in by.items())
            )
        return "\n".join(lines)


def fit_rate(
    df: pd.DataFrame,
    metric: str = "tv",
    estimator: str | None = None,
    *,
    arm: str | None = None,
    theory: float | None = None,
    level: float = 0.95,
    floor_factor: float = 2.0,
    cov: str = "crv3",
    exclude_flags: bool = True,
) -> RateFit:
    """Fit error ≍ n^(-a) for one (arm, estimator, metric) of a tidy results table.

    ``estimator`` and ``arm`` may be omitted when the table holds only one. ``theory`` defaults
    to the metric's minimax exponent (s/(2s+D) for TV, 2s/(2s+D) for the score error).
    ``cov`` is the cluster-robust covariance: ``"crv3"`` (default, see the module doc) or
    ``"crv1"``. With ``exclude_flags`` (default) rows flagged rising/unresolved are left out;
    when any were, the same fit with them kept is reported beside it (``flagged_*`` fields):
    their TV values are lower bounds, so that exponent is indicative only.
    """
    check_choice("cov", cov, tuple(COV_TYPES))
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    floor_factor = check_real("floor_factor", floor_factor, low=0)
    sel = df[df["metric"] == metric]
    if sel.empty:
        raise ValueError(f"metric={metric!r} is not allowed: the table has no rows of it")
    estimator = _only(sel, "estimator", estimator)
    sel = sel[sel["estimator"] == estimator]
    arm = _only(sel, "arm", arm)
    sel = sel[sel["arm"] == arm].copy()
    if theory is None:
        theory = theory_exponent(metric, float(sel["s"].iloc[0]), int(sel["D"].iloc[0]))
    fit = RateFit(
        metric=metric, estimator=estimator, arm=arm, theory=float(theory), level=level, cov=cov
    )

    sel["reason"] = _row_reasons(sel, exclude_flags)
    points = _points(sel, floor_factor)
    below = set(points.loc[points["below_floor"], "n"])
    sel.loc[sel["n"].isin(below) & (sel["reason"] == ""), "reason"] = (
        f"below {floor_factor:g}×floor"
    )
    used = sel[sel["reason"] == ""]
    points["used"] = points["n"].isin(set(used["n"]))
    fit.points = points
    fit.excluded = sel.loc[
        sel["reason"] != "", ["n", "replicate", "value", "floor", "reason"]
    ].reset_index(drop=True)

    if exclude_flags and fit.excluded["reason"].str.startswith("flag").any():
        alt = fit_rate(
            df, metric, estimator, arm=arm, theory=theory, level=level,
            floor_factor=floor_factor, cov=cov, exclude_flags=False,
        )  # fmt: skip
        fit.flagged_exponent, fit.flagged_ci_low, fit.flagged_ci_high = (
            alt.exponent,
            alt.ci_low,
            alt.ci_high,
        )
    sizes = np.sort(used["n"].unique())
    if len(sizes) < 3:
        fit.verdict = _unmeasurable(fit.excluded, len(sizes))
        return fit
    _ols(fit, used, sizes)
    _wls(fit, points[points["used"]])
    fit.local_slopes = _local_slopes(points[points["used"]])
    fit.verdict = _verdict(fit)
    return fit


def fit_rates(df: pd.DataFrame, metric: str = "tv", **kw) -> list[RateFit]:
    """:func:`fit_rate` for every (arm, estimator) of the table that has ``metric`` rows."""
    sel = df[df["metric"] == metric]
    pairs = sel[["arm", "estimator"]].drop_duplicates().itertuples(index=False)
    return [fit_rate(df, metric, est, arm=arm, **kw) for arm, est in pairs]


def _only(df: pd.DataFrame, column: str, value):
    values = sorted(df[column].unique())
    if value is None:
        if len(values) != 1:
            raise ValueError(f"{column}=None is not allowed: the table holds {values}; name one")
        return values[0]
    if value not in values:
        raise ValueError(f"{column}={value!r} is not allowed: expected one of {values}")
    return value


def _row_reasons(sel: pd.DataFrame, exclude_flags: bool = True) -> pd.Series:
    value = sel["value"].astype(float)
    reason = pd.Series("", index=sel.index, dtype=object)
    if exclude_flags:
        reason[sel["flag"].isin(BAD_FLAGS)] = "flag " + sel["flag"].astype(str)
    reason[~np.isfinite(value) | (value <= 0)] = "value not positive"
    failed = sel["status"] != "ok"
    reason[failed] = sel.loc[failed, "status"].astype(str)
    return reason


def _points(sel: pd.DataFrame, floor_factor: float) -> pd.DataFrame:
    """Per n: mean ± se over every successful row (flagged ones included: they are lower
    bounds, shown but not fitted), mean and se of log error over the rows the fit may use,
    and the mean floor."""
    rows = []
    for n, g in sel.groupby("n", sort=True):
        shown = g[(g["status"] == "ok") & (g["value"] > 0)]["value"].to_numpy(float)
        fitted = np.log(g.loc[g["reason"] == "", "value"].to_numpy(float))
        k, kf = len(shown), len(fitted)
        floor = (
            float(np.nanmean(g["floor"].to_numpy(float))) if g["floor"].notna().any() else np.nan
        )
        mean = float(shown.mean()) if k else np.nan
        rows.append(
            {
                "n": int(n),
                "k": k,
                "mean": mean,
                "se": float(shown.std(ddof=1) / math.sqrt(k)) if k > 1 else np.nan,
                "k_fit": kf,
                "mean_log": float(fitted.mean()) if kf else np.nan,
                "se_log": float(fitted.std(ddof=1) / math.sqrt(kf)) if kf > 1 else np.nan,
                "floor": floor,
                "flags": int((g["flag"].isin(BAD_FLAGS)).sum()),
                "failed": int((g["status"] != "ok").sum()),
                "failed_as": "/".join(sorted(set(g.loc[g["status"] != "ok", "status"]))),
                "below_floor": bool(k and math.isfinite(floor) and mean < floor_factor * floor),
            }
        )
    return pd.DataFrame(rows)


def _ols(fit: RateFit, used: pd.DataFrame, sizes: np.ndarray) -> None:
    import statsmodels.api as sm

    y = np.log(used["value"].to_numpy(float))
    x = np.log(used["n"].to_numpy(float))
    groups = np.searchsorted(sizes, used["n"].to_numpy())
    res = sm.OLS(y, sm.add_constant(x)).fit(
        cov_type=COV_TYPES[fit.cov],
        cov_kwds={"groups": groups, "use_correction": True, "df_correction": True},
        use_t=True,
    )
    alpha = 1 - fit.level
    lo, hi = res.conf_int(alpha=alpha)[1]
    fit.intercept = float(res.params[0])
    fit.exponent = float(-res.params[1])
    fit.se = float(res.bse[1])
    fit.ci_low, fit.ci_high = float(-hi), float(-lo)
    # t with G - 1 df, as conf_int uses for both covariances (CRV3 leaves df_resid at N - 2)
    fit.df = float(len(sizes) - 1)
    fit.cov_params = np.asarray(res.cov_params(), dtype=float)
    if math.isfinite(fit.theory):
        if fit.se > 0:
            t = (fit.exponent - fit.theory) / fit.se
            fit.p_value = float(2 * stats.t.sf(abs(t), fit.df))
        else:  # an exact fit: the theory is either met exactly or rejected
            fit.p_value = 1.0 if fit.exponent == fit.theory else 0.0
    fit.n_min, fit.n_max = int(sizes[0]), int(sizes[-1])
    fit.n_points, fit.n_rows = len(sizes), len(y)


def _wls(fit: RateFit, points: pd.DataFrame) -> None:
    import statsmodels.api as sm

    se = points["se_log"].to_numpy(float)
    if len(points) < 3 or not np.all(np.isfinite(se) & (se > 0)):
        return
    x = np.log(points["n"].to_numpy(float))
    res = sm.WLS(points["mean_log"].to_numpy(float), sm.add_constant(x), weights=1 / se**2).fit()
    fit.wls_exponent, fit.wls_se = float(-res.params[1]), float(res.bse[1])


def _local_slopes(points: pd.DataFrame) -> pd.DataFrame:
    p = points.sort_values("n")
    n, m, s = p["n"].to_numpy(float), p["mean_log"].to_numpy(float), p["se_log"].to_numpy(float)
    dx = np.diff(np.log(n))
    return pd.DataFrame(
        {
            "n_low": n[:-1].astype(int),
            "n_high": n[1:].astype(int),
            "exponent": -np.diff(m) / dx,
            "se": np.sqrt(s[:-1] ** 2 + s[1:] ** 2) / dx,
        }
    )


def _unmeasurable(excluded: pd.DataFrame, n_used: int) -> str:
    """Name what took the fit below 3 sizes of n: the most common reason among lost rows."""
    if excluded.empty:
        return "not measurable: too few points"
    kind = excluded["reason"].map(
        lambda r: "floors" if "floor" in r else ("flagged" if r.startswith("flag") else "failed")
    )
    top = kind.value_counts().idxmax()
    if top == "failed" and (excluded["reason"] == "value not positive").all():
        return "not measurable: too few points"
    return {
        "floors": "not measurable: floors",
        "flagged": "not measurable: flagged rising/unresolved",
        "failed": "not measurable: failed",
    }[top]


def _verdict(fit: RateFit) -> str:
    alpha = 1 - fit.level
    if not math.isfinite(fit.theory):
        return "no theory exponent"
    if fit.p_value >= alpha:
        if fit.ci_low <= 0 <= fit.ci_high:
            return "inconclusive: CI contains theory and 0"
        return "consistent with theory"
    return "steeper" if fit.exponent > fit.theory else "flatter"
