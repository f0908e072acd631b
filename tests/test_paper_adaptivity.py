"""The paper's adaptivity section says what the report's fits say: its numbers are those of
``fits.csv`` / ``paired.csv`` of the same folder, and its answer follows the paired CI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from minimax.reporting.paper_adaptivity import ABSENT_TEX, _answer, adaptivity_outputs
from minimax.study.paired import PairedFit

ROOT = Path(__file__).resolve().parents[1]
CONTROLS = ROOT / "results" / "adaptivity_controls"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    files, macros = adaptivity_outputs(CONTROLS, out / "figures", out / "tables", out / "text")
    return out, files, macros


def test_the_section_quotes_the_reports_fits_and_pairs(written):
    out, files, _ = written
    text = (out / "text" / "adaptivity.tex").read_text()
    fits = pd.read_csv(CONTROLS / "fits.csv")
    oracle = fits[(fits.estimator == "kde-oracle") & (fits.metric == "tv")].iloc[0]
    assert f"$\\hat a = {oracle.exponent:.3f}$" in text
    below = oracle.ci_high < oracle.theory
    assert ("below the minimax exponent by more than its CI" in text) == below
    assert ("not below the minimax exponent" in text) == (not below)
    pairs = pd.read_csv(CONTROLS / "paired.csv")
    md = (out / "tables" / "adaptivity_pairs.md").read_text()
    row = pairs[(pairs["first"] == "kde-oracle") & (pairs["second"] == "wavelet")].iloc[0]
    # the section reports wavelet − best KDE: the report's kde-oracle − wavelet, sign flipped
    assert f"| wavelet − kde-oracle | {-row.difference:+.3f} |" in md
    assert f"[{-row.ci_high:+.3f}, {-row.ci_low:+.3f}]" in md
    assert (out / "figures" / "adaptivity_rate.pdf") in files
    assert "\\input{tables/adaptivity}" in text and "\\label{tab:adaptivity-pairs}" in text


def test_without_a_folder_the_section_says_so(tmp_path):
    files, macros = adaptivity_outputs(None, tmp_path / "f", tmp_path / "t", tmp_path / "x")
    assert (tmp_path / "x" / "adaptivity.tex").read_text() == ABSENT_TEX
    assert macros == {"AdaptivityFolder": "---"}
    assert not (tmp_path / "t").exists()


class _Data:
    def __init__(self, pair):
        self._pair = pair

    def pair(self, arm, first, second):
        return self._pair


class _Fit:
    measured = True


@pytest.mark.parametrize(
    ("low", "high", "words"),
    [
        (0.01, 0.2, "adapts beyond"),
        (-0.2, -0.01, "does not adapt"),
        (-0.1, 0.1, "does not tell"),
    ],  # fmt: skip
)
def test_the_answer_follows_the_paired_ci(low, high, words):
    pair = PairedFit("ddpm", "kde-oracle", "tv", "a", difference=(low + high) / 2,
                     ci_low=low, ci_high=high)  # fmt: skip
    assert words in _answer(_Data(pair), "a", _Fit())


def test_an_unmeasured_ddpm_gets_no_answer():
    assert "does not answer" in _answer(
        _Data(PairedFit("ddpm", "kde-oracle", "tv", "a")), "a", _Fit()
    )


@pytest.mark.parametrize(
    ("shares", "dominates"), [((0.9, 0.85, 1.0), True), ((0.9, 0.5, 1.0), False)]
)
def test_the_blur_sentence_follows_blur_csv(tmp_path, shares, dominates):
    from minimax.reporting.paper_adaptivity import blur_words

    n = [250, 2500, 25000]
    blur = [0.1, 0.1 * 10**-0.2, 0.1 * 10**-0.4]  # exponent 0.2 exactly
    frame = {"n": n, "blur_tv": blur, "blur_share": shares, "early_stop_ratio": [0.25] * 3}
    pd.DataFrame(frame).to_csv(tmp_path / "blur.csv")
    words = blur_words(tmp_path)
    assert "\\sigma/m = 0.25\\,n" in words  # the study's own constant, read from blur.csv
    lo, hi = round(100 * min(shares)), round(100 * max(shares))
    assert f"{lo}--{hi}\\%" in words and "exponent 0.200" in words
    assert ("sets the DDPM's slope" in words) == dominates
    assert blur_words(tmp_path / "none") == ""


def test_a_ddpm_fit_on_fewer_sizes_and_a_withheld_verdict_are_said_in_words(tmp_path):
    # the committed rerun: its DDPM rows at the largest n are below the resolution rule's M,
    # and the calibration gate withholds its verdict
    folder = ROOT / "results" / "recompute" / "adaptivity"
    adaptivity_outputs(folder, tmp_path / "f", tmp_path / "t", tmp_path / "x")
    text = (tmp_path / "x" / "adaptivity.tex").read_text()
    fits = pd.read_csv(folder / "fits.csv")
    ddpm = fits[(fits.estimator == "ddpm") & (fits.metric == "tv")].iloc[0]
    rows = pd.read_parquet(folder / "results.parquet")
    design = rows["n"].nunique()
    assert ddpm.n_points < design  # what this test is about
    assert f"({ddpm.n_points} of {design} sizes;" in text
    flagged = rows[(rows.estimator == "ddpm") & (rows.metric == "tv") & (rows.n > ddpm.n_max)]
    assert set(flagged["flag"]) == {"below_rule"} and "\\texttt{below\\_rule}" in text
    gated = ddpm.verdict.startswith("measurement chain is the limit")
    assert gated and "its verdict against $s/(2s+D)$: not judged, since kde calibration" in text
    assert "the fit alone would read flatter" in text
    assert "\\dag" not in text.split("\\begin{table")[0]  # prose, not a table cell's mark
