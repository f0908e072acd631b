"""Do the committed results still come out of the current code? One cheap cell per model, refitted.

    python studies/reproducibility_audit.py [--out results/reproducibility] [FOLDER ...]
    python studies/reproducibility_audit.py --summary A/audit.csv B/audit.csv --out OUT

(the second form joins runs made in parallel over disjoint folders into one ``OUT/audit.csv`` and
``OUT/audit.md``)

Every number in ``results/`` carries the fingerprint of the code that produced it (the
``version`` column: ``minimax.code_version()``). When the code changes, a stored study keeps the old
numbers; this script says which of them the current code still reproduces. For each folder
(default: every study folder under ``results/``, ``results/recompute/`` and
``results/calibration/``, ablations left out as the history they are) and each arm and model of
its ``study.json``, it reruns the work unit at the smallest n exactly as the study's worker ran
it (the same spec, hence the same training sets, fitting and metric streams; an ensemble trains
all its replicates together, so the whole unit is rerun; otherwise replicate 0 alone), and
compares every metric row with the stored one. A spec whose sampler reads "default" ran the
default of its day: the audit reruns the sampler its rows record (``estimator_params``).

A row is ``equal`` when the value agrees to 1e-9 relative (thread-count reductions aside, a
refit is bit for bit). Per (folder, arm, model) the table gives the stored fingerprint, how many
rows are equal, the largest relative difference and the metrics that moved. A model whose fit
moved (its held-out loss or its KDE bandwidth: ``FIT_KEYS`` of ``estimator_params``) is marked ``fit``;
one whose fit is the same but whose TV moved is marked ``scoring`` (the TV estimator changed);
``equal`` otherwise. It writes ``audit.csv`` (one line per row compared) and ``audit.md``.
It only reads the folders it audits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

import minimax
from minimax.study.registry import ESTIMATORS
from minimax.study.samples import specs_from_results
from minimax.study.spec import WorkUnit
from minimax.study.worker import run_unit

RTOL, ATOL = 1e-9, 1e-12
#: estimator_params entries that record what a fit selected or learned (the DDPM's held-out loss
#: and best step, the VAE's ELBO and learning rate, the KDE's bandwidth h); a model with none
#: (the trivial baselines) is compared on its whole record
FIT_KEYS = ("heldout_loss", "best_step", "heldout_elbo", "selected_lr", "kde_h")
ROOTS = ("results", "results/recompute", "results/calibration", "results/calibration/replicates")


def study_folders(roots=ROOTS) -> list[Path]:
    """Every folder directly under ``roots`` holding a study.json and a results.parquet."""
    found = []
    for root in roots:
        for d in sorted(Path(root).iterdir()):
            if (d / "study.json").is_file() and (d / "results.parquet").is_file():
                found.append(d)
    return found


def _params(row) -> dict:
    try:
        return json.loads(row) if isinstance(row, str) else {}
    except ValueError:
        return {}


def same_fit(stored: str, now: str) -> bool:
    """The fit recorded in two estimator_params records is the same (``FIT_KEYS``)."""
    a, b = _params(stored), _params(now)
    keys = [k for k in FIT_KEYS if k in a or k in b]
    return all(a.get(k) == b.get(k) for k in keys) if keys else a == b


def params_moved(stored: str, now: str) -> str:
    """The estimator_params entries whose values differ (what changed in the recipe or the fit)."""
    a, b = _params(stored), _params(now)
    return ",".join(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))


def equal(a: float, b: float) -> bool:
    """Equal values: both NaN, or |b − a| ≤ RTOL·max(|a|, |b|) + ATOL."""
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return abs(b - a) <= RTOL * max(abs(a), abs(b)) + ATOL


def rel_diff(a: float, b: float) -> float:
    """|b − a| relative to the larger value, never below 1e-6 (no table prints finer)."""
    if np.isnan(a) or np.isnan(b):
        return 0.0 if np.isnan(a) and np.isnan(b) else float("inf")
    return abs(b - a) / max(abs(a), abs(b), 1e-6)


def audit_unit(folder: Path, spec, estimator: str, stored: pd.DataFrame) -> list[dict]:
    """Rerun (spec, smallest n, estimator) and compare its rows with the stored ones."""
    n = min(spec.n)
    entry = ESTIMATORS[estimator]
    reps = () if entry.ensemble else (0,)
    arm = spec.arm_label()
    old = stored[(stored["arm"] == arm) & (stored["n"] == n) & (stored["estimator"] == estimator)]
    if entry.uses_torch and spec.sampler == "default" and len(old):
        # "default" named the default of its day: rerun the sampler the rows record they ran
        ran = _params(old["estimator_params"].iloc[0]).get("sampler")
        if ran:
            spec = dataclasses.replace(spec, sampler=ran)
    t0 = time.perf_counter()
    results = run_unit(WorkUnit(spec=spec, n=n, estimator=estimator, replicates=reps))
    seconds = time.perf_counter() - t0
    out = []
    for res in results:
        for row in res.rows:
            match = old[(old["replicate"] == row["replicate"]) & (old["metric"] == row["metric"])]
            if match.empty:
                continue
            was = match.iloc[0]
            a, b = float(was["value"]), float(row["value"])
            out.append({
                "folder": str(folder), "arm": arm, "estimator": estimator, "n": n,
                "replicate": int(row["replicate"]), "metric": row["metric"],
                "stored_version": str(was["version"]), "stored": a, "now": b,
                "rel_diff": rel_diff(a, b), "equal": equal(a, b),
                "fit_equal": same_fit(was["estimator_params"], row["estimator_params"]),
                "params_moved": params_moved(was["estimator_params"], row["estimator_params"]),
                "stored_flag": str(was["flag"]), "flag_now": str(row["flag"]),
                "seconds": seconds, "version_now": minimax.code_version(),
            })  # fmt: skip
    # a stored row the current code no longer writes (a metric renamed or dropped) is a difference
    produced = {(r["replicate"], r["metric"]) for res in results for r in res.rows}
    reps_run = {r for r, _ in produced}
    for _, was in old[old["replicate"].isin(reps_run)].iterrows():
        if (was["replicate"], was["metric"]) not in produced:
            out.append({
                "folder": str(folder), "arm": arm, "estimator": estimator, "n": n,
                "replicate": int(was["replicate"]), "metric": was["metric"],
                "stored_version": str(was["version"]), "stored": float(was["value"]),
                "now": float("nan"), "rel_diff": float("inf"), "equal": False,
                "fit_equal": True, "params_moved": "", "stored_flag": str(was["flag"]),
                "flag_now": "not written", "seconds": seconds,
                "version_now": minimax.code_version(),
            })  # fmt: skip
    return out


def verdict(rows: pd.DataFrame) -> str:
    """``equal``, ``scoring`` (same fit, a metric moved) or ``fit`` (the fit itself moved)."""
    if rows["equal"].all():
        return "equal"
    return "scoring" if rows["fit_equal"].all() else "fit"


def summary_table(df: pd.DataFrame) -> str:
    version = ", ".join(sorted(set(df["version_now"])))
    lines = [
        "# Do the committed results still come out of the current code? "
        "(studies/reproducibility_audit.py)",
        "",
        f"Current code: `{version}`. Per folder, arm and model: the work unit at the smallest n "
        "rerun as the study ran it, every metric row compared with the stored one (equal: to "
        f"{RTOL:g} relative, {ATOL:g} absolute). `fit`: the model's fit moved (its estimator_params); `scoring`: "
        "the same fit, a metric moved; `equal`: every row came back.",
        "",
        "| folder | arm | model | n | stored code | rows equal | largest rel. diff | metrics moved "
        "| estimator_params entries moved | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ["folder", "arm", "estimator", "n"]
    for (folder, arm, est, n), g in df.groupby(keys, sort=False):
        moved = sorted(set(g.loc[~g["equal"], "metric"]))
        entries = sorted({k for v in g["params_moved"].dropna() for k in str(v).split(",") if k})
        lines.append(
            f"| {folder} | {arm} | {est} | {n} | {', '.join(sorted(set(g['stored_version'])))} "
            f"| {int(g['equal'].sum())}/{len(g)} | {g['rel_diff'].max():.2g} "
            f"| {', '.join(moved) or '—'} | {', '.join(entries) or '—'} | {verdict(g)} |"
        )
    per_folder = df.groupby("folder", sort=False).apply(verdict, include_groups=False)
    lines += ["", "## Per folder", ""]
    for result in ("equal", "scoring", "fit"):
        names = [f"`{f}`" for f, v in per_folder.items() if v == result]
        lines.append(f"- **{result}** ({len(names)}): " + (", ".join(names) or "none"))
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/reproducibility"))
    ap.add_argument("--summary", nargs="+", type=Path, metavar="CSV",
                    help="only join these audit.csv files into OUT/audit.csv and OUT/audit.md")  # fmt: skip
    args = ap.parse_args(argv)
    if args.summary:
        df = pd.concat([pd.read_csv(c) for c in args.summary], ignore_index=True)
        args.out.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out / "audit.csv", index=False)  # read in full above, so OUT may be an input
        (args.out / "audit.md").write_text(summary_table(df))
        print(args.out / "audit.md")
        return
    folders = args.folders or study_folders()
    for f in folders:
        if not (f / "study.json").is_file():
            raise SystemExit(f"folders={str(f)!r} is not allowed: no study.json in it")
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / "audit.csv"
    rows = pd.read_csv(csv).to_dict("records") if csv.is_file() else []
    done = {(r["folder"], r["arm"], r["estimator"]) for r in rows}
    for folder in folders:
        stored = pd.read_parquet(folder / "results.parquet")
        for spec in specs_from_results(folder):
            for est in spec.estimators:
                if (str(folder), spec.arm_label(), est) in done:
                    continue
                new = audit_unit(folder, spec, est, stored)
                rows += new
                pd.DataFrame(rows).to_csv(csv, index=False)  # resumable: a row per unit as it ends
                eq = sum(r["equal"] for r in new)
                print(f"{folder} {spec.arm_label()} {est}: {eq}/{len(new)} rows equal", flush=True)
    df = pd.DataFrame(rows)
    (args.out / "audit.md").write_text(summary_table(df))
    print(args.out / "audit.md")


if __name__ == "__main__":
    main()
