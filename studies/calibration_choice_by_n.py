"""Where the smooth D = 2 class's small-n shortfall comes from, read from the stored rows of the
20-replicate calibration arms (no new sampling): per design and n, which partition the choice
among candidates took (docs/tv.md §3, step 5) and how each choice read against the exact TV;
and whether extrapolating the stability check's M/4 → M rise (value + drift / (4^γ − 1),
γ = 2/(2 + D), the binning-loss rate of docs/tv.md §3) would flatten the ratio across n.

    python studies/calibration_choice_by_n.py [--out results/calibration/replicates/choice_by_n.md]
"""

import argparse
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import pandas as pd
from calibration_ratio_by_n import DESIGNS, with_audit
from calibration_replicates_summary import ROOT


def extrapolated(x: pd.DataFrame) -> pd.Series:
    """value + (value − value(M/4)) / (4^γ − 1), γ = 2/(2 + D), over the exact TV."""
    g = 4.0 ** (2.0 / (2.0 + x["D"])) - 1.0
    return (x["tv_sampled"] + (x["tv_sampled"] - x["quarter"]) / g) / x["tv"]


def choice_text(group: pd.DataFrame) -> str:
    """'partition: rows, mean ratio' for each partition chosen, most frequent first."""
    parts = group.groupby("partition")["ratio"].agg(["size", "mean"])
    parts = parts.sort_values("size", ascending=False)
    return "; ".join(f"{p} {int(r['size'])}× {r['mean']:.3f}" for p, r in parts.iterrows())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "choice_by_n.md"))
    args = ap.parse_args()
    lines = [
        "# The KDE's sampled TV by the partition its choice took (D = 2, s = 1.5, 20 "
        "replicates per n)",
        "",
        "Written by `python studies/calibration_choice_by_n.py` from the stored rows and audits "
        "(every row, flagged or not), as stored: scored with the grid guard 0.99, before the "
        "fourteenth session. `chosen`: each partition the choice among candidates took, "
        "how many rows took it and their mean sampled/exact ratio. `extrapolated`: the mean of "
        "(value + drift / (4^γ − 1)) / exact, γ = 2/(2 + D), drift = value(M) − value(M/4).",
        "",
        "| design | n | M | sampled/exact | extrapolated | chosen (rows, mean ratio) |",
        "|---|---|---|---|---|---|",
    ]
    for label, name in DESIGNS:
        folder = ROOT / name
        if not (folder / "results.parquet").exists():
            lines.append(f"| {label} | {folder} not found (run its study file first) | | | | |")
            continue
        x = with_audit(folder)
        x["extrapolated"] = extrapolated(x)
        for (_, n), group in x.groupby(level=["arm", "n"]):
            lines.append(
                f"| {label} | {n} | {int(group['m'].iloc[0]):,} | {group['ratio'].mean():.3f} | "
                f"{group['extrapolated'].mean():.3f} | {choice_text(group)} |"
            )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
