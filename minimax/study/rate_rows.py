"""Which rows of a results table the rate fit may use, the points per n, and why a fit fails.

A row is left out, with its reason, when its cell failed (its status), its value is not finite,
or (with ``exclude_flags``) it is flagged ``rising``, ``unresolved`` or ``below_rule``; ``rates``
adds the floor rule, which is per n. The points are per-n means over the rows shown and over the
rows fitted, with their floors; ``unmeasurable`` names the most common reason among lost rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: flags of a TV row the fit leaves out (docs/tv.md §4): probably low, M too small for the value,
#: or M below the resolution rule
BAD_FLAGS = ("rising", "unresolved", "below_rule")


def only_value(df: pd.DataFrame, column: str, value):
    """``value`` if the table's ``column`` holds it, or the column's one value when ``value`` is
    None; else ValueError naming the values the table holds."""
    values = sorted(df[column].unique())
    if value is None:
        if len(values) != 1:
            raise ValueError(f"{column}=None is not allowed: the table holds {values}; name one")
        return values[0]
    if value not in values:
        raise ValueError(f"{column}={value!r} is not allowed: expected one of {values}")
    return value


def row_reasons(sel: pd.DataFrame, exclude_flags: bool = True) -> pd.Series:
    """Per row, why the fit may not use it ("" when it may): the cell's status when not ok,
    else "value not finite", else "flag rising"/"flag unresolved" (with ``exclude_flags``)."""
    value = sel["value"].astype(float)
    reason = pd.Series("", index=sel.index, dtype=object)
    if exclude_flags:
        reason[sel["flag"].isin(BAD_FLAGS)] = "flag " + sel["flag"].astype(str)
    reason[~np.isfinite(value)] = "value not finite"
    failed = sel["status"] != "ok"
    reason[failed] = sel.loc[failed, "status"].astype(str)
    return reason


def size_points(sel: pd.DataFrame, floor_factor: float) -> pd.DataFrame:
    """Per n: mean ± se over every successful row (flagged ones included: they are lower
    bounds, shown but not fitted; values ≤ 0 included), the mean and se over the rows the fit
    may use, and the mean floor."""
    rows = []
    for n, g in sel.groupby("n", sort=True):
        v = g["value"].to_numpy(float)
        shown = v[(g["status"] == "ok").to_numpy() & np.isfinite(v)]
        fitted = g.loc[g["reason"] == "", "value"].to_numpy(float)
        k, kf = len(shown), len(fitted)
        floor = (
            float(np.nanmean(g["floor"].to_numpy(float))) if g["floor"].notna().any() else np.nan
        )
        mean = float(shown.mean()) if k else np.nan
        mean_fit = float(fitted.mean()) if kf else np.nan
        rows.append(
            {
                "n": int(n),
                "k": k,
                "mean": mean,
                "se": float(shown.std(ddof=1) / math.sqrt(k)) if k > 1 else np.nan,
                "k_fit": kf,
                "mean_fit": mean_fit,
                "se_fit": float(fitted.std(ddof=1) / math.sqrt(kf)) if kf > 1 else np.nan,
                "mean_log": math.log(mean_fit) if mean_fit > 0 else np.nan,
                "floor": floor,
                "flags": int((g["flag"].isin(BAD_FLAGS)).sum()),
                "failed": int((g["status"] != "ok").sum()),
                "failed_as": "/".join(sorted(set(g.loc[g["status"] != "ok", "status"]))),
                "below_floor": bool(k and math.isfinite(floor) and mean < floor_factor * floor),
            }
        )
    return pd.DataFrame(rows)


def unmeasurable(excluded: pd.DataFrame, n_used: int) -> str:
    """Name what took the fit below 3 sizes of n: the most common reason among lost rows."""
    if excluded.empty:
        return "not measurable: too few points"
    kind = excluded["reason"].map(
        lambda r: "floors" if "floor" in r else ("flagged" if r.startswith("flag") else "failed")
    )
    top = kind.value_counts().idxmax()
    if top == "failed" and (excluded["reason"] == "value not finite").all():
        return "not measurable: too few points"
    return {
        "floors": "not measurable: floors",
        "flagged": "not measurable: flagged rows",
        "failed": "not measurable: failed",
    }[top]
