"""The paper's figures from one loaded study: the rate plots, error budgets and score profiles
per unit, the exponent and target figures, the samples figure, and the LaTeX figure
environments that include them (appendix grids of two panels per row), for
:func:`minimax.reporting.paper.build_paper`."""

from __future__ import annotations

from pathlib import Path

from minimax.reporting.figures import plot_exponents, plot_rates, plot_targets
from minimax.reporting.figures.budget_parts import plot_budget_parts
from minimax.reporting.figures.pooled_rate import plot_pooled_rates
from minimax.reporting.figures.score_profile import plot_score_profile
from minimax.reporting.figures.style import estimator_style, frame_title
from minimax.reporting.paper_data import RATE_METRICS, StudyData
from minimax.reporting.paper_tables import arm_rows, build_arm_target
from minimax.reporting.report import slug

#: panels per appendix figure (two per row)
GRID_PANELS = 4

POOLED_RATE_CAPTION = (
    "{what} against $n$ per target class, every target seed together. Small markers: each seed's "
    "rows; large: means over seeds $\\pm$ se; line: the exponent pooled over seeds (the seed a "
    "random effect), drawn through the centre of the data, its 95\\% CI as the fan; dotted: the "
    "theory's slope {theory} through the same centre; dashed: the noise floor of a TV estimated "
    "from samples. Open markers: rows a seed's own fit left out, the reason in the legend. Each "
    "estimator has the same colour and marker in every figure."
)
RATE_CAPTION = (
    "{what} against $n$ per target. Small markers: replicates; large: means $\\pm$ se; line "
    "and band: the fit with its 95\\% CI; dotted: the theory's slope {theory} through the "
    "fitted points; dashed: the noise floor of a TV estimated from samples (an explicit "
    "density has none). Open markers: rows and sizes the fit left out, the reason in the "
    "legend. Each estimator has the same colour and marker in every figure."
)


def figure_env(path: str, caption: str, label: str, wide: bool = True) -> str:
    env = "figure*" if wide else "figure"
    width = "\\textwidth" if wide else "\\columnwidth"
    return (f"\\begin{{{env}}}[tbp]\n\\centering\n\\includegraphics[width={width}]{{{path}}}\n"
            f"\\caption{{{caption}}}\n\\label{{{label}}}\n\\end{{{env}}}\n")  # fmt: skip


def grid_env(paths: list[str], caption: str, label: str, per: int = GRID_PANELS) -> str:
    """Figures of ``per`` panels, two per row at (almost) their drawn width, the first
    captioned and labelled, the rest captioned as continued."""
    if not paths:  # a captioned note keeps every reference to the figure valid
        what = caption.split(" against ")[0].split(" per ")[0].rstrip(".")
        return (f"\\begin{{figure*}}[tbp]\n\\centering\n\\caption{{{what}: this results table "
                f"holds nothing to draw.}}\n\\label{{{label}}}\n\\end{{figure*}}\n")  # fmt: skip
    out = []
    for k in range(0, len(paths), per):
        chunk = paths[k : k + per]
        rows = []
        for i in range(0, len(chunk), 2):
            pair = [f"\\includegraphics[width=0.49\\textwidth]{{{p}}}" for p in chunk[i : i + 2]]
            rows.append("\\hfill\n".join(pair))
        body = "\n\\par\\medskip\n".join(rows)
        cap = caption if k == 0 else "(Continued.) " + caption.split(". ")[0] + "."
        lab = f"\\label{{{label}}}\n" if k == 0 else ""
        out.append(
            f"\\begin{{figure*}}[tbp]\n\\centering\n{body}\n\\caption{{{cap}}}\n{lab}\\end{{figure*}}\n"
        )
    return "".join(out)


def _seed_fits(data: StudyData, unit: str, metric: str) -> dict:
    """(estimator, target seed) -> the per-seed RateFit of a group's arms."""
    seed_of = data.df.drop_duplicates("arm").set_index("arm")["target_seed"].to_dict()
    return {(f.estimator, seed_of[f.arm]): f for a in data.unit_arms(unit)
            for f in data.arm_fits(a, metric)}  # fmt: skip


