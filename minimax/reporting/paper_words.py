"""The paper's vocabulary for estimators, arms and fits in running text, shared by every
module that writes its sentences."""

from __future__ import annotations

from minimax.reporting.figures import target_title
from minimax.reporting.paper_data import StudyData
from minimax.reporting.paper_format import join_words, latex_escape, tex_ci, tex_exp

#: estimators in running text
NAMES = {"ddpm": "the DDPM", "kde": "the KDE", "ddpm-fixed-tmin": "the DDPM with frozen $\\underline{T}$",
         "oracle-score": "the oracle-score sampler", "empirical-score": "the empirical-score sampler",
         "uniform": "the uniform density", "gaussian": "the best Gaussian", "gan": "the GAN",
         "vae": "the VAE", "wavelet": "the wavelet estimator", "kde-oracle": "the oracle-bandwidth KDE"}  # fmt: skip


def name(est: str) -> str:
    return NAMES.get(est, f"\\texttt{{{latex_escape(est)}}}")


def arm_words(data: StudyData, arm: str) -> str:
    """The human title of an arm, with its symbols in math: "Besov, $D=2$, $s=1.5$, jump at
    the boundary"."""
    r = data.unit_rows(arm).iloc[0]
    words = target_title(r["target"], r["D"]).split(",")[0]
    parts = [words, f"$D={int(r['D'])}$", f"$s={float(r['s']):g}$"]
    if float(r["p"]) != 2.0:
        parts.append(f"$p={float(r['p']):g}$")
    full = target_title(r["target"], r["D"], None, None, r["boundary"])
    parts.append(full.split(", ")[-1])
    return ", ".join(parts)


def fit_words(f) -> str:
    """ "0.185 [0.095, 0.275] against 0.250" """
    return f"{tex_exp(f.exponent)} {tex_ci(f.ci_low, f.ci_high)} against {tex_exp(f.theory)}"


def arm_phrase(data: StudyData, arm: str) -> str:
    """An arm inside a sentence: "the Besov target with $D=1$, $s=1$ and a jump at the
    boundary"."""
    r = data.unit_rows(arm).iloc[0]
    kind = target_title(r["target"], r["D"]).split(",")[0]
    sym = [f"$D={int(r['D'])}$", f"$s={float(r['s']):g}$"]
    if float(r["p"]) != 2.0:
        sym.append(f"$p={float(r['p']):g}$")
    bound = {"band": "a jump at the boundary", "smooth": "a smooth decay at the boundary"}
    sym.append(bound.get(str(r["boundary"]), f"the {r['boundary']} boundary"))
    return f"the {kind} target with {join_words(sym)}"
