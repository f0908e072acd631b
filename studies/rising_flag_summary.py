"""The DDPM rows of ``rising_flag_check.py`` (values at M and at 4 × M, the flag of the tree
that ran it) beside the flags a later run of the same study gave the same rows (same fits, same
M samples, so the same values at M; only the stability check differs).

    python studies/rising_flag_summary.py CHECK_CSV[,CHECK_CSV...] NEW_RESULTS_DIR OUT_MD
"""

import sys
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd
import statsmodels.api as sm

from minimax.study.store import read_table

if len(sys.argv) != 4:
    sys.exit(__doc__)
check = pd.concat([pd.read_csv(p) for p in sys.argv[1].split(",")], ignore_index=True)
new = read_table(Path(sys.argv[2]))
new = new[(new["estimator"] == "ddpm") & (new["metric"] == "tv")]
df = check.merge(new[["n", "replicate", "value", "flag"]].rename(
    columns={"value": "value_new_run", "flag": "flag_new"}), on=["n", "replicate"])  # fmt: skip
same = bool(np.allclose(df["value_new_run"], df["value_M"], rtol=1e-12, atol=0))
df["rise_rel"] = (df["value_big"] - df["value_M"]) / df["value_big"]
lines = [
    "# The stability flag against the value at 4 × M (DDPM rows)",
    "",
    f"Values at M equal in both runs: {same}. rise = (value(4M) − value(M)) / value(4M).",
    "",
    "| n | rep | M | value(M) | flag before | flag now | value(4M) | rise % |",
    "|---|---|---|---|---|---|---|---|",
]
for r in df.sort_values(["n", "replicate"]).itertuples():
    lines.append(f"| {r.n} | {r.replicate} | {r.M:,} | {r.value_M:.4f} | {r.flag_M} | "
                 f"{r.flag_new} | {r.value_big:.4f} | {100 * r.rise_rel:+.1f} |")  # fmt: skip
lines.append("")
for col, name in (("flag_M", "before"), ("flag_new", "now")):
    for flag, g in df.groupby(col):
        lines.append(f"- flag {name} `{flag}`: {len(g)} rows, rise to 4 × M "
                     f"{100 * g['rise_rel'].mean():+.1f} % on average "
                     f"({100 * g['rise_rel'].min():+.1f} … {100 * g['rise_rel'].max():+.1f} %)")  # fmt: skip
# the exponent each M gives on these rows (OLS of log TV on log n), and the offset between
# them with an se clustered by n
x = np.log(df["n"].to_numpy(float))
slope = {c: -np.polyfit(x, np.log(df[c]), 1)[0] for c in ("value_M", "value_big")}
d = np.log(df["value_M"] / df["value_big"]).to_numpy()
off = sm.OLS(d, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": df["n"]})
beta, se_off = off.params, float(off.bse[1])
lines.append(
    f"- exponent of these rows (OLS of log TV on log n, n = {df['n'].min()} … {df['n'].max()}): "
    f"{slope['value_M']:.3f} at M, {slope['value_big']:.3f} at 4 × M; offset (M − 4M) "
    f"{-beta[1]:+.4f} ± {se_off:.4f} (CRV1 se clustered by n, statsmodels)"
)
Path(sys.argv[3]).write_text("\n".join(lines) + "\n")
print("\n".join(lines))
