"""The paper's "Beside the DDPM: a GAN and a VAE" from the generative study's results folder.

The DDPM, the JS GAN and the Gaussian VAE (docs/generative.md) on the same training sets, each
against its own theory, which for all three is TV ≲ n^{-s/(2s+D)}: per arm their exponents with
CIs, the paired slope differences between the models and against the KDE, and the two claims
of issue 16 read off the stored rows (each model's mean TV below both trivial baselines' at
every n ≥ ``BEATS_FROM``, and whether its TV falls with n: an exponent whose CI lies above 0).
Every number is read from the folder (:func:`~minimax.reporting.paper_data.load_study`).
A second folder, the same study's DDPM networks sampled again (another sampler or M), adds one
paragraph per arm, read the same way as the headline's (:func:`.paper_arms.arm_paragraph`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from minimax.reporting.paper_adaptivity import pair_table
from minimax.reporting.paper_arms import arm_paragraph
from minimax.reporting.paper_calibration import (
    check_same_design,
    replicate_offset_words,
    replicate_offsets,
    tex_gate_words,
)
from minimax.reporting.paper_data import StudyData, load_study
from minimax.reporting.paper_format import latex_escape, short_verdict, tex_ci, tex_exp, tex_num
from minimax.reporting.paper_tables import TEX_NAMES, exponent_table
from minimax.study.calibration import MAX_OFFSET as GATE
from minimax.study.calibration import gate_category, gating_pair

#: the models the section compares, and the control each is paired with
MODELS = ("ddpm", "gan", "vae")
CONTROL = "kde"
TRIVIAL = ("uniform", "gaussian")
#: the smallest n at which a model must beat both trivial baselines (issue 16)
BEATS_FROM = 1000


def _name(est: str) -> str:
    return TEX_NAMES.get(est, latex_escape(est))


def model_claims(arm_df: pd.DataFrame, est: str) -> dict:
    """For one arm's tv rows: the sizes n ≥ BEATS_FROM where ``est``'s mean TV is not below both
    trivial baselines' means (``fails_baselines``), its mean TV at the smallest and the largest
    n, and how many of its rows failed or were flagged."""
    tv = arm_df[arm_df["metric"] == "tv"]
    ok = tv[tv["status"] == "ok"]
    mean = ok.groupby(["estimator", "n"])["value"].mean()
    mine = mean.get(est, pd.Series(dtype=float))
    trivial = [mean.get(t, pd.Series(dtype=float)) for t in TRIVIAL]
    fails = []
    for n, v in mine.items():
        if n < BEATS_FROM:
            continue
        floor = min((t.get(n, float("inf")) for t in trivial), default=float("inf"))
        if not v < floor:
            fails.append(int(n))
    rows = tv[tv["estimator"] == est]
    ends = [(int(n), float(mine[n])) for n in mine.index[[0, -1]]] if len(mine) else [None, None]
    return {"fails_baselines": fails, "first": ends[0], "last": ends[1],
            "flagged_rows": int((rows["status"].eq("ok") & rows["flag"].ne("ok")).sum()),
            "failed_rows": int(rows["status"].ne("ok").sum()), "rows": len(rows)}  # fmt: skip


def _arm_words(data: StudyData, arm: str, D: int, s: float, ddpm_elsewhere: bool = False) -> str:
    fits = {f.estimator: f for f in data.arm_fits(arm, "tv")}
    adf = data.df[data.df["arm"] == arm]
    theory = s / (2 * s + D)
    out = [f"At $D = {D}$, $s = {s:g}$ (theory $s/(2s+D) = {tex_num(theory)}$):"]
    for est in (*MODELS, CONTROL):
        if est not in fits:
            if est in MODELS:
                out.append(f"{_name(est)} is not scored in this folder"
                           + (" (its fits are scored in the paragraph after the tables)."
                              if ddpm_elsewhere and est == "ddpm" else "."))  # fmt: skip
            continue
        f, c = fits[est], model_claims(adf, est)
        if c["first"] is None:
            out.append(f"{_name(est)}: no row succeeded ({c['failed_rows']} failed).")
            continue
        (n0, v0), (n1, v1) = c["first"], c["last"]
        fit = (f"$\\hat a = {tex_exp(f.exponent)}$ {tex_ci(f.ci_low, f.ci_high)}" if f.measured
               else "its exponent is not measured (" + latex_escape(short_verdict(f.verdict)) + ")")  # fmt: skip
        falls = ("falls with $n$" if f.measured and f.ci_low > 0
                 else "does not fall with $n$ by more than its CI" if f.measured else "")  # fmt: skip
        if est == CONTROL:
            beats = ""
        elif not c["fails_baselines"]:
            beats = f"; it beats both trivial baselines at every $n \\ge {tex_num(BEATS_FROM)}$"
        else:
            where = ", ".join(tex_num(n) for n in c["fails_baselines"])
            beats = f"; it does not beat both trivial baselines at $n = {where}$"
        failed = f" ({c['failed_rows']} of {c['rows']} rows failed)" if c["failed_rows"] else ""
        if c["flagged_rows"]:
            failed += (f" ({c['flagged_rows']} of {c['rows']} rows flagged rising or unresolved "
                       "at the study's $M$: lower bounds, left out of its fit)")  # fmt: skip
        out.append(f"{_name(est)}'s TV goes from {tex_num(v0)} at $n = {tex_num(n0)}$ to "
                   f"{tex_num(v1)} at $n = {tex_num(n1)}$, {fit}"
                   + (f", and {falls}" if falls else "") + beats + failed + ".")  # fmt: skip
    return " ".join(out)


def generative_text(data: StudyData, resampled_arms=frozenset(), more: str = "") -> str:
    """The section's generated paragraphs, one per arm with its KDE calibration offset, and the
    verdicts' common reading. ``resampled_arms``: arms whose DDPM fits a second folder scores;
    ``more``: a calibration folder with more replicates of the same design, quoted per arm."""
    paras = [_arm_words(data, arm, D, s, arm in resampled_arms) + _offset_words(data, arm, more)
             for arm, D, s in data.arms]  # fmt: skip
    verdicts = {short_verdict(f.verdict) for f in data.fits
                if f.metric == "tv" and f.estimator in MODELS}  # fmt: skip
    if any("measurement chain" in v for v in verdicts):
        paras.append("Where a model's verdict reads ``measurement chain is the limit'', the "
                     "KDE's calibration offset (its exponent from sampled TVs minus the exact "
                     "one, Section~\\ref{sec:results}) is past $\\pm 0.01$: the sampled TV "
                     "could move that exponent by more than the margin, so no verdict against "
                     "the theory is issued.")  # fmt: skip
    return "\n\n".join(paras) + "\n"


def _offset_words(data: StudyData, arm: str, more: str = "") -> str:
    """The gating control's calibration offset in one arm, with its CI's width against the
    gate's; ``more``: a calibration folder of the same design, whose offset follows."""
    again = replicate_offset_words(more, replicate_offsets(more), arm) if more else ""
    cal = gating_pair([c for c in data.calibration if c.arm == arm])
    if cal is None or not cal.measured:
        return " The KDE's calibration offset is not measured in this arm." + again
    half = (cal.ci_high - cal.ci_low) / 2
    head = (f" The KDE's calibration offset (its exponent from sampled TVs at the study's $M$ "
            f"minus the exact one) is {tex_num(cal.difference, signed=True)} "
            f"{tex_ci(cal.ci_low, cal.ci_high, signed=True)} ({cal.sizes} sizes, {cal.pairs} "
            f"pairs): ")  # fmt: skip
    words = tex_gate_words(cal.difference, cal.ci_low, cal.ci_high)
    if not gate_category(cal.difference, cal.ci_low, cal.ci_high).startswith("point"):
        return head + words.replace("its CI", "its 95\\% CI") + "." + again
    return (
        head
        + f"{words}, the half-width of its 95\\% CI {tex_num(half / GATE, 1)} times the gate."
        + again
    )


