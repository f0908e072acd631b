"""End-to-end runs of the study through its command line: files, resume, backends, controls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from minimax.study import store
from minimax.study.cli import main
from minimax.study.rates import fit_rate

pytestmark = pytest.mark.slow

#: docs/design.md's columns of the tidy table
DESIGN_COLUMNS = [
    "study", "target", "D", "s", "p", "boundary", "n", "replicate", "estimator", "metric",
    "value", "se", "floor", "m", "seed", "status", "error", "seconds", "device", "version",
]  # fmt: skip

TINY = ["rate", "--D", "1", "--s", "1", "--n", "200,400,800", "--replicates", "2", "--quiet"]


def numbers(df: pd.DataFrame) -> pd.DataFrame:
    """The table without wall-clock times (the only column a rerun may change)."""
    keys = ["arm", "estimator", "n", "replicate", "metric"]
    return df.drop(columns=["seconds", "timings"]).sort_values(keys).reset_index(drop=True)


def run(argv, out, capsys=None) -> pd.DataFrame:
    assert main([*argv, "--out", str(out)]) == 0
    if capsys is not None:
        capsys.readouterr()
    return pd.read_parquet(out / "results.parquet")


def test_tiny_rate_run_writes_table_fit_and_figures(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert (
        main([*TINY, "--estimators", "kde,uniform,gaussian", "--jobs", "1", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    df = pd.read_parquet(out / "results.parquet")
    assert set(DESIGN_COLUMNS) <= set(df.columns)
    tv = df[df["metric"] == "tv"]
    assert len(tv) == 3 * 2 * 3 and (tv["status"] == "ok").all()
    assert (tv["value"] > 0).all() and (tv["value"] < 1).all()
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(df)
    fits = pd.read_csv(out / "fits.csv")
    assert set(fits["estimator"]) == {"kde", "uniform", "gaussian"}
    stem = "rate_besov-D-1-s-1-p-2-band_tv"
    for ext in ("png", "pdf"):
        assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    # the printed report: a table per estimator, exponents beside theory, verdicts, files
    assert "theory exponent s/(2s+D) = 0.333" in printed
    assert "verdict" in printed and str(out / "results.parquet") in printed
    # report regenerates the same fits from the stored table alone
    before = (out / "fits.csv").read_text()
    (out / "fits.csv").unlink()
    assert main(["report", str(out), "--no-figures"]) == 0
    assert (out / "fits.csv").read_text() == before


#: a DDPM small enough for CI: a 16-wide network, 200 training steps, 30 sampling steps
TINY_DDPM = ["--set", "ddpm.steps=200", "--set", "ddpm.sample_steps=30", "--set", "ddpm.width=16"]


def test_tiny_rate_run_with_ddpm_trains_an_ensemble_per_n(tmp_path, capsys):
    out = tmp_path / "ddpm"
    argv = [*TINY, "--estimators", "ddpm,kde", "--metrics", "tv,score", "--M", "4000"]
    df = run([*argv, *TINY_DDPM, "--jobs", "1"], out)
    printed = capsys.readouterr().out
    ddpm = df[(df["estimator"] == "ddpm") & (df["metric"] == "tv")]
    assert len(ddpm) == 6 and (ddpm["status"] == "ok").all()
    assert ((ddpm["value"] > 0) & (ddpm["value"] < 1)).all()
    assert ddpm["floor"].notna().all() and (ddpm["m"] == 4000).all()  # sampled TV has a floor
    params = ddpm["estimator_params"].map(json.loads)
    assert all(p["width"] == 16 and p["steps"] == 200 and p["ensemble_size"] == 2 for p in params)
    assert set(df.loc[df["estimator"] == "ddpm", "metric"]) == {
        "tv",
        "outside_mass",
        "score",
        "score_integral",
    }
    # no score; the calibration arm scores the KDE also from samples (docs/tv.md §6)
    assert set(df.loc[df["estimator"] == "kde", "metric"]) == {"tv", "tv_sampled", "outside_mass"}
    score = df[df["metric"] == "score"]
    assert len(score) == 6 and (score["value"] > 0).all() and (score["se"] > 0).all()
    assert (score["theory"] == 2 / 3).all()  # 2s/(2s+D)
    assert "ddpm" in set(pd.read_csv(out / "fits.csv")["estimator"])
    assert (out / "figures" / "rate_besov-D-1-s-1-p-2-band_tv.png").is_file()
    assert "DDPM: sizing rule 'theory'" in printed  # the plan says what was traded


def test_diverging_training_becomes_failed_rows_with_their_reason(tmp_path, capsys):
    argv = [*TINY, "--estimators", "ddpm", "--M", "4000", *TINY_DDPM, "--jobs", "1"]
    df = run([*argv, "--set", "ddpm.lr=1e6", "--set", "ddpm.grad_clip=1e9"], tmp_path / "d")
    assert "6 failed" in capsys.readouterr().out
    assert len(df) == 3 * 2 * 2  # every cell is a row per metric, none missing
    assert (df["status"] == "diverged").all()
    assert df["error"].str.match(r"diverged: non-finite .* at step \d+").all()
    assert df["value"].isna().all()
    fit = fit_rate(df, "tv", "ddpm")
    assert fit.verdict == "not measurable: failed" and len(fit.excluded) == 6


def test_kde_positive_control_recovers_the_theory_exponent(tmp_path, capsys):
    # D = 1, s = 1: theory 1/3. KDE's TV is exact (quadrature), so only the replicate spread
    # and finite-n bias enter; the 95% CI of the fitted exponent must contain 1/3. Below
    # n = 1000 the local slopes are still pre-asymptotic (0.21 at 250→500, 0.25 at 500→1000
    # with 6 replicates), so the grid starts at 1000 and spans 1.5 decades.
    out = tmp_path / "kde"
    argv = ["rate", "--D", "1", "--s", "1", "--n", "1000,2000,4000,8000,16000,32000"]
    df = run(
        [*argv, "--replicates", "3", "--estimators", "kde", "--jobs", "1", "--quiet"], out, capsys
    )
    fit = fit_rate(df, "tv", "kde")
    assert fit.ci_low <= 1 / 3 <= fit.ci_high, fit.summary()
    assert fit.verdict.startswith(("equivalent to theory", "not resolved"))  # not different
    assert fit.ci_low > 0.2 and fit.ci_high < 0.45  # informative: far from 0 and from 1/2


def test_rerun_computes_nothing_and_deleted_cells_are_recomputed(tmp_path, capsys):
    out = tmp_path / "r"
    argv = [*TINY, "--estimators", "kde,uniform", "--jobs", "1"]
    first = run(argv, out, capsys)
    assert main([*argv, "--out", str(out)]) == 0
    assert "0 cells computed, 12 reused" in capsys.readouterr().out
    cells = sorted((out / "cells").glob("*.parquet"))
    for path in cells[::3]:
        path.unlink()
    assert main([*argv, "--out", str(out)]) == 0
    assert (
        f"{len(cells[::3])} cells computed, {12 - len(cells[::3])} reused"
        in capsys.readouterr().out
    )
    pd.testing.assert_frame_equal(numbers(pd.read_parquet(out / "results.parquet")), numbers(first))


def test_killed_run_resumes_to_the_uninterrupted_table(tmp_path, capsys):
    argv = ["rate", "--D", "1", "--s", "1", "--n", "200,300,400,600,800,1200,1600", "--quiet"]
    argv += ["--replicates", "4", "--estimators", "kde,gaussian", "--jobs", "1"]
    total = 7 * 4 * 2
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "minimax.study", *argv, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(store.finished_cells(killed)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = len(store.finished_cells(killed))
    assert 3 <= done < total  # killed part-way
    assert not (killed / "results.parquet").exists()
    resumed = run(argv, killed)
    assert f"{total - done} cells computed, {done} reused" in capsys.readouterr().out
    reference = run(argv, tmp_path / "whole", capsys)
    pd.testing.assert_frame_equal(numbers(resumed), numbers(reference))


def test_jobs_and_backends_give_identical_numbers(tmp_path, capsys):
    # the DDPM's replicates train as one ensemble in whichever process gets the unit
    argv = [*TINY, "--estimators", "kde,gaussian,ddpm", "--M", "4000", *TINY_DDPM]
    one = run([*argv, "--jobs", "1"], tmp_path / "one", capsys)
    two = run([*argv, "--jobs", "2"], tmp_path / "two", capsys)
    dask = run([*argv, "--jobs", "2", "--backend", "dask"], tmp_path / "dask", capsys)
    pd.testing.assert_frame_equal(numbers(one), numbers(two))
    pd.testing.assert_frame_equal(numbers(one), numbers(dask))
    # cells × (tv, outside_mass), plus the KDE's calibration row (tv_sampled) per cell
    assert len(one) == 3 * 2 * 3 * 2 + 3 * 2
    assert (one["status"] == "ok").all()


def test_cells_from_a_worker_running_other_code_are_refused(tmp_path, monkeypatch):
    """A worker whose code hashes a cell differently must not file its numbers in this study."""
    from minimax.study import runner
    from minimax.study.spec import spec_from_values
    from minimax.study.worker import CellResult

    spec = spec_from_values(
        {"D": 1, "s": 1.0, "n": [100, 200, 400], "replicates": 1, "estimators": ["uniform"]},
        name="t",
    )
    real = runner._execute

    def foreign(units, config):
        for results in real(units, config):
            yield [CellResult("f" * 24, r.rows, r.status) for r in results]

    monkeypatch.setattr(runner, "_execute", foreign)
    with pytest.raises(RuntimeError, match="code version"):
        runner.run_study([spec], tmp_path / "out", runner.RunConfig(jobs=1, quiet=True))
    assert not (tmp_path / "out" / "results.parquet").exists()
