"""The paper's generated sentences: counts, verdicts and per-target paragraphs as prose.

Every sentence here is written from the fits of a :class:`~minimax.study.paper_data.StudyData`,
with its numbers through :func:`~minimax.study.paper_format.tex_num`, so that ``main.tex`` holds
no result of its own: it quotes these macros (``\\AbstractDdpm``, ``\\CalibrationSentence``,
...) and inputs ``text/arms.tex``. Counts become words and zeros vanish ("one of the four DDPM
fits is flatter and three are not resolved by this design").
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from minimax.study.calibration import MAX_OFFSET
from minimax.study.figures import LOSS_GAP, target_title
from minimax.study.paper_budget import largest_component
from minimax.study.paper_data import StudyData
from minimax.study.paper_format import (
    count_words,
    fit_alone,
    join_words,
    latex_escape,
    number_word,
    sentence_case,
    tally,
    tex_ci,
    tex_num,
    tex_p,
    verdict_class,
)

#: estimators in running text
NAMES = {"ddpm": "the DDPM", "kde": "the KDE", "ddpm-fixed-tmin": "the DDPM with frozen $\\underline{T}$",
         "oracle-score": "the oracle-score sampler", "empirical-score": "the empirical-score sampler",
         "uniform": "the uniform density", "gaussian": "the best Gaussian", "gan": "the GAN",
         "vae": "the VAE", "wavelet": "the wavelet estimator", "kde-oracle": "the oracle-bandwidth KDE"}  # fmt: skip
#: what each verdict class says of a plural subject
PREDICATES = {
    "equivalent": "are equivalent to the theory within the margin",
    "steeper": "are steeper than the theory",
    "flatter": "are flatter than the theory",
    "unresolved": "are not resolved by this design",
    "gated": "cannot be judged yet",
    "unmeasured": "could not be measured",
}
COMPONENT_WORDS = {
    "oracle-score sampler TV": "the oracle-score sampler's TV",
    "outside mass": "the mass outside the box after reflection",
    "outside before reflection": "the mass the sampler puts outside the box before reflection",
}


def name(est: str) -> str:
    return NAMES.get(est, f"\\texttt{{{latex_escape(est)}}}")


def arm_words(data: StudyData, arm: str) -> str:
    """The human title of an arm, with its symbols in math: "Besov, $D=2$, $s=1.5$, jump at
    the boundary"."""
    r = data.df[data.df["arm"] == arm].iloc[0]
    words = target_title(r["target"], r["D"]).split(",")[0]
    parts = [words, f"$D={int(r['D'])}$", f"$s={float(r['s']):g}$"]
    if float(r["p"]) != 2.0:
        parts.append(f"$p={float(r['p']):g}$")
    full = target_title(r["target"], r["D"], None, None, r["boundary"])
    parts.append(full.split(", ")[-1])
    return ", ".join(parts)


def fit_words(f) -> str:
    """ "0.185 [0.095, 0.275] against 0.250" """
    return f"{tex_num(f.exponent)} {tex_ci(f.ci_low, f.ci_high)} against {tex_num(f.theory)}"


def arm_phrase(data: StudyData, arm: str) -> str:
    """An arm inside a sentence: "the Besov target with $D=1$, $s=1$ and a jump at the
    boundary"."""
    r = data.df[data.df["arm"] == arm].iloc[0]
    kind = target_title(r["target"], r["D"]).split(",")[0]
    sym = [f"$D={int(r['D'])}$", f"$s={float(r['s']):g}$"]
    if float(r["p"]) != 2.0:
        sym.append(f"$p={float(r['p']):g}$")
    bound = {"band": "a jump at the boundary", "smooth": "a smooth decay at the boundary"}
    sym.append(bound.get(str(r["boundary"]), f"the {r['boundary']} boundary"))
    return f"the {kind} target with {join_words(sym)}"


def _clauses(counts: Counter) -> list[str]:
    return [f"{number_word(c)} {PREDICATES[k].replace('are ', 'is ', 1) if c == 1 else PREDICATES[k]}"
            for k, c in counts.items() if c]  # fmt: skip


