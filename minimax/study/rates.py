"""The rate fit: the mean error against n, its CI, and a verdict on the theory's exponent.

Model: E e_{n,r} = exp(c − a·log n), fitted by the log-link quasi-likelihood of
:mod:`minimax.study.glm` on replicate-level rows, every row at its measured value: a
bias-corrected TV estimate ≤ 0 enters as it is, with no logarithm and no truncation
(docs/verdicts.md §4). The fit estimates the slope of log E e, the quantity the theory bounds
(E TV ≲ n^(−s/(2s+D))), not of E log e. Replicates at one n share that n's bias, so the
covariance is cluster-robust with n as the cluster: CRV3, the leave-one-n-out jackknife, with
t on G − 1 degrees of freedom (with 4-9 sizes of n the usual CRV1 under-covers; ``cov="crv1"``
gives it). Beside it: OLS of log e on log n over the positive rows (the former default, as a
cross-check), local slopes between successive n with CIs, the exponent under the log-factor
models n^(−a)(log n)^k, k ∈ {0, ½, 1}, and a curvature check that flags a trend in the local
slopes (docs/verdicts.md §5: where the fit's CI under-covers, this flag is what warns).

The verdict is the equivalence test of :mod:`minimax.study.verdicts` against s/(2s+D) with the
margin δ of the study (``--margin``); :mod:`minimax.study.planning` says what design would
reach a CI half-width of δ.

What is left out of the fit, and listed: failed cells; rows with a non-finite value; rows
flagged ``rising`` or ``unresolved`` by the TV estimator; and every row of an n whose mean error
is below twice its mean noise floor (a point near its floor measures the floor, not the rate).
Floors are judged per n, not per row, because dropping only the low replicates of an n would
bias its mean upward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from minimax.study import planning, verdicts
from minimax.study.rate_models import (
    LOG_FACTORS,
    fit_log_link,
    fit_ols_log,
    local_slope_table,
    log_factor_fits,
)
from minimax.study.rate_rows import (
    BAD_FLAGS,  # noqa: F401  (importable from here, as before)
    only_value,
    row_reasons,
    size_points,
    unmeasurable,
)
from minimax.study.registry import theory_exponent
from minimax.validation import check_choice, check_real

COV_TYPES = ("crv3", "crv1")
DEFAULT_MARGIN = 0.05

VERDICTS = (
    verdicts.EQUIVALENT,
    "steeper",
    "flatter",
    verdicts.NOT_RESOLVED,
    verdicts.CROSSES,
    "not measurable: floors",
    "not measurable: flagged rows",
    "not measurable: failed",
    "not measurable: too few points",
    "not measurable: the fit did not converge",
    "no theory exponent",
)


@dataclass
class RateFit:
    """A fitted rate E error ≍ n^(-exponent) with its uncertainty, the theory and a verdict."""

    metric: str
    estimator: str
    arm: str
    theory: float
    margin: float = DEFAULT_MARGIN
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
    #: rows ≤ 0 among the fitted ones (kept by this fit, dropped by the log-scale cross-check)
    nonpositive_rows: int = 0
    #: the cross-check: OLS of log e on log n over the positive fitted rows, CRV3 by n
    ols_exponent: float = math.nan
    ols_ci_low: float = math.nan
    ols_ci_high: float = math.nan
    ols_note: str = ""
    #: the same fit keeping the flagged rows (lower bounds), when any were dropped
    flagged_exponent: float = math.nan
    flagged_ci_low: float = math.nan
    flagged_ci_high: float = math.nan
    verdict: str = "not measurable: too few points"
    tost: verdicts.Tost | None = field(default=None, repr=False)
    need: planning.Need | None = field(default=None, repr=False)
    curvature: verdicts.Curvature = field(default_factory=verdicts.Curvature, repr=False)
    log_factors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    local_slopes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: the fitted rows (n, replicate, value) and the fitted means, for paired fits and plans
    used: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def measured(self) -> bool:
        return math.isfinite(self.exponent)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    @property
    def depends_on_k(self) -> bool:
        """Whether the verdict's kind (equivalent / steeper / flatter / not resolved) changes
        across the log-factor models k ∈ {0, ½, 1}."""
        if len(self.log_factors) < 2:
            return False
        return self.log_factors["verdict"].map(verdicts.verdict_kind).nunique() > 1

    @property
    def k_hull(self) -> tuple[float, float]:
        """The hull of the k = 0, ½, 1 CIs: the CI to quote when the log power is unknown in
        [0, 1] (its coverage is measured in docs/verdicts.md §5)."""
        if not len(self.log_factors):
            return (math.nan, math.nan)
        return (float(self.log_factors["ci_low"].min()), float(self.log_factors["ci_high"].max()))

    def predict_log(self, n) -> tuple[np.ndarray, np.ndarray]:
        """Fitted log of the mean error at n and its (cluster-robust) standard error."""
        x = np.log(np.asarray(n, dtype=np.float64))
        mean = self.intercept - self.exponent * x
        X = np.stack([np.ones_like(x), x], axis=-1)
        var = np.einsum("...i,ij,...j->...", X, self.cov_params, X)
        return mean, np.sqrt(np.maximum(var, 0.0))

    def band(self, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fit, lower, upper) of the mean error at n: the fitted curve and its pointwise CI."""
        mean, se = self.predict_log(n)
        q = stats.t.ppf(0.5 + self.level / 2, self.df) if math.isfinite(self.df) else np.nan
        return np.exp(mean), np.exp(mean - q * se), np.exp(mean + q * se)

    def row(self) -> dict:
        """One row of the table of fits."""
        t = self.tost
        lf = {
            f"exponent_k{k:g}": r.exponent
            for k, r in zip(LOG_FACTORS, self._lf_rows(), strict=True)
        }
        lf |= {
            f"verdict_k{k:g}": r.verdict for k, r in zip(LOG_FACTORS, self._lf_rows(), strict=True)
        }
        return {
            "arm": self.arm, "estimator": self.estimator, "metric": self.metric,
            "exponent": self.exponent, "se": self.se, "ci_low": self.ci_low,
            "ci_high": self.ci_high, "level": self.level, "theory": self.theory,
            "p_value": self.p_value, "df": self.df, "cov": self.cov, "margin": self.margin,
            "tost_half_width": t.half_width if t else math.nan,
            "tost_p": t.p_value if t else math.nan,
            "replicates_needed": _num(self.need.replicates) if self.need else math.nan,
            "sizes_needed": _num(self.need.sizes) if self.need else math.nan,
            "decades_needed": _num(self.need.decades) if self.need else math.nan,
            "n_min": self.n_min, "n_max": self.n_max, "n_points": self.n_points,
            "n_rows": self.n_rows, "nonpositive_rows": self.nonpositive_rows,
            "ols_exponent": self.ols_exponent, "ols_ci_low": self.ols_ci_low,
            "ols_ci_high": self.ols_ci_high, "excluded_rows": len(self.excluded),
            "curvature_p": self.curvature.p_value, "misspecified": self.curvature.flagged,
            "ci_low_any_k": self.k_hull[0], "ci_high_any_k": self.k_hull[1],
            **lf,
            "flagged_exponent": self.flagged_exponent,
            "flagged_ci_low": self.flagged_ci_low, "flagged_ci_high": self.flagged_ci_high,
            "verdict": self.verdict,
        }  # fmt: skip

    def _lf_rows(self):
        if len(self.log_factors):
            return list(self.log_factors.itertuples())
        blank = pd.Series({"exponent": math.nan, "verdict": self.verdict})
        return [blank] * len(LOG_FACTORS)

    def summary(self) -> str:
        """The exponent with its CI beside theory, the verdict with what it would take, the
        log-factor models, the local slopes, the cross-check and what was left out."""
        from minimax.reporting.summary import fit_summary

        return fit_summary(self)


