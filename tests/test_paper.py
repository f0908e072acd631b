"""The `paper` command: figures, tables and macros from a stored results folder alone.

The fixture tests/fixtures/tiny is a real (tiny) run of the tool: ``python -m minimax.study
sweep tests/fixtures/tiny.toml`` (3 arms, D = 1 and 2, DDPM, KDE, oracle-score sampler and the
trivial baselines, metrics tv and score), with its per-cell cache removed.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from minimax.reporting.paper import fmt, macro_name
from minimax.reporting.paper_data import load_study
from minimax.reporting.paper_format import fmt_p, tex_num, verdict_class
from minimax.reporting.report import build_report, slug, study_margins
from minimax.study.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny"
TABLES = ("exponents", "score_exponents", "targets", "budget", "hyperparameters", "exploration")
#: written only for a folder with several target seeds per arm (test_paper_pooled.py)
MULTI_SEED_TABLES = ("per_seed",)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture copied to a fresh folder and the paper built from it once (figures too)."""
    base = tmp_path_factory.mktemp("paper")
    results = base / "results"
    shutil.copytree(FIXTURE, results)
    before = sorted(p.name for p in results.rglob("*"))
    out = base / "paper"
    # the fixture stands in for the tuning studies too (--exploration)
    assert main(["paper", str(results), "--exploration", str(results), "--out", str(out)]) == 0
    return results, out, before


def test_paper_regenerates_every_figure_and_table_from_the_fixture(built):
    results, out, before = built
    df = pd.read_parquet(results / "results.parquet")
    # nothing is recomputed or written into the results folder
    assert sorted(p.name for p in results.rglob("*")) == before
    figs = out / "figures"
    for arm in df["arm"].unique():
        for ext in ("png", "pdf"):
            assert (figs / f"rate_{slug(arm)}_tv.{ext}").stat().st_size > 1000
        has_ddpm = ((df["arm"] == arm) & (df["estimator"] == "ddpm")).any()
        assert (figs / f"budget_{slug(arm)}.png").exists() == has_ddpm
    for ext in ("png", "pdf"):
        assert (figs / f"exponents.{ext}").stat().st_size > 1000
    for ext in ("png", "pdf"):
        assert (figs / f"targets.{ext}").stat().st_size > 1000
    for name in TABLES:
        assert (out / "tables" / f"{name}.tex").read_text().startswith("\\begin{tabular")
        assert (out / "tables" / f"{name}.md").read_text().startswith("| ")
    for name in ("exponents", "rates", "score_rates", "budget", "targets"):
        assert "\\includegraphics" in (figs / f"{name}.tex").read_text()
    # appendix figures are grids of two panels per row, not one figure per page
    assert (figs / "rates.tex").read_text().count("0.49\\textwidth") == df["arm"].nunique()
    assert "\\paragraph{" in (out / "text" / "arms.tex").read_text()
    assert (out / "macros.tex").read_text().count("\\newcommand") > 50
    # no temporary file is left behind (writes are atomic renames)
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp")]