def verdict_tally(fits, subject: str) -> str:
    """How ``fits`` split over the verdicts, as one or two sentences. Fits whose verdict is
    withheld by the calibration gate are counted apart, with what their fits alone say."""
    classes = Counter(verdict_class(f.verdict) for f in fits)
    gated = [f for f in fits if verdict_class(f.verdict) == "gated"]
    if not gated:
        return tally(len(fits), [(classes[k], PREDICATES[k]) for k in PREDICATES], subject=subject)
    why = gated[0].verdict.split(": ", 1)[1].split(" (fit alone", 1)[0]
    alone = Counter(verdict_class(fit_alone(f.verdict)) for f in gated)
    if len(gated) == len(fits):
        head = (f"None of the {number_word(len(fits))} {subject} fits can be judged yet"
                if len(fits) > 1 else f"The one {subject} fit cannot be judged yet")  # fmt: skip
    else:
        rest = Counter({k: c for k, c in classes.items() if k != "gated"})
        head = tally(len(fits), [(rest[k], PREDICATES[k]) for k in PREDICATES if k != "gated"]
                     + [(len(gated), "cannot be judged yet")], subject=subject)[:-1]  # fmt: skip
    text = (f"{head}: a TV estimated from samples is not calibrated in this study "
            f"({latex_escape(why)}).")  # fmt: skip
    if len(alone) == 1 and len(gated) > 1:
        k = next(iter(alone))
        text += f" Taken alone, {'both' if len(gated) == 2 else 'all ' + number_word(len(gated))} {PREDICATES[k]}."
    elif len(gated) == 1:
        k = next(iter(alone))
        text += f" Taken alone, its fit {PREDICATES[k].replace('are ', 'is ', 1)}."
    else:
        text += f" Taken alone, {join_words(_clauses(alone))}."
    return text


def ratio_sentence(fits, subject: str) -> str:
    """The ratio measured / theory over the fits whose verdict stands (none: empty)."""
    judged = [f for f in fits if verdict_class(f.verdict) in ("equivalent", "steeper", "flatter")
              and f.measured and f.theory > 0]  # fmt: skip
    if not judged:
        return ""
    r = [f.exponent / f.theory for f in judged]
    if len(r) == 1:
        return f" Where its verdict stands, the {subject} exponent is {tex_num(r[0], 2)} times the theory's."
    return (f" Over the {number_word(len(r))} {subject} fits whose verdict stands, the measured "
            f"exponent is {tex_num(min(r), 2)} to {tex_num(max(r), 2)} times the theory's "
            f"(mean {tex_num(float(np.mean(r)), 2)}).")  # fmt: skip


def design_sentence(data: StudyData) -> str:
    """The sizes of n, per D, and the replicates."""
    df = data.df
    parts = []
    for D, g in df.groupby("D"):
        sizes = sorted(g["n"].unique())
        dec = math.log10(sizes[-1] / sizes[0]) if sizes[0] > 0 else math.nan
        parts.append(f"from $n={tex_num(int(sizes[0]))}$ to {tex_num(int(sizes[-1]))} "
                     f"({count_words(len(sizes), 'size')}, {dec:.1f} decades) in $D={int(D)}$")  # fmt: skip
    reps = int(df.groupby(["arm", "n", "estimator"])["replicate"].nunique().min())
    return f"{join_words(parts)}, with {count_words(reps, 'replicate')} per $n$"


def targets_sentence(data: StudyData) -> str:
    """ "four Besov targets, $s=0.5$, 1 and 2 in $D=1$ and $s=1.5$ in $D=2$" """
    df = data.df.drop_duplicates("arm")
    kinds = join_words(sorted({target_title(k, 1).split(",")[0] for k in df["target"]}))
    per_d = []
    for D, g in df.groupby("D"):
        s = join_words(f"{v:g}" for v in sorted(g["s"].unique()))
        per_d.append(f"$s={s}$ in $D={int(D)}$".replace(" and ", "$ and $").replace(", ", "$, $"))
    bounds = {
        "band": "a jump at the boundary",
        "smooth": "a density vanishing smoothly at the boundary",
    }
    b = join_words(bounds.get(v, v) for v in sorted(df["boundary"].unique()))
    return f"{count_words(len(df), kinds + ' target')}: {join_words(per_d)}, with {b}"


