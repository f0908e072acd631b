"""The README's "Python" example runs as written, and does what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minimax.study.plugins import unregister

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.slow


def python_section_code() -> str:
    text = README.read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python section holds one example"
    return blocks[0]


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_example"}
    try:
        exec(compile(python_section_code(), str(README), "exec"), namespace)
    finally:
        unregister()  # the example's instance is registered process-wide, as "hist"
    printed = capsys.readouterr().out
    result = namespace["result"]
    # what the comments promise: the printed summary, the table, the fits, a figure, no files
    assert printed.strip() == result.summary().strip() and "verdict" in printed
    assert set(result.table["estimator"]) == {"kde", "hist", "uniform"}
    tv = result.table[result.table["metric"] == "tv"]
    assert len(tv) == 3 * 4 * 2 and (tv["status"] == "ok").all()
    assert set(result.fits_table["estimator"]) >= {"kde", "hist", "uniform"}
    hist = next(f for f in result.fits if f.estimator == "hist")
    assert hist.exponent > 0.1  # the histogram's error falls with n
    assert type(namespace["fig"]).__name__ == "Figure"
    assert list(tmp_path.iterdir()) == []
