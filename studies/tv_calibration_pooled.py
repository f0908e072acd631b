"""Simulated-study batches of ``tv_calibration.py`` side by side and pooled, with the
uncertainty of the calibration itself.

    python studies/tv_calibration_pooled.py BATCH.csv [BATCH.csv ...] --out summary.md

Each batch is a ``simulated_studies.csv`` (one row per simulated study). Per batch, per M rule
and c, and pooled over the batches (which must not share a study index: a repeated seed would be
counted twice), the report gives the exponent's bias with its se (sd / sqrt(studies)), the CI's
coverage of the true exponent with a 95 % Wilson interval (statsmodels' ``proportion_confint``)
and the flagged rows per study. A goal (bias <= 0.01, coverage >= 90 %) is met, missed, or not
resolved by the batch when its own interval straddles the goal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import pandas as pd
from statsmodels.stats.proportion import proportion_confint
from tv_calibration import markdown  # this script's folder is on sys.path

from minimax.study.tv_simulation import EXPONENT

BIAS_GOAL = 0.01
COVERAGE_GOAL = 0.90


def _judge(lo: float, hi: float, goal: float, higher_is_better: bool) -> str:
    good, bad = (lo >= goal, hi < goal) if higher_is_better else (hi <= goal, lo > goal)
    return "met" if good else "missed" if bad else "not resolved"


def summarise(sims: pd.DataFrame) -> pd.DataFrame:
    """One row per (M rule, c): bias ± se with its 95 % interval, coverage with its Wilson
    interval, and each judged against its goal."""
    rows = []
    for (rule, c), g in sims.groupby(["M_rule", "c"]):
        k = len(g)
        bias = g["exponent"].mean() - EXPONENT
        se = g["exponent"].std(ddof=1) / k**0.5
        hits = int(g["covered"].sum())
        lo, hi = proportion_confint(hits, k, alpha=0.05, method="wilson")
        rows.append({"M_rule": rule, "c": c, "studies": k,
                     "bias": f"{bias:+.4f} ± {se:.4f}",
                     "bias_vs_0.01": _judge(bias - 1.96 * se, bias + 1.96 * se, BIAS_GOAL,
                                            higher_is_better=False),
                     "coverage": f"{hits}/{k} = {hits / k:.1%} [{lo:.1%}, {hi:.1%}]",
                     "coverage_vs_90%": _judge(lo, hi, COVERAGE_GOAL, higher_is_better=True),
                     "flagged_rows": f"{g['flagged'].mean():.2f}"})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("batches", type=Path, nargs="+", help="simulated_studies.csv files")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    missing = [str(p) for p in a.batches if not p.is_file()]
    if missing:
        ap.error(f"batches: no such file {', '.join(missing)}")
    frames = [pd.read_csv(p).assign(batch=str(p)) for p in a.batches]
    sims = pd.concat(frames, ignore_index=True)
    dup = sims.duplicated(["M_rule", "c", "study"])
    if dup.any():
        ap.error(f"batches: {int(dup.sum())} studies appear in more than one batch "
                 "(the same seeds would count twice); run a batch with --first-study")  # fmt: skip
    lines = ["# Simulated studies of the sampled TV, by batch and pooled",
             "(studies/tv_calibration_pooled.py)", "",
             f"True exponent {EXPONENT:.4f}. Bias: mean fitted exponent − truth ± its se; "
             "judged with its 95 % interval against ≤ 0.01. Coverage: share of studies whose "
             "95 % CI holds the truth, with a 95 % Wilson interval, judged against ≥ 90 %.", ""]  # fmt: skip
    for f in frames:
        idx = f["study"]
        lines += [f"## {f['batch'].iloc[0]} (studies {idx.min()}-{idx.max()})", "",
                  markdown(summarise(f).set_index(["M_rule", "c"])), ""]  # fmt: skip
    if len(frames) > 1:
        lines += [
            f"## Pooled ({len(frames)} batches)",
            "",
            markdown(summarise(sims).set_index(["M_rule", "c"])),
            "",
        ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