def _unit_title(data: StudyData, unit: str) -> str:
    title = frame_title(data.unit_rows(unit), unit)
    if unit in data.pooled.groups:
        title += f" ({len(data.unit_arms(unit))} seeds)"
    return title


def draw_figures(data: StudyData, figdir: Path) -> tuple[list[Path], dict[str, str]]:
    """Every figure of the headline study and the LaTeX environments that include them: per
    unit (an arm, or a group of target seeds drawn together with its pooled fit) the rate
    plots, the budget and the score profile; the exponent figure; the targets."""
    files, panels = [], {m: [] for m in RATE_METRICS}
    units = data.units
    # one legend height per grid: the most estimators of any unit plus the key entries
    rows = {}
    for m in RATE_METRICS:
        fits = data.headline_fits(m)
        rows[m] = 5 + max((sum(f.arm == u for f in fits) for u, _, _ in units), default=0)
    for unit, _, _ in units:
        udf = data.unit_rows(unit)
        for metric in RATE_METRICS:
            name = f"rate_{slug(unit)}_{metric}"
            if unit in data.pooled.groups:
                fits = [f for f in data.headline_fits(metric) if f.arm == unit]
                if not fits:
                    continue
                drawn = plot_pooled_rates(fits, _seed_fits(data, unit, metric), udf, metric,
                                          _unit_title(data, unit), figdir / name,
                                          legend_rows=rows[metric])  # fmt: skip
            else:
                fits = data.arm_fits(unit, metric)
                if not fits:
                    continue
                drawn = plot_rates(fits, udf[udf["metric"] == metric], metric, None,
                                   figdir / name, legend_rows=rows[metric])  # fmt: skip
            files += drawn
            if drawn:
                panels[metric].append(f"figures/{name}.pdf")
    budget_panels, profile_panels = [], []
    for unit, _, _ in units:
        if unit in data.budgets:
            drawn = plot_budget_parts(data.budgets[unit], _unit_title(data, unit),
                                      figdir / f"budget_{slug(unit)}", 3)  # fmt: skip
            files += drawn
            if drawn:
                budget_panels.append(f"figures/budget_{slug(unit)}.pdf")
        stem = figdir / f"score_profile_{slug(unit)}"
        drawn = plot_score_profile(data.unit_rows(unit), "ddpm", _unit_title(data, unit), stem)
        files += drawn
        if drawn:
            profile_panels.append(f"figures/{stem.name}.pdf")
    arms = {a: (D, s) for a, D, s in units}
    ex = plot_exponents(data.headline_fits("tv"), arms, figdir / "exponents", data.roles())
    files += ex
    targets = []
    for a, r in arm_rows(data.df).items():
        unit = next((u for u, _, _ in units if a in data.unit_arms(u)), a)
        title = frame_title(data.df[data.df["arm"] == a], a).split(", ", 1)[1]
        if unit in data.pooled.groups:
            targets.append((f"s = {float(r['s']):g}", f"seed {int(r['target_seed'])}",
                            build_arm_target(r)))  # fmt: skip
        else:
            targets.append((title, build_arm_target(r)))
    tg = plot_targets(targets, figdir / "targets")
    files += tg
    pooled = data.multi_seed
    exp_caption = (
        "Measured TV exponent $\\hat a$ (error $\\propto n^{-\\hat a}$) with its 95\\% CI "
        + ("pooled over target seeds (the seed a random effect; $t$ on $J-1$ degrees of freedom)"
           if pooled else "(log-link fit, CRV3 cluster-robust)")
        + (", each seed's own exponent beside it (small markers)," if pooled else "")
        + " against the smoothness $s$, per dimension $D$ and estimator, beside the minimax "
        "exponent $s/(2s+D)$. Open markers: fits whose every usable row was flagged by the TV "
        "estimator, drawn with those rows kept (lower bounds: indicative only); unmeasurable fits "
        "and the trivial baselines (exponent 0 by construction) are not drawn. "
        "Table~\\ref{tab:exponents} gives every fit."
    )  # fmt: skip
    rate_caption = POOLED_RATE_CAPTION if pooled else RATE_CAPTION
    envs = {
        "exponents": figure_env(
            "figures/exponents.pdf",
            exp_caption,
            "fig:exponents",
            wide=len({D for _, D, _ in units}) > 1,
        )
        if ex
        else "% no exponent could be measured\n",  # fmt: skip
        "targets": figure_env(
            "figures/targets.pdf",
            (
                "The target densities $q$ of this study"
                + (
                    ", one panel per class, each target seed a curve"
                    if pooled
                    else ": the $D=1$ targets as curves, each $D=2$ target as a heat map on $[-1,1]^2$"
                )
                + ". Each is a random-sign multilevel B-spline density of exact Besov smoothness "
                "$s$ (Table~\\ref{tab:targets})."
            ),
            "fig:targets",
        )
        if tg
        else "% no target\n",  # fmt: skip
        "rates": grid_env(
            panels["tv"], rate_caption.format(what="TV", theory="$s/(2s+D)$"), "fig:rates"
        ),
        "score_rates": grid_env(
            panels["score_integral"] or panels["score"],
            rate_caption.format(
                what=(
                    "The time integral of the DDPM's score error"
                    if panels["score_integral"]
                    else "The DDPM's $\\sigma^2$-weighted score error"
                ),
                theory="$2s/(2s+D)$",
            ),
            "fig:score-rates",
        ),  # fmt: skip
        "budget": grid_env(
            budget_panels,
            (
                "The DDPM's error budget per $n$ (Table~\\ref{tab:budget}): its TV and the "
                "parts that add up to it, the exact early-stop blur, the sampler's discretisation "
                "and prior mismatch (oracle-score TV at the DDPM's $M$ $-$ blur) and the learned "
                "score's part (TV $-$ oracle-score TV), as means"
                + (" over every seed's row" if pooled else " over replicates")
                + " $\\pm$ 95\\% CIs (1.96 se; the blur is exact). Where most oracle-score TVs at "
                "an $n$ are flagged unresolved at the DDPM's $M$ (or none was run), the sampler's and "
                "the learned score's parts are drawn as one, TV $-$ blur. Parts are drawn slightly "
                "apart along $n$ so that their bars do not overlap."
            ),
            "fig:budgets",
            per=6,
        ),  # fmt: skip
        "score_profile": grid_env(
            profile_panels,
            (
                "The DDPM's score error $\\mathbb{E}\\|\\hat s-\\nabla\\log q_t\\|^2$ against "
                "diffusion time $t$, one line per $n$ (light to dark as $n$ grows), means over "
                + ("every seed's row" if pooled else "replicates")
                + " $\\pm$ 2 se, on the time grid the score metric shares across $n$."
            ),
            "fig:score-profile",
        ),  # fmt: skip
    }
    return files, envs


