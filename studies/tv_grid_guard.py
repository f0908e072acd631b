"""Exploration: the regular-grid candidates' guard (``tv_candidates.MIN_CORRECTED_MASS``: a grid
competes only while that share of q's mass lies in cells with M·p ≥ 10) against the smooth
D = 2 class's small-n shortfall (results/calibration/replicates/choice_by_n.md: on that class
the next grid carries 0.986-0.989 of the mass in corrected cells, so the guard keeps its finest
grid half a level coarser than the band class's at every M, and at n = 250 that is the grid the
choice takes).

The KDE rows of a stored 20-replicate calibration arm are refitted exactly as the study fitted
them (``minimax.study.samples.refit_cells``), their M samples drawn again, and scored by
``metrics.tv`` with the guard patched to each value given, with the study's own metric stream
(so at the guard the stored rows were scored with, 0.99, the stored value comes back bit for
bit; the script checks it). The exponent offset (sampled − exact, flagged rows left out) is
then fitted by the studies' own ``gated_offset`` on the stored table with the sampled rows
replaced. The guard became 0.9 after this exploration and its held-out tests (docs/decisions.md,
fourteenth session).

    python studies/tv_grid_guard.py RESULTS_DIR OUT_CSV [--guards 0.99,0.95,0.9,0]
    python studies/tv_grid_guard.py --summary OUT_MD CSV [CSV ...]

The package's default is not changed by this script: the patch lives in this process only.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import pandas as pd

import minimax.metrics.tv_candidates as candidates
from minimax.metrics import tv
from minimax.metrics.sample_size import flag_below_rule
from minimax.study.calibration import gate_reading, gated_offset, offset_text
from minimax.study.samples import refit_cells, specs_from_results
from minimax.study.store import read_table

DEFAULT_GUARD = candidates.MIN_CORRECTED_MASS
#: the guard every stored calibration row was scored with (before the fourteenth session)
STORED_GUARD = 0.99


def score(folder: Path, guards: list[float]) -> pd.DataFrame:
    """One row per (arm, n, replicate, guard): value, flag, partition, M and the stored value."""
    stored = read_table(folder)
    out = []
    for spec in specs_from_results(folder):
        arm = spec.arm_label()
        for n in sorted(spec.n):
            t0 = time.perf_counter()
            reps = list(range(spec.replicates))
            target, fits = refit_cells(spec, n, "kde", reps)
            for rep, fit in zip(reps, fits, strict=True):
                y = fit.samples()
                row = stored[(stored["arm"] == arm) & (stored["n"] == n)
                             & (stored["replicate"] == rep) & (stored["estimator"] == "kde")
                             & (stored["metric"] == "tv_sampled")]  # fmt: skip
                for g in guards:
                    candidates.MIN_CORRECTED_MASS = g
                    try:  # the worker's metric stream, fresh for every guard
                        r = tv(target, y, rng=fit.cell.streams()["metric"])
                    finally:
                        candidates.MIN_CORRECTED_MASS = DEFAULT_GUARD
                    r = flag_below_rule(r, n, int(target.dim))
                    out.append({"arm": arm, "n": n, "replicate": rep, "guard": g,
                                "m": y.shape[0], "value": r.value, "se": r.se, "flag": r.flag,
                                "partition": r.details["partition"],
                                "stored": float(row["value"].iloc[0])})  # fmt: skip
            print(f"{folder.name} {arm} n={n}: {time.perf_counter() - t0:.0f} s", flush=True)
    return pd.DataFrame(out)


def replaced(stored: pd.DataFrame, scored: pd.DataFrame, guard: float) -> pd.DataFrame:
    """The stored table with its KDE tv_sampled rows' value, se and flag from ``guard``."""
    new = scored[scored["guard"] == guard].set_index(["arm", "n", "replicate"])
    rows = stored.copy()
    pick = (rows["estimator"] == "kde") & (rows["metric"] == "tv_sampled")
    key = pd.MultiIndex.from_frame(rows.loc[pick, ["arm", "n", "replicate"]])
    for col in ("value", "se", "flag"):
        rows.loc[pick, col] = new.loc[key, col].to_numpy()
    return rows


def summary(out: Path, csvs: list[Path]) -> None:
    lines = [
        "# The grid candidates' guard against the KDE calibration arms (exploration)",
        "",
        "Written by `python studies/tv_grid_guard.py --summary`. Guard: the share of q's mass "
        f"that must lie in corrected cells (M·p ≥ 10) for a grid to compete ({STORED_GUARD} when "
        f"the stored rows were scored, {DEFAULT_GUARD} now; "
        "0: every grid of the ladder competes). Offset: the KDE's sampled − exact exponent, "
        "flagged rows left out (95 % CI, CRV3 by n). Rows changed: values that differ from the "
        "stored ones. Ratio: mean sampled/exact per n, every row.",
        "",
    ]
    for csv in csvs:
        scored = pd.read_csv(csv)
        folder = Path(json.loads(Path(str(csv) + ".json").read_text())["results"])
        stored = read_table(folder)
        exact = stored[(stored["estimator"] == "kde") & (stored["metric"] == "tv")]
        scored = scored.merge(exact[["arm", "n", "replicate", "value"]].rename(
            columns={"value": "exact"}), on=["arm", "n", "replicate"])  # fmt: skip
        at_default = scored[scored["guard"] == STORED_GUARD]
        gap = float((at_default["value"] - at_default["stored"]).abs().max())
        lines += [f"## {folder}", "",
                  f"At the guard {STORED_GUARD} the stored values come back: max |difference| {gap:.2g} "
                  f"over {len(at_default)} rows.", "",
                  "| arm | guard | offset | flagged | rows changed | " + " | ".join(
                      f"n = {n}" for n in sorted(scored["n"].unique())) + " |",
                  "|---|---|---|---|---|" + "---|" * scored["n"].nunique()]  # fmt: skip
        for (arm, g), grp in scored.groupby(["arm", "guard"], sort=False):
            pair = gated_offset(replaced(stored[stored["arm"] == arm], grp, g))
            cell = ("not measurable" if pair is None else
                    f"{offset_text(pair.difference)} [{pair.ci_low:+.3f}, {pair.ci_high:+.3f}]: "
                    f"{gate_reading(pair.difference, pair.ci_low, pair.ci_high)}")  # fmt: skip
            ratios = (grp["value"] / grp["exact"]).groupby(grp["n"]).mean()
            flagged = int((grp["flag"] != "ok").sum())
            changed = int((grp["value"] != grp["stored"]).sum())
            lines.append(f"| {arm} | {g:g} | {cell} | {flagged} of {len(grp)} | {changed} | "
                         + " | ".join(f"{v:.3f}" for v in ratios) + " |")  # fmt: skip
        lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--guards", default="0.99,0.95,0.9,0")
    ap.add_argument("--summary", action="store_true", help="paths: OUT_MD then the CSVs")
    args = ap.parse_args()
    if args.summary:
        summary(Path(args.paths[0]), [Path(p) for p in args.paths[1:]])
        return
    if len(args.paths) != 2:
        sys.exit("expected RESULTS_DIR OUT_CSV")
    guards = [float(v) for v in args.guards.split(",")]
    if STORED_GUARD not in guards:
        sys.exit(f"--guards: expected the stored rows' guard {STORED_GUARD} among them (the check)")
    folder, out = Path(args.paths[0]), Path(args.paths[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    score(folder, guards).to_csv(out, index=False)
    Path(str(out) + ".json").write_text(json.dumps({"results": str(folder), "guards": guards}))


if __name__ == "__main__":
    main()
