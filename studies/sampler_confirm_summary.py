"""The confirmatory check of the dpm2m sampler against the ancestral one (studies/confirm_dpm2m.toml).

    python studies/sampler_confirm_summary.py [--out results/confirm_dpm2m/sampler_comparison.md]

Pairs ``results/recompute/confirm`` (the confirm study's fits, ancestral sampler, today's TV
estimator) with ``results/confirm_dpm2m`` (the same fits, dpm2m at a quarter of the steps). It
checks first that the fits are the same (``recompute_summary.same_fits``), then applies the
criterion frozen in the study file: per arm, the mean over the target seeds of the per-seed
DDPM exponent difference (dpm2m − ancestral) with its t interval (J − 1 df) must lie within
±0.05 (accepted), lie outside it and exclude 0 (rejected), or neither (not resolved); and the
oracle-score TV (the sampler's own part) must not rise above the ancestral one by more than
3 se at any (seed, n).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd
from recompute_summary import _load, same_fits
from scipy import stats

OLD, NEW = Path("results/recompute/confirm"), Path("results/confirm_dpm2m")
MARGIN = 0.05


def seed_differences(old_fits: pd.DataFrame, new_fits: pd.DataFrame) -> pd.DataFrame:
    """Per (class, seed): the DDPM's TV exponent under each sampler and their difference."""

    def ddpm(f):
        sel = f[(f["estimator"] == "ddpm") & (f["metric"] == "tv")].set_index("arm")
        return sel[["exponent", "n_rows"]]

    both = ddpm(old_fits).join(ddpm(new_fits), suffixes=("_ancestral", "_dpm2m"))
    both["difference"] = both["exponent_dpm2m"] - both["exponent_ancestral"]
    both["class"] = [a.split(" target_seed=")[0] for a in both.index]
    return both


def decide(diffs: np.ndarray) -> dict:
    """Mean difference, its 95 % t interval and the frozen criterion's verdict."""
    diffs = diffs[np.isfinite(diffs)]
    J = len(diffs)
    mean, se = float(diffs.mean()), float(diffs.std(ddof=1) / np.sqrt(J))
    q = stats.t.ppf(0.975, J - 1)
    lo, hi = mean - q * se, mean + q * se
    if -MARGIN < lo and hi < MARGIN:
        verdict = f"accepted: the 95% CI lies within ±{MARGIN}"
    elif (hi < 0 or lo > 0) and (hi < -MARGIN or lo > MARGIN):
        verdict = f"rejected: the 95% CI excludes 0 and lies outside ±{MARGIN}"
    else:
        verdict = f"not resolved: the 95% CI crosses ±{MARGIN}"
    return {"seeds": J, "mean": mean, "ci_low": lo, "ci_high": hi, "verdict": verdict}


def oracle_check(old_rows: pd.DataFrame, new_rows: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, n): the oracle-score TV under each sampler and whether dpm2m's exceeds the
    ancestral one by more than 3 se of the difference."""
    key = ["arm", "n"]

    def oracle(r):
        sel = r[(r["metric"] == "oracle_tv") & (r["estimator"] == "ddpm")]
        return sel.groupby(key)[["value", "se"]].first()

    both = oracle(old_rows).join(oracle(new_rows), suffixes=("_ancestral", "_dpm2m"))
    se = np.hypot(both["se_ancestral"], both["se_dpm2m"])
    both["z"] = (both["value_dpm2m"] - both["value_ancestral"]) / se
    both["worse_by_3se"] = both["z"] > 3
    return both


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(NEW / "sampler_comparison.md"))
    args = ap.parse_args(argv)
    old, new = _load(OLD), _load(NEW)
    cells, differ, gap = same_fits(old["rows"], new["rows"])
    lines = [
        "# dpm2m vs ancestral on the confirm study's fits (studies/sampler_confirm_summary.py)",
        "",
        f"Same fits: {cells} DDPM/KDE cells compared, {differ} with a different selection "
        f"record, largest held-out loss difference {gap:.1e}.",
        "",
        "| class | seeds | mean exponent difference (dpm2m − ancestral) | 95% CI | verdict |",
        "|---|---|---|---|---|",
    ]
    per_seed = seed_differences(old["fits"], new["fits"])
    for cls, grp in per_seed.groupby("class", sort=False):
        d = decide(grp["difference"].to_numpy(float))
        lines.append(f"| {cls} | {d['seeds']} | {d['mean']:+.3f} | [{d['ci_low']:+.3f}, "
                     f"{d['ci_high']:+.3f}] | {d['verdict']} |")  # fmt: skip
    lines += ["", "Per seed (rows the fit used in brackets):", "",
              "| arm | ancestral | dpm2m | difference |", "|---|---|---|---|"]  # fmt: skip
    for arm, r in per_seed.iterrows():
        lines.append(f"| {arm} | {r.exponent_ancestral:.3f} ({int(r.n_rows_ancestral)}) | "
                     f"{r.exponent_dpm2m:.3f} ({int(r.n_rows_dpm2m)}) | {r.difference:+.3f} |")  # fmt: skip
    pooled = []
    for label, d in (("ancestral", old), ("dpm2m", new)):
        p = d["pooled"]
        for r in p[(p["estimator"] == "ddpm") & (p["metric"] == "tv")].itertuples():
            pooled.append(f"| {r.arm} | {label} | {r.exponent:.3f} [{r.ci_low:.3f}, "
                          f"{r.ci_high:.3f}] | {r.verdict} |")  # fmt: skip
    lines += ["", "Pooled over the seeds (as the study reports them):", "",
              "| class | sampler | exponent [95% CI] | verdict |", "|---|---|---|---|",
              *sorted(pooled)]  # fmt: skip
    orc = oracle_check(old["rows"], new["rows"])
    worse = orc[orc["worse_by_3se"]]
    lines += ["", f"Oracle-score TV (the sampler's own part): {len(orc)} (seed, n) pairs; "
              f"dpm2m above ancestral by more than 3 se at {len(worse)}; mean difference "
              f"{(orc['value_dpm2m'] - orc['value_ancestral']).mean():+.4f} (mean z "
              f"{orc['z'].mean():+.2f})."]  # fmt: skip
    for (arm, n), r in worse.iterrows():
        lines.append(f"- {arm}, n = {n}: {r.value_ancestral:.4f} → {r.value_dpm2m:.4f} "
                     f"(z = {r.z:+.1f})")  # fmt: skip
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