def resampled_text(data: StudyData, more: str = "") -> str:
    """The paragraphs of a study whose DDPM fits were sampled again: which sampler and M (read
    off its tv rows), then per arm the exponent, the rows left out, the verdict with its
    calibration gate, the KDE and the pair, as for the headline study."""
    tv = data.df[(data.df["metric"] == "tv") & (data.df["estimator"] == "ddpm")]
    samplers = ", ".join(sorted(str(v) for v in tv["sampler"].dropna().unique())) or "?"
    m = tv["m"].dropna()
    ms = (f"$M = {tex_num(int(m.min()))}$ to ${tex_num(int(m.max()))}$ samples per TV estimate"
          if len(m) else "the study's $M$")  # fmt: skip
    intro = (f"The DDPM's networks of this study sampled again with the "
             f"\\texttt{{{latex_escape(samplers)}}} sampler at {ms} "
             f"(\\texttt{{{latex_escape(str(data.folder).rstrip('/'))}}}; the training sets "
             "and seeds are the study's, so the fits are the same and only the sampler and "
             "$M$ differ):")  # fmt: skip
    paras = [arm_paragraph(data, arm).rstrip("\n") + _offset_words(data, arm, more) + "\n"
             for arm, _, _ in data.arms]  # fmt: skip
    return "\\medskip\\noindent " + intro + "\n\n" + "\n".join(paras)


