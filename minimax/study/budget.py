"""The error budget of a diffusion estimator, per n (docs/tv.md §9).

A DDPM's TV telescopes into the exact early-stop blur, the sampler's part (oracle-score TV −
blur) and the learned score's part (TV − oracle-score TV). This module computes the parts with
their standard errors, the rate fit of the learned part alone, the design note a verdict
carries, and the text table a report prints. What a study trades to fit its compute budget is
:mod:`minimax.study.tradeoffs` (``tradeoffs`` is re-exported here for its callers).
"""

from __future__ import annotations

import math

from minimax.study.tradeoffs import tradeoffs  # noqa: F401

#: the parts of a DDPM's TV, in the order the budget table prints them; they telescope,
#: TV = blur + sampler + learned, each with its own CI
COMPONENTS = {
    "blur": "early-stop blur (exact: TV(q, q blurred at T̲))",
    "sampler": "sampler: discretisation + prior mismatch (oracle-score TV − blur)",
    "learned": "learned score: TV − oracle-score TV",
    "unsplit": "sampler + learned score, not separated (no oracle run, or its TV unresolved)",
}
#: the share of the TV above which the design parts (blur + sampler) are said to shape the rate
DESIGN_SHARE = 0.2
#: normal quantile of the budget's 95% CIs (parts are sums of independent estimates)
Z95 = 1.959963984540054


def _means(df, metric: str, estimator: str):
    """Per-n (mean, se, mean floor) of one metric's successful rows. A metric computed once per
    work unit (the oracle-score and blur TVs, repeated on each replicate's rows) enters once per
    unit, with se the root-sum of the units' own se over their count."""
    import numpy as np

    sel = df[(df["metric"] == metric) & (df["estimator"] == estimator) & (df["status"] == "ok")]
    shared = metric in ("oracle_tv", "blur_tv")
    unit = [c for c in ("arm", "target_seed") if c in sel]
    out = {}
    for n, g in sel.groupby("n"):
        g = g[np.isfinite(g["value"].to_numpy(float))]
        if not len(g):
            continue
        floors = g["floor"].to_numpy(float) if "floor" in g else np.array([math.nan])
        floor = float(floors[np.isfinite(floors)].mean()) if np.isfinite(floors).any() else math.nan
        if shared:
            g = g.drop_duplicates(unit) if unit else g.iloc[:1]
            own = g["se"].to_numpy(float) if "se" in g else np.full(len(g), math.nan)
            se = (
                float(math.sqrt(np.nansum(own**2)) / len(g)) if np.isfinite(own).any() else math.nan
            )
        else:
            v = g["value"].to_numpy(float)
            se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
        out[int(n)] = (float(g["value"].mean()), se, floor)
    return out


def _unresolved_share(df, metric: str, estimator: str) -> dict[int, float]:
    """Per n, the fraction of a shared metric's units flagged ``unresolved``."""
    sel = df[(df["metric"] == metric) & (df["estimator"] == estimator) & (df["status"] == "ok")]
    if "flag" not in sel or sel.empty:
        return {}
    unit = [c for c in ("arm", "target_seed", "n") if c in sel]
    sel = sel.drop_duplicates(unit)
    return {int(n): float((g["flag"] == "unresolved").mean()) for n, g in sel.groupby("n")}


def _loss_gaps(df, estimator: str, key: str = "loss_gap"):
    """Per-n mean of an estimator_params entry of the TV rows: by default the held-out −
    training loss of the kept network; ``outside_fraction``: its samples outside the box
    before reflection."""
    import json

    import numpy as np

    if "estimator_params" not in df:
        return {}
    sel = df[(df["metric"] == "tv") & (df["estimator"] == estimator) & (df["status"] == "ok")]
    out = {}
    for n, g in sel.groupby("n"):
        v = np.array([_number(json.loads(p).get(key)) for p in g["estimator_params"]])
        if np.isfinite(v).any():
            out[int(n)] = (float(np.nanmean(v)),)
    return out


