"""The paper's sentence on the headline's calibration arm measured with more replicates
(minimax.reporting.paper_calibration), on the synthetic multi-seed folder of
tests/paper_multiseed.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from paper_multiseed import SEEDS, write_multiseed

from minimax.reporting.paper_calibration import check_same_design
from minimax.reporting.paper_format import tex_num
from minimax.study.calibration import calibration_fits, gating_pair
from minimax.study.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("calibration_paper")
    # two seeds: the fewest a pooled offset needs, and the cheapest paper to build
    headline = write_multiseed(base / "confirm", seeds=SEEDS[:2], replicates=1)
    calibration = write_multiseed(base / "calibration", seeds=SEEDS[:2])
    df = pd.read_parquet(calibration / "results.parquet")
    df[df["estimator"] == "kde"].to_parquet(calibration / "results.parquet")
    return headline, calibration


def _macro(out, name):
    text = (out / "macros.tex").read_text()
    head = f"\\newcommand{{\\{name}}}{{"
    start = text.index(head) + len(head)
    return text[start : text.index("}\n", start)]


def test_the_sentence_quotes_the_calibration_folders_pooled_offsets(folders, tmp_path):
    headline, calibration = folders
    out = tmp_path / "paper"
    assert main(["paper", str(headline), "--calibration", str(calibration), "--no-figures",
                 "--out", str(out)]) == 0  # fmt: skip
    sentence = _macro(out, "CalibrationReplicatesSentence")
    df = pd.read_parquet(calibration / "results.parquet")
    reps = int(df["replicate"].max()) + 1
    assert reps > 1 and "instead of one" in sentence
    # the pooled offset of each group: the mean of its seeds' offsets, each fitted here on the
    # calibration folder's rows (all replicates), not on the headline's one replicate
    for label in df["arm"].str.replace(r" target_seed=\d+$", "", regex=True).unique():
        offsets = []
        for seed in SEEDS[:2]:
            arm = df[df["arm"] == f"{label} target_seed={seed}"]
            offsets.append(gating_pair(calibration_fits(arm)).difference)
        assert tex_num(float(np.mean(offsets)), signed=True) in sentence
    assert sentence.count("$\\pm0.01$") >= 1


def test_a_calibration_folder_of_another_design_is_refused(folders, tmp_path, capsys):
    headline, calibration = folders
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.parquet").write_bytes((calibration / "results.parquet").read_bytes())
    study = json.loads((calibration / "study.json").read_text())
    for s in study["studies"]:
        s["seed"] = int(s["seed"]) + 1
    (other / "study.json").write_text(json.dumps(study))
    check_same_design(headline, calibration)  # the same names and seeds: accepted
    out = tmp_path / "paper"
    code = main(["paper", str(headline), "--calibration", str(other), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()  # refused before any file is written
    assert len(err) == 1 and "calibration=" in err[0] and "is not allowed" in err[0]
