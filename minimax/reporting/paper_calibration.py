"""The paper's sentence on the headline study's calibration arm measured with more replicates
(``python -m minimax.study paper ... --calibration DIR``; docs/tv.md §6, "Reading the gate").

``DIR`` is a KDE-only study with the headline study's name, seeds, targets, n and M rule and
more replicates per (target seed, n) (``studies/calibration_replicates_confirm.toml``), so its
first replicate is the headline study's training set (checked: the same study names and seeds).
The sentence quotes its pooled offsets beside the headline's and reads each against the
±MAX_OFFSET gate with its CI.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from minimax.reporting.paper_data import StudyData, load_study
from minimax.reporting.paper_format import join_words, latex_escape, number_word, tex_ci, tex_num
from minimax.reporting.paper_words import arm_phrase
from minimax.study import store
from minimax.study.calibration import (
    GATE_WORDS,
    MAX_OFFSET,
    gate_category,
    gate_reading,
    gated_offset,
)


def _design(folder) -> set:
    """The (study name, seed) pairs of a results folder's study.json: what fixes its training
    sets."""
    path = Path(folder) / "study.json"
    studies = json.loads(path.read_text()).get("studies", []) if path.is_file() else []
    return {(s.get("name"), s.get("seed")) for s in studies}


def check_same_design(headline, calibration) -> None:
    """Raise ValueError unless the two folders' studies have the same names and seeds (so the
    calibration folder's first replicates are the headline's training sets)."""
    ours, theirs = _design(headline), _design(calibration)
    if not theirs or theirs != ours:
        raise ValueError(
            f"calibration={str(calibration)!r} is not allowed: its study names and seeds "
            f"{sorted(theirs)} are not the headline's {sorted(ours)}, so its replicates are not "
            "the headline's training sets"
        )


def _path_tex(folder) -> str:
    """A folder for \\texttt, breakable after each slash (a long path overruns a column)."""
    return latex_escape(str(folder).rstrip("/")).replace("/", "/\\allowbreak{}")


def _reading(off: dict) -> str:
    text = gate_reading(off["exponent"], off["ci_low"], off["ci_high"])
    return text.replace(f"±{MAX_OFFSET:g}", f"$\\pm{MAX_OFFSET:g}$")


def calibration_replicates_sentence(data: StudyData, folder) -> str:
    """One paragraph's worth: the offsets with the replicates of ``folder``, per group that
    both studies pool; "" when ``folder`` is None."""
    if folder is None:
        return ""
    check_same_design(data.folder, folder)
    rep = load_study(folder)
    where = _path_tex(rep.folder)
    reps = int(rep.df["replicate"].max()) + 1
    own = int(data.df["replicate"].max()) + 1
    clauses = []
    for unit, _, _ in data.units:
        off = rep.pooled.offset(unit) if unit in rep.pooled.groups else {}
        if "exponent" not in off:
            continue
        clauses.append(f"{tex_num(off['exponent'], signed=True)} "
                       f"{tex_ci(off['ci_low'], off['ci_high'], signed=True)} in "
                       f"{arm_phrase(data, unit)} ({_reading(off)})")  # fmt: skip
    if not clauses:
        return (f"The calibration study \\texttt{{{where}}} pools no target "
                "that this study pools, so it adds nothing here.")  # fmt: skip
    return (f"Measured again with {number_word(reps)} replicates per seed and $n$ instead of "
            f"{number_word(own)} (the same KDE design, study name and seeds, so the first "
            f"replicate is this study's training set; \\texttt{{{where}}}, "
            f"whose study file was committed before it ran), the pooled offsets are "
            f"{join_words(clauses)}.")  # fmt: skip


@functools.lru_cache(maxsize=8)
def _replicate_offsets(folder: str) -> dict:
    df = store.read_table(folder)
    df = df[df["status"] == "ok"]
    out = {}
    for arm, adf in df.groupby("arm", sort=False):
        pairs = [gated_offset(adf, exclude_flags=x) for x in (True, False)]
        out[str(arm)] = (int(adf["replicate"].max()) + 1, *pairs)
    return out


def replicate_offsets(folder) -> dict:
    """Per arm of a calibration folder: its replicates and the gating control's offset with the
    flagged rows left out (as every study fits) and kept (``{arm: (R, left out, kept)}``; an
    offset None where it is not measured). Read once per folder and process."""
    return _replicate_offsets(str(Path(folder).resolve()))


def tex_gate_words(difference: float, ci_low: float, ci_high: float) -> str:
    """GATE_WORDS for an offset, in LaTeX ("within the $\\pm0.01$ gate with its CI", ...)."""
    words = GATE_WORDS[gate_category(difference, ci_low, ci_high)]
    return words.replace("±{gate}", f"the $\\pm{MAX_OFFSET:g}$ gate")


def _tex_reading(p) -> str:
    return tex_gate_words(p.difference, p.ci_low, p.ci_high)


def replicate_offset_words(folder, offsets: dict, arm: str) -> str:
    """One sentence on an arm's offset measured with the replicates of a calibration folder
    (``offsets`` from :func:`replicate_offsets`); "" where the folder lacks the arm."""
    if arm not in offsets or offsets[arm][1] is None:
        return ""
    reps, out, kept = offsets[arm]
    where = _path_tex(folder)
    text = (f" On {number_word(reps)} KDE training sets per $n$ of the same design "
            f"(\\texttt{{{where}}}) it is {tex_num(out.difference, signed=True)} "
            f"{tex_ci(out.ci_low, out.ci_high, signed=True)} ({_tex_reading(out)})")  # fmt: skip
    if kept is not None and kept.pairs != out.pairs:
        text += (f", and {tex_num(kept.difference, signed=True)} "
                 f"{tex_ci(kept.ci_low, kept.ci_high, signed=True)} with the flagged rows kept "
                 f"({_tex_reading(kept)})")  # fmt: skip
    return text + "."