def _number(v) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def _hypot(*se) -> float:
    return math.sqrt(sum(x * x for x in se)) if all(math.isfinite(x) for x in se) else math.nan


def budget_components(df, estimator: str) -> dict[int, dict[str, float]]:
    """Per n, the parts of ``estimator``'s TV and their standard errors (key + "_se").

    blur: the exact TV of the early stop alone (``blur_tv``, docs/tv.md §9);
    sampler: oracle-score TV − blur, the true score through the same sampler at the same M;
    learned: TV − oracle-score TV. Where most oracle TVs at an n are flagged unresolved (too
    small for the DDPM's M), the sampler's part is not split off: ``sampler_unresolved`` is set
    and unsplit = TV − blur. The parts telescope to the TV by construction; the check that
    can fail is their sign: a part below 0 by more than 2 se means one of the sampled TVs reads
    low (``inconsistent`` lists such parts). unsplit: TV − blur (or TV) when there is no oracle
    run. Diagnostics beside the parts: floor (the TV estimator's null floor, a property of the
    measurement, not of the model), outside (the sampler's mass outside the box before the fold),
    design_share: (blur + sampler)/TV.
    """
    tv = _means(df, "tv", estimator)
    outside = _means(df, "outside_mass", estimator) | _loss_gaps(df, estimator, "outside_fraction")
    oracle, blur = _means(df, "oracle_tv", estimator), _means(df, "blur_tv", estimator)
    unresolved = _unresolved_share(df, "oracle_tv", estimator)
    out = {}
    for n, (value, se, floor) in tv.items():
        c = {"tv": value, "tv_se": se, "floor": floor, "outside": outside.get(n, (math.nan,))[0]}
        if n in blur:
            c["blur"], c["blur_se"] = blur[n][0], 0.0
        if n in oracle and unresolved.get(n, 0.0) > 0.5 and n in blur:
            # most oracle TVs at this n are flagged unresolved (too small for the DDPM's M):
            # the sampler's part is not measured; TV − blur is the learned part plus it
            c["sampler_unresolved"] = True
            c["unsplit"], c["unsplit_se"] = value - c["blur"], se
            c["design"], c["design_se"] = c["blur"], 0.0
        elif n in oracle:
            o, o_se = oracle[n][:2]
            c["learned"], c["learned_se"] = value - o, _hypot(se, o_se)
            if n in blur:
                c["sampler"], c["sampler_se"] = o - blur[n][0], o_se
            else:  # no exact blur: the oracle TV is blur + sampler together
                c["sampler"], c["sampler_se"] = o, o_se
            c["design"], c["design_se"] = o, o_se
        else:
            c["unsplit"] = value - c.get("blur", 0.0)
            c["unsplit_se"] = se
            if "blur" in c:
                c["design"], c["design_se"] = c["blur"], 0.0
        if "design" in c and value > 0:
            c["design_share"] = c["design"] / value
        c["inconsistent"] = [
            k for k in ("sampler", "learned")
            if k in c and math.isfinite(c[f"{k}_se"]) and c[k] < -2 * c[f"{k}_se"]
        ]  # fmt: skip
        out[n] = c
    return out


