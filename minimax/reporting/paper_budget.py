"""The diffusion model's error budget per n for the paper: one frame per unit (an arm, or a
group of target seeds), from :func:`minimax.study.budget.budget_components` (docs/tv.md §9).

The parts telescope, TV = blur + sampler + learned: the exact early-stop blur, the sampler's
discretisation and prior mismatch (oracle-score TV at the DDPM's M − blur) and what the learned
score adds (TV − oracle-score TV), each with its standard error; ``design share`` is
(blur + sampler)/TV. Beside them, as diagnostics and never as parts of the error: the TV
estimate's noise floor (a property of the measurement) and the mass the sampler put outside
the box before reflection. With the rows of several seeds the means are over every row of the
unit (budget_components groups by n only).
"""

from __future__ import annotations

import json
import math

import pandas as pd

from minimax.study.budget import Z95, budget_components, learned_part_fit

#: the diffusion model under study: the one whose error budget is drawn
BUDGET_ESTIMATOR = "ddpm"
#: the parts of the TV, in order (budget.COMPONENTS' keys; "unsplit" where no oracle ran)
PARTS = ("blur", "sampler", "learned", "unsplit")
#: the frame's columns in reading order (each part with its se as "<part>_se")
BUDGET_COMPONENTS = ("tv", "blur", "sampler", "learned", "unsplit", "design_share", "floor",
                     "outside")  # fmt: skip
#: names in words (tables, legends)
COMPONENT_NAMES = {
    "tv": "TV",
    "blur": "early-stop blur",
    "sampler": "sampler (oracle − blur)",
    "learned": "learned score (TV − oracle)",
    "unsplit": "sampler + learned, not split",
    "design_share": "design share",
    "floor": "TV floor",
    "outside": "outside before reflection",
}


def _params(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """The JSON column ``estimator_params`` / ``target_params`` expanded into columns."""
    if column not in df.columns:
        return pd.DataFrame(index=df.index)
    parsed = [json.loads(v) if isinstance(v, str) and v else {} for v in df[column]]
    return pd.DataFrame(parsed, index=df.index)


def budget_frame(df: pd.DataFrame, arms=None, estimator: str = BUDGET_ESTIMATOR) -> pd.DataFrame:
    """The budget of ``estimator`` over the rows of ``arms`` (one label or a list; None: every
    row of ``df``) as a frame indexed by n: the columns of BUDGET_COMPONENTS the rows hold, each
    part with its se (``<part>_se``), empty without rows of the estimator."""
    if arms is not None:
        df = df[df["arm"].isin([arms] if isinstance(arms, str) else list(arms))]
    if not (df["estimator"] == estimator).any():
        return pd.DataFrame()
    comps = budget_components(df, estimator)
    if not comps:
        return pd.DataFrame()
    rows = {}
    for n, c in comps.items():
        row = {}
        for key in BUDGET_COMPONENTS:
            if key in c and _finite(c[key]):
                row[key] = float(c[key])
                if f"{key}_se" in c:
                    row[f"{key}_se"] = float(c[f"{key}_se"])
        row["inconsistent"] = ", ".join(c.get("inconsistent", []))
        rows[int(n)] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame.index.name = "n"
    return frame


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def ci95(budget: pd.DataFrame, key: str) -> pd.Series:
    """The 95% half-width of a part per n: 1.96 se (0 for the exact blur; NaN where unknown)."""
    se = budget.get(f"{key}_se")
    if se is None:
        return pd.Series(math.nan, index=budget.index)
    return Z95 * se.astype(float)


def largest_component(budget: pd.DataFrame) -> tuple[str, float, int]:
    """(part, value, n): the largest of blur / sampler / learned at the largest n where one is
    measured; never the floor or the outside mass (diagnostics), nor the unsplit remainder.
    ``("---", nan, 0)`` when none is."""
    cols = [c for c in ("blur", "sampler", "learned") if c in budget]
    if budget.empty or not cols:
        return ("---", math.nan, 0)
    sub = budget[cols].astype(float).dropna(how="all")
    if sub.empty:
        return ("---", math.nan, 0)
    last = sub.iloc[-1].dropna()
    return (str(last.idxmax()), float(last.max()), int(sub.index[-1]))


def absent_components(budgets: dict[str, pd.DataFrame]) -> list[str]:
    """The budget parts (blur, sampler, learned) no unit's frame holds."""
    held = {c for b in budgets.values() for c in b.columns}
    return [COMPONENT_NAMES[c] for c in ("blur", "sampler", "learned") if c not in held]


def learned_fit(df: pd.DataFrame, arms, label: str, estimator: str = BUDGET_ESTIMATOR):
    """budget.learned_part_fit over the rows of ``arms`` (several seeds' arms relabelled as one
    ``label``: the oracle of a row is still that of its own seed and n); None without oracle."""
    sel = df[df["arm"].isin([arms] if isinstance(arms, str) else list(arms))]
    if sel.empty:
        return None
    return learned_part_fit(sel.assign(arm=label), estimator)