def test_tables_and_macros_hold_the_fit_objects_numbers(built):
    results, out, _ = built
    df = pd.read_parquet(results / "results.parquet")
    rows = _markdown_rows(out / "tables" / "exponents.md")
    macros = _macros(out / "macros.tex")
    # the paper's verdicts are the report's (same margins, same calibration gate)
    report = build_report(df, None, figures=False, margin=study_margins(results))
    fits = [f for f in report.fits if f.metric == "tv"]
    assert [
        (f.arm, f.estimator, f.verdict) for f in load_study(results).fits if f.metric == "tv"
    ] == [(f.arm, f.estimator, f.verdict) for f in fits]
    assert len(rows) == len(fits) > 0
    for f in fits:
        D, s = (
            int(df.loc[df["arm"] == f.arm, "D"].iloc[0]),
            float(df.loc[df["arm"] == f.arm, "s"].iloc[0]),
        )
        (row,) = [
            r for r in rows if (r["D"], r["s"], r["estimator"]) == (str(D), f"{s:g}", f.estimator)
        ]
        # the table prints 3 decimals: equal to the fit up to half a unit of the last one
        assert float(row["exponent"]) == pytest.approx(f.exponent, abs=5e-4)
        lo, hi = (float(v) for v in row["95% CI"].strip("[]").split(","))
        assert (lo, hi) == pytest.approx((f.ci_low, f.ci_high), abs=5e-4)
        assert float(row["theory"]) == pytest.approx(s / (2 * s + D), abs=5e-4)
        assert row["p"] == fmt_p(f.p_value)
        assert row["n"] == f"{f.n_min}–{f.n_max}"
        assert row["sizes"] == str(f.n_points)
        assert row["verdict"] == f.verdict
        tag = macro_name(f.estimator, "D", D, "S", s)
        assert _number(macros[f"Exp{tag}"]) == pytest.approx(f.exponent, abs=5e-4)
        assert macros[f"Pval{tag}"] == tex_num(f.p_value, 2)
    ddpm = [f for f in fits if f.estimator == "ddpm"]
    assert macros["DdpmFits"] == str(len(ddpm))
    # the ratio to theory is averaged over the fits whose verdict stands, never over the
    # not-resolved or withheld ones
    judged = [f for f in ddpm if verdict_class(f.verdict) in ("equivalent", "steeper", "flatter")]
    if judged:
        ratio = sum(f.exponent / f.theory for f in judged) / len(judged)
        assert _number(macros["DdpmMeanRatio"]) == pytest.approx(ratio, abs=5e-3)
    else:
        assert macros["DdpmMeanRatio"] == "---"


def test_generated_sentences_read_as_prose(built):
    _, out, _ = built
    text = (out / "macros.tex").read_text() + (out / "text" / "arms.tex").read_text()
    # no template residue: no "1 of 1 fits are", no zero counts listed, no raw exponents or
    # zeros standing for small numbers
    assert not re.search(r"\b1 of 1\b|\b0 (flatter|steeper|inconclusive|fits?)\b", text)
    assert not re.search(r"\d\.?\d*e-?\d", text), re.findall(r".{30}\d\.?\d*e-?\d.{10}", text)
    assert "(at most 0.000)" not in text and not re.search(r"\bnan\b", text, re.I)
    assert "train/held-out" not in text  # the loss gap has one name and one sign


def test_budget_table_holds_budget_components_of_each_arm(built):
    """The table is budget.budget_components per arm: the TV (mean ± 1.96 se) and, where no
    oracle-score TV at the DDPM's M was run (this fixture), the part not split."""
    from minimax.study.budget import Z95, budget_components

    results, out, _ = built
    df = pd.read_parquet(results / "results.parquet")
    rows = _markdown_rows(out / "tables" / "budget.md")
    assert rows
    for r in rows:
        arm = df[(df["D"] == int(r["D"])) & (df["s"] == float(r["s"]))]
        c = budget_components(arm, "ddpm")[int(r["n"])]
        value, half = (float(v) for v in r["TV"].split(" ± "))
        assert value == pytest.approx(c["tv"], abs=5e-5)
        assert half == pytest.approx(Z95 * c["tv_se"], abs=5e-5)
        assert float(r["sampler + learned"].split(" ± ")[0]) == pytest.approx(
            c["unsplit"], abs=5e-5
        )
        assert "floor" not in r  # the floor is the measurement's, not a part of the error


def test_latex_tables_parse_without_tex(built):
    _, out, _ = built
    for name in TABLES:
        _check_tabular((out / "tables" / f"{name}.tex").read_text(), name)
    for name in ("exponents", "rates", "budget"):
        text = (out / "figures" / f"{name}.tex").read_text()
        _check_balanced(text, name)
        assert not re.search(r"\b(nan|NaN|inf)\b", text)
    _check_balanced((out / "macros.tex").read_text(), "macros")


def test_macros_define_every_macro_main_tex_uses(built):
    _, out, _ = built
    main_tex = (ROOT / "paper" / "main.tex").read_text()
    body = "\n".join(line.split("%")[0] if not line.lstrip().startswith("%") else ""
                     for line in main_tex.splitlines())  # fmt: skip
    used = set(re.findall(r"\\([A-Z][A-Za-z]*)", body))  # generated macros are capitalised
    assert used, "main.tex quotes no number through a macro"
    # main.tex quotes only macros every results table defines (the per-fit numbers live in
    # the generated text), so it builds from the confirmatory study as it does from this one
    defined = set(_macros(out / "macros.tex"))
    assert used <= defined, sorted(used - defined)
    committed = set(_macros(ROOT / "paper" / "macros.tex"))
    assert used <= committed, sorted(used - committed)
    for inc in re.findall(r"\\input\{([^}]+)\}", body):
        if inc != "macros":
            assert (out / f"{inc}.tex").exists(), inc


