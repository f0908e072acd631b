"""Study scripts import the package of the checkout they live in, not the editable install's."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "studies").glob("*.py") if not p.name.startswith("_"))


def test_a_script_in_another_tree_imports_that_trees_package(tmp_path):
    """A copy of studies/_this_tree.py in a tree with its own (stub) ``minimax`` package: a
    script there must import the stub, though the editable install points at this checkout."""
    tree = tmp_path / "frozen"
    (tree / "studies").mkdir(parents=True)
    (tree / "minimax").mkdir()
    (tree / "minimax" / "__init__.py").write_text("FROZEN = True\n")
    shutil.copy(ROOT / "studies" / "_this_tree.py", tree / "studies")
    probe = tree / "studies" / "probe.py"
    probe.write_text("import _this_tree  # noqa: F401\nimport minimax\nprint(minimax.__file__)\n")
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                         cwd=tmp_path, check=True)  # fmt: skip
    assert Path(out.stdout.strip()).resolve() == (tree / "minimax" / "__init__.py").resolve()
    # without the helper the same script finds the editable install (the test's premise)
    probe.write_text("import minimax\nprint(minimax.__file__)\n")
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                         cwd=tmp_path, check=True)  # fmt: skip
    assert Path(out.stdout.strip()).resolve() != (tree / "minimax" / "__init__.py").resolve()


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_every_study_script_imports_the_helper_before_minimax(script):
    lines = script.read_text().splitlines()
    imports = [i for i, line in enumerate(lines) if line.startswith(("import ", "from "))]
    helper = [i for i in imports if lines[i].startswith("import _this_tree")]
    ours = [i for i in imports if " minimax" in lines[i] or lines[i].startswith("from tv_")]
    if not ours:
        pytest.skip("imports nothing of the package")
    assert helper and helper[0] < min(ours)
