"""``macros.tex``: a ``\\newcommand`` for every number the text of ``main.tex`` quotes.

Summary macros exist for any results table (``---`` where the table lacks the quantity); one
set per fit (``\\ExpDdpmDOneSOne``, ``\\ExpLoDdpmDOneSOne``, ...) exists where that fit does.
Numbers go through :func:`minimax.reporting.paper_format.tex_num`, so each macro is valid in text
and in math mode. The sentences built from them are in :mod:`minimax.reporting.paper_text`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from minimax.reporting.paper_budget import BUDGET_ESTIMATOR, _params
from minimax.reporting.paper_data import StudyData
from minimax.reporting.paper_format import (
    join_words,
    latex_escape,
    macro_name,
    tex_exp,
    tex_num,
    verdict_class,
)
from minimax.reporting.paper_tables import estimator_rank
from minimax.study.calibration import MAX_OFFSET

KINDS = ("Equivalent", "Steeper", "Flatter", "Unresolved", "Gated", "Unmeasured")
#: a verdict stands (the fit is judged) for these classes
RESOLVED = ("equivalent", "steeper", "flatter")


def arm_tag(D: int, s: float) -> str:
    return macro_name("D", D, "S", float(s))


def design_macros(data: StudyData) -> dict[str, str]:
    """The study's design: names, sizes, replicates, M, margin, seeds, constants."""
    df, m = data.df, {}
    ok = df[df["status"] == "ok"]
    cells = df.drop_duplicates(subset=["arm", "n", "replicate", "estimator"])
    m["StudyName"] = latex_escape(str(df["study"].iloc[0]))
    m["ResultsFolder"] = f"\\texttt{{{latex_escape(str(data.folder).rstrip('/'))}}}"
    m["NumArms"] = tex_num(len(data.units))
    m["NumSeedArms"] = tex_num(len(data.arms))
    per_unit = [len(data.unit_arms(u)) for u, _, _ in data.units]
    m["SeedsPerUnit"] = tex_num(min(per_unit) if per_unit else 0)
    m["NumCells"] = tex_num(len(cells))
    m["NumFailedCells"] = tex_num(int((cells["status"] != "ok").sum()))
    m["NumEstimators"] = tex_num(int(df["estimator"].nunique()))
    m["Dims"] = join_words(str(d) for d in sorted(df["D"].unique()))
    m["NMin"], m["NMax"] = tex_num(int(df["n"].min())), tex_num(int(df["n"].max()))
    m["NumSizes"] = tex_num(int(df.groupby("arm")["n"].nunique().max()))
    m["NDecades"] = f"{math.log10(df['n'].max() / df['n'].min()):.1f}"
    m["Replicates"] = tex_num(
        int(df.groupby(["arm", "n", "estimator"])["replicate"].nunique().min())
    )
    sampled = ok[(ok["metric"] == "tv") & ok["floor"].notna()]
    m["SamplesM"] = tex_num(int(sampled["m"].max())) if len(sampled) else "---"
    m["SamplesMMin"] = tex_num(int(sampled["m"].min())) if len(sampled) else "---"
    margins = sorted(set(data.margins.values())) or [0.05]
    m["Margin"] = join_words(f"{v:g}" for v in margins)
    m["CalibrationMaxOffset"] = f"{MAX_OFFSET:g}"
    seeds = sorted(int(s) for s in df["target_seed"].unique()) if "target_seed" in df else []
    m["TargetSeeds"] = join_words(str(s) for s in seeds) or "---"
    tp = _params(df.drop_duplicates("arm"), "target_params")
    for key, name in (("tv_to_uniform", "TvUniform"), ("smoothness_l1", "SmoothnessLOne")):
        v = tp[key].astype(float) if key in tp else pd.Series(dtype=float)
        m[f"{name}Min"] = tex_num(v.min() if len(v) else math.nan, 2)
        m[f"{name}Max"] = tex_num(v.max() if len(v) else math.nan, 2)
    s_of = {a: s for a, _, s in data.arms}
    devs = [abs(v - s_of[a]) for a, pair in data.measured.items() for v in pair if math.isfinite(v)]
    m["SmoothnessMaxDeviation"] = tex_num(max(devs) if devs else math.nan, 2)
    kde = ok[(ok["estimator"] == "kde") & (ok["metric"] == "tv")]
    kp = _params(kde.head(1), "estimator_params")
    m["KdeBandwidthConstant"] = tex_num(float(kp["kde_c"].iloc[0]), 2) if "kde_c" in kp else "---"
    dd = ok[(ok["estimator"] == BUDGET_ESTIMATOR) & (ok["metric"] == "tv")]
    dp = _params(dd, "estimator_params")
    if "T" in dp and dp["T"].notna().any():
        m["GridTBase"] = tex_num(int(dp["T"].astype(float).min()))
        m["GridTMax"] = tex_num(int(dp["T"].astype(float).max()))
    else:
        m["GridTBase"] = m["GridTMax"] = "---"
    return m


