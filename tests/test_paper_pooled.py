"""The paper from a results folder with several target seeds per arm (the confirmatory study's
shape): its headline numbers are the pooled fits across seeds, its figures one per group, its
budget budget.budget_components over the group's rows. The folder is synthetic, built from
the real tiny fixture's rows (tests/paper_multiseed.py)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from paper_multiseed import SEEDS, write_multiseed
from test_paper import _macros, _markdown_rows, _number

from minimax.reporting.paper import build_paper
from minimax.reporting.paper_format import macro_name, tex_num
from minimax.reporting.paper_pooled import calibration_offsets, group_label
from minimax.reporting.pooled_report import pooled_section
from minimax.reporting.report import slug, study_margins
from minimax.study import pooled
from minimax.study.budget import Z95, budget_components
from minimax.study.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("pooled_paper")
    results = write_multiseed(base / "results" / "confirm")
    out = base / "paper"
    assert main(["paper", str(results), "--out", str(out)]) == 0
    return results, out


def _groups(df):
    return list(dict.fromkeys(df["arm"].map(group_label)))


def test_macros_hold_the_pooled_fits_numbers(built):
    results, out = built
    df = pd.read_parquet(results / "results.parquet")
    macros = _macros(out / "macros.tex")
    assert macros["MultiSeed"] == "1"
    fits = pooled.pooled_fits(df, "tv", study_margins(results) or 0.05)
    assert {f.arm for f in fits} == set(_groups(df))
    for f in fits:
        if f.estimator not in ("ddpm", "kde"):
            continue
        r = df[df["arm"].map(group_label) == f.arm].iloc[0]
        tag = macro_name(f.estimator, "D", int(r["D"]), "S", float(r["s"]))
        assert _number(macros[f"Exp{tag}"]) == pytest.approx(f.exponent, abs=5e-4)
        assert _number(macros[f"ExpLo{tag}"]) == pytest.approx(f.ci_low, abs=5e-4)
        assert _number(macros[f"ExpHi{tag}"]) == pytest.approx(f.ci_high, abs=5e-4)
        assert macros[f"Seeds{tag}"] == str(f.J) == str(len(SEEDS))
        a = f.per_seed["exponent"]
        assert _number(macros[f"SeedExpMin{tag}"]) == pytest.approx(a.min(), abs=5e-4)
    for p in pooled.pooled_paired(df, "ddpm", "kde", "tv", study_margins(results) or 0.05):
        r = df[df["arm"].map(group_label) == p.arm].iloc[0]
        tag = macro_name("D", int(r["D"]), "S", float(r["s"]))
        assert macros[f"PairDdpmKde{tag}"] == tex_num(p.stage["exponent"], signed=True)
        assert macros[f"PairDdpmKdeLo{tag}"] == tex_num(p.stage["ci_low"], signed=True)
    # the headline sentence quotes the pooled DDPM exponent of every group
    ddpm = [f for f in fits if f.estimator == "ddpm"]
    for f in ddpm:
        assert tex_num(f.exponent) in macros["HeadlineSentence"]
        assert tex_num(f.exponent) in macros["ChangesSentence"]
    assert "Pooled over five target functions" in macros["HeadlineSentence"]


def test_headline_table_has_the_pooled_sections_verdicts(built):
    results, out = built
    df = pd.read_parquet(results / "results.parquet")
    margins = study_margins(results) or 0.05
    _, frame, _ = pooled_section(df, margins, calibration_offsets(df, margins))
    frame = frame[frame["metric"] == "tv"]
    rows = _markdown_rows(out / "tables" / "exponents.md")
    assert len(rows) == len(frame) > 0
    for r in frame.itertuples():
        D = int(df.loc[df["arm"].map(group_label) == r.arm, "D"].iloc[0])
        s = float(df.loc[df["arm"].map(group_label) == r.arm, "s"].iloc[0])
        (row,) = [x for x in rows if (x["D"], x["s"], x["estimator"]) == (str(D), f"{s:g}",
                                                                          r.estimator)]  # fmt: skip
        assert row["verdict"] == r.verdict  # the calibration gate and design note included
        assert float(row["exponent"]) == pytest.approx(r.exponent, abs=5e-4)
        assert row["J"] == str(r.J)
    # the DDPM's pooled verdict carries the budget's design note (blur + sampler = 30% here)
    ddpm = frame[frame["estimator"] == "ddpm"]
    assert ddpm["verdict"].str.contains("the design (early-stop blur + sampler)", regex=False).all()
    tex = (out / "tables" / "exponents.tex").read_text()
    assert "\\textsuperscript{\\ddag}" in tex
    # every seed's own fit is in the appendix table
    seeds = _markdown_rows(out / "tables" / "per_seed.md")
    assert {int(r["seed"]) for r in seeds} == set(SEEDS)
    assert {r["estimator"] for r in seeds} == {"ddpm", "kde"}  # not the trivial baselines


def test_budget_is_budget_components_over_each_groups_rows(built):
    results, out = built
    df = pd.read_parquet(results / "results.parquet")
    rows = _markdown_rows(out / "tables" / "budget.md")
    assert rows
    for g in _groups(df):
        sub = df[df["arm"].map(group_label) == g]
        comps = budget_components(sub, "ddpm")
        s = f"{float(sub['s'].iloc[0]):g}"
        for n, c in comps.items():
            (row,) = [r for r in rows if (r["s"], r["n"]) == (s, str(n))]
            for key, col in (("tv", "TV"), ("sampler", "sampler (oracle − blur)"),
                             ("learned", "learned (TV − oracle)")):  # fmt: skip
                value, half = (float(v) for v in row[col].split(" ± "))
                assert value == pytest.approx(c[key], abs=5e-5)
                assert half == pytest.approx(Z95 * c[f"{key}_se"], abs=5e-5)
            assert float(row["early-stop blur"]) == pytest.approx(c["blur"], abs=5e-5)
            assert row["design share"] == f"{100 * c['design_share']:.0f}%"
    # "largest" is among blur / sampler / learned only
    text = _macros(out / "macros.tex")["BudgetSentence"]
    assert "the largest part is the learned score's part" in text
    assert "floor" not in text.split("largest part")[1].split(".")[0]


def test_one_figure_per_group_not_per_seed(built):
    results, out = built
    df = pd.read_parquet(results / "results.parquet")
    figs = out / "figures"
    for g in _groups(df):
        for stem in (f"rate_{slug(g)}_tv", f"rate_{slug(g)}_score_integral", f"budget_{slug(g)}",
                     f"score_profile_{slug(g)}"):  # fmt: skip
            assert (figs / f"{stem}.png").stat().st_size > 1000, stem
    assert not list(figs.glob("*target_seed*"))
    assert (figs / "rates.tex").read_text().count("0.49\\textwidth") == len(_groups(df))
    assert "\\ref{fig:score-profile}" in _macros(out / "macros.tex")["ScoreProfileRef"]


def test_generated_text_reads_as_prose(built):
    _, out = built
    text = (out / "macros.tex").read_text() + (out / "text" / "arms.tex").read_text()
    assert not re.search(r"\b1 of 1\b|\bnan\b|target_seed", text, re.I)
    assert not re.search(r"\d\.?\d*e-?\d", text)
    assert "pooled over five seeds" in (out / "text" / "arms.tex").read_text()


def test_a_single_seed_folder_keeps_its_per_arm_headline(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "tiny"
    paper = build_paper(fixture, tmp_path / "paper", figures=False)
    macros = _macros(tmp_path / "paper" / "macros.tex")
    assert macros["MultiSeed"] == "0"
    assert paper.headline == [f for f in paper.fits if f.metric == "tv"]
    assert "no rows" in (tmp_path / "paper" / "tables" / "per_seed.tex").read_text()
    assert "Pooled" not in macros["HeadlineSentence"]


OLD = ROOT / "results" / "recipe_D1_s1_band"
NEW = ROOT / "results" / "recompute" / "recipe_D1_s1_band"
BLUR = ROOT / "results" / "ablations" / "spacing_uniform"


@pytest.mark.skipif(not all(p.is_dir() for p in (OLD, NEW, BLUR)), reason="results not stored")
def test_the_old_claims_are_those_of_the_stored_results():
    from minimax.reporting.paper_data import load_study
    from minimax.reporting.paper_history import OLD_CLAIMS

    claim = {k: float(v) for k, (v, _) in OLD_CLAIMS.items()}
    old = load_study(OLD).fit("besov D=1 s=1 p=2 band", "ddpm")
    new = load_study(NEW).fit("besov D=1 s=1 p=2 band", "ddpm")
    assert (round(old.exponent, 3), round(old.ci_low, 3), round(old.ci_high, 3)) == (
        claim["OldExpFitAlone"], claim["OldExpFitAloneLo"], claim["OldExpFitAloneHi"])  # fmt: skip
    assert (round(new.exponent, 3), round(new.ci_low, 3), round(new.ci_high, 3)) == (
        claim["OldExpRecomputed"], claim["OldExpRecomputedLo"], claim["OldExpRecomputedHi"])  # fmt: skip
    df = pd.read_parquet(OLD / "results.parquet")
    tv = df[(df["estimator"] == "ddpm") & (df["metric"] == "tv") & (df["n"] == 8000)]
    assert round(tv["value"].mean(), 3) == claim["OldTvLast"]
    b = pd.read_parquet(BLUR / "results.parquet")
    blur = b[(b["metric"] == "blur_tv") & (b["n"] == 8000)]["value"].mean()
    assert round(blur, 4) == claim["OldBlurLast"]
    assert round(100 * blur / tv["value"].mean()) == claim["OldBlurShare"]


@pytest.mark.skipif(not (ROOT / "results" / "ablations" / "score_steps_x4").is_dir(),
                    reason="the step-budget ablation is not stored")  # fmt: skip
def test_score_steps_sentence_says_what_the_ablation_found():
    from minimax.reporting.paper_history import score_steps, score_steps_macros

    tab = score_steps(ROOT / "results" / "ablations")
    m = score_steps_macros(ROOT / "results" / "ablations")
    # results/ablations/score_steps_summary.md: t = 1: 0.313 / 0.305 / 0.258; t = 0.01: 0.663 /
    # 0.780 / 0.854; TV 0.266 / 0.256 / 0.282
    assert [round(v, 3) for v in tab["a1"]] == [0.313, 0.305, 0.258]
    assert [round(v, 3) for v in tab["a0.01"]] == [0.663, 0.780, 0.854]
    s = m["ScoreStepsSentence"]
    assert "at large $t$ does not rise" in s and "at small $t$ it rises" in s
    assert "0.266/0.256/0.282" in s
    assert math.isfinite(_number(m["ScoreStepsTvFour"]))
