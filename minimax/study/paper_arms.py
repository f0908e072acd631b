"""The per-target paragraphs of the results (``text/arms.tex``) and every sentence macro.

A paragraph per arm says what the fits say, in order: the DDPM's exponent and its verdict,
what the fit left out and why, the KDE on the same training sets and the paired difference,
the negative control, the sampler's own error, the score error, and the grid the early stop
needed. :func:`text_macros` collects the sentences ``main.tex`` quotes.
"""

from __future__ import annotations

import math
from collections import Counter

from minimax.study.paper_data import StudyData
from minimax.study.paper_format import count_words, join_words, tex_num, verdict_phrase
from minimax.study.paper_text import (
    arm_words,
    baselines_sentence,
    budget_sentence,
    calibration_sentence,
    design_sentence,
    exploration_sentence,
    fit_words,
    negative_control_sentence,
    pair_words,
    ratio_sentence,
    targets_sentence,
    tuning_sentence,
    verdict_tally,
)

_REASONS = {"flag rising": "flagged rising ({})", "flag unresolved": "flagged unresolved",
            "value not finite": "without a finite value"}  # fmt: skip


def _excluded_words(f) -> str:
    if f.excluded is None or not len(f.excluded):
        return ""
    reasons = Counter(str(r) for r in f.excluded["reason"])
    parts = []
    for r, k in reasons.most_common():
        what = _REASONS.get(r) or (
            r.replace("×floor", " times their noise floor")
            if r.startswith("below")
            else f"failed ({r})"
        )
        what = what.format("a lower bound" if k == 1 else "lower bounds")
        parts.append(f"{count_words(k, 'row')} {what}")
    text = f" The fit leaves out {join_words(parts)}."
    if math.isfinite(f.flagged_exponent):
        text += (f" Kept, the flagged rows give {tex_num(f.flagged_exponent)} "
                 f"[{tex_num(f.flagged_ci_low)}, {tex_num(f.flagged_ci_high)}], indicative only.")  # fmt: skip
    return text


def _mean_tv(data: StudyData, arm: str, est: str) -> str:
    ok = data.df[(data.df["status"] == "ok") & (data.df["arm"] == arm)
                 & (data.df["estimator"] == est) & (data.df["metric"] == "tv")]  # fmt: skip
    if ok.empty:
        return ""
    mean = ok.groupby("n")["value"].mean()
    return (f"{tex_num(mean.iloc[0])} at $n={tex_num(int(mean.index[0]))}$ to "
            f"{tex_num(mean.iloc[-1])} at $n={tex_num(int(mean.index[-1]))}$")  # fmt: skip


def arm_paragraph(data: StudyData, arm: str) -> str:
    """The results of one arm as a LaTeX paragraph."""
    out = [f"\\paragraph{{{arm_words(data, arm)}.}}"]
    f = data.fit(arm, "ddpm")
    if f is not None:
        if f.measured:
            out.append(f"The DDPM's TV exponent is {fit_words(f)} ($n={tex_num(f.n_min)}$--{tex_num(f.n_max)}, "
                       f"{count_words(f.n_points, 'size')}, {count_words(f.n_rows, 'row')}): "
                       f"{verdict_phrase(f.verdict)}.")  # fmt: skip
        else:
            out.append(f"The DDPM's TV exponent is {verdict_phrase(f.verdict)}.")
        out.append(_excluded_words(f).strip())
        tv = _mean_tv(data, arm, "ddpm")
        if tv:
            out.append(f"Its mean TV goes from {tv}.")
    k = data.fit(arm, "kde")
    if k is not None:
        s = f"The KDE on the same training sets has exponent {fit_words(k)}: {verdict_phrase(k.verdict)}"
        tv = _mean_tv(data, arm, "kde")
        s += f"; its exact TV goes from {tv}." if tv else "."
        out.append(s)
        pw = pair_words(data.pair(arm, "ddpm", "kde"), "the DDPM", "the KDE")
        if pw:
            out.append(f"Paired on those sets, the DDPM's exponent minus the KDE's is {pw}.")
    b = data.budgets.get(arm)
    if (
        b is not None
        and "oracle-score sampler TV" in b
        and b["oracle-score sampler TV"].notna().any()
    ):
        col = b["oracle-score sampler TV"].dropna()
        share = col.iloc[-1] / b["total TV"].reindex(col.index).iloc[-1]
        out.append(f"The true score run through the DDPM's own sampler (its $\\underline{{T}}$, "
                   f"$\\overline{{T}}$ and steps) has TV {tex_num(col.iloc[0])} at $n={tex_num(int(col.index[0]))}$ "
                   f"and {tex_num(col.iloc[-1])} at $n={tex_num(int(col.index[-1]))}$, "
                   f"{tex_num(share, 2)} of the DDPM's TV there: the sampler's own part of the error.")  # fmt: skip
    sc = data.fit(arm, "ddpm", "score")
    if sc is not None:
        if sc.measured:
            out.append(f"Its score error falls with exponent {fit_words(sc)} ($2s/(2s+D)$): "
                       f"{verdict_phrase(sc.verdict)}.")  # fmt: skip
        else:
            out.append(f"Its score-error exponent is {verdict_phrase(sc.verdict)}.")
    out.append(_grid_words(data, arm))
    return " ".join(p for p in out if p) + "\n"