def count_macros(data: StudyData) -> dict[str, str]:
    """Per estimator: fits, measured fits, verdict counts and the ratio to theory over the
    fits whose verdict stands (equivalent, steeper, flatter; never a not-resolved or an
    ungated one)."""
    m = {}
    tv = data.headline_fits("tv")
    for est in sorted(
        {f.estimator for f in tv} | {"ddpm", "kde", "ddpm-fixed-tmin"}, key=estimator_rank
    ):
        key = macro_name(est)
        fs = [f for f in tv if f.estimator == est]
        m[f"{key}Fits"] = tex_num(len(fs))
        m[f"{key}Measured"] = tex_num(sum(f.measured for f in fs))
        for kind in KINDS:
            m[f"{key}{kind}"] = tex_num(sum(verdict_class(f.verdict) == kind.lower() for f in fs))
        judged = [
            f for f in fs if f.measured and verdict_class(f.verdict) in RESOLVED and f.theory > 0
        ]
        ratio = [f.exponent / f.theory for f in judged]
        m[f"{key}Judged"] = tex_num(len(judged))
        m[f"{key}MeanRatio"] = tex_num(float(np.mean(ratio)) if ratio else math.nan, 2, fixed=True)
        m[f"{key}MinRatio"] = tex_num(float(np.min(ratio)) if ratio else math.nan, 2, fixed=True)
        m[f"{key}MaxRatio"] = tex_num(float(np.max(ratio)) if ratio else math.nan, 2, fixed=True)
    return m