def learned_part_fit(df, estimator: str):
    """The rate fit of the learned part alone, TV − oracle-score TV per row (the oracle of the
    same unit: arm, target seed, n; where that is flagged unresolved, TV − the exact blur, which
    then holds the sampler's part too), against s/(2s+D); None without oracle rows. The blur and
    the sampler fall with n by the design (T̲ follows the rate), so this is the exponent of what
    the network adds."""
    from minimax.study.rates import fit_rate

    sel = df[(df["estimator"] == estimator) & (df["status"] == "ok")]
    tv, orc = sel[sel["metric"] == "tv"], sel[sel["metric"] == "oracle_tv"]
    if tv.empty or orc.empty:
        return None
    keys = [k for k in ("arm", "target_seed", "n") if k in sel]
    ref = orc.drop_duplicates(keys)
    blur = sel[sel["metric"] == "blur_tv"].drop_duplicates(keys)
    if "flag" in ref and len(blur):  # an unresolved oracle TV: subtract the exact blur instead
        ref = ref.merge(
            blur[[*keys, "value"]].rename(columns={"value": "_blur"}), on=keys, how="left"
        )
        ref["value"] = ref["value"].where(ref["flag"] != "unresolved", ref["_blur"])
    ref = ref[[*keys, "value"]].rename(columns={"value": "_oracle"})
    rows = tv.merge(ref, on=keys, how="inner")
    if rows.empty:
        return None
    theory = float(rows["theory"].iloc[0]) if "theory" in rows else None
    rows = rows.assign(metric="tv_learned", value=rows["value"] - rows["_oracle"], floor=math.nan)
    return fit_rate(rows.drop(columns="_oracle"), "tv_learned", estimator,
                    arm=str(rows["arm"].iloc[0]), theory=theory)  # fmt: skip


def largest_component(components: dict[str, float]) -> tuple[str, float]:
    """The name and size of the largest part of the TV (diagnostics such as the floor are not
    parts of the model's error and never qualify)."""
    named = [(k, v) for k, v in components.items() if k in COMPONENTS and math.isfinite(v)]
    return max(named, key=lambda kv: kv[1]) if named else ("none", math.nan)


def design_note(df, estimator: str) -> str:
    """'' or the sentence a verdict carries when the design parts (blur + sampler, or the blur
    alone without an oracle run) exceed DESIGN_SHARE of the TV at some n."""
    if "role" in df and not (df.loc[df["estimator"] == estimator, "role"] == "diffusion").any():
        return ""
    comps = budget_components(df, estimator)
    over = [(n, c["design_share"]) for n, c in sorted(comps.items())
            if c.get("design_share", 0.0) > DESIGN_SHARE]  # fmt: skip
    if not over:
        return ""
    what = (
        "early-stop blur + sampler"
        if any("sampler" in comps[n] for n, _ in over)
        else "early-stop blur"
    )
    shares = ", ".join(f"{share:.0%} at n = {n}" for n, share in over)
    return (f"the design ({what}) is more than {DESIGN_SHARE:.0%} of the TV ({shares}): part of "
            "the measured decline is set by T̲, not learned")  # fmt: skip


def _fmt(v, w=7, d=3):
    return f"{v:>{w}.{d}f}" if math.isfinite(v) else f"{'—':>{w}}"


def _part(c, key, w=16):
    if key not in c:
        return f"{'—':>{w}}"
    v, se = c[key], c.get(f"{key}_se", math.nan)
    text = f"{v:.4f}" if not math.isfinite(se) or se == 0 else f"{v:.4f} ± {Z95 * se:.4f}"
    return f"{text:>{w}}"


