"""The paper's "Does a diffusion model adapt?" from the adaptivity study's results folder.

On a sparse Besov target (p < 1) every linear estimator is slower than the minimax TV rate
(Donoho, Johnstone, Kerkyacharian & Picard 1996; docs/sparse_targets.md): the question is
answered by paired slope differences on the same training sets (DDPM − best KDE, DDPM −
thresholding, thresholding − best KDE) and by whether the best KDE's exponent lies below the
minimax one by more than its CI. Everything here is read from the folder's fits (the same
:func:`~minimax.reporting.paper_data.load_study` as the headline), never recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path

from minimax.reporting.paper_data import StudyData, load_study
from minimax.reporting.paper_format import (
    latex_escape,
    tex_cell,
    tex_ci,
    tex_exp,
    tex_num,
    tex_p,
    verdict_phrase,
)
from minimax.reporting.paper_tables import TEX_NAMES, Table, exponent_table
from minimax.study.calibration import sampled_pair_fits
from minimax.study.paired import PairedFit

#: the paired differences the section reports, in its order
PAIRS = (("ddpm", "kde-oracle"), ("ddpm", "wavelet"), ("ddpm", "kde"),
         ("wavelet", "kde-oracle"), ("wavelet", "kde"))  # fmt: skip


def _name(est: str) -> str:
    return TEX_NAMES.get(est, latex_escape(est))


def _fit_words(f) -> str:
    if f is None or not f.measured:
        return "not measured"
    return f"$\\hat a = {tex_exp(f.exponent)}$ {tex_ci(f.ci_low, f.ci_high)}"


def _span_words(f, sizes) -> str:
    """Where a fit spans fewer sizes than the design (rows left out by flag), which and why."""
    if f is None or not f.measured or f.n_points >= len(sizes):
        return ""
    reasons = sorted(set(f.excluded["reason"])) if "reason" in f.excluded else []
    named = ", ".join(f"\\texttt{{{latex_escape(r.removeprefix('flag '))}}}" for r in reasons)
    why = f"; the rows of the others left out: {named}" if named else ""
    return (f" on $n = {tex_num(f.n_min)}$ to ${tex_num(f.n_max)}$ ({f.n_points} of "
            f"{len(sizes)} sizes{why})")  # fmt: skip


def _pair_words(p: PairedFit | None) -> str:
    if p is None or not p.measured:
        return "not measured"
    return (f"{tex_num(p.difference, signed=True)} "
            f"{tex_ci(p.ci_low, p.ci_high, signed=True)} ({tex_p(p.p_value)})")  # fmt: skip


def pair_table(pairs: list[tuple[str, PairedFit | None]]) -> Table:
    """Paired slope differences: label, difference, 95% CI, p, sizes, pairs, verdict."""
    rows, tex = [], []
    for label, p in pairs:
        if p is None:
            continue
        ok = p.measured
        body = [f"{p.difference:+.3f}" if ok else "---",
                f"[{p.ci_low:+.3f}, {p.ci_high:+.3f}]" if ok else "---",
                f"{p.p_value:.2g}" if ok else "---", str(p.sizes), str(p.pairs)]  # fmt: skip
        rows.append([label, *body, p.verdict])
        tex.append([tex_cell(label.replace(" − ", " - ")).replace(" - ", " $-$ "),
                    *map(tex_cell, body), tex_cell(p.verdict)])  # fmt: skip
    cols = ["pair", "difference", "95% CI", "p", "sizes", "pairs", "verdict"]
    tex_cols = ["pair", "$\\hat a_A-\\hat a_B$", "95\\% CI", "$p$", "sizes", "pairs", "verdict"]
    return Table(cols, rows, "lrlrrrl", tex_columns=tex_cols, tex_cells=tex, wrap=True)


def _target_words(data: StudyData, arm: str) -> tuple[str, float, float]:
    row = data.df[data.df["arm"] == arm].iloc[0]
    params = json.loads(row["target_params"]) if isinstance(row["target_params"], str) else {}
    s, p, D = float(row["s"]), float(row["p"]), int(row["D"])
    sigma = float(params.get("smoothness_l1", s * p))
    minimax = s / (2 * s + D)
    linear = sigma / (2 * sigma + D)
    words = (f"the sparse multiscale target ($D = {D}$, $s = {s:g}$, $p = {p:g}$, target seed "
             f"{int(row['target_seed'])}; $L^1$ smoothness $\\sigma = sp = {tex_num(sigma, 2)}$)")  # fmt: skip
    return words, minimax, linear


def adaptivity_text(data: StudyData) -> str:
    """The section's generated paragraph (every number from the fits)."""
    arm = data.arms[0][0]
    target, minimax, linear = _target_words(data, arm)
    fits = {f.estimator: f for f in data.arm_fits(arm, "tv")}
    oracle, wave, ddpm = fits.get("kde-oracle"), fits.get("wavelet"), fits.get("ddpm")
    sizes = sorted(data.df.loc[data.df["arm"] == arm, "n"].unique())
    reps = int(data.df.loc[data.df["arm"] == arm, "replicate"].nunique())
    out = [
        f"On {target}, $n = {tex_num(int(sizes[0]))}$ to ${tex_num(int(sizes[-1]))}$ "
        f"({len(sizes)} sizes, {reps} replicates per $n$, the same training sets for every "
        f"estimator), the minimax TV exponent is $s/(2s+D) = {tex_num(minimax)}$ and a linear "
        f"estimator's is at most $\\sigma/(2\\sigma+D) = {tex_num(linear)}$."
    ]
    if oracle is not None and oracle.measured:
        below = oracle.ci_high < minimax
        out.append(
            f"The KDE with the best bandwidth for each training set (an oracle) falls as "
            f"{_fit_words(oracle)}, "
            + ("below the minimax exponent by more than its CI" if below
               else "not below the minimax exponent by more than its CI")
            + f"; the KDE at the rule's bandwidth as {_fit_words(fits.get('kde'))}."
        )  # fmt: skip
    if wave is not None:
        out.append(f"Wavelet hard thresholding, the nonlinear control, falls as "
                   f"{_fit_words(wave)}; paired against the best KDE, "
                   f"{_pair_words(data.pair(arm, 'wavelet', 'kde-oracle'))}.")  # fmt: skip
    if ddpm is not None:
        out.append(
            f"The DDPM under the frozen recipe falls as {_fit_words(ddpm)}"
            + _span_words(ddpm, sizes)
            + f"; its verdict against $s/(2s+D)$: {verdict_phrase(ddpm.verdict)}. Paired on the same "
            f"training sets, DDPM $-$ best KDE is "
            f"{_pair_words(data.pair(arm, 'ddpm', 'kde-oracle'))}, DDPM $-$ thresholding "
            f"{_pair_words(data.pair(arm, 'ddpm', 'wavelet'))}"
            + _sampled_words(data, arm) + "."
        )  # fmt: skip
        out.append(_answer(data, arm, ddpm))
        out.append(blur_words(data.folder))
    return "\n".join(w for w in out if w) + "\n"