def fit_macros(data: StudyData) -> dict[str, str]:
    """One set per fit and per arm: exponent, CI, p-value, theory, the fit with flagged rows
    kept; the DDPM's and KDE's mean TV at the smallest and largest n; a few hyperparameters."""
    m = {}
    arm_ds = {a: (D, s) for a, D, s in data.units}
    prefix = {"tv": "", "score": "Score", "score_integral": "ScoreInt"}
    for f in [f for metric in prefix for f in data.headline_fits(metric)]:
        D, s = arm_ds[f.arm]
        tag = macro_name(f.estimator, "D", D, "S", float(s))
        pre = prefix[f.metric]
        if hasattr(f, "J"):  # pooled over target seeds
            m[f"{pre}Seeds{tag}"] = tex_num(int(f.J))
            a = f.per_seed["exponent"].astype(float)
            a = a[np.isfinite(a)]
            m[f"{pre}SeedExpMin{tag}"] = tex_exp(float(a.min()) if len(a) else math.nan)
            m[f"{pre}SeedExpMax{tag}"] = tex_exp(float(a.max()) if len(a) else math.nan)
        m[f"{pre}Exp{tag}"] = tex_exp(f.exponent)
        m[f"{pre}ExpLo{tag}"] = tex_exp(f.ci_low)
        m[f"{pre}ExpHi{tag}"] = tex_exp(f.ci_high)
        m[f"{pre}Pval{tag}"] = tex_num(f.p_value, 2)
        m[f"{pre}Theory{arm_tag(D, s)}"] = tex_exp(f.theory)
        if f.metric == "tv" and math.isfinite(f.flagged_exponent):
            m[f"FlagExp{tag}"] = tex_exp(f.flagged_exponent)
            m[f"FlagExpLo{tag}"] = tex_exp(f.flagged_ci_low)
            m[f"FlagExpHi{tag}"] = tex_exp(f.flagged_ci_high)
    ok = data.df[data.df["status"] == "ok"]
    for arm, D, s in data.units:
        tag = arm_tag(D, s)
        rows = ok[ok["arm"].isin(data.unit_arms(arm))]
        pair = data.headline_pair(arm, "ddpm", "kde")
        if pair is not None and pair.measured:
            m[f"PairDdpmKde{tag}"] = tex_exp(pair.difference, signed=True)
            m[f"PairDdpmKdeLo{tag}"] = tex_exp(pair.ci_low, signed=True)
            m[f"PairDdpmKdeHi{tag}"] = tex_exp(pair.ci_high, signed=True)
        for est in ("ddpm", "kde"):
            e = rows[(rows["estimator"] == est) & (rows["metric"] == "tv")]
            if len(e):
                mean = e.groupby("n")["value"].mean()
                m[f"Tv{macro_name(est)}{tag}First"] = tex_num(mean.iloc[0])
                m[f"Tv{macro_name(est)}{tag}Last"] = tex_num(mean.iloc[-1])
        sel = rows[(rows["estimator"] == BUDGET_ESTIMATOR) & (rows["metric"] == "tv")]
        params = _params(sel, "estimator_params")
        for key, name in (("sample_steps", "SampleSteps"), ("T", "GridT"), ("t_min", "TMin")):
            if key in params and len(sel):
                med = params[key].astype(float).groupby(sel["n"]).median()
                lo, hi = med.iloc[0], med.iloc[-1]
                conv = int if key != "t_min" else float
                m[f"{name}{tag}First"], m[f"{name}{tag}Last"] = tex_num(conv(lo)), tex_num(conv(hi))
        m.update(budget_macros(data.budgets.get(arm), tag))
        lf = data.learned.get(arm)
        if lf is not None and lf.measured:
            m[f"LearnedExp{tag}"] = tex_exp(lf.exponent)
            m[f"LearnedExpLo{tag}"] = tex_exp(lf.ci_low)
            m[f"LearnedExpHi{tag}"] = tex_exp(lf.ci_high)
    return m


def budget_macros(b, tag: str) -> dict[str, str]:
    """A unit's budget at its smallest and largest n: TV, blur, sampler, learned and the design
    share (``Blur{tag}Last``, ``DesignShare{tag}First``, ...)."""
    m = {}
    if b is None or b.empty:
        return m
    for key, name in (("tv", "BudgetTv"), ("blur", "Blur"), ("sampler", "Sampler"),
                      ("learned", "Learned"), ("design_share", "DesignShare")):  # fmt: skip
        if key not in b:
            continue
        col = b[key].astype(float).dropna()
        if len(col):
            m[f"{name}{tag}First"], m[f"{name}{tag}Last"] = (
                tex_num(col.iloc[0]),
                tex_num(col.iloc[-1]),
            )
    m[f"Budget{tag}NFirst"], m[f"Budget{tag}NLast"] = (
        tex_num(int(b.index[0])),
        tex_num(int(b.index[-1])),
    )
    return m


def macros_tex(macros: dict[str, str]) -> str:
    lines = ["% generated by `python -m minimax.study paper`: do not edit"]
    for name, value in macros.items():
        if not re.fullmatch(r"[A-Za-z]+", name):
            raise AssertionError(f"macro name {name!r} is not letters only")
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"
