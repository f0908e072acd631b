"""The paper's GAN/VAE section says what the stored results say: its exponents and pairs are those
of ``fits.csv`` / ``paired.csv`` of the same folder, and its two claims (beats both trivial
baselines at n ≥ 1000; falls with n) follow the rows and the CIs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from minimax.reporting.paper_generative import ABSENT_TEX, generative_outputs, model_claims

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "generative"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    files, macros = generative_outputs(STUDY, out / "figures", out / "tables", out / "text")
    return out, files, macros


def test_the_section_quotes_the_fits_and_reads_falling_off_the_ci(written):
    out, files, _ = written
    text = (out / "text" / "generative.tex").read_text()
    fits = pd.read_csv(STUDY / "fits.csv")
    fits = fits[(fits.metric == "tv") & fits.estimator.isin(["gan", "vae"])]
    paragraphs = text.split("\n\n")
    for _, f in fits.iterrows():
        para = next(p for p in paragraphs if f"$D = {int(f.arm.split('D=')[1][0])}$" in p)
        name = f.estimator.upper()
        sentence = next(s for s in para.split(". ") if s.startswith(f"{name}'s TV"))
        value = f"{f.exponent:.3f}" if f.exponent >= 0 else f"\\ensuremath{{-{-f.exponent:.3f}}}"
        assert f"$\\hat a = {value}$" in sentence
        assert ("and falls with $n$" in sentence) == (f.ci_low > 0)
    assert (out / "figures" / "generative_rate_D1.pdf") in files
    assert "\\label{tab:generative-pairs}" in text


def test_the_pairs_table_is_the_reports(written):
    out, _, _ = written
    pairs = pd.read_csv(STUDY / "paired.csv")
    md = (out / "tables" / "generative_pairs.md").read_text()
    row = pairs[(pairs["first"] == "ddpm") & (pairs["second"] == "gan") & (pairs.metric == "tv")
                & pairs.arm.str.contains("D=1")].iloc[0]  # fmt: skip
    assert f"| D = 1: ddpm − gan | {row.difference:+.3f} |" in md


def _rows(values):
    return pd.DataFrame([{"metric": "tv", "status": "ok", "flag": "ok", "estimator": e, "n": n,
                          "value": v} for e, n, v in values])  # fmt: skip


def test_beating_the_baselines_is_checked_at_every_n_from_1000():
    # the model loses to the uniform at n = 500 (not counted) and to the Gaussian at n = 2000
    df = _rows([("gan", 500, 0.30), ("gan", 1000, 0.10), ("gan", 2000, 0.09),
                ("uniform", 500, 0.20), ("uniform", 1000, 0.20), ("uniform", 2000, 0.20),
                ("gaussian", 500, 0.25), ("gaussian", 1000, 0.15), ("gaussian", 2000, 0.08)])  # fmt: skip
    c = model_claims(df, "gan")
    assert c["fails_baselines"] == [2000]
    assert c["first"] == (500, 0.30) and c["last"] == (2000, 0.09)
    flagged = df.copy()
    flagged.loc[flagged.estimator == "gan", "flag"] = ["ok", "rising", "ok"]
    assert model_claims(flagged, "gan")["flagged_rows"] == 1


def test_without_a_folder_the_section_says_so(tmp_path):
    files, macros = generative_outputs(None, tmp_path / "f", tmp_path / "t", tmp_path / "x")
    assert (tmp_path / "x" / "generative.tex").read_text() == ABSENT_TEX
    assert macros == {"GenerativeFolder": "---"}


def test_a_resampled_study_adds_its_own_paragraph_with_its_sampler_m_and_exponent(tmp_path):
    resampled = ROOT / "results" / "recompute" / "generative_confirm_dpm2m"
    generative_outputs(STUDY, tmp_path / "f", tmp_path / "t", tmp_path / "x", figures=False,
                       resampled=resampled)  # fmt: skip
    text = (tmp_path / "x" / "generative.tex").read_text()
    tail = text.split("sampled again", 1)[1]
    rows = pd.read_parquet(resampled / "results.parquet")
    ddpm = rows[(rows.metric == "tv") & (rows.estimator == "ddpm")]
    assert "\\texttt{dpm2m}" in tail.split(":", 1)[0]
    assert f"{int(ddpm.m.max()):,}".replace(",", "{,}") in tail
    fits = pd.read_csv(resampled / "fits.csv")
    f = fits[(fits.metric == "tv") & (fits.estimator == "ddpm")].iloc[0]
    assert f"{f.exponent:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" in tail
    assert tail.count("\\paragraph{") == rows.arm.nunique()


def test_a_verdict_that_changes_with_a_log_factor_says_so_with_the_stored_k_fits(tmp_path):
    resampled = ROOT / "results" / "recompute" / "generative_confirm_dpm2m"
    generative_outputs(STUDY, tmp_path / "f", tmp_path / "t", tmp_path / "x", figures=False,
                       resampled=resampled)  # fmt: skip
    tail = (tmp_path / "x" / "generative.tex").read_text().split("sampled again", 1)[1]
    fits = pd.read_csv(resampled / "fits.csv")
    f = fits[(fits.metric == "tv") & (fits.estimator == "ddpm")].iloc[0]
    changes = len({f[f"verdict_k{k}"].split()[0] for k in ("0", "0.5", "1")}) > 1
    assert ("The verdict assumes no log factor" in tail) == changes
    if changes:
        assert f"$k=\\tfrac12$ gives {f['exponent_k0.5']:.3f}" in tail
        assert (
            f"any $k\\in[0,1]$ the 95\\% CI is [{f.ci_low_any_k:.3f}, {f.ci_high_any_k:.3f}]"
            in tail
        )


def test_an_arm_without_the_ddpm_says_where_it_is_scored_and_every_arm_states_its_offset(tmp_path):
    # the rescored study scores the D = 2 DDPM in another folder (generative_confirm_dpm2m)
    study = ROOT / "results" / "recompute" / "generative_confirm_rescore"
    resampled = ROOT / "results" / "recompute" / "generative_confirm_dpm2m"
    generative_outputs(study, tmp_path / "f", tmp_path / "t", tmp_path / "x", figures=False,
                       resampled=resampled)  # fmt: skip
    head = (tmp_path / "x" / "generative.tex").read_text().split("\\begin{table*}", 1)[0]
    paragraphs = [p for p in head.split("\n\n") if p.startswith("At $D")]
    d2 = next(p for p in paragraphs if p.startswith("At $D = 2$"))
    assert "DDPM is not scored in this folder (its fits are scored in the paragraph after" in d2
    assert "DDPM's TV" not in d2 and "GAN's TV" in d2
    pairs = pd.read_csv(study / "paired.csv")
    cal = pairs[(pairs["first"] == "kde sampled") & (pairs["second"] == "kde exact")]
    assert len(cal) == len(paragraphs) == 2
    for _, c in cal.iterrows():
        para = next(p for p in paragraphs if p.startswith(f"At $D = {c.arm.split('D=')[1][0]}$"))
        assert para.count("The KDE's calibration offset") == 1
        assert f"({int(c.sizes)} sizes, {int(c.pairs)} pairs)" in para
        inside = "within the $\\pm0.01$ gate as a point only" in para
        assert inside == (abs(c.difference) <= 0.01)


def test_each_arm_quotes_its_offset_from_the_calibration_folder(tmp_path):
    # the study's own report of the 20-replicate calibration (its paired.csv) is the reference
    from minimax.reporting.paper_format import tex_ci, tex_num

    study = ROOT / "results" / "recompute" / "generative_confirm_rescore"
    resampled = ROOT / "results" / "recompute" / "generative_confirm_dpm2m"
    calibration = ROOT / "results" / "calibration" / "replicates" / "generative_confirm"
    generative_outputs(study, tmp_path / "f", tmp_path / "t", tmp_path / "x", figures=False,
                       resampled=resampled, calibration=calibration)  # fmt: skip
    text = (tmp_path / "x" / "generative.tex").read_text()
    pairs = pd.read_csv(calibration / "paired.csv")
    cal = pairs[(pairs["first"] == "kde sampled") & (pairs["second"] == "kde exact")]
    for _, c in cal.iterrows():
        quoted = (f"it is {tex_num(c.difference, signed=True)} "
                  f"{tex_ci(c.ci_low, c.ci_high, signed=True)}")  # fmt: skip
        # D = 1 in its arm's paragraph; D = 2 there and in the DDPM's resampled paragraph
        assert text.count(quoted) == (1 if c.arm.startswith("besov D=1") else 2)
    assert text.count("KDE training sets per $n$ of the same design") == 3


def test_a_generative_calibration_of_another_design_is_refused(tmp_path, capsys):
    import json

    from minimax.study.cli import main

    source = ROOT / "results" / "calibration" / "replicates" / "generative_confirm"
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.parquet").write_bytes((source / "results.parquet").read_bytes())
    study = json.loads((source / "study.json").read_text())
    for s in study["studies"]:
        s["name"] = "another_study"
    (other / "study.json").write_text(json.dumps(study))
    out = tmp_path / "paper"
    code = main(["paper", str(ROOT / "tests" / "fixtures" / "tiny"), "--generative",
                 str(ROOT / "results" / "recompute" / "generative_confirm_rescore"),
                 "--generative-calibration", str(other), "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()  # refused before any file is written
    assert len(err) == 1 and "calibration=" in err[0] and "is not allowed" in err[0]