#: above this share of the DDPM's TV at every n, the early stop's blur sets its slope
BLUR_DOMINATES = 0.8


def blur_words(folder) -> str:
    """The exact early-stop blur beside the DDPM's TV, from ``blur.csv`` (written by
    ``studies/adaptivity_blur.py``); empty where the folder has none."""
    import numpy as np
    import pandas as pd

    path = Path(folder) / "blur.csv"
    if not path.is_file():
        return ""
    b = pd.read_csv(path)
    lo, hi = float(b["blur_share"].min()), float(b["blur_share"].max())
    slope = -float(np.polyfit(np.log(b["n"]), np.log(b["blur_tv"]), 1)[0])
    ratio = float(np.median(b["early_stop_ratio"]))  # c of the DDPM's σ/m = c·n^{-1/(2s+D)}
    text = (f"The exact TV of the early-stop blur alone (the true score, no discretisation, "
            f"stopped at the DDPM's $\\underline T$, $\\sigma/m = {tex_num(ratio, 2)}\\,n^{{-1/(2s+D)}}$) is "
            f"{tex_num(100 * lo, 0)}--{tex_num(100 * hi, 0)}\\% of the DDPM's TV across $n$, "
            f"with exponent {tex_num(slope)} by itself.")  # fmt: skip
    if lo >= BLUR_DOMINATES:
        text += (" The recipe's early stop, the rate-optimal blur for a dense density, sets the "
                 "DDPM's slope here: whether its learned score could follow the spikes is hidden "
                 "under that blur, and answering it needs an early stop that shrinks faster with "
                 "$n$, tuned on another target seed and confirmed in a new study.")  # fmt: skip
    return text


def _sampled_words(data: StudyData, arm: str) -> str:
    """The DDPM − KDE pair with both TVs sampled at the DDPM's M (the sampled-TV offset cancels)."""
    adf = data.df[data.df["arm"] == arm]
    same = [p for p in sampled_pair_fits(adf) if p.first == "ddpm"]
    if not same:
        return ""
    return (f"; with both TVs sampled at the DDPM's $M$ (the sampled estimator's offset cancels), "
            f"DDPM $-$ KDE is {_pair_words(same[0])}")  # fmt: skip