def _pairs(data: StudyData) -> list:
    out = []
    for arm, D, _ in data.arms:
        present = {f.estimator for f in data.arm_fits(arm, "tv")}
        names = [m for m in MODELS if m in present]
        combos = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        combos += [(m, CONTROL) for m in names if CONTROL in present]
        out += [(f"D = {D}: {a} − {b}", data.pair(arm, a, b)) for a, b in combos]
    return out


#: the section's text where no generative folder was given
ABSENT_TEX = ("This build of the paper was not given the generative study "
              "(\\texttt{paper --generative DIR}).\n")  # fmt: skip
TABLES_TEX = (
    "\n\\begin{table*}[tbp]\n\\centering\\small\n\\input{tables/generative}\n"
    "\\caption{DDPM, GAN and VAE beside the KDE and the trivial baselines, on the same training "
    "sets: the TV exponent with its 95\\% CI (log-link fit, CRV3 by $n$) and the verdict "
    "against $s/(2s+D)$.}\n\\label{tab:generative}\n\\end{table*}\n"
    "\\begin{table*}[tbp]\n\\centering\\small\n\\input{tables/generative_pairs}\n"
    "\\caption{Paired slope differences $\\hat a_A-\\hat a_B$ between the generative models and "
    "against the KDE (rows matched by $n$ and replicate, joint CRV3 by $n$).}\n"
    "\\label{tab:generative-pairs}\n\\end{table*}\n"
)


def generative_outputs(folder, figdir: Path, tabdir: Path, textdir: Path, figures: bool = True,
                       resampled=None, calibration=None) -> tuple[list[Path], dict[str, str]]:  # fmt: skip
    """Write ``tables/generative[_pairs].tex|md``, ``text/generative.tex`` and (``figures``)
    one rate figure per arm with ``figures/generative.tex``; return the files and the macros
    (``GenerativeFolder``). Without ``folder`` the text says so. ``resampled``: a results
    folder of the same study's DDPM sampled again, its paragraphs after the tables
    (:func:`resampled_text`); ``calibration``: the KDE of the same design with more replicates
    (studies/calibration_replicates_generative_confirm.toml), its offset quoted per arm."""
    from minimax.reporting.paper import _write_text, figure_env

    if folder is None:
        return [_write_text(textdir / "generative.tex", ABSENT_TEX)], {"GenerativeFolder": "---"}
    data = load_study(folder)
    tv = [f for f in data.fits if f.metric == "tv"]
    files = []
    for name, t in (("generative", exponent_table(tv, data.df)),
                    ("generative_pairs", pair_table(_pairs(data)))):  # fmt: skip
        files.append(_write_text(tabdir / f"{name}.tex", t.latex()))
        files.append(_write_text(tabdir / f"{name}.md", t.markdown()))
    again = load_study(resampled) if resampled is not None else None
    more = ""
    if calibration is not None:
        check_same_design(folder, calibration)
        more = str(calibration)
    body = generative_text(data, {a for a, _, _ in again.arms} if again else frozenset(), more)
    body += TABLES_TEX
    if again is not None:
        body += "\n" + resampled_text(again, more)
    body += "\\input{figures/generative}\n" if figures else ""
    files.append(_write_text(textdir / "generative.tex", body))
    if figures:
        from minimax.reporting.figures import plot_rates

        envs = []
        for arm, D, s in data.arms:
            adf = data.df[(data.df["arm"] == arm) & (data.df["metric"] == "tv")]
            stem = f"generative_rate_D{D}"
            drawn = plot_rates([f for f in tv if f.arm == arm], adf, "tv", None, figdir / stem)
            files += drawn
            if drawn:
                envs.append(figure_env(f"figures/{stem}.pdf",
                                       f"TV against $n$, $D = {D}$, $s = {s:g}$: the DDPM, GAN "
                                       "and VAE beside the KDE and the trivial baselines on the "
                                       "same training sets, with fitted lines "
                                       "(Table~\\ref{tab:generative}).",
                                       f"fig:generative-D{D}", wide=False))  # fmt: skip
        files.append(_write_text(figdir / "generative.tex",
                                 "".join(envs) or "% no positive TV in the generative study\n"))  # fmt: skip
    return files, {"GenerativeFolder": latex_escape(str(folder).rstrip("/"))}