def calibration_sentence(data: StudyData) -> str:
    if not data.calibration:
        return ("This study scored no explicit-density control from its own samples, so the "
                "exponent offset the sampled-TV chain introduces is unknown here, and every "
                "verdict on an exponent measured from samples (the DDPM's) is withheld.")  # fmt: skip
    clauses, within = [], 0
    for p in data.calibration:
        if not p.measured:
            clauses.append(f"not measurable in {arm_phrase(data, p.arm)}")
            continue
        within += abs(p.difference) <= MAX_OFFSET
        clauses.append(f"{tex_num(p.difference, signed=True)} {tex_ci(p.ci_low, p.ci_high, signed=True)} "
                       f"in {arm_phrase(data, p.arm)}")  # fmt: skip
    return (f"Scored from its own samples at the study's $M$, the KDE's exponent moves by "
            f"{join_words(clauses)} (sampled $-$ exact, on the same rows). A verdict on a sampled-TV "
            f"exponent stands where this offset is within $\\pm{MAX_OFFSET:g}$: in "
            f"{number_word(within)} of the {number_word(len(data.calibration))} arms.")  # fmt: skip


def pair_words(p, a: str, b: str) -> str:
    if p is None or not p.measured:
        return ""
    what = ("no difference is shown" if p.p_value >= 1 - p.level
            else f"{a} is {'steeper' if p.difference > 0 else 'flatter'}")  # fmt: skip
    return (f"{tex_num(p.difference, signed=True)} {tex_ci(p.ci_low, p.ci_high, signed=True)} "
            f"({tex_p(p.p_value)}): {what}")  # fmt: skip


def negative_control_sentence(data: StudyData) -> str:
    arms = [a for a, _, _ in data.arms if data.fit(a, "ddpm-fixed-tmin")]
    if not arms:
        return "This study ran no negative control."
    out = []
    for arm in arms:
        f = data.fit(arm, "ddpm-fixed-tmin")
        p = data.pair(arm, "ddpm", "ddpm-fixed-tmin")
        s = f"For {arm_phrase(data, arm)}, the DDPM with frozen $\\underline{{T}}$ has exponent "
        s += (fit_words(f) if f.measured else "no measurable exponent") + "."
        if p is not None and p.measured:
            s += f" On the same training sets the DDPM's exponent minus the frozen one's is {pair_words(p, 'the DDPM', '')}"
            if p.p_value >= 1 - p.level:
                s += ", so this study does not yet show that it can tell a rate from the floor a frozen early stop leaves."
            elif p.difference > 0:
                s += ": the study sees the floor the frozen early stop leaves."
            else:
                s += ", against the premise of the control."
        out.append(s)
    return " ".join(out)


def baselines_sentence(data: StudyData) -> str:
    ok = data.df[(data.df["status"] == "ok") & (data.df["metric"] == "tv")]
    roles = data.roles()
    trivial = [e for e, r in roles.items() if r == "trivial"]
    if not trivial:
        return "This study ran no trivial baseline."
    mean = ok.groupby(["arm", "estimator", "n"])["value"].mean()
    losses = []
    for (arm, est, n), v in mean.items():
        if roles.get(est) == "trivial":
            continue
        base = [mean.get((arm, t, n), math.nan) for t in trivial]
        if any(math.isfinite(b) and v >= b for b in base):
            losses.append(f"{name(est)} at $n={tex_num(int(n))}$ for {arm_phrase(data, arm)}")
    head = f"{sentence_case(join_words(name(t) for t in trivial))}"
    if not losses:
        return f"Every estimator has a lower mean TV than {join_words(name(t) for t in trivial)} at every $n$."
    return f"{head} beat{'s' if len(trivial) == 1 else ''} {join_words(losses)}; every other estimator beats them at every $n$."


