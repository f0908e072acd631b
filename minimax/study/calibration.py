"""The calibration arm (docs/tv.md §6): how far the sampled-TV chain moves an exponent.

Every explicit-density control is scored twice per cell, exactly (``tv``) and from its own
samples at the study's M (``tv_sampled``). The paired slope difference sampled − exact on the
same rows (:func:`minimax.study.paired.fit_paired`) is the exponent offset that the measurement
chain alone introduces on a model as rough as the estimators under study. A verdict on an
exponent measured by the sampled TV stands only where that offset is at most
``MAX_OFFSET`` in absolute value; elsewhere the verdict says that the measurement is the limit.
"""

from __future__ import annotations

import pandas as pd

from minimax.study.paired import PairedFit, fit_paired
from minimax.study.rates import fit_rate

#: the largest |exponent offset| (sampled − exact) at which a sampled-TV verdict stands
MAX_OFFSET = 0.01
#: methods of rows whose TV was estimated from samples
SAMPLED_METHODS = ("adaptive-crossfit", "binned-corrected")
#: the control whose offset gates the verdicts, when the arm has it (a KDE is as smooth as a
#: DDPM's density; a piecewise-constant control has jumps everywhere, a harder case)
GATING_CONTROL = "kde"


def offset_text(x: float) -> str:
    """An offset as printed beside the gate: 3 decimals, more (up to 6) while fewer would round
    it onto ±MAX_OFFSET (so that "+0.010 exceeds ±0.01" is not printed)."""
    digits = 3
    while digits < 6 and round(abs(x), digits) == MAX_OFFSET and abs(x) != MAX_OFFSET:
        digits += 1
    return f"{x:+.{digits}f}"


#: how an offset's CI stands against the gate (gate_category), in words
GATE_WORDS = {
    "within": "within ±{gate} with its CI",
    "outside": "outside ±{gate} with its CI",
    "point within": "within ±{gate} as a point only",
    "point past": "past ±{gate} as a point",
}


def gate_category(difference: float, ci_low: float, ci_high: float) -> str:
    """ "within" where the whole CI lies in [-MAX_OFFSET, MAX_OFFSET], "outside" where none of
    it does, else "point within" or "point past" by the point estimate (docs/tv.md §6,
    "Reading the gate")."""
    if -MAX_OFFSET <= ci_low and ci_high <= MAX_OFFSET:
        return "within"
    if ci_low > MAX_OFFSET or ci_high < -MAX_OFFSET:
        return "outside"
    return "point within" if abs(difference) <= MAX_OFFSET else "point past"


def gate_reading(difference: float, ci_low: float, ci_high: float) -> str:
    """How an offset and its CI stand against ±MAX_OFFSET, in words (GATE_WORDS), with the CI's
    half-width where the CI straddles the gate."""
    category = gate_category(difference, ci_low, ci_high)
    text = GATE_WORDS[category].format(gate=f"{MAX_OFFSET:g}")
    if category.startswith("point"):
        text += f", CI half-width {0.5 * (ci_high - ci_low):.3f}"
    return text


def calibration_fits(adf: pd.DataFrame, **fit_kw) -> list[PairedFit]:
    """sampled − exact exponent offsets of every control of one arm that has both metrics."""
    out = []
    sampled = adf[(adf["metric"] == "tv_sampled") & (adf["status"] == "ok")]
    for est in dict.fromkeys(sampled["estimator"]):
        arm = str(adf["arm"].iloc[0])
        first = fit_rate(adf, "tv_sampled", est, arm=arm, **fit_kw)
        second = fit_rate(adf, "tv", est, arm=arm, **fit_kw)
        pair = fit_paired(first, second)
        pair.first, pair.second = f"{est} sampled", f"{est} exact"
        out.append(pair)
    return out


def gating_pair(pairs: list[PairedFit]) -> PairedFit | None:
    """The calibration pair whose offset gates the arm's sampled-TV verdicts (GATING_CONTROL
    where the arm has it, else the first), or None."""
    chosen = [p for p in pairs if p.first == f"{GATING_CONTROL} sampled"]
    return (chosen or pairs or [None])[0]


def gated_offset(adf: pd.DataFrame, **fit_kw) -> PairedFit | None:
    """The gating control's measured offset in one arm (``fit_kw`` as for fit_rate), or None."""
    pair = gating_pair(calibration_fits(adf, **fit_kw))
    return pair if pair is not None and pair.measured else None


def gate_verdicts(fits, adf: pd.DataFrame, pairs: list[PairedFit]) -> None:
    """Rewrite, in place, the verdict of every TV fit measured by the sampled estimator when the
    arm's calibration offset is unknown or above ``MAX_OFFSET``."""
    if "method" not in adf:  # a table that does not say how its TV was measured
        return
    gate = gating_pair(pairs)
    for fit in fits:
        if fit.metric != "tv" or not fit.measured:
            continue
        rows = adf[(adf["metric"] == "tv") & (adf["estimator"] == fit.estimator)]
        if not rows["method"].isin(SAMPLED_METHODS).any():
            continue
        if gate is None:
            why = "no explicit-density control scored from samples in this arm"
        elif not gate.measured:
            why = f"the calibration offset is not measurable ({gate.reason})"
        elif abs(gate.difference) > MAX_OFFSET:
            why = (f"{gate.first.split()[0]} calibration offset {offset_text(gate.difference)} "
                   f"[{gate.ci_low:+.3f}, {gate.ci_high:+.3f}] exceeds ±{MAX_OFFSET:g}")  # fmt: skip
        else:
            continue
        fit.verdict = f"measurement chain is the limit: {why} (fit alone: {fit.verdict})"


def sampled_pair_fits(adf: pd.DataFrame, **fit_kw) -> list[PairedFit]:
    """Per diffusion model of one arm: its sampled TV's exponent minus the gating control's
    ``tv_sampled`` one, on the same training sets and at the same M, so that the sampled
    estimator's own offset cancels in the difference (the plain pair is sampled − exact)."""
    if not (adf["metric"] == "tv_sampled").any() or "role" not in adf:
        return []
    arm = str(adf["arm"].iloc[0])
    ctrl = adf[(adf["estimator"] == GATING_CONTROL) & (adf["metric"] == "tv_sampled")]
    if ctrl.empty:
        return []
    second = fit_rate(adf, "tv_sampled", GATING_CONTROL, arm=arm, **fit_kw)
    out = []
    for est in dict.fromkeys(adf.loc[adf["role"] == "diffusion", "estimator"]):
        pair = fit_paired(fit_rate(adf, "tv", est, arm=arm, **fit_kw), second)
        pair.first, pair.second = est, f"{GATING_CONTROL} (sampled)"
        out.append(pair)
    return out


def calibration_block(pairs: list[PairedFit]) -> list[str]:
    """The printed lines of an arm's calibration."""
    if not pairs:
        return []
    head = (
        "-- calibration of the sampled TV: exponent offset sampled − exact on the same rows "
        f"(a sampled-TV verdict stands where |offset| ≤ {MAX_OFFSET:g})"
    )
    lines = []
    for p in pairs:
        lines.append(p.text())
        if p.measured:
            lines.append(f"  against the gate: {gate_reading(p.difference, p.ci_low, p.ci_high)}")
    return [head, *lines]
