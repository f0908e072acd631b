"""Does the stability flag tell the truth about the DDPM's rows? The DDPM cells of a stored
rate study refitted exactly as the study fitted them (``minimax.study.samples.refit_cells``), each scored
at the study's M (must equal the stored row) and at FACTOR × M (the study's M samples plus
(FACTOR − 1)·M more from a separate stream). A row whose value at FACTOR × M is well above
its value at M was low at M; a row flagged ``ok`` should not be (docs/tv.md §4).

    python studies/rising_flag_check.py RESULTS_DIR OUT_DIR [--n 250,500] [--factor 4]
                                        [--replicates 0,2]

Writes OUT_DIR/rising_check.csv and OUT_DIR/rising_check.md.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.metrics import tv
from minimax.study.registry import METRICS
from minimax.study.samples import refit_cells, specs_from_results
from minimax.study.store import read_table

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("out")
ap.add_argument("--n", default="")
ap.add_argument("--factor", type=int, default=4)
ap.add_argument("--replicates", default="", help="e.g. 0,2 (default: every replicate)")
args = ap.parse_args()
if args.factor < 2:
    sys.exit("factor: expected an integer >= 2")

(spec,) = specs_from_results(args.results)
stored = read_table(Path(args.results))
sizes = [int(v) for v in args.n.split(",")] if args.n else sorted(spec.n)
reps = [int(v) for v in args.replicates.split(",")] if args.replicates else range(spec.replicates)
rows = []
for n in sizes:
    t0 = time.perf_counter()
    target, fits = refit_cells(spec, n, "ddpm", list(reps))
    for rep, fit in zip(reps, fits, strict=True):
        at_m = next(r for r in METRICS["tv"].compute(fit) if r.metric == "tv")
        m = fit.samples().shape[0]
        extra_rng = np.random.default_rng([int(fit.cell.seed) % 2**63, 4, args.factor])
        more = np.asarray(fit.est.sample((args.factor - 1) * m, extra_rng), np.float64)
        big = tv(target, np.concatenate([fit.samples(), more]), rng=1)
        row = stored[(stored["n"] == n) & (stored["replicate"] == rep)
                     & (stored["estimator"] == "ddpm") & (stored["metric"] == "tv")]  # fmt: skip
        rows.append({
            "n": n, "replicate": rep, "M": m, "stored": float(row["value"].iloc[0]),
            "value_M": at_m.value, "se_M": at_m.se, "flag_M": at_m.flag,
            "loss_estimate_M": at_m.details["binning_loss_estimate"],
            "partition_M": at_m.details["partition"],
            "value_big": big.value, "se_big": big.se, "flag_big": big.flag,
            "partition_big": big.details["partition"],
        })  # fmt: skip
        print(json.dumps(rows[-1], default=str), flush=True)
    print(f"n = {n}: {time.perf_counter() - t0:.0f} s", flush=True)

df = pd.DataFrame(rows)
df["rise"] = df["value_big"] - df["value_M"]
df["rise_rel"] = df["rise"] / df["value_big"]
df["rise_z"] = df["rise"] / np.sqrt(np.maximum(df["se_M"] ** 2 - df["se_big"] ** 2, 0) + 1e-30)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
df.to_csv(out / "rising_check.csv", index=False)
lines = [
    f"# Rows at M and at {args.factor} × M ({spec.name}, DDPM; `studies/rising_flag_check.py`)",
    "",
    f"Same fits as the study (value at M equals the stored row: "
    f"{bool(np.allclose(df['value_M'], df['stored'], rtol=1e-12, atol=0))}). "
    f"rise = value({args.factor}M) − value(M), relative to value({args.factor}M); "
    "loss estimate: the flag's extrapolated binning loss at M.",
    "",
    f"| n | rep | M | flag at M | value(M) | loss estimate | value({args.factor}M) | "
    f"flag at {args.factor}M | rise | rise % |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for r in df.itertuples():
    lines.append(f"| {r.n} | {r.replicate} | {r.M:,} | {r.flag_M} | {r.value_M:.4f} | "
                 f"{r.loss_estimate_M:+.4f} | {r.value_big:.4f} | {r.flag_big} | "
                 f"{r.rise:+.4f} | {100 * r.rise_rel:+.1f} |")  # fmt: skip
for flag, g in df.groupby("flag_M"):
    lines.append(
        f"\nrows flagged {flag} at M: {len(g)}, mean rise {100 * g['rise_rel'].mean():+.1f} % "
        f"(range {100 * g['rise_rel'].min():+.1f} … {100 * g['rise_rel'].max():+.1f} %)"
    )
(out / "rising_check.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