def samples_figure(folder, figdir: Path) -> tuple[list[Path], str, str]:
    """The samples figure from a ``samples`` folder: files, its LaTeX environment and the
    sentence that cites it (empty without a folder)."""
    if folder is None:
        return [], "% no samples folder (paper --samples DIR)\n", ""
    from minimax.reporting.figures.samples import plot_samples
    from minimax.study.samples import load_samples

    drawn = load_samples(folder)
    files = plot_samples(drawn, figdir / "samples")
    sizes = sorted({c.n for c in drawn})
    est = estimator_style(drawn[0].estimator).label
    same = all(c.reproduced for c in drawn)
    caption = (
        f"Samples of the {est} against the target $q$ (black) at $n = "
        + ", ".join(f"{n:,}".replace(",", "{,}") for n in sizes)
        + "$: histograms of the first "
        + f"{max(len(c.samples) for c in drawn):,}".replace(",", "{,}")
        + " of the $M$ samples its TV was computed from, in the confirmatory study's cells "
        "refitted from their seeds; "
        + ("each recomputed TV equals the stored one" if same
           else "a recomputed TV differs from the stored one (the code changed since)")
        + " (\\texttt{python -m minimax.study samples})."
    )  # fmt: skip
    sentence = (f"Figure~\\ref{{fig:samples}} draws the {est}'s samples against $q$ at the "
                "smallest and the largest $n$.")  # fmt: skip
    return files, figure_env("figures/samples.pdf", caption, "fig:samples", wide=False), sentence
