"""Put this checkout's root first on ``sys.path``; every study script imports it before
``minimax``.

A script under ``studies/`` run from a git worktree whose ``.venv`` is the main checkout's would
otherwise import the main checkout's package (the editable install points there), not the frozen
tree it runs from, and its results would not match their recorded commit (README, "Developing").
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if not sys.path or sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))