def _answer(data: StudyData, arm: str, ddpm) -> str:
    """One sentence: what the paired differences say about adaptation."""
    vs_oracle = data.pair(arm, "ddpm", "kde-oracle")
    if ddpm is None or not ddpm.measured or vs_oracle is None or not vs_oracle.measured:
        return "The DDPM's exponent is not measured, so this design does not answer the question."
    if vs_oracle.ci_low > 0:
        return ("The DDPM's exponent exceeds the best linear estimator's by more than the paired "
                "CI: on this target it adapts beyond what any KDE attains.")  # fmt: skip
    if vs_oracle.ci_high < 0:
        return ("The DDPM's exponent is below the best KDE's by more than the paired CI: as this "
                "recipe configures it, the DDPM does not adapt on this target at these $n$.")  # fmt: skip
    half = (vs_oracle.ci_high - vs_oracle.ci_low) / 2
    return (f"The paired CI of DDPM $-$ best KDE contains 0 (half-width {tex_num(half)}): this "
            "design does not tell whether the DDPM adapts beyond a linear estimator.")  # fmt: skip


#: the section's text where no adaptivity folder was given
ABSENT_TEX = ("This build of the paper was not given the adaptivity study "
              "(\\texttt{paper --adaptivity DIR}).\n")  # fmt: skip
#: the two tables of the section, placed after its paragraph
TABLES_TEX = (
    "\n\\begin{table*}[tbp]\n\\centering\\small\n\\input{tables/adaptivity}\n"
    "\\caption{Adaptivity study: the TV exponent of each estimator on the sparse multiscale "
    "target with its 95\\% CI (log-link fit, CRV3 by $n$) and verdict against $s/(2s+D)$.}\n"
    "\\label{tab:adaptivity}\n\\end{table*}\n"
    "\\begin{table*}[tbp]\n\\centering\\small\n\\input{tables/adaptivity_pairs}\n"
    "\\caption{Adaptivity study: paired slope differences $\\hat a_A-\\hat a_B$ on the same "
    "training sets (rows matched by $n$ and replicate, joint CRV3 by $n$); \\emph{(sampled)}: "
    "the control's TV scored from its samples at the DDPM's $M$, so that the sampled "
    "estimator's offset cancels.}\n\\label{tab:adaptivity-pairs}\n\\end{table*}\n"
)


def adaptivity_outputs(folder, figdir: Path, tabdir: Path, textdir: Path,
                       figures: bool = True) -> tuple[list[Path], dict[str, str]]:  # fmt: skip
    """Write ``tables/adaptivity[_pairs].tex|md``, ``text/adaptivity.tex`` and (``figures``)
    ``figures/adaptivity_rate.png|pdf`` with its ``figures/adaptivity.tex``; return the files
    and the macros (``AdaptivityFolder``). Without ``folder`` each file says so."""
    from minimax.reporting.paper import _write_text, figure_env

    files: list[Path] = []
    if folder is None:
        files.append(_write_text(textdir / "adaptivity.tex", ABSENT_TEX))
        return files, {"AdaptivityFolder": "---"}
    data = load_study(folder)
    arm = data.arms[0][0]
    tv = [f for f in data.fits if f.metric == "tv"]
    table = exponent_table(tv, data.df)
    pairs = [(f"{a} − {b}", data.pair(arm, a, b)) for a, b in PAIRS]
    adf = data.df[data.df["arm"] == arm]
    pairs += [(f"{p.first} − {p.second}", p) for p in sampled_pair_fits(adf)]
    ptable = pair_table(pairs)
    for name, t in (("adaptivity", table), ("adaptivity_pairs", ptable)):
        files.append(_write_text(tabdir / f"{name}.tex", t.latex()))
        files.append(_write_text(tabdir / f"{name}.md", t.markdown()))
    body = adaptivity_text(data) + TABLES_TEX + ("\\input{figures/adaptivity}\n" if figures else "")
    files.append(_write_text(textdir / "adaptivity.tex", body))
    if figures:
        from minimax.reporting.figures import plot_rates

        drawn = plot_rates(tv, adf[adf["metric"] == "tv"], "tv", None,
                           figdir / "adaptivity_rate")  # fmt: skip
        files += drawn
        env = (figure_env("figures/adaptivity_rate.pdf",
                          "TV against $n$ on the sparse multiscale target: every estimator of "
                          "the adaptivity study on the same training sets, with its fitted "
                          "line and the minimax slope $s/(2s+D)$ (Table~\\ref{tab:adaptivity}).",
                          "fig:adaptivity", wide=False)
               if drawn else "% no positive TV in the adaptivity study\n")  # fmt: skip
        files.append(_write_text(figdir / "adaptivity.tex", env))
    macros = {"AdaptivityFolder": latex_escape(str(folder).rstrip("/"))}
    return files, macros