def test_paper_without_results_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "paper"
    assert main(["paper", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results folder=" in err
    assert not out.exists()


def test_paper_with_a_missing_exploration_folder_exits_2(tmp_path, capsys):
    out = tmp_path / "paper"
    args = ["paper", str(FIXTURE), "--exploration", str(tmp_path / "missing"), "--out", str(out)]
    assert main(args) == 2
    assert "results folder=" in capsys.readouterr().err
    assert not out.exists()


def test_small_helpers():
    assert macro_name("ddpm-fixed-tmin", "D", 2, "S", 1.5) == "DdpmFixedTminDTwoSOnePtFive"
    assert fmt(math.nan) == "---" and fmt(None) == "---"
    assert fmt(-1e-17, fixed=True) == "0.000"
    assert fmt(0.00546) == "0.0055" and fmt(0.5) == "0.500" and fmt(7) == "7"


# -- helpers --------------------------------------------------------------------------------
def _markdown_rows(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in ln.strip("|").split("|")), strict=True))
            for ln in lines[2:]]  # fmt: skip


def _number(text: str) -> float:
    """The number of a macro value (\\ensuremath{-0.303}, 41{,}000, 7.3\\times10^{-5})."""
    t = re.sub(r"\\ensuremath\{(.*)\}", r"\1", text).replace("{,}", "")
    m = re.fullmatch(r"([+-]?[\d.]+)(?:\\times10\^\{(-?\d+)\})?", t)
    assert m, text
    return float(m.group(1)) * (10 ** int(m.group(2)) if m.group(2) else 1)


def _macros(path: Path) -> dict[str, str]:
    return dict(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}\s*$", path.read_text(), re.M))


def _check_balanced(text: str, name: str) -> None:
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]+)\}", text):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"{name}: \\end{{{env}}} does not close"
    assert not stack, f"{name}: unclosed {stack}"
    depth = 0
    for c in re.sub(r"\\[{}]", "", text):
        depth += (c == "{") - (c == "}")
        assert depth >= 0, f"{name}: unbalanced braces"
    assert depth == 0, f"{name}: unbalanced braces"
    assert text.count("$") % 2 == 0 or "\\$" in text, f"{name}: unbalanced $"


def _check_tabular(text: str, name: str) -> None:
    _check_balanced(text, name)
    lines = text.strip().splitlines()
    assert re.match(r"\\begin\{tabularx?\}", lines[0]), lines[0]
    assert lines[-1] in ("\\end{tabular}", "\\end{tabularx}")
    assert lines[1] == "\\toprule" and lines[3] == "\\midrule" and lines[-2] == "\\bottomrule"
    assert "resizebox" not in text
    rows = [ln for ln in lines[2:-2] if ln != "\\midrule"]
    assert len(rows) >= 2
    ncol = len(re.split(r"(?<!\\)&", rows[0][:-2]))
    spec = re.sub(r"@\{\}|>\{[^}]*\\arraybackslash\}", "", lines[0].split("}{")[-1])
    assert len(re.findall(r"[lrcX]", spec)) == ncol, (spec, ncol)
    for ln in rows:
        assert ln.endswith("\\\\"), ln
        cells = re.split(r"(?<!\\)&", ln[:-2])
        assert len(cells) == ncol, f"{name}: {len(cells)} cells, {ncol} columns: {ln}"
        for c in cells:
            assert not re.search(r"\b(nan|NaN|inf|None)\b", c), f"{name}: {c}"
            text = re.sub(r"\$[^$]*\$", "", c)  # subscripts are fine inside math
            assert not re.search(r"(?<!\\)[_%#^]", text), f"{name}: unescaped character in {c}"
            assert c.count("$") % 2 == 0, f"{name}: unbalanced $ in {c}"
            assert not re.search(r"\de[-+]\d", c), f"{name}: raw exponent in {c}"
