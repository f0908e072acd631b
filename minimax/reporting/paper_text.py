"""The paper's generated sentences: counts, verdicts and per-target paragraphs as prose.

Every sentence here is written from the fits of a :class:`~minimax.reporting.paper_data.StudyData`,
with its numbers through :func:`~minimax.reporting.paper_format.tex_num`, so that ``main.tex`` holds
no result of its own: it quotes these macros (``\\AbstractDdpm``, ``\\CalibrationSentence``,
...) and inputs ``text/arms.tex``. Counts become words and zeros vanish ("one of the four DDPM
fits is flatter and three are not resolved by this design").
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from minimax.reporting.figures import target_title
from minimax.reporting.paper_budget_text import (  # noqa: F401 (re-exported for paper_arms)
    COMPONENT_WORDS,
    _pm_words,
    budget_sentence,
    budget_words,
)
from minimax.reporting.paper_data import StudyData
from minimax.reporting.paper_format import (
    count_words,
    fit_alone,
    join_words,
    latex_escape,
    number_word,
    sentence_case,
    split_note,
    tally,
    tex_cell,
    tex_ci,
    tex_num,
    tex_p,
    verdict_class,
)
from minimax.reporting.paper_words import (  # noqa: F401 (re-exported)
    NAMES,
    arm_phrase,
    arm_words,
    fit_words,
    name,
)
from minimax.study.calibration import MAX_OFFSET

#: what each verdict class says of a plural subject
PREDICATES = {
    "equivalent": "are equivalent to the theory within the margin",
    "steeper": "are steeper than the theory",
    "flatter": "are flatter than the theory",
    "unresolved": "are not resolved by this design",
    "gated": "cannot be judged yet",
    "unmeasured": "could not be measured",
}


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
            f"({tex_cell(why)}).")  # fmt: skip
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
    if data.multi_seed:
        J = min(len(data.unit_arms(u)) for u, _, _ in data.units)
        per = "one training set" if reps == 1 else count_words(reps, "training set")
        return (f"{join_words(parts)}, on {number_word(J)} target functions per class with {per} "
                "per function and $n$")  # fmt: skip
    return f"{join_words(parts)}, with {count_words(reps, 'replicate')} per $n$"


def targets_sentence(data: StudyData) -> str:
    """ "four Besov targets, $s=0.5$, 1 and 2 in $D=1$ and $s=1.5$ in $D=2$" """
    df = data.df.assign(arm=data.df["arm"].map(
        {a: u for u, _, _ in data.units for a in data.unit_arms(u)})).drop_duplicates("arm")  # fmt: skip
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
    what = count_words(len(df), kinds + (" class" if data.multi_seed else " target"),
                       kinds + " classes" if data.multi_seed else None)  # fmt: skip
    return f"{what}: {join_words(per_d)}, with {b}"


def pooled_calibration_sentence(data: StudyData) -> str:
    """The KDE's sampled − exact exponent offset pooled over each group's seeds: the gate of
    the pooled sampled-TV verdicts (pooled_report)."""
    clauses, within, groups = [], 0, [u for u, _, _ in data.units if u in data.pooled.groups]
    for unit in groups:
        off = data.pooled.offset(unit)
        if "exponent" not in off:
            clauses.append(f"not measurable in {arm_phrase(data, unit)} (measured on "
                           f"{count_words(off['J'], 'seed')})")  # fmt: skip
            continue
        within += abs(off["exponent"]) <= MAX_OFFSET
        clauses.append(f"{tex_num(off['exponent'], signed=True)} "
                       f"{tex_ci(off['ci_low'], off['ci_high'], signed=True)} over "
                       f"{number_word(off['J'])} seeds in {arm_phrase(data, unit)}")  # fmt: skip
    if not clauses:
        return ("This study scored no explicit-density control from its own samples, so every "
                "pooled verdict on a sampled-TV exponent is withheld.")  # fmt: skip
    return (f"Scored from its own samples at the DDPM's $M$, the KDE's exponent moves by "
            f"{join_words(clauses)} (sampled $-$ exact on the same rows, pooled over target "
            f"seeds). A pooled verdict on a sampled-TV exponent stands where this offset is within "
            f"$\\pm{MAX_OFFSET:g}$: "
            + (("here it is" if within else "here it is not") if len(groups) == 1 else
               ("in both targets" if len(groups) == 2 else f"in all {number_word(within)} targets")
               if within == len(groups) else
               f"in {number_word(within)} of the {number_word(len(groups))} targets")
            + ".")  # fmt: skip


def calibration_sentence(data: StudyData) -> str:
    if data.multi_seed:
        return pooled_calibration_sentence(data)
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
    arms = [a for a, _, _ in data.units if data.headline(a, "ddpm-fixed-tmin")]
    if not arms:
        return "This study ran no negative control."
    out = []
    for arm in arms:
        f = data.headline(arm, "ddpm-fixed-tmin")
        p = data.headline_pair(arm, "ddpm", "ddpm-fixed-tmin")
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
    unit_of = {a: u for u, _, _ in data.units for a in data.unit_arms(u)}
    ok = data.df[(data.df["status"] == "ok") & (data.df["metric"] == "tv")]
    ok = ok.assign(arm=ok["arm"].map(unit_of).fillna(ok["arm"]))
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


def headline_sentence(data: StudyData) -> str:
    """The headline numbers, one clause per target: the DDPM's (pooled) exponent with its CI
    against the theory and the verdict, then the paired DDPM $-$ KDE difference."""
    clauses, pairs = [], []
    for unit, _, _ in data.units:
        f = data.headline(unit, "ddpm")
        if f is None:
            continue
        what = fit_words(f) if f.measured else "not measurable"
        verdict, _ = split_note(f.verdict)
        clauses.append(f"{what} for {arm_phrase(data, unit)} ({_short(verdict)})")
        p = data.headline_pair(unit, "ddpm", "kde")
        if p is not None and p.measured:
            r = data.unit_rows(unit).iloc[0]
            same = data.headline_pair(unit, "ddpm", "kde (sampled)")
            also = (f"; {tex_num(same.difference, signed=True)} "
                    f"{tex_ci(same.ci_low, same.ci_high, signed=True)} with the KDE's TV also "
                    f"sampled at the DDPM's $M$, {pair_short(same.verdict)}"
                    if same is not None and same.measured else "")  # fmt: skip
            pairs.append(f"{tex_num(p.difference, signed=True)} "
                         f"{tex_ci(p.ci_low, p.ci_high, signed=True)} for $s={float(r['s']):g}$"
                         f" in $D={int(r['D'])}$ ({pair_short(p.verdict)}{also})")  # fmt: skip
    if not clauses:
        return "This study has no DDPM fit."
    pooled = data.multi_seed
    J = min((len(data.unit_arms(u)) for u, _, _ in data.units), default=1)
    head = (f"Pooled over {number_word(J)} target functions per class (the seed a random effect), "
            "the DDPM's TV exponent is " if pooled else "The DDPM's TV exponent is ")  # fmt: skip
    text = head + join_words(clauses) + "."
    if pairs:
        text += (" Paired on the same training sets, the DDPM's exponent minus the KDE's is "
                 f"{join_words(pairs)}.")  # fmt: skip
    return text


def pair_short(verdict: str) -> str:
    """A paired verdict in a parenthesis: "equivalent within $\\pm0.05$", "the DDPM is
    flatter", "not resolved by this design"."""
    if verdict.startswith("equivalent"):
        return "equivalent within $\\pm" + verdict.rsplit("±", 1)[-1] + "$"
    m = re.match(r"differ: (\S+) (steeper|flatter) than (\S+)$", verdict)
    if m:
        return f"{name(m.group(1))} is {m.group(2)} than {name(m.group(3))}"
    if verdict.startswith("not resolved"):
        return "not resolved by this design"
    return latex_escape(verdict)


