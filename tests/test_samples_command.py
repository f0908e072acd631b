"""``samples``: refitted cells reproduce the stored TV exactly, bad input exits 2 before any
file, and the kept samples are the model's (a χ² test against the target would not apply: they
are q̂'s, so the test is the TV's identity with the stored row)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimax.study.cli import main

pytestmark = pytest.mark.slow

TINY_DDPM = ["--set", "ddpm.steps=100", "--set", "ddpm.sample_steps=20", "--set", "ddpm.width=16"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "r"
    rc = main(["rate", "--D", "1", "--s", "1", "--n", "200,300,400", "--replicates", "2",
               "--estimators", "ddpm,kde,uniform", "--M", "3000", *TINY_DDPM, "--jobs", "1",
               "--quiet", "--no-figures", "--out", str(out)])  # fmt: skip
    assert rc == 0
    return out


def test_refit_reproduces_the_stored_sampled_tv(study, tmp_path, capsys):
    out = tmp_path / "s"
    rc = main(["samples", str(study), "--n", "300", "--replicate", "1", "--keep", "1000",
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    summary = pd.read_csv(out / "samples.csv")
    assert summary["reproduced"].all()
    stored = pd.read_parquet(study / "results.parquet")
    row = stored[(stored.estimator == "ddpm") & (stored.n == 300) & (stored.replicate == 1)
                 & (stored.metric == "tv")]  # fmt: skip
    assert summary["tv_recomputed"].iloc[0] == pytest.approx(row["value"].iloc[0], rel=1e-12)
    kept = pd.read_parquet(out / "samples.parquet")
    assert len(kept) == 1000 and set(kept["n"]) == {300}
    # the replicates' networks differ, so another replicate's TV is another number
    other = stored[(stored.estimator == "ddpm") & (stored.n == 300) & (stored.replicate == 0)
                   & (stored.metric == "tv")]  # fmt: skip
    assert other["value"].iloc[0] != row["value"].iloc[0]
    assert (out / "figures" / "samples.png").is_file()


def test_an_explicit_density_reproduces_its_calibration_row(study, tmp_path):
    out = tmp_path / "k"
    assert main(["samples", str(study), "--estimator", "kde", "--n", "200", "--out", str(out),
                 "--no-figures"]) == 0  # fmt: skip
    summary = pd.read_csv(out / "samples.csv")
    assert summary["reproduced"].all()
    kept = pd.read_parquet(out / "samples.parquet")
    x = kept["x1"].to_numpy()
    assert np.all((x >= -1) & (x <= 1))  # the reflected KDE's samples stay in the box


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--estimator", "uniform"], "its TV in this study is exact"),
        (["--estimator", "gan"], "estimator='gan' is not allowed"),
        (["--n", "250"], "n=250 is not allowed: expected one of [200, 300, 400]"),
        (["--replicate", "2"], "replicate=2 is not allowed: expected 0..1"),
        (["--keep", "0"], "keep=0 is not allowed"),
        (["--arm", "nope"], "arm='nope' is not allowed"),
    ],
)
def test_bad_input_exits_2_before_any_file(study, tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["samples", str(study), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_the_input_folder_is_never_the_output(study, capsys):
    assert main(["samples", str(study), "--out", str(study)]) == 2
    assert "it is the input folder" in capsys.readouterr().err
