"""The diffusion model's error budget per n for the paper: one frame per arm (issue 7).

Columns are the components the results table holds: total TV, the oracle-score sampler's TV
(the true score through the DDPM's own sampler), the TV estimate's noise floor, the mass
outside the box after and before reflection, the σ²-weighted score error and the loss gap,
defined once as held-out − training loss (positive: the network fits its training set better
than fresh data, i.e. memorisation). The noise floor is a property of the TV *measurement*,
not part of the DDPM's error: it is shown beside the components and never named the largest.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from minimax.study.figures import LOSS_GAP

#: the diffusion model under study: the one whose error budget is drawn
BUDGET_ESTIMATOR = "ddpm"
#: names the budget engineer's metrics may carry for the oracle-score sampler's own TV
ORACLE_TV_METRICS = ("oracle_tv", "sampler_tv", "tv_oracle", "oracle_score_tv")
BUDGET_COMPONENTS = (
    "total TV",
    "oracle-score sampler TV",
    "TV floor",
    "outside mass",
    "outside before reflection",
    "score error",
    LOSS_GAP,
)
#: the components on the TV scale that belong to the DDPM's error: not the floor (the
#: measurement's), nor the mass outside before reflection (a diagnostic: reflection folds it
#: back, and what it leaves wrong is in the total TV)
ERROR_COMPONENTS = ("oracle-score sampler TV", "outside mass")


def _params(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """The JSON column ``estimator_params`` / ``target_params`` expanded into columns."""
    if column not in df.columns:
        return pd.DataFrame(index=df.index)
    parsed = [json.loads(v) if isinstance(v, str) and v else {} for v in df[column]]
    return pd.DataFrame(parsed, index=df.index)


def budget_frame(df: pd.DataFrame, arm: str) -> pd.DataFrame:
    """Mean over replicates, per n, of each error-budget component of the diffusion model in
    one arm: columns are the components the table holds, plus any further metric of the
    diffusion model under its own name."""
    a = df[(df["arm"] == arm) & (df["status"] == "ok")]
    d = a[a["estimator"] == BUDGET_ESTIMATOR]
    if d.empty:
        return pd.DataFrame()

    def per_n(rows: pd.DataFrame, col: str = "value") -> pd.Series:
        return rows.groupby("n")[col].mean()

    out = {}
    tv = d[d["metric"] == "tv"]
    params = _params(tv, "estimator_params")
    if len(tv):
        out["total TV"] = per_n(tv)
        if tv["floor"].notna().any():
            out["TV floor"] = per_n(tv, "floor")
    oracle = d[d["metric"].isin(ORACLE_TV_METRICS)]
    if oracle.empty:
        oracle = a[(a["estimator"] == "oracle-score") & (a["metric"] == "tv")]
    # an "unresolved" TV has no admissible level: no value to show (a "rising" one is a lower
    # bound and stays, as it does in the total TV)
    oracle = oracle[oracle["flag"] != "unresolved"]
    if len(oracle):
        out["oracle-score sampler TV"] = per_n(oracle)
    om = d[d["metric"] == "outside_mass"]
    if len(om):
        out["outside mass"] = per_n(om)
    if "outside_fraction" in params.columns and params["outside_fraction"].notna().any():
        # the sampler's mass outside the box before boundary='reflect' folds it back
        out["outside before reflection"] = (
            params["outside_fraction"].astype(float).groupby(tv["n"]).mean()
        )
    sc = d[d["metric"] == "score"]
    if len(sc):
        out["score error"] = per_n(sc)
    gap = d[d["metric"] == "loss_gap"]
    if len(gap):
        out[LOSS_GAP] = per_n(gap)
    elif "loss_gap" in params.columns and params["loss_gap"].notna().any():
        # recorded by the estimator as heldout_loss − train_loss (diffusion/estimator.py)
        out[LOSS_GAP] = params["loss_gap"].astype(float).groupby(tv["n"]).mean()
    known = {"tv", "outside_mass", "score", "loss_gap", "w1", "tv_sampled", *ORACLE_TV_METRICS}
    for metric in dict.fromkeys(d["metric"]):
        if metric not in known:
            out[metric.replace("_", " ")] = per_n(d[d["metric"] == metric])
    return pd.DataFrame(out).sort_index()


def largest_component(budget: pd.DataFrame) -> tuple[str, float, int]:
    """(name, value, n): the largest positive TV-scale component of the DDPM's error (sampler
    TV, mass outside the box) at the largest n where one is measured; never the noise floor,
    which belongs to the measurement. ``("---", nan, 0)`` when none is."""
    cols = [c for c in ERROR_COMPONENTS if c in budget]
    if budget.empty or not cols:
        return ("---", math.nan, 0)
    sub = budget[cols].astype(float).where(lambda x: x > 0).dropna(how="all")
    if sub.empty:
        return ("---", math.nan, 0)
    last = sub.iloc[-1].dropna()
    return (str(last.idxmax()), float(last.max()), int(sub.index[-1]))


def absent_components(budgets: dict[str, pd.DataFrame]) -> list[str]:
    """The budget components no arm's frame holds."""
    held = {c for b in budgets.values() for c in b.columns}
    return [c for c in BUDGET_COMPONENTS if c not in held]
