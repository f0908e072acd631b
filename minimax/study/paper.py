"""``python -m minimax.study paper RESULTS_DIR [--exploration DIR ...]``: the paper's
figures, tables, macros and generated text.

Everything is made from stored results folders alone (``results.parquet`` and
``study.json``), never by recomputing a cell (docs/design.md: data moves one way). The
headline is ``RESULTS_DIR`` (the confirmatory study); the ``--exploration`` folders are the
tuning studies, reported as such. Into ``OUT`` it writes

- ``figures/``: per arm the rate plots ``rate_<arm>_<metric>.png|pdf`` and the DDPM's error
  budget ``budget_<arm>``, the exponent figure ``exponents`` and the targets ``targets``, all
  drawn by :mod:`minimax.study.figures` (the report's style), and the LaTeX figure
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

from minimax.study import store
from minimax.study.figures import plot_budget, plot_exponents, plot_rates, plot_targets
from minimax.study.figures.style import frame_title
from minimax.study.paper_arms import arms_tex, text_macros
from minimax.study.paper_budget import absent_components
from minimax.study.paper_data import RATE_METRICS, StudyData, load_study
from minimax.study.paper_format import fmt, fmt_p, latex_escape, macro_name  # noqa: F401
from minimax.study.paper_macros import count_macros, design_macros, fit_macros, macros_tex
from minimax.study.paper_tables import (
    arm_rows,
    budget_table,
    build_arm_target,
    exploration_table,
    exponent_table,
    hyperparameter_table,
    target_table,
)
from minimax.study.rates import RateFit
from minimax.study.report import slug

#: panels per appendix figure (two per row)
GRID_PANELS = 4

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
    if not paths:
        return "% none\n"
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


def _draw(data: StudyData, figdir: Path) -> tuple[list[Path], dict[str, str]]:
    """Every figure of the headline study and the LaTeX environments that include them."""
    files, panels = [], {m: [] for m in RATE_METRICS}
    # one legend height per grid: the most estimators of any arm plus the key entries
    rows = {m: 5 + max((len(data.arm_fits(a, m)) for a, _, _ in data.arms), default=0)
            for m in RATE_METRICS}  # fmt: skip
    for arm, _, _ in data.arms:
        adf = data.df[data.df["arm"] == arm]
        for metric in RATE_METRICS:
            fits = data.arm_fits(arm, metric)
            if not fits:
                continue
            name = f"rate_{slug(arm)}_{metric}"
            drawn = plot_rates(fits, adf[adf["metric"] == metric], metric, None, figdir / name,
                               legend_rows=rows[metric])  # fmt: skip
            files += drawn
            if drawn:
                panels[metric].append(f"figures/{name}.pdf")
    budget_panels = []
    # as many legend rows as the fullest panel draws (a column of zeros is not drawn)
    budget_rows = max((int((b.astype(float).abs() > 0).any().sum()) for b in data.budgets.values()),
                      default=0)  # fmt: skip
    for arm, _, _ in data.arms:
        if arm in data.budgets:
            drawn = plot_budget(data.budgets[arm], frame_title(data.df[data.df["arm"] == arm], arm),
                                figdir / f"budget_{slug(arm)}", budget_rows)  # fmt: skip
            files += drawn
            if drawn:
                budget_panels.append(f"figures/budget_{slug(arm)}.pdf")
    arms = {a: (D, s) for a, D, s in data.arms}
    ex = plot_exponents(data.fits, arms, figdir / "exponents", data.roles())
    files += ex
    targets = [(frame_title(data.df[data.df["arm"] == a], a).split(", ", 1)[1], build_arm_target(r))
               for a, r in arm_rows(data.df).items()]  # fmt: skip
    tg = plot_targets(targets, figdir / "targets")
    files += tg
    envs = {
        "exponents": figure_env(
            "figures/exponents.pdf",
            (
                "Measured TV exponent $\\hat a$ (error $\\propto n^{-\\hat a}$, log-link fit with "
                "CRV3 cluster-robust 95\\% CI) against the smoothness $s$, per dimension $D$ and "
                "estimator, beside the minimax exponent $s/(2s+D)$. Open markers: fits whose every "
                "usable row was flagged by the TV estimator, drawn with those rows kept (lower "
                "bounds: indicative only); unmeasurable fits and the trivial baselines (exponent 0 "
                "by construction) are not drawn. Table~\\ref{tab:exponents} gives every fit."
            ),
            "fig:exponents",
        )
        if ex
        else "% no exponent could be measured\n",  # fmt: skip
        "targets": figure_env(
            "figures/targets.pdf",
            (
                "The target densities $q$ of this study: the $D=1$ targets as curves, each $D=2$ "
                "target as a heat map on $[-1,1]^2$. Each is a random-sign multilevel B-spline "
                "density of exact Besov smoothness $s$ (Table~\\ref{tab:targets})."
            ),
            "fig:targets",
        )
        if tg
        else "% no target\n",  # fmt: skip
        "rates": grid_env(
            panels["tv"], RATE_CAPTION.format(what="TV", theory="$s/(2s+D)$"), "fig:rates"
        ),
        "score_rates": grid_env(
            panels["score"],
            RATE_CAPTION.format(
                what="The DDPM's $\\sigma^2$-weighted score error", theory="$2s/(2s+D)$"
            ),
            "fig:score-rates",
        ),  # fmt: skip
        "budget": grid_env(
            budget_panels,
            (
                "The DDPM's error budget per $n$: means over replicates of each component the "
                "results table holds (Table~\\ref{tab:budget}). TV, sampler TV, floor and mass "
                "outside the box are on the TV scale; the score error and the loss gap (held-out "
                "$-$ training loss, positive: memorisation; open markers: negative, drawn at its "
                "absolute value) are in their own units."
            ),
            "fig:budgets",
            per=6,
        ),  # fmt: skip
    }
    return files, envs


def build_paper(results_dir, out="paper", figures: bool = True, exploration=()) -> Paper:
    """Write the paper's figures, tables, macros and text from stored results folders alone."""
    out = Path(out)
    data = load_study(results_dir, measure_targets=True)
    explored = [load_study(d) for d in exploration]
    figdir, tabdir = out / "figures", out / "tables"
    files: list[Path] = []
    if figures:
        drawn, envs = _draw(data, figdir)
        files += drawn
        for name, env in envs.items():
            files.append(_write_text(figdir / f"{name}.tex", env))
    hyper = hyperparameter_table(data.df)
    tables = {
        "exponents": exponent_table(data.fits, data.df),
        "score_exponents": exponent_table(data.fits, data.df, "score")
        if any(f.metric == "score" for f in data.fits)
        else None,
        "targets": target_table(data.df, data.measured),
        "budget": budget_table(data.budgets, data.arms) if data.budgets else None,
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
    macros = {**design_macros(data), **count_macros(data), **fit_macros(data),
              **text_macros(data, explored)}  # fmt: skip
    macros["HyperConstants"] = (
        hyper.constant_note() if hyper is not None and hyper.constant else "none"
    )
    absent = absent_components(data.budgets)
    macros["BudgetAbsent"] = latex_escape(", ".join(absent) or "none")
    macros["NumExploration"] = str(len(explored))
    files.append(_write_text(out / "macros.tex", macros_tex(macros)))
    files.append(_write_text(out / "text" / "arms.tex", arms_tex(data)))
    return Paper(fits=data.fits, macros=macros, files=files, absent_budget=absent)
