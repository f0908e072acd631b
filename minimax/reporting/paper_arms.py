"""The per-target paragraphs of the results (``text/arms.tex``) and every sentence macro.

A paragraph per arm says what the fits say, in order: the DDPM's exponent and its verdict,
what the fit left out and why, the KDE on the same training sets and the paired difference,
the negative control, the sampler's own error, the score error, and the grid the early stop
needed. :func:`text_macros` collects the sentences ``main.tex`` quotes.
"""

from __future__ import annotations

import math
from collections import Counter

from minimax.reporting.paper_data import StudyData
from minimax.reporting.paper_format import (
    count_words,
    design_phrase,
    join_words,
    split_note,
    tex_ci,
    tex_exp,
    tex_num,
    verdict_phrase,
)
from minimax.reporting.paper_text import (
    arm_words,
    baselines_sentence,
    budget_sentence,
    budget_words,
    calibration_sentence,
    changes_sentence,
    design_sentence,
    exploration_sentence,
    fit_words,
    headline_sentence,
    negative_control_sentence,
    pair_words,
    ratio_sentence,
    targets_sentence,
    tuning_sentence,
    verdict_tally,
)
from minimax.study.verdicts import verdict_kind

_REASONS = {"flag rising": "flagged rising ({})", "flag unresolved": "flagged unresolved",
            "flag below_rule": "scored at fewer samples than the resolution rule's $M$ ({})",
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
        text += (f" Kept, the flagged rows give {tex_exp(f.flagged_exponent)} "
                 f"[{tex_exp(f.flagged_ci_low)}, {tex_exp(f.flagged_ci_high)}], indicative only.")  # fmt: skip
    return text


def _mean_tv(data: StudyData, arm: str, est: str) -> str:
    rows = data.unit_rows(arm)
    ok = rows[(rows["status"] == "ok") & (rows["estimator"] == est) & (rows["metric"] == "tv")]
    if ok.empty:
        return ""
    mean = ok.groupby("n")["value"].mean()
    return (f"{tex_num(mean.iloc[0])} at $n={tex_num(int(mean.index[0]))}$ to "
            f"{tex_num(mean.iloc[-1])} at $n={tex_num(int(mean.index[-1]))}$")  # fmt: skip


def _pooled_words(f) -> str:
    """What a pooled fit rests on: "pooled over five seeds (11–15; random-intercept mixed
    model), per-seed exponents 0.28 to 0.36"."""
    a = f.per_seed["exponent"].astype(float)
    a = a[a.notna()]
    seeds = ", ".join(str(int(v)) for v in f.seeds)
    text = f"pooled over {count_words(f.J, 'seed')} ({seeds}; {f.model})"
    if len(a) > 1:
        text += f", per-seed exponents {tex_exp(float(a.min()))} to {tex_exp(float(a.max()))}"
    return text


def _verdict_words(f) -> str:
    verdict, note = split_note(f.verdict)
    text = verdict_phrase(verdict)
    if note:
        text += f"; {design_phrase(note)}"
    return text


def _log_factor_words(f) -> str:
    """Where the verdict's kind changes under n^(−a)(log n)^k, k ∈ {0, ½, 1}: the other k's
    exponents and the CI allowing any k in [0, 1] (docs/verdicts.md)."""
    if not getattr(f, "depends_on_k", False):
        return ""
    k_words = {0.5: "$k=\\tfrac12$", 1.0: "$k=1$"}
    other = [f"{k_words.get(float(r.k), f'$k={r.k:g}$')} gives {tex_exp(r.exponent)} "
             f"{tex_ci(r.ci_low, r.ci_high)} ({verdict_kind(r.verdict).lower()})"
             for r in f.log_factors.itertuples() if float(r.k) != 0.0]  # fmt: skip
    lo, hi = f.k_hull
    return (f"The verdict assumes no log factor: under $n^{{-a}}(\\log n)^k$, {join_words(other)}; "
            f"allowing any $k\\in[0,1]$ the 95\\% CI is {tex_ci(lo, hi)}.")  # fmt: skip


def arm_paragraph(data: StudyData, arm: str) -> str:
    """The results of one unit (an arm, or a group of target seeds) as a LaTeX paragraph."""
    out = [f"\\paragraph{{{arm_words(data, arm)}.}}"]
    pooled = arm in data.pooled.groups
    mean = "mean over seeds" if pooled else "mean"
    f = data.headline(arm, "ddpm")
    if f is not None:
        if f.measured:
            how = (_pooled_words(f) if pooled else
                   f"{count_words(f.n_points, 'size')}, {count_words(f.n_rows, 'row')}")  # fmt: skip
            out.append(f"The DDPM's TV exponent is {fit_words(f)} ($n={tex_num(f.n_min)}$--"
                       f"{tex_num(f.n_max)}, {how}): {_verdict_words(f)}.")  # fmt: skip
        else:
            out.append(f"The DDPM's TV exponent is {_verdict_words(f)}.")
        if not pooled:
            out.append(_excluded_words(f).strip())
        out.append(_log_factor_words(f))
        tv = _mean_tv(data, arm, "ddpm")
        if tv:
            out.append(f"Its TV ({mean}) goes from {tv}.")
    k = data.headline(arm, "kde")
    if k is not None:
        s = f"The KDE on the same training sets has exponent {fit_words(k)}: {_verdict_words(k)}"
        tv = _mean_tv(data, arm, "kde")
        s += f"; its exact TV ({mean}) goes from {tv}." if tv else "."
        out.append(s)
        pw = pair_words(data.headline_pair(arm, "ddpm", "kde"), "the DDPM", "the KDE")
        if pw:
            where = "within each seed and pooled" if pooled else "on those sets"
            out.append(f"Paired {where}, the DDPM's exponent minus the KDE's is {pw}.")
    bw = budget_words(data, arm)
    if bw:
        out.append("Error budget: " + bw[0].lower() + bw[1:])
    for metric, what in (("score_integral", "The time integral of its score error, the quantity "
                          "the theory bounds,"), ("score", "Its $\\sigma^2$-weighted score error")):  # fmt: skip
        sc = data.headline(arm, "ddpm", metric)
        if sc is None:
            continue
        if sc.measured:
            out.append(f"{what} falls with exponent {fit_words(sc)} ($2s/(2s+D)$): "
                       f"{_verdict_words(sc)}.")  # fmt: skip
        else:
            out.append(f"{what} has an exponent that is {_verdict_words(sc)}.")
    out.append(_grid_words(data, arm))
    return " ".join(p for p in out if p) + "\n"


def _grid_words(data: StudyData, arm: str) -> str:
    from minimax.reporting.paper_budget import _params

    rows = data.unit_rows(arm)
    sel = rows[(rows["estimator"] == "ddpm") & (rows["metric"] == "tv") & (rows["status"] == "ok")]
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
    return head + "\n".join(arm_paragraph(data, arm) for arm, _, _ in data.units)


def text_macros(data: StudyData, exploration: list[StudyData]) -> dict[str, str]:
    """Every generated sentence ``main.tex`` quotes, by macro name."""
    ddpm = [f for f in data.headline_fits("tv") if f.estimator == "ddpm"]
    kde = [f for f in data.headline_fits("tv") if f.estimator == "kde"]
    score = [f for f in data.headline_fits("score_integral") if f.estimator == "ddpm"]
    score_subject = "time-integrated score-error" if score else "score-error"
    score = score or [f for f in data.headline_fits("score") if f.estimator == "ddpm"]
    subject = "pooled DDPM" if data.multi_seed else "DDPM"
    return {
        "DesignSentence": design_sentence(data),
        "TargetsSentence": targets_sentence(data),
        "HeadlineSentence": headline_sentence(data),
        "ChangesSentence": changes_sentence(data),
        "AbstractDdpm": verdict_tally(ddpm, subject) + ratio_sentence(ddpm, subject),
        "AbstractKde": verdict_tally(kde, subject.replace("DDPM", "KDE"))
        + ratio_sentence(kde, subject.replace("DDPM", "KDE")),
        "CalibrationSentence": calibration_sentence(data),
        "NegativeControlSentence": negative_control_sentence(data),
        "BaselinesSentence": baselines_sentence(data),
        "BudgetSentence": budget_sentence(data),
        "ScoreSentence": verdict_tally(score, score_subject),
        "TuningSentence": tuning_sentence(data, exploration),
        "ExplorationSentence": exploration_sentence(exploration),
    }
