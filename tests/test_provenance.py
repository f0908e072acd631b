"""study.json names the code of every run: the fingerprint the rows carry and the git commit of
the checkout, appended once per change of code, never lost on a resume."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import minimax
from minimax.study.cli import main
from minimax.study.provenance import git_state, study_record

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", *args],
                   check=True, capture_output=True)  # fmt: skip


@needs_git
def test_the_git_state_is_the_checkouts_commit_and_its_edits(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-q", "-m", "one")
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    assert git_state(repo) == {"git_commit": sha, "git_modified": False}
    (repo / "a.py").write_text("x = 2\n")
    assert git_state(repo) == {"git_commit": sha, "git_modified": True}
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git looks no further up
    assert git_state(outside) == {"git_commit": None, "git_modified": None}


def test_a_resume_by_the_same_code_keeps_one_entry_and_new_code_adds_one(tmp_path):
    path = tmp_path / "study.json"
    first = {"code_version": "v+a", "git_commit": "c1", "git_modified": False, "date": "d1"}
    path.write_text(json.dumps(study_record(path, [{"name": "s"}], first)))
    again = dict(first, date="d2")
    path.write_text(json.dumps(study_record(path, [{"name": "s"}], again)))
    assert json.loads(path.read_text())["runs"] == [first]
    edited = dict(first, git_modified=True, date="d3")
    new = study_record(path, [{"name": "s"}], edited)
    assert new["runs"] == [first, edited] and new["studies"] == [{"name": "s"}]
    path.write_text(json.dumps(new))
    other_libs = dict(edited, libraries={"scipy": "0.0"}, date="d4")  # same commit, new libraries
    assert study_record(path, [], other_libs)["runs"] == [first, edited, other_libs]


def test_a_study_json_of_an_older_run_without_runs_or_unreadable_starts_the_list(tmp_path):
    path = tmp_path / "study.json"
    rec = {"code_version": "v", "git_commit": None, "git_modified": None, "date": "d"}
    path.write_text(json.dumps({"studies": []}))
    assert study_record(path, [], rec)["runs"] == [rec]
    path.write_text("{not json")
    assert study_record(path, [], rec)["runs"] == [rec]


def test_a_study_records_the_code_its_rows_carry(tmp_path):
    out = tmp_path / "r"
    args = ["rate", "--D", "1", "--s", "1", "--n", "200,300,400", "--replicates", "1",
            "--estimators", "uniform", "--M", "2000", "--jobs", "1", "--quiet", "--no-figures",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert main(args) == 0  # a resume by the same code
    runs = json.loads((out / "study.json").read_text())["runs"]
    assert len(runs) == 1
    versions = set(pd.read_parquet(out / "results.parquet")["version"])
    assert versions == {runs[0]["code_version"]} == {minimax.code_version()}
    assert runs[0]["git_commit"] == git_state()["git_commit"]
    from importlib.metadata import version

    assert runs[0]["libraries"]["numpy"] == version("numpy") == np.__version__
