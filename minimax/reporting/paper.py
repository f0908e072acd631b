"""``python -m minimax.study paper RESULTS_DIR [--exploration DIR ...]``: the paper's
figures, tables, macros and generated text.

Everything is made from stored results folders alone (``results.parquet`` and
``study.json``), never by recomputing a cell (docs/design.md: data moves one way). The
headline is ``RESULTS_DIR`` (the confirmatory study); the ``--exploration`` folders are the
tuning studies, reported as such. Into ``OUT`` it writes

- ``figures/``: per arm the rate plots ``rate_<arm>_<metric>.png|pdf`` and the DDPM's error
  budget ``budget_<arm>``, the exponent figure ``exponents`` and the targets ``targets``, all
  drawn by :mod:`minimax.reporting.figures` (the report's style), and the LaTeX figure
  environments that include them (``exponents.tex``, ``targets.tex``, ``rates.tex``,
  ``score_rates.tex``, ``budget.tex``: appendix grids of two panels per row);
- ``tables/``: exponents, score exponents, targets, budget, hyperparameters and exploration
  as LaTeX (:mod:`.paper_tables`) and Markdown;
- ``macros.tex``: a ``\\newcommand`` for every number and generated sentence the text quotes
  (:mod:`.paper_macros`, :mod:`.paper_text`);
- ``text/arms.tex``: one generated paragraph of results per target (:mod:`.paper_arms`).

All files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minimax.reporting.figures import plot_exponents, plot_rates, plot_targets
from minimax.reporting.figures.budget_parts import plot_budget_parts
from minimax.reporting.figures.pooled_rate import plot_pooled_rates
from minimax.reporting.figures.score_profile import plot_score_profile
from minimax.reporting.figures.style import estimator_style, frame_title
from minimax.reporting.paper_arms import arms_tex, text_macros
from minimax.reporting.paper_budget import absent_components
from minimax.reporting.paper_data import RATE_METRICS, StudyData, load_study
from minimax.reporting.paper_format import fmt, fmt_p, latex_escape, macro_name  # noqa: F401
from minimax.reporting.paper_history import old_claims_macros, recipe_macros, score_steps_macros
from minimax.reporting.paper_macros import count_macros, design_macros, fit_macros, macros_tex
from minimax.reporting.paper_tables import (
    arm_rows,
    budget_table,
    build_arm_target,
    exploration_table,
    exponent_table,
    hyperparameter_table,
    per_seed_table,
    pooled_exponent_table,
    target_table,
)
from minimax.reporting.report import slug
from minimax.study import store
from minimax.study.rates import RateFit

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


@dataclass
class Paper:
    """What ``build_paper`` wrote and the fits its tables were made from."""

    fits: list[RateFit]
    macros: dict[str, str]
    files: list[Path] = field(default_factory=list)
    absent_budget: list[str] = field(default_factory=list)
    #: the headline TV fits: pooled over target seeds where the folder has several
    headline: list = field(default_factory=list)


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    store.atomic_write_bytes(path, text.encode())
    return path


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


def _draw(data: StudyData, figdir: Path) -> tuple[list[Path], dict[str, str]]:
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


def _samples_figure(folder, figdir: Path) -> tuple[list[Path], str, str]:
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


def build_paper(results_dir, out="paper", figures: bool = True, exploration=(),
                ablations=None, samples=None, adaptivity=None, generative=None,
                generative_resampled=None) -> Paper:  # fmt: skip
    """Write the paper's figures, tables, macros and text from stored results folders alone.
    ``ablations``: the folder holding the score-error step-budget ablation
    (``score_steps_x{1,2,4}``; default: ``ablations`` beside ``results_dir``); ``samples``: a
    folder written by the ``samples`` command, drawn as the samples figure; ``adaptivity``:
    the adaptivity study's results folder, its section (:mod:`.paper_adaptivity`);
    ``generative``: the GAN/VAE study's, its section (:mod:`.paper_generative`);
    ``generative_resampled``: that study's DDPM sampled again, paragraphs in the same section."""
    out = Path(out)
    data = load_study(results_dir, measure_targets=True)
    explored = [load_study(d) for d in exploration]
    figdir, tabdir = out / "figures", out / "tables"
    files: list[Path] = []
    samples_sentence = ""
    if figures:
        drawn, envs = _draw(data, figdir)
        files += drawn
        drawn, envs["samples"], samples_sentence = _samples_figure(samples, figdir)
        files += drawn
        for name, env in envs.items():
            files.append(_write_text(figdir / f"{name}.tex", env))
    hyper = hyperparameter_table(data.df, units={u: data.unit_arms(u) for u, _, _ in data.units})
    if data.multi_seed:
        score_metric = "score_integral" if data.headline_fits("score_integral") else "score"
        exponents = pooled_exponent_table(data.headline_fits("tv"), data.units)
        score = pooled_exponent_table(data.headline_fits(score_metric), data.units, score_metric)
        roles = data.roles()
        seeds = per_seed_table([f for f in data.headline_fits("tv")
                                if roles.get(f.estimator) != "trivial"], data.units)  # fmt: skip
    else:
        exponents = exponent_table(data.fits, data.df)
        score = (exponent_table(data.fits, data.df, "score")
                 if any(f.metric == "score" for f in data.fits) else None)  # fmt: skip
        seeds = None
    tables = {
        "exponents": exponents,
        "score_exponents": score,
        "per_seed": seeds,
        "targets": target_table(data.df, data.measured),
        "budget": budget_table(data.budgets, data.units) if data.budgets else None,
        "hyperparameters": hyper,
        "exploration": exploration_table([(e.label, e.df, e.fits) for e in explored])
        if explored
        else None,
    }
    for name, table in tables.items():
        if table is None or not table.cells:
            tex = f"% no rows: the results table holds nothing for the {name} table\n"
            md = f"(no rows: the results table holds nothing for the {name} table)\n"
        else:
            tex, md = table.latex(), table.markdown()
        files.append(_write_text(tabdir / f"{name}.tex", tex))
        files.append(_write_text(tabdir / f"{name}.md", md))
    score_dir = Path(ablations) if ablations is not None else Path(results_dir).parent / "ablations"
    macros = {**design_macros(data), **count_macros(data), **fit_macros(data),
              **text_macros(data, explored), **recipe_macros(data.df), **old_claims_macros(),
              **score_steps_macros(score_dir if score_dir.is_dir() else None)}  # fmt: skip
    macros["MultiSeed"] = "1" if data.multi_seed else "0"
    from minimax.reporting.figures.score_profile import score_profile

    has_profile = any(not score_profile(data.unit_rows(u), "ddpm").empty for u, _, _ in data.units)
    macros["ScoreProfileRef"] = (
        "Figure~\\ref{fig:score-profile} shows the score error against diffusion time $t$"
        if has_profile and figures
        else "This table holds no per-time score errors, so none is drawn against $t$"
    )  # fmt: skip
    macros["ExponentTableNote"] = (
        "pooled over target seeds: the mixed model's fixed slope (REML, the seed's intercept "
        "and slope random effects; the random slope dropped where its variance is on the "
        "boundary), or the mean of the per-seed exponents where the mixed model cannot be used, "
        "with $t$ on $J-1$ degrees of freedom; per seed: its own log-link fit, "
        "Table~\\ref{tab:per-seed}"
        if data.multi_seed
        else "the log-link fit's exponent with its CRV3 cluster-robust CI (clustered by $n$)"
    )
    macros["HyperConstants"] = (
        hyper.constant_note() if hyper is not None and hyper.constant else "none"
    )
    absent = absent_components(data.budgets)
    macros["BudgetAbsent"] = latex_escape(", ".join(absent) or "none")
    macros["NumExploration"] = str(len(explored))
    macros["SamplesSentence"] = samples_sentence
    from functools import partial

    from minimax.reporting.paper_adaptivity import adaptivity_outputs
    from minimax.reporting.paper_generative import generative_outputs

    generative_build = partial(generative_outputs, resampled=generative_resampled)
    for build, folder in ((adaptivity_outputs, adaptivity), (generative_build, generative)):
        written, extra_macros = build(folder, figdir, tabdir, out / "text", figures)
        files += written
        macros.update(extra_macros)
    files.append(_write_text(out / "macros.tex", macros_tex(macros)))
    files.append(_write_text(out / "text" / "arms.tex", arms_tex(data)))
    return Paper(
        fits=data.fits,
        macros=macros,
        files=files,
        absent_budget=absent,
        headline=data.headline_fits("tv"),
    )
