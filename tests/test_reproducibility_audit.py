"""studies/reproducibility_audit.py: a study the current code wrote comes back row for row, and
a stored number the code no longer produces is caught and named."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from minimax.study.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "studies" / "reproducibility_audit.py"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit") / "r"
    rc = main(["rate", "--D", "1", "--s", "1", "--n", "200,300,400", "--replicates", "2",
               "--estimators", "kde,uniform", "--M", "3000", "--jobs", "1", "--quiet",
               "--no-figures", "--out", str(out)])  # fmt: skip
    assert rc == 0
    return out


def _audit(folder: Path, out: Path) -> pd.DataFrame:
    r = subprocess.run([sys.executable, str(SCRIPT), str(folder), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return pd.read_csv(out / "audit.csv")


def test_a_study_of_the_current_code_comes_back_row_for_row(study, tmp_path):
    rows = _audit(study, tmp_path / "a")
    # the smallest n only, replicate 0 of a non-ensemble model, every metric row of that cell
    assert set(rows["n"]) == {200} and set(rows["replicate"]) == {0}
    assert set(rows["estimator"]) == {"kde", "uniform"}
    assert {"tv", "tv_sampled"} <= set(rows.loc[rows.estimator == "kde", "metric"])
    assert rows["equal"].all() and (rows["rel_diff"] == 0).all()
    assert "**equal** (1)" in (tmp_path / "a" / "audit.md").read_text()


def test_a_stored_value_the_code_no_longer_gives_is_caught(study, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(study, altered)
    stored = pd.read_parquet(altered / "results.parquet")
    hit = (
        (stored.estimator == "kde")
        & (stored.n == 200)
        & (stored.replicate == 0)
        & (stored.metric == "tv_sampled")
    )
    assert hit.sum() == 1
    stored.loc[hit, "value"] *= 1 + 1e-6  # far below any figure a table prints
    stored.to_parquet(altered / "results.parquet")
    rows = _audit(altered, tmp_path / "b").set_index(["estimator", "metric"])
    assert not rows.loc[("kde", "tv_sampled"), "equal"]
    assert rows.loc[("kde", "tv_sampled"), "rel_diff"] == pytest.approx(1e-6, rel=1e-3)
    assert rows.loc[("kde", "tv"), "equal"]  # the other rows of the same cell still come back
    # the fit is the stored one (same bandwidth), so the change is the scoring's
    assert rows.loc[("kde", "tv_sampled"), "fit_equal"]
    assert "| kde | 200 |" in (text := (tmp_path / "b" / "audit.md").read_text())
    assert "**scoring** (1)" in text


def test_a_fit_that_moved_is_told_apart_from_a_scoring_change(study, tmp_path):
    altered = tmp_path / "fit"
    shutil.copytree(study, altered)
    stored = pd.read_parquet(altered / "results.parquet")
    hit = (stored.estimator == "kde") & (stored.n == 200) & (stored.replicate == 0)
    params = json.loads(stored.loc[hit, "estimator_params"].iloc[0])
    params["kde_h"] *= 1.01  # the bandwidth the fit chose
    stored.loc[hit, "estimator_params"] = json.dumps(params)
    stored.loc[hit, "value"] *= 1.01
    stored.to_parquet(altered / "results.parquet")
    _audit(altered, tmp_path / "c")
    assert "**fit** (1)" in (tmp_path / "c" / "audit.md").read_text()
    # runs over disjoint folders join into one table: every row of both, one verdict per folder
    _audit(study, tmp_path / "a")
    parts = [str(tmp_path / x / "audit.csv") for x in ("a", "c")]
    r = subprocess.run([sys.executable, str(SCRIPT), "--summary", *parts, "--out",
                        str(tmp_path / "j")], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    joined = pd.read_csv(tmp_path / "j" / "audit.csv")
    assert len(joined) == sum(len(pd.read_csv(x)) for x in parts)
    assert set(joined["folder"]) == {str(study), str(altered)}
    text = (tmp_path / "j" / "audit.md").read_text()
    assert "**fit** (1)" in text and "**equal** (1)" in text