def _num(v) -> float:
    return math.nan if v is None else float(v)


def fit_rate(
    df: pd.DataFrame,
    metric: str = "tv",
    estimator: str | None = None,
    *,
    arm: str | None = None,
    theory: float | None = None,
    margin: float = DEFAULT_MARGIN,
    level: float = 0.95,
    floor_factor: float = 2.0,
    cov: str = "crv3",
    exclude_flags: bool = True,
) -> RateFit:
    """Fit E error ≍ n^(-a) for one (arm, estimator, metric) of a tidy results table.

    ``estimator`` and ``arm`` may be omitted when the table holds only one. ``theory`` defaults
    to the metric's minimax exponent (s/(2s+D) for TV, 2s/(2s+D) for the score error).
    ``margin`` is the equivalence margin δ of the verdict. ``cov``: ``"crv3"`` (default, see
    the module doc) or ``"crv1"``. With ``exclude_flags`` (default) rows flagged
    rising, unresolved or below_rule are left out; when any were, the same fit with them kept is reported
    beside it (``flagged_*`` fields): their TV values are lower bounds, indicative only.
    """
    check_choice("cov", cov, COV_TYPES)
    margin = verdicts.check_margin(margin)
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    floor_factor = check_real("floor_factor", floor_factor, low=0)
    sel = df[df["metric"] == metric]
    if sel.empty:
        raise ValueError(f"metric={metric!r} is not allowed: the table has no rows of it")
    estimator = only_value(sel, "estimator", estimator)
    sel = sel[sel["estimator"] == estimator]
    arm = only_value(sel, "arm", arm)
    sel = sel[sel["arm"] == arm].copy()
    if theory is None:
        theory = theory_exponent(metric, float(sel["s"].iloc[0]), int(sel["D"].iloc[0]))
    fit = RateFit(metric=metric, estimator=estimator, arm=arm, theory=float(theory),
                  margin=margin, level=level, cov=cov)  # fmt: skip

    sel["reason"] = row_reasons(sel, exclude_flags)
    points = size_points(sel, floor_factor)
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
            df, metric, estimator, arm=arm, theory=theory, margin=margin, level=level,
            floor_factor=floor_factor, cov=cov, exclude_flags=False,
        )  # fmt: skip
        fit.flagged_exponent, fit.flagged_ci_low, fit.flagged_ci_high = (
            alt.exponent,
            alt.ci_low,
            alt.ci_high,
        )
    sizes = np.sort(used["n"].unique())
    if len(sizes) < 3:
        fit.verdict = unmeasurable(fit.excluded, len(sizes))
        return fit
    fit.used = used[["n", "replicate", "value"]].reset_index(drop=True)
    if not fit_log_link(fit, used, sizes):
        fit.verdict = "not measurable: the fit did not converge"
        return fit
    fit_ols_log(fit, used)
    fit.local_slopes = local_slope_table(points[points["used"]], fit.level)
    fit.curvature = verdicts.curvature(fit.used["value"], fit.used["n"], fit.used["n"])
    fit.log_factors = log_factor_fits(fit)
    if not math.isfinite(fit.theory):
        fit.verdict = "no theory exponent"
        return fit
    fit.tost = verdicts.tost(fit.exponent, fit.se, fit.df, fit.theory, margin)
    fit.verdict = verdicts.verdict_text(fit.tost, fit.exponent, fit.theory)
    mu = np.exp(fit.intercept - fit.exponent * np.log(fit.used["n"].to_numpy(float)))
    split = planning.variance_split(fit.used["value"], fit.used["n"], mu, fit.se)
    fit.need = planning.plan(split, margin, fit.n_min)
    return fit


def fit_rates(df: pd.DataFrame, metric: str = "tv", **kw) -> list[RateFit]:
    """:func:`fit_rate` for every (arm, estimator) of the table that has ``metric`` rows."""
    sel = df[df["metric"] == metric]
    pairs = sel[["arm", "estimator"]].drop_duplicates().itertuples(index=False)
    return [fit_rate(df, metric, est, arm=arm, **kw) for arm, est in pairs]
