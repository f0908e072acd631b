"""The pooled-over-target-seeds section of a report, with the same gates as the per-arm fits.

A pooled sampled-TV verdict stands only where the calibration arm allows it (docs/tv.md §6),
now pooled the same way: the KDE's sampled − exact exponent offsets of the group's arms, mean
± t_{J−1} sd/√J (pooled.two_stage). A DDPM verdict also carries the budget's design note where
the early-stop blur and the sampler are more than budget.DESIGN_SHARE of the TV at some n.
"""

from __future__ import annotations

import pandas as pd

from minimax.study import pooled
from minimax.study.budget import design_note
from minimax.study.calibration import (
    GATING_CONTROL,
    MAX_OFFSET,
    SAMPLED_METHODS,
    gate_reading,
    offset_text,
)

#: metrics pooled in a report (the score integral is the quantity the theory bounds)
POOLED_METRICS = ("tv", "score_integral")


def _group_arms(df: pd.DataFrame, label: str) -> list[str]:
    arms = df["arm"].astype(str).unique()
    return [a for a in arms if pooled.unit_label(a) == label]


def _calibration_gate(fit, df, offsets: dict) -> str:
    """'' or why a pooled sampled-TV verdict does not stand."""
    arms = _group_arms(df, fit.arm)
    rows = df[df["arm"].isin(arms) & (df["metric"] == "tv") & (df["estimator"] == fit.estimator)]
    if "method" not in rows or not rows["method"].isin(SAMPLED_METHODS).any():
        return ""
    found = [offsets[a] for a in arms if a in offsets]
    if len(found) < 2:
        return f"no pooled {GATING_CONTROL} calibration offset (measured in {len(found)} arms)"
    st = pooled.two_stage(found)
    text = (f"pooled {GATING_CONTROL} calibration offset {offset_text(st['exponent'])} "
            f"[{st['ci_low']:+.3f}, {st['ci_high']:+.3f}]")  # fmt: skip
    return f"{text} exceeds ±{MAX_OFFSET:g}" if abs(st["exponent"]) > MAX_OFFSET else ""


#: the label of the gating control's sampled-TV rows when paired with a sampled model
SAMPLED_LABEL = f"{GATING_CONTROL} (sampled)"


def sampled_pairs(df: pd.DataFrame, margin) -> list:
    """Pooled paired differences of every diffusion model's sampled TV against the gating
    control's ``tv_sampled`` (the same M, the same estimator of TV): a difference in which the
    sampled estimator's own offset cancels, where the DDPM − KDE pair (sampled − exact) carries
    it."""
    ctrl = df[(df["estimator"] == GATING_CONTROL) & (df["metric"] == "tv_sampled")]
    if ctrl.empty:
        return []
    relabelled = ctrl.assign(metric="tv", estimator=SAMPLED_LABEL)
    models = df.loc[(df["role"] == "diffusion") & (df["metric"] == "tv"), "estimator"].unique()
    rows = pd.concat([df[df["metric"] == "tv"], relabelled], ignore_index=True)
    return [p for m in models for p in pooled.pooled_paired(rows, m, SAMPLED_LABEL, "tv", margin)]


def pooled_section(
    df: pd.DataFrame, margin, offsets: dict
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(text, fits frame, pairs frame) of every group with ≥ 2 target seeds; ``offsets``: arm →
    the gating control's calibration offset (sampled − exact exponent) where measured."""
    fits, pairs = {}, {}
    for m in POOLED_METRICS:
        fits[m] = pooled.pooled_fits(df, m, margin)
        pairs[m] = pooled.all_pairs(df, m, margin)
        for f in fits[m]:
            if m != "tv" or not f.seeds:
                continue
            why = _calibration_gate(f, df, offsets)
            if why:
                f.verdict = f"measurement chain is the limit: {why} (fit alone: {f.verdict})"
            sub = df[df["arm"].isin(_group_arms(df, f.arm))]
            if (sub.loc[sub["estimator"] == f.estimator, "role"] == "diffusion").any():
                note = design_note(sub, f.estimator)
                if note:
                    f.verdict += f"; {note}"
    text = pooled.pooled_block(df, margin, POOLED_METRICS, fits=fits, pairs=pairs)
    labels = dict.fromkeys(pooled.unit_label(a) for a in df["arm"].unique())
    cal = []
    for label in labels:
        found = [offsets[a] for a in _group_arms(df, label) if a in offsets]
        if len(found) >= 2:
            st = pooled.two_stage(found)
            cal.append(f"{label}: {GATING_CONTROL} sampled − exact {offset_text(st['exponent'])} "
                       f"[{st['ci_low']:+.3f}, {st['ci_high']:+.3f}] over {len(found)} seeds "
                       f"(a pooled sampled-TV verdict stands where |offset| ≤ {MAX_OFFSET:g}): "
                       f"{gate_reading(st['exponent'], st['ci_low'], st['ci_high'])}")  # fmt: skip
    if text and cal:
        text += "-- pooled calibration of the sampled TV (95% CI, t with J − 1 df)\n"
        text += "\n".join(cal) + "\n"
    same = sampled_pairs(df, margin)
    if text and same:
        text += ("-- DDPM − KDE with both TVs sampled at the DDPM's M (the measurement's offset "
                 "cancels in the difference)\n")  # fmt: skip
        text += "\n".join(p.text() for p in same) + "\n"
        pairs["tv"] = pairs.get("tv", []) + same
    frame = pd.DataFrame([f.row() for m in POOLED_METRICS for f in fits[m]])
    pair_frame = pd.DataFrame([p.row() for m in POOLED_METRICS for p in pairs[m]])
    return text, frame, pair_frame
