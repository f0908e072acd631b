"""The paper's headline over several target seeds: one unit per (D, s, p, boundary) group.

Where a results folder holds several target seeds of one arm (the confirmatory study: "besov
D=1 s=1 p=2 band target_seed=11" ... "=15"), the headline is the pooled fit across seeds
(:mod:`minimax.study.pooled`, docs/verdicts.md §6), with the verdict exactly as the report's
pooled section writes it (:func:`minimax.reporting.pooled_report.pooled_section`: the pooled
calibration gate and the budget's design note). :class:`GroupFit` and :class:`GroupPair` carry
a pooled fit / pooled paired difference under the attribute names of a per-arm
:class:`~minimax.study.rates.RateFit` / :class:`~minimax.study.paired.PairedFit`, so that the
exponent figure, the macros and the sentences take either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minimax.reporting.pooled_report import POOLED_METRICS, pooled_section, sampled_pairs
from minimax.study import pooled
from minimax.study.calibration import calibration_fits, gating_pair
from minimax.study.rates import DEFAULT_MARGIN


def group_label(arm: str) -> str:
    """An arm's label without its ``target_seed=K`` part (pooled.py's grouping)."""
    return pooled.unit_label(arm)


def seed_groups(df: pd.DataFrame) -> dict[str, list[str]]:
    """group label -> its arms (in table order), for the groups with ≥ 2 target seeds."""
    if "target_seed" not in df or df.empty:
        return {}
    out: dict[str, list[str]] = {}
    for arm in dict.fromkeys(df["arm"]):
        out.setdefault(group_label(arm), []).append(str(arm))
    seeds = df.groupby(df["arm"].map(group_label))["target_seed"].nunique()
    return {g: arms for g, arms in out.items() if seeds.get(g, 0) >= 2 and len(arms) >= 2}


@dataclass
class GroupFit:
    """A pooled fit under a RateFit's names: ``arm`` is the group label; ``pooled`` the
    PooledFit itself (per-seed exponents, mixed and two-stage estimates)."""

    pooled: pooled.PooledFit = field(repr=False)
    verdict: str = ""
    n_min: int = 0
    n_max: int = 0
    n_points: int = 0
    n_rows: int = 0

    arm = property(lambda self: self.pooled.arm)
    estimator = property(lambda self: self.pooled.estimator)
    metric = property(lambda self: self.pooled.metric)
    theory = property(lambda self: self.pooled.theory)
    exponent = property(lambda self: self.pooled.exponent)
    se = property(lambda self: self.pooled.se)
    ci_low = property(lambda self: self.pooled.ci_low)
    ci_high = property(lambda self: self.pooled.ci_high)
    df = property(lambda self: self.pooled.df)
    margin = property(lambda self: self.pooled.margin)
    J = property(lambda self: self.pooled.J)
    seeds = property(lambda self: self.pooled.seeds)
    primary = property(lambda self: self.pooled.primary)
    flagged_exponent = math.nan
    flagged_ci_low = math.nan
    flagged_ci_high = math.nan

    @property
    def measured(self) -> bool:
        return math.isfinite(self.pooled.exponent)

    @property
    def p_value(self) -> float:
        """The two-sided p of a = theory (t on J − 1 df), as a RateFit's ``p_value``."""
        t = self.pooled.tost
        return float(t.p_two_sided) if t is not None else math.nan

    @property
    def per_seed(self) -> pd.DataFrame:
        return self.pooled.per_seed

    @property
    def model(self) -> str:
        """What the primary estimate is: "mixed model, random intercept", "two-stage", ..."""
        if self.pooled.primary == "two-stage":
            return "two-stage"
        return (
            f"mixed model, {self.pooled.mixed.model}" if self.pooled.mixed.model else "mixed model"
        )


@dataclass
class GroupPair:
    """A pooled paired difference under a PairedFit's names (``arm``: the group label)."""

    pair: pooled.PooledPair = field(repr=False)
    level: float = 0.95

    arm = property(lambda self: self.pair.arm)
    first = property(lambda self: self.pair.first)
    second = property(lambda self: self.pair.second)
    metric = property(lambda self: self.pair.metric)
    difference = property(lambda self: float(self.pair.stage["exponent"]))
    se = property(lambda self: float(self.pair.stage["se"]))
    ci_low = property(lambda self: float(self.pair.stage["ci_low"]))
    ci_high = property(lambda self: float(self.pair.stage["ci_high"]))
    verdict = property(lambda self: self.pair.verdict)
    J = property(lambda self: len(self.pair.seeds))
    per_seed = property(lambda self: tuple(self.pair.per_seed))

    @property
    def measured(self) -> bool:
        return math.isfinite(self.difference)

    @property
    def p_value(self) -> float:
        t = self.pair.tost
        return float(t.p_two_sided) if t is not None else math.nan


