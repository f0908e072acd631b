"""The paper's error-budget prose: each unit's parts at the smallest and the largest n with
their 95% CIs, the design share, the largest part and the learned part's own exponent."""

from __future__ import annotations

import math

import pandas as pd

from minimax.reporting.paper_budget import ci95, largest_component
from minimax.reporting.paper_data import StudyData
from minimax.reporting.paper_format import count_words, join_words, sentence_case, tex_num
from minimax.reporting.paper_words import arm_phrase, fit_words

COMPONENT_WORDS = {
    "blur": "the early-stop blur",
    "sampler": "the sampler's discretisation and prior mismatch",
    "learned": "the learned score's part",
}


def _pm_words(b, key: str, n: int) -> str:
    """ "0.0056" or "0.0120 $\\pm$ 0.0021" (95\\%) for one part at one n."""
    v = float(b.loc[n, key])
    h = float(ci95(b, key).loc[n])
    return tex_num(v) if not math.isfinite(h) or h == 0 else f"{tex_num(v)}~$\\pm$~{tex_num(h)}"


def budget_words(data: StudyData, unit: str) -> str:
    """One unit's budget in prose: the parts at the smallest and the largest n with their 95%
    CIs, the design share, the largest part, and the learned part's own exponent. Where the
    oracle-score TV is unresolved at the DDPM's M (or absent), the sampler and the learned score
    are one remainder, TV − blur, and the text says so. Without a blur or a learned part (a
    study that scored the TV alone) there is nothing to split, and the text is empty."""
    b = data.budgets.get(unit)
    if b is None or b.empty or not {"blur", "learned"} & set(b.columns):
        return ""
    n0, n1 = int(b.index[0]), int(b.index[-1])
    names = {"blur": "early-stop blur", "sampler": "sampler", "learned": "learned score",
             "unsplit": "the rest (learned score and sampler, not split)"}  # fmt: skip
    at = []
    for n in (n0, n1):
        parts = [k for k in ("blur", "sampler", "learned", "unsplit")
                 if k in b and math.isfinite(float(b.loc[n, k]))]  # fmt: skip
        words = join_words(f"{names[k]} {_pm_words(b, k, n)}" for k in parts)
        at.append(f"at $n={tex_num(n)}$ the TV {_pm_words(b, 'tv', n)} splits into {words}")
    text = sentence_case("; ".join(at)) + " (95\\% CIs)."
    lost = [int(n) for n in b.index if "unsplit" in b and math.isfinite(float(b.loc[n, "unsplit"]))
            and "blur" in b]  # fmt: skip
    if lost and "learned" in b:
        text += (f" At {count_words(len(lost), 'size')} of $n$ "
                 f"({join_words(f'${tex_num(n)}$' for n in lost)}) most oracle-score TVs are flagged "
                 "unresolved at the DDPM's $M$ (too small to measure), so the sampler's part is not "
                 "split from the learned score's there.")  # fmt: skip
    elif lost and (data.unit_rows(unit)["metric"] == "oracle_tv").any():
        text += (" At every $n$ most oracle-score TVs are flagged unresolved at the DDPM's $M$: the "
                 "sampler's own part is too small for that resolution to measure, so it is not "
                 "split from the learned score's.")  # fmt: skip
    elif lost:
        text += (" No oracle-score TV was run, so the sampler's part is not split from the learned "
                 "score's.")  # fmt: skip
    if "design_share" in b:
        sh = b["design_share"].astype(float)
        what = (
            "(blur + sampler)/TV"
            if "sampler" in b and not lost
            else "blur/TV where the sampler is not split"
        )
        text += (f" The design's share, {what}, goes from "
                 f"{tex_num(100 * sh.iloc[0], 0)}\\% to {tex_num(100 * sh.iloc[-1], 0)}\\%.")  # fmt: skip
    comp, value, n = largest_component(b)
    split_last = "learned" in b and math.isfinite(float(b["learned"].iloc[-1]))
    if comp != "---" and split_last:
        text += (f" At $n={tex_num(n)}$ the largest part is {COMPONENT_WORDS[comp]} "
                 f"({tex_num(value / float(b.loc[n, 'tv']), 2)} of the TV).")  # fmt: skip
    elif "blur" in b and "unsplit" in b:
        blur, rest = float(b["blur"].iloc[-1]), float(b["unsplit"].iloc[-1])
        tv = float(b["tv"].iloc[-1])
        text += (f" At $n={tex_num(n1)}$ the exact blur is {tex_num(blur / tv, 2)} of the TV and the "
                 f"unsplit rest {tex_num(rest / tv, 2)}.")  # fmt: skip
    bad = [x for x in b.get("inconsistent", pd.Series(dtype=str)) if x]
    if bad:
        text += (f" At {count_words(len(bad), 'size')} of $n$ a part is below 0 by more than two "
                 "standard errors: a sampled TV reads low there.")  # fmt: skip
    lf = data.learned.get(unit)
    if lf is not None and lf.measured:
        text += (" The learned part alone, TV $-$ oracle-score TV per row (TV $-$ blur where the "
                 f"oracle's TV is unresolved), falls with exponent {fit_words(lf)}.")  # fmt: skip
    return text


def budget_sentence(data: StudyData) -> str:
    """The budget of every unit, in prose (``BudgetSentence``)."""
    if not data.budgets:
        return "This results table holds no error budget of the DDPM."
    out, missing = [], 0
    for unit, _, _ in data.units:
        words = budget_words(data, unit)
        if words:
            out.append(f"For {arm_phrase(data, unit)}: " + words[0].lower() + words[1:])
        elif unit in data.budgets:
            missing += 1
    if not out:
        return ("No part of the DDPM's TV is measured in this table (neither the exact early-stop "
                "blur nor the oracle-score TV at the DDPM's $M$), so its budget is not split.")  # fmt: skip
    text = " ".join(out)
    if missing:
        text += (f" For the other {count_words(missing, 'target')} the TV is not split (no blur "
                 "or oracle-score rows).")  # fmt: skip
    floors = [float(b["floor"].iloc[-1] / b["tv"].iloc[-1]) for b in data.budgets.values()
              if "floor" in b and b["tv"].iloc[-1] > 0 and math.isfinite(b["floor"].iloc[-1])]  # fmt: skip
    if floors:
        text += (" The noise floor of the TV estimate, a property of the measurement and not a "
                 f"part of the DDPM's error, is at most {tex_num(max(floors), 2)} of the TV at the "
                 "largest $n$.")  # fmt: skip
    return text
