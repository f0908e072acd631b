"""Summary of the score-error step-budget ablation (studies/ablation_score_steps_x*.toml).

    python studies/score_steps_summary.py [--results results/ablations] [--out FILE]

Per training-step multiple k and n: the mean TV, the σ²-weighted score error, the unweighted
time integral, and the score error per time (from each row's audit column, interpolated in log t
onto fixed times shared by every n), with the exponent between the smallest and largest n at
each of those times: −log(e(n_max)/e(n_min))/log(n_max/n_min). The question (issue 13): does
the large-t exponent rise with k while the TV changes little?
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.study import store

TIMES = (0.01, 0.03, 0.1, 0.3, 1.0)


def per_time(rows: pd.DataFrame) -> np.ndarray:
    """The mean over rows of each row's e(t) at TIMES (log-log interpolation; NaN outside)."""
    out = []
    for audit in rows["audit"]:
        per_t = json.loads(audit).get("per_t") or []
        t = np.log([r["t"] for r in per_t])
        e = np.log([r["error"] for r in per_t])
        out.append(np.exp(np.interp(np.log(TIMES), t, e, left=np.nan, right=np.nan)))
    return np.nanmean(np.array(out), axis=0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--results", type=Path, default=Path("results/ablations"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    lines = ["# Score error against training steps (studies/score_steps_summary.py)", "",
             "| k | n | TV | score (σ²-weighted) | score integral | "
             + " | ".join(f"e(t={t:g})" for t in TIMES) + " |",
             "|---|---|---|---|---|" + "---|" * len(TIMES)]  # fmt: skip
    slopes = []
    for k in (1, 2, 4):
        folder = a.results / f"score_steps_x{k}"
        if not (folder / "results.parquet").is_file():
            continue
        df = store.read_table(folder)
        df = df[(df["status"] == "ok") & (df["estimator"] == "ddpm")]
        prof = {}
        for n, g in df.groupby("n"):
            mean = {m: g.loc[g["metric"] == m, "value"].mean() for m in
                    ("tv", "score", "score_integral")}  # fmt: skip
            prof[n] = per_time(g[g["metric"] == "score"])
            lines.append(f"| x{k} | {n} | {mean['tv']:.4f} | {mean['score']:.4f} | "
                         f"{mean['score_integral']:.4f} | "
                         + " | ".join(f"{v:.3g}" for v in prof[n]) + " |")  # fmt: skip
        lo, hi = min(prof), max(prof)
        ratio = np.log(hi / lo)
        tv = df[df["metric"] == "tv"].groupby("n")["value"].mean()
        slopes.append(f"| x{k} | {-np.log(tv[hi] / tv[lo]) / ratio:.3f} | "
                      + " | ".join(f"{-np.log(prof[hi][j] / prof[lo][j]) / ratio:.3f}"
                                   for j in range(len(TIMES))) + " |")  # fmt: skip
    lines += ["", "Exponents between the smallest and largest n (two-point slopes, 3 replicates):",
              "", "| k | TV | " + " | ".join(f"e(t={t:g})" for t in TIMES) + " |",
              "|---|---|" + "---|" * len(TIMES), *slopes, ""]  # fmt: skip
    text = "\n".join(lines)
    out = a.out or a.results / "score_steps_summary.md"
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
