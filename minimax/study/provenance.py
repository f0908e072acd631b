"""Which code wrote a results folder: the record ``study.json`` keeps beside the specs.

A spec records what was asked for ("default" sampler, options left at their defaults), not what
those meant on the day: when a default changes, rerunning a stored spec runs another recipe. The
rows record the code fingerprint (``version``) and the resolved settings (``estimator_params``);
this record adds, for every run of the folder by different code, the git commit of the checkout
that ran it and the versions of the numerical libraries, so that the code behind a stored
number can be checked out and installed again.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from importlib import metadata
from pathlib import Path

import minimax


def git_state(path: Path | None = None) -> dict:
    """``{"git_commit": sha, "git_modified": bool}`` of the checkout holding ``path`` (default:
    the minimax package), whether its files differ from that commit (uncommitted edits under
    the package); both None outside a git checkout or without git."""
    where = Path(path) if path is not None else Path(minimax.__file__).parent
    try:

        def git(*args):
            return subprocess.run(
                ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10,
                check=True,
            ).stdout.strip()  # fmt: skip

        commit = git("rev-parse", "HEAD")
        modified = bool(git("status", "--porcelain", "--untracked-files=no", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_modified": None}
    return {"git_commit": commit, "git_modified": modified}


#: the libraries whose arithmetic reaches the numbers (fits, metrics, pooled models, tables)
LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "statsmodels", "torch")


def library_versions() -> dict:
    """The installed version of each of ``LIBRARIES`` (None where one is not installed)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_record(path: Path | None = None) -> dict:
    """This run's entry: the code fingerprint, the git state, the libraries, the UTC date."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    return {"code_version": minimax.code_version(), **git_state(path),
            "libraries": library_versions(), "date": now}  # fmt: skip


def _same_code(a: dict, b: dict) -> bool:
    keys = ("code_version", "git_commit", "git_modified", "libraries")
    return all(a.get(k) == b.get(k) for k in keys)


def study_record(study_json: Path, specs_dicts: list, record: dict | None = None) -> dict:
    """The content of ``study.json``: the specs, and the list of runs kept from the existing
    file with this run appended unless the last entry is the same code (same fingerprint,
    commit, modified flag and library versions), so resuming a study does not grow the list."""
    record = run_record() if record is None else record
    runs = []
    if Path(study_json).is_file():
        try:
            runs = list(json.loads(Path(study_json).read_text()).get("runs", []))
        except (ValueError, AttributeError):
            runs = []
    if not runs or not _same_code(runs[-1], record):
        runs.append(record)
    return {"studies": specs_dicts, "runs": runs}
