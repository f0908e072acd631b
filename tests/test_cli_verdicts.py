"""--margin (validated before any file, stored in study.json, used by report), report --out
(never rewrites the input folder) and the plan command (writes nothing)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from minimax.study import store
from minimax.study.cli import main
from minimax.study.spec import load_study_file


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "abc", "nan"])
def test_bad_margin_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys, value):
    monkeypatch.chdir(tmp_path)
    assert main(["rate", "--D", "1", "--s", "1", "--estimators", "kde", f"--margin={value}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"margin={value!r} is not allowed: expected a number > 0 and < 1" in err
    assert _files(tmp_path) == []


def test_margin_in_a_study_file_is_validated_and_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(
        'name = "x"\nD = 1\ns = 1.0\nestimators = ["kde"]\nmargin = 2\n'
    )
    assert main(["sweep", "s.toml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "margin=2 is not allowed" in err
    assert _files(tmp_path) == ["s.toml"]
    (tmp_path / "s.toml").write_text(
        'name = "x"\nD = 1\ns = 1.0\nestimators = ["kde"]\nmargin = 0.1\n'
    )
    spec = load_study_file(tmp_path / "s.toml")[0]
    assert spec.margin == 0.1 and spec.to_dict()["margin"] == 0.1


def results_folder(path, margin=None, a=0.3, rng=None):
    rng = rng or np.random.default_rng(0)
    rows = []
    for n in (250, 500, 1000, 2000, 4000, 8000):
        u = 0.03 * rng.standard_normal()
        for r in range(3):
            rows.append(dict(study="x", arm="besov D=2 s=1.5 p=2 band", estimator="kde",
                             role="control", metric="tv", n=n, replicate=r, status="ok",
                             flag="ok", s=1.5, D=2, floor=np.nan,
                             value=n**-a * math.exp(u + 0.05 * rng.standard_normal())))  # fmt: skip
    path.mkdir(parents=True)
    store.write_table(path, pd.DataFrame(rows))
    if margin is not None:
        spec = {"arm": "", "margin": margin,
                "target": {"kind": "besov", "D": 2, "s": 1.5, "p": 2.0, "boundary": "band"}}  # fmt: skip
        store.write_json(path / "study.json", {"studies": [spec]})


def test_report_uses_the_stored_margin_and_out_leaves_the_input_alone(tmp_path, capsys):
    src = tmp_path / "src"
    results_folder(src, margin=0.1)
    before = {f: (src / f).read_bytes() for f in _files(src)}
    assert main(["report", str(src), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    text = capsys.readouterr().out
    assert {f: (src / f).read_bytes() for f in _files(src)} == before
    assert sorted(_files(tmp_path / "out")) == ["fits.csv", "summary.txt"]
    fits = pd.read_csv(tmp_path / "out" / "fits.csv")
    assert fits["margin"].tolist() == [0.1]
    assert "±0.1" in text or "δ = 0.1" in text
    assert "nan" not in text


def test_plan_prints_a_line_per_fit_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "src"
    results_folder(src)
    before = _files(src)
    assert main(["plan", str(src), "--width", "0.01"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("besov D=2 s=1.5 p=2 band · tv · kde: exponent")
    assert "to reach 0.01:" in out[0] and "sizes at this spacing" in out[0]
    assert _files(src) == before
    assert main(["plan", str(src), "--width", "2"]) == 2
    assert "width='2' is not allowed" in capsys.readouterr().err


def test_rate_stores_the_margin_and_its_verdicts_use_it(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["rate", "--D", "1", "--s", "1", "--estimators", "kde", "--n", "250,500,1000",
            "--replicates", "2", "--margin", "0.1", "--jobs", "1", "--quiet", "--no-figures",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    spec = json.loads((out / "study.json").read_text())["studies"][0]
    assert spec["margin"] == 0.1
    fits = pd.read_csv(out / "fits.csv")
    assert len(fits) and (fits["margin"] == 0.1).all()
    assert "≥ 0.1: 90% CI" in printed  # the TOST line of the summary names the margin
