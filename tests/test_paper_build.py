"""The paper builds: paper/main.tex compiles with latexmk with no undefined reference or
citation, from the committed paper/ folder and from a paper regenerated from the test fixture
(so main.tex quotes nothing a results table may lack). Skipped where TeX is not installed (CI
has none); install it with `apt-get install latexmk texlive-latex-extra
texlive-fonts-recommended texlive-science`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from minimax.study.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk (TeX) is not installed"),
]


def _compile(folder: Path) -> str:
    """latexmk on ``folder/main.tex``; the log text (fails the test on a TeX error)."""
    run = subprocess.run(
        ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=folder, capture_output=True, text=True, errors="replace", timeout=600,
    )  # fmt: skip
    log = (folder / "main.log").read_text(errors="replace")
    assert run.returncode == 0, run.stdout[-3000:] + log[-3000:]
    assert (folder / "main.pdf").stat().st_size > 10_000
    return log


def _check_log(log: str) -> None:
    undefined = re.findall(r"^.*(?:undefined|Undefined).*$", log, re.M)
    assert not undefined, "\n".join(undefined)
    assert "There were undefined references" not in log
    assert not re.search(r"Citation .* undefined", log)


def _copy_paper(dst: Path) -> Path:
    shutil.copytree(ROOT / "paper", dst, ignore=shutil.ignore_patterns(
        "*.aux", "*.log", "*.bbl", "*.blg", "*.fls", "*.fdb_latexmk", "*.out", "main.pdf"))  # fmt: skip
    return dst


def test_the_committed_paper_builds_without_undefined_references(tmp_path):
    _check_log(_compile(_copy_paper(tmp_path / "paper")))


def test_main_tex_builds_from_any_results_table(tmp_path):
    """main.tex over a paper regenerated from the fixture: every macro, table, figure and
    generated paragraph it inputs exists for a table the study layer writes."""
    out = tmp_path / "paper"
    out.mkdir()
    for name in ("main.tex", "refs.bib"):
        shutil.copy(ROOT / "paper" / name, out / name)
    assert main(["paper", str(FIXTURE), "--exploration", str(FIXTURE), "--out", str(out)]) == 0
    _check_log(_compile(out))


def test_main_tex_builds_from_a_multi_seed_table(tmp_path):
    """main.tex over a paper regenerated from a results table with several target seeds per
    arm (the confirmatory study's shape; tests/paper_multiseed.py): the pooled headline, the
    per-seed appendix table and the score-profile figure all resolve."""
    from paper_multiseed import write_multiseed

    results = write_multiseed(tmp_path / "results" / "confirm")
    out = tmp_path / "paper"
    out.mkdir()
    for name in ("main.tex", "refs.bib"):
        shutil.copy(ROOT / "paper" / name, out / name)
    assert main(["paper", str(results), "--exploration", str(FIXTURE), "--out", str(out)]) == 0
    log = _compile(out)
    _check_log(log)
    assert "tab:per-seed" in (out / "main.aux").read_text()
