"""studies/tv_calibration_pooled.py judges a batch of simulated studies by its own intervals and
refuses to pool batches that share seeds."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "studies" / "tv_calibration_pooled.py"
TRUTH = 1 / 3


def _batch(path: Path, first: int, exponents, covered) -> Path:
    k = len(exponents)
    pd.DataFrame({"M_rule": "rule", "c": 0.5, "study": np.arange(first, first + k),
                  "exponent": exponents, "covered": covered, "flagged": 0}).to_csv(path)  # fmt: skip
    return path


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip


def test_a_bias_past_the_goal_by_many_se_is_missed_and_a_small_batch_leaves_coverage_open(tmp_path):
    rng = np.random.default_rng(0)
    a = _batch(tmp_path / "a.csv", 0, TRUTH + 0.03 + 0.001 * rng.standard_normal(10), [True] * 10)
    b = _batch(tmp_path / "b.csv", 10, TRUTH + 0.001 * rng.standard_normal(400),
               [True] * 380 + [False] * 20)  # fmt: skip
    out = tmp_path / "s.md"
    r = _run(a, b, "--out", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    first, second, pooled = text.split("\n## ")[1:]
    assert "| missed |" in first  # bias 0.03 ± 0.0003 against <= 0.01
    assert "10/10 = 100.0% [72.2%, 100.0%] | not resolved |" in first  # Wilson, 95 %
    assert "| met |" in second.split("380/400")[0]  # bias 0 ± 0.00005
    assert "380/400 = 95.0%" in second and "| met |" in second.split("380/400")[1]
    assert "410" in pooled.splitlines()[4]


def test_batches_that_share_a_study_index_are_refused_before_any_file_is_written(tmp_path):
    a = _batch(tmp_path / "a.csv", 0, [TRUTH] * 5, [True] * 5)
    b = _batch(tmp_path / "b.csv", 3, [TRUTH] * 5, [True] * 5)
    out = tmp_path / "s.md"
    r = _run(a, b, "--out", out)
    assert r.returncode == 2
    assert "batches: 2 studies appear in more than one batch" in r.stderr.strip().splitlines()[-1]
    assert not out.exists()