def budget_table(df, fits=()) -> str:
    """The error budget per n of every diffusion estimator of one arm: TV = blur + sampler +
    learned with 95% CIs, the design share, diagnostics (floor, outside mass, score error, loss
    gap), the trivial baselines it beats, and lines naming the largest part at the largest n.
    ``fits``: the arm's RateFits (the score metric's fitted exponent is quoted against
    2s/(2s+D)). Empty text when the arm has no diffusion estimator."""
    blocks = []
    diffusion = df[df["role"] == "diffusion"]["estimator"].unique()
    trivial = df[(df["role"] == "trivial") & (df["metric"] == "tv")]["estimator"].unique()
    for est in diffusion:
        comps = budget_components(df, est)
        if not comps:
            continue
        gap = _loss_gaps(df, est)
        score = _means(df, "score_integral", est) or _means(df, "score", est)
        base = {b: _means(df, "tv", b) for b in trivial}
        split = any("learned" in c for c in comps.values())
        some = any("unsplit" in c for c in comps.values())
        cols = ("blur", "sampler", "learned") if split else ("blur", "unsplit")
        if split and some:
            cols = ("blur", "sampler", "learned", "unsplit")
        head = (f"{'n':>8}  {'TV ± 95%':>16}" + "".join(f"{k:>16}" for k in cols)
                + f"{'design':>8}{'floor':>7}{'outside':>9}{'score':>9}{'loss gap':>10}  beats")  # fmt: skip
        lines = [f"-- error budget of {est}: TV = " + " + ".join(cols)
                 + " (TV units; parts ± 95% CI; floor, outside, score, loss gap are diagnostics)",
                 head]  # fmt: skip
        for n, c in sorted(comps.items()):
            beats = [b for b in trivial if n in base[b] and c["tv"] < base[b][n][0]]
            lost = [b for b in trivial if n in base[b] and c["tv"] >= base[b][n][0]]
            verdict = ",".join(beats) or "-"
            if lost:
                verdict += f" (NOT {','.join(lost)})"
            share = c.get("design_share", math.nan)
            lines.append(
                f"{n:>8}  {_part(c, 'tv')}" + "".join(_part(c, k) for k in cols)
                + f"{(f'{share:.0%}' if math.isfinite(share) else '—'):>8}{_fmt(c['floor'])}"
                f"{_fmt(c['outside'], 9, 4)}{_fmt(score.get(n, (math.nan,))[0], 9, 4)}"
                f"{_fmt(gap.get(n, (math.nan,))[0], 10, 4)}  {verdict}"
            )  # fmt: skip
        n_max = max(comps)
        name, value = largest_component(comps[n_max])
        share = value / comps[n_max]["tv"] if comps[n_max]["tv"] > 0 else math.nan
        lines.append(
            f"largest component at n = {n_max}: {COMPONENTS.get(name, name)} = {value:.4f} "
            f"({share:.0%} of TV {comps[n_max]['tv']:.4f})"
        )
        lost = [n for n, c in sorted(comps.items()) if c.get("sampler_unresolved")]
        if lost:
            lines.append(
                "sampler part not resolved at n = " + ", ".join(map(str, lost)) + ": most "
                "oracle-score TVs there are flagged unresolved at the DDPM's M (too small to "
                "measure); unsplit = TV − blur holds the learned part and the sampler's together"
            )  # fmt: skip
        bad = [(n, k) for n, c in sorted(comps.items()) for k in c["inconsistent"]]
        if bad:
            lines.append(
                "inconsistent: " + ", ".join(f"{k} < 0 by more than 2 se at n = {n}" for n, k in bad)
                + " (a sampled TV reads low there; docs/tv.md §9)"
            )  # fmt: skip
        note = design_note(df, est)
        if note:
            lines.append(note)
        learned = learned_part_fit(df, est) if df["arm"].nunique() == 1 else None
        if learned is not None and learned.measured:
            lines.append(
                f"learned part alone (TV − oracle-score TV, or − blur where that is unresolved, per "
                f"row): exponent {learned.exponent:.3f} "
                f"[{learned.ci_low:.3f}, {learned.ci_high:.3f}] vs s/(2s+D) = {learned.theory:.3f}"
            )
        g = gap.get(n_max)
        if g is not None and math.isfinite(g[0]):
            lines.append(
                f"memorisation signal at n = {n_max}: held-out − train loss = {g[0]:+.4f} "
                f"({'the network fits its training set better than fresh data' if g[0] > 0 else 'no sign of memorisation'})"
            )
        for fit in fits:
            if fit.metric in ("score", "score_integral") and fit.estimator == est:
                label = "score error" if fit.metric == "score" else "∫ score error dt"
                if fit.measured:
                    lines.append(
                        f"{label} exponent: {fit.exponent:.3f} [{fit.ci_low:.3f}, "
                        f"{fit.ci_high:.3f}] vs theory 2s/(2s+D) = {fit.theory:.3f}"
                    )
                else:
                    lines.append(f"{label} exponent: {fit.verdict}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