def _grid_words(data: StudyData, arm: str) -> str:
    from minimax.study.paper_budget import _params

    sel = data.df[(data.df["arm"] == arm) & (data.df["estimator"] == "ddpm")
                  & (data.df["metric"] == "tv") & (data.df["status"] == "ok")]  # fmt: skip
    p = _params(sel, "estimator_params")
    if not {"t_min", "T"} <= set(p.columns) or sel.empty:
        return ""
    tmin = p["t_min"].astype(float).groupby(sel["n"]).median()
    T = p["T"].astype(float).groupby(sel["n"]).median()
    text = (f"The theory rule's early stop $\\underline{{T}}$ goes from {tex_num(tmin.iloc[0])} at the "
            f"smallest $n$ to {tex_num(tmin.iloc[-1])} at the largest")  # fmt: skip
    refined = T[T > T.min()]
    if len(refined):
        text += (f"; where it falls below $1/T$ of the ${tex_num(int(T.min()))}$-step grid, the grid is "
                 f"refined (the same $\\beta(t)$ on more steps), to $T={tex_num(int(T.max()))}$ at "
                 f"$n={tex_num(int(T.index[-1]))}$.")  # fmt: skip
    else:
        text += f", on the ${tex_num(int(T.min()))}$-step grid at every $n$."
    return text


def arms_tex(data: StudyData) -> str:
    head = "% generated by `python -m minimax.study paper`: do not edit\n"
    return head + "\n".join(arm_paragraph(data, arm) for arm, _, _ in data.arms)


def text_macros(data: StudyData, exploration: list[StudyData]) -> dict[str, str]:
    """Every generated sentence ``main.tex`` quotes, by macro name."""
    tv = [f for f in data.fits if f.metric == "tv"]
    ddpm = [f for f in tv if f.estimator == "ddpm"]
    kde = [f for f in tv if f.estimator == "kde"]
    score = [f for f in data.fits if f.metric == "score" and f.estimator == "ddpm"]
    return {
        "DesignSentence": design_sentence(data),
        "TargetsSentence": targets_sentence(data),
        "AbstractDdpm": verdict_tally(ddpm, "DDPM") + ratio_sentence(ddpm, "DDPM"),
        "AbstractKde": verdict_tally(kde, "KDE") + ratio_sentence(kde, "KDE"),
        "CalibrationSentence": calibration_sentence(data),
        "NegativeControlSentence": negative_control_sentence(data),
        "BaselinesSentence": baselines_sentence(data),
        "BudgetSentence": budget_sentence(data),
        "ScoreSentence": verdict_tally(score, "score-error"),
        "TuningSentence": tuning_sentence(data, exploration),
        "ExplorationSentence": exploration_sentence(exploration),
    }