def calibration_offsets(df: pd.DataFrame, margins) -> dict[str, float]:
    """arm -> the gating control's calibration offset (sampled − exact exponent) where measured:
    what report.build_report hands to the pooled section."""
    out = {}
    for arm in dict.fromkeys(df["arm"]):
        adf = df[df["arm"] == arm]
        if not (adf["metric"] == "tv_sampled").any():
            continue
        margin = margins.get(arm, DEFAULT_MARGIN) if isinstance(margins, dict) else margins
        gate = gating_pair(calibration_fits(adf, margin=margin))
        if gate is not None and gate.measured:
            out[arm] = gate.difference
    return out


def _sizes(fit: pooled.PooledFit, df: pd.DataFrame) -> tuple[int, int, int, int]:
    """(n_min, n_max, sizes, rows) of the rows the group's per-seed fits could use."""
    arms = [a for a in df["arm"].unique() if group_label(a) == fit.arm]
    sel = df[df["arm"].isin(arms) & (df["metric"] == fit.metric)
             & (df["estimator"] == fit.estimator) & (df["status"] == "ok")]  # fmt: skip
    if sel.empty:
        return (0, 0, 0, 0)
    n = sel["n"].astype(int)
    return (
        int(n.min()),
        int(n.max()),
        int(n.nunique()),
        int(fit.per_seed.get("rows", pd.Series(dtype=int)).sum()),
    )


@dataclass
class Pooled:
    """Everything pooled in a results folder: the groups, their fits and pairs (tv and the
    score integral), the calibration offsets that gated them, and the report's text."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    fits: list[GroupFit] = field(default_factory=list)
    pairs: list[GroupPair] = field(default_factory=list)
    offsets: dict[str, float] = field(default_factory=dict)
    text: str = ""

    def fit(self, group: str, estimator: str, metric: str = "tv") -> GroupFit | None:
        return next((f for f in self.fits if (f.arm, f.estimator, f.metric)
                     == (group, estimator, metric)), None)  # fmt: skip

    def pair(self, group: str, first: str, second: str, metric: str = "tv") -> GroupPair | None:
        return next((p for p in self.pairs if (p.arm, p.first, p.second, p.metric)
                     == (group, first, second, metric)), None)  # fmt: skip

    def offset(self, group: str) -> dict:
        """The pooled calibration offset of a group (two-stage over its arms' offsets; the
        keys of pooled.two_stage, plus ``J``), or {} where fewer than two are measured."""
        found = [self.offsets[a] for a in self.groups.get(group, []) if a in self.offsets]
        if len(found) < 2:
            return {"J": len(found)}
        return {**pooled.two_stage(found), "J": len(found), "per_seed": tuple(found)}


def load_pooled(df: pd.DataFrame, margins) -> Pooled:
    """The pooled fits and pairs of every group with ≥ 2 seeds, their verdicts exactly as
    the report's pooled section writes them (the same call, the same offsets)."""
    groups = seed_groups(df)
    if not groups:
        return Pooled()
    margin = margins if margins else DEFAULT_MARGIN
    offsets = calibration_offsets(df, margins)
    text, frame, _ = pooled_section(df, margin, offsets)
    verdicts = {}
    if len(frame):
        for r in frame.itertuples():
            verdicts[(r.arm, r.estimator, r.metric)] = r.verdict
    out = Pooled(groups=groups, offsets=offsets, text=text)
    # the σ²-weighted score too (not in the report's pooled section: no gate applies to it)
    for metric in (*POOLED_METRICS, "score"):
        if not (df["metric"] == metric).any():
            continue
        for f in pooled.pooled_fits(df, metric, margin):
            gf = GroupFit(f, verdicts.get((f.arm, f.estimator, f.metric), f.verdict))
            gf.n_min, gf.n_max, gf.n_points, gf.n_rows = _sizes(f, df)
            out.fits.append(gf)
        if metric == "tv":
            out.pairs += [GroupPair(p) for p in pooled.all_pairs(df, metric, margin)]
            # DDPM − KDE with both TVs sampled at the same M (the report's pooled section too)
            out.pairs += [GroupPair(p) for p in sampled_pairs(df, margin)]
    return out


def cell_means(df: pd.DataFrame, fit) -> pd.DataFrame:
    """Per (seed, n) the mean of log e over the rows a per-seed fit could use (positive
    values): the cells of the mixed model, for drawing the pooled line through its centre."""
    sel = df[(df["metric"] == fit.metric) & (df["estimator"] == fit.estimator)
             & (df["status"] == "ok") & (df["value"] > 0)]  # fmt: skip
    if sel.empty:
        return pd.DataFrame(columns=["target_seed", "n", "y"])
    return (sel.assign(y=np.log(sel["value"].astype(float)))
            .groupby(["target_seed", "n"], as_index=False)["y"].mean())  # fmt: skip
