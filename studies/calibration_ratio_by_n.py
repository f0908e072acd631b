"""The KDE's sampled/exact TV ratio per n, at the study's M and at M/4 (the stability check's
quarter estimate, from each row's audit), in the D = 2 designs measured with 20 replicates per
n (results/calibration/replicates/): the smooth recipe study at the rule's M, the default (band)
study at the rule's M, the smooth recipe study at M = 200,000, and a smooth target held out from
the tuning (seed 12) at the rule's M and at M = 100,000 for n <= 1000. All rows, flagged or not.

    python studies/calibration_ratio_by_n.py [--out results/calibration/replicates/ratio_by_n.md]
"""

import argparse
import json
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd
from calibration_replicates_summary import ROOT, kde_pairs

DESIGNS = (
    ("smooth, the rule's M", "recipe_D2_s1.5_smooth_rule_m"),
    ("band (default study), the rule's M", "default"),
    ("smooth, M = 200,000", "recipe_D2_s1.5_smooth"),
    ("smooth, target seed 12 (held out)", "smooth_D2_seed12"),
    ("smooth, target seed 13 (held out)", "smooth_D2_seed13"),
)


def with_audit(folder: Path) -> pd.DataFrame:
    """kde_pairs of a folder with the chosen partition, value(M/4) and D from each audit."""
    rows = pd.read_parquet(folder / "results.parquet")
    x = kde_pairs(rows)
    audits = [json.loads(a) for a in x["audit"]]
    x["partition"] = [a.get("partition", "?") for a in audits]
    x["quarter"] = [a.get("value_quarter", np.nan) for a in audits]
    x["D"] = int(rows["D"].iloc[0])
    return x


def ratios(folder: Path) -> pd.DataFrame:
    """Per (arm, n): M, the mean exact TV and the mean sampled/exact ratio at M and at M/4."""
    x = with_audit(folder)
    x["at_M4"] = x["quarter"] / x["tv"]
    return x.groupby(level=["arm", "n"]).agg(M=("m", "first"), exact=("tv", "mean"),
                                             rows=("tv", "size"), at_M=("ratio", "mean"),
                                             at_M4=("at_M4", "mean"))  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "ratio_by_n.md"))
    args = ap.parse_args()
    lines = [
        "# The KDE's sampled / exact TV per n (D = 2, s = 1.5, 20 replicates per n)",
        "",
        "Written by `python studies/calibration_ratio_by_n.py`. Mean over every row (flagged or "
        "not) of the sampled TV at the study's M, and of its M/4 quarter estimate, over the exact "
        "TV of the same KDE fit, as stored: scored with the grid guard 0.99 (before the "
        "fourteenth session; results/ablations/tv_grid_guard/summary.md has them at 0.9).",
        "",
        "| design | n | M | exact TV | rows | sampled/exact at M | at M/4 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, name in DESIGNS:
        if not (ROOT / name / "results.parquet").exists():
            lines.append(
                f"| {label} | {ROOT / name} not found (run its study file first) | | | | | |"
            )
            continue
        for (_, n), r in ratios(ROOT / name).iterrows():
            lines.append(f"| {label} | {n} | {int(r.M):,} | {r.exact:.3f} | {int(r.rows)} | "
                         f"{r.at_M:.3f} | {r.at_M4:.3f} |")  # fmt: skip
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
