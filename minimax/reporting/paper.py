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
  ``score_rates.tex``, ``budget.tex``: appendix grids of two panels per row), both made by
  :mod:`.paper_figures`;
- ``tables/``: exponents, score exponents, targets, budget, hyperparameters and exploration
  as LaTeX (:mod:`.paper_tables`, :mod:`.paper_pooled_tables`) and Markdown;
- ``macros.tex``: a ``\\newcommand`` for every number and generated sentence the text quotes
  (:mod:`.paper_macros`, :mod:`.paper_text`);
- ``text/arms.tex``: one generated paragraph of results per target (:mod:`.paper_arms`).

All files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minimax.reporting.paper_arms import arms_tex, text_macros
from minimax.reporting.paper_budget import absent_components
from minimax.reporting.paper_calibration import calibration_replicates_sentence
from minimax.reporting.paper_data import load_study

# figure_env is re-exported: paper_adaptivity and paper_generative import it from here
from minimax.reporting.paper_figures import draw_figures, figure_env, samples_figure  # noqa: F401
from minimax.reporting.paper_format import fmt, fmt_p, latex_escape, macro_name  # noqa: F401
from minimax.reporting.paper_history import old_claims_macros, recipe_macros, score_steps_macros
from minimax.reporting.paper_macros import count_macros, design_macros, fit_macros, macros_tex
from minimax.reporting.paper_pooled_tables import per_seed_table, pooled_exponent_table
from minimax.reporting.paper_tables import (
    budget_table,
    exploration_table,
    exponent_table,
    hyperparameter_table,
    target_table,
)
from minimax.study import store
from minimax.study.rates import RateFit


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


def build_paper(results_dir, out="paper", figures: bool = True, exploration=(),
                ablations=None, samples=None, adaptivity=None, generative=None,
                generative_resampled=None, calibration=None,
                generative_calibration=None) -> Paper:  # fmt: skip
    """Write the paper's figures, tables, macros and text from stored results folders alone.
    ``ablations``: the folder holding the score-error step-budget ablation
    (``score_steps_x{1,2,4}``; default: ``ablations`` beside ``results_dir``); ``samples``: a
    folder written by the ``samples`` command, drawn as the samples figure; ``adaptivity``:
    the adaptivity study's results folder, its section (:mod:`.paper_adaptivity`);
    ``generative``: the GAN/VAE study's, its section (:mod:`.paper_generative`);
    ``generative_resampled``: that study's DDPM sampled again, paragraphs in the same section;
    ``calibration``: the headline's calibration arm with more replicates, a sentence beside its
    own offsets (:mod:`.paper_calibration`); ``generative_calibration``: the same for the
    GAN/VAE study, quoted per arm in its section."""
    out = Path(out)
    data = load_study(results_dir, measure_targets=True)
    explored = [load_study(d) for d in exploration]
    figdir, tabdir = out / "figures", out / "tables"
    files: list[Path] = []
    samples_sentence = ""
    if figures:
        drawn, envs = draw_figures(data, figdir)
        files += drawn
        drawn, envs["samples"], samples_sentence = samples_figure(samples, figdir)
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
    macros["CalibrationReplicatesSentence"] = calibration_replicates_sentence(data, calibration)
    from functools import partial

    from minimax.reporting.paper_adaptivity import adaptivity_outputs
    from minimax.reporting.paper_generative import generative_outputs

    generative_build = partial(generative_outputs, resampled=generative_resampled,
                               calibration=generative_calibration)  # fmt: skip
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