def budget_sentence(data: StudyData) -> str:
    if not data.budgets:
        return "This results table holds no error budget of the DDPM."
    tops = {a: largest_component(b) for a, b in data.budgets.items()}
    parts = []
    for arm, (comp, value, n) in tops.items():
        if comp == "---":
            continue
        total = float(data.budgets[arm]["total TV"].loc[n])
        parts.append(f"{COMPONENT_WORDS.get(comp, latex_escape(comp))} for {arm_phrase(data, arm)} "
                     f"({tex_num(value)} at $n={tex_num(n)}$, {tex_num(value / total, 2)} of its "
                     "total TV)")  # fmt: skip
    missing = sum(t[0] == "---" for t in tops.values())
    if parts:
        text = f"At the largest $n$ where one is measured, the largest TV-scale part of the DDPM's error is {join_words(parts)}."
        if missing:
            text += (f" For the other {count_words(missing, 'target')} no part of the error besides "
                     "its total is measured (no oracle-score run, no mass left outside the box).")  # fmt: skip
    else:
        text = ("No part of the DDPM's error besides its total is measured in this table (no "
                "oracle-score run, no mass left outside the box).")  # fmt: skip
    ratios = [float(b["TV floor"].iloc[-1] / b["total TV"].iloc[-1]) for b in data.budgets.values()
              if "TV floor" in b and b["total TV"].iloc[-1] > 0]  # fmt: skip
    if ratios:
        text += (" The noise floor of the TV estimate, a property of the measurement rather than of "
                 f"the DDPM, is at most {tex_num(max(ratios), 2)} of the total TV there.")  # fmt: skip
    gaps = [float(b[LOSS_GAP].iloc[-1]) for b in data.budgets.values() if LOSS_GAP in b]
    if gaps:
        pos = sum(g > 0 for g in gaps)
        text += (" The loss gap (held-out $-$ training loss, positive where the network fits its "
                 "training set better than fresh data) is positive at the largest $n$ in "
                 f"{number_word(pos)} of the {number_word(len(gaps))} targets"
                 + (f", at most {tex_num(max(gaps))}." if pos else ": no sign of memorisation."))  # fmt: skip
    return text


def tuning_sentence(data: StudyData, exploration: list[StudyData]) -> str:
    seeds = sorted(int(s) for s in data.df["target_seed"].unique())
    if not exploration:
        return ("No tuning study was given to the paper command, so this draft cannot say on which "
                "targets the recipe was tuned.")  # fmt: skip
    tuned = sorted({int(s) for e in exploration for s in e.df["target_seed"].unique()})
    shared = sorted(set(seeds) & set(tuned))
    own = f"target {'seed' if len(seeds) == 1 else 'seeds'} {join_words(map(str, seeds))}"
    other = f"{'seed' if len(tuned) == 1 else 'seeds'} {join_words(map(str, tuned))}"
    if shared:
        return (f"The headline study's targets ({own}) are those the recipe was tuned on (the tuning "
                f"studies used {other}): its verdicts are exploratory too, and a confirmatory study "
                "needs targets never used for tuning.")  # fmt: skip
    return (f"The headline study's targets ({own}) were never used for tuning (the tuning studies "
            f"used {other}): its verdicts are confirmatory.")  # fmt: skip


def exploration_sentence(exploration: list[StudyData]) -> str:
    if not exploration:
        return "No tuning study was given to the paper command."
    parts = []
    for e in exploration:
        for arm, _, _ in e.arms:
            f = e.fit(arm, "ddpm")
            if f is not None and f.measured:
                parts.append(
                    f"{fit_words(f)} (\\texttt{{{latex_escape(e.label)}}}: {arm_words(e, arm)})"
                )
    if not parts:
        return "No tuning study measured a DDPM exponent."
    return f"In the tuning studies the DDPM's TV exponents were {join_words(parts)}."