def changes_sentence(data: StudyData) -> str:
    """The new claims, per target: the DDPM's headline exponent and verdict, the paired
    difference with the KDE, and the budget at the largest n (``ChangesSentence``)."""
    out = []
    for unit, _, _ in data.units:
        f = data.headline(unit, "ddpm")
        if f is None:
            continue
        verdict, note = split_note(f.verdict)
        pooled = unit in data.pooled.groups
        text = (f"for {arm_phrase(data, unit)} the DDPM's TV exponent "
                + (f"pooled over {count_words(f.J, 'seed')} " if pooled else "")
                + (f"is {fit_words(f)} ({_short(verdict)})" if f.measured else "is not measurable"))  # fmt: skip
        p = data.headline_pair(unit, "ddpm", "kde")
        if p is not None and p.measured:
            text += (f", the paired DDPM $-$ KDE difference {tex_num(p.difference, signed=True)} "
                     f"{tex_ci(p.ci_low, p.ci_high, signed=True)}")  # fmt: skip
            same = data.headline_pair(unit, "ddpm", "kde (sampled)")
            if same is not None and same.measured:
                text += (f" (with both TVs sampled at the DDPM's $M$, so that the measurement's "
                         f"offset cancels: {tex_num(same.difference, signed=True)} "
                         f"{tex_ci(same.ci_low, same.ci_high, signed=True)}, "
                         f"{pair_short(same.verdict)})")  # fmt: skip
        b = data.budgets.get(unit)
        if b is not None and "blur" in b and "tv" in b:
            n = int(b.index[-1])
            tv, blur = float(b.loc[n, "tv"]), float(b.loc[n, "blur"])
            text += (f"; at $n={tex_num(n)}$ the exact early-stop blur is {tex_num(blur)}, "
                     f"{100 * blur / tv:.0f}\\% of the TV {tex_num(tv)}")  # fmt: skip
            if "learned" in b and math.isfinite(float(b.loc[n, "learned"])):
                text += f", and the learned score's part {_pm_words(b, 'learned', n)}"
        out.append(text)
    if not out:
        return "this study has no DDPM fit."
    return "; ".join(out) + "."  # follows a colon in main.tex


def _short(verdict: str) -> str:
    """A verdict in a parenthesis: "equivalent within $\\pm0.05$", "not resolved", ..."""
    cls = verdict_class(verdict)
    if cls == "gated":
        return f"not judged: the calibration gate; the fit alone: {_short(fit_alone(verdict))}"
    return {
        "equivalent": "equivalent within $\\pm" + verdict.rsplit("±", 1)[-1] + "$",
        "steeper": "steeper than the theory",
        "flatter": "flatter than the theory",
        "unresolved": "not resolved by this design",
    }.get(cls, latex_escape(verdict))


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
    tuned_ds = {(int(D), float(s)) for e in exploration
                for D, s in e.df[["D", "s"]].drop_duplicates().itertuples(index=False)}  # fmt: skip
    fresh = [f"$D={D}$, $s={s:g}$" for _, D, s in data.units if (D, s) not in tuned_ds]
    text = (f"The headline study's targets ({own}) were never used for tuning (the tuning studies "
            f"used {other}): its verdicts are confirmatory.")  # fmt: skip
    if fresh:
        text += (f" No tuning study given to this paper used the class "
                 f"{join_words(dict.fromkeys(fresh))} at all.")  # fmt: skip
    return text


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
