"""The early-stop blur of the adaptivity study's DDPM, exactly (docs/tv.md §9).

    python studies/adaptivity_blur.py [--results results/adaptivity]

The DDPM of ``studies/adaptivity.toml`` stops its sampler at T̲ with σ(T̲)/m(T̲) =
0.2·n^{-1/(2s+D)}, the rate-optimal bandwidth of a *dense* s-smooth density. A sampler with the
true score and no discretisation error, stopped there, returns q blurred by that Gaussian (and
folded into the box): ``blur_tv`` computes that TV exactly from the target's cell masses. Where
it is close to the DDPM's TV, the DDPM's slope is set by the recipe's early stop, not by what its
network learned, and the study cannot say whether the score adapts. Reads the DDPM's realised
T̲ per n from the results table (``estimator_params.sample_t_min``) and writes ``blur.csv``
beside it: n, T̲, σ/m and its constant c = σ/m·n^{1/(2s+D)}, the blur's TV with its flag, cells and change from half as many cells (its numerical error), the DDPM's mean TV and
the blur's share of it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.diffusion.processes import make_process
from minimax.diffusion.sizing import aligned_grid
from minimax.metrics.blur_tv import blur_tv
from minimax.study import store
from minimax.study.samples import specs_from_results
from minimax.study.worker import build_target


def run(folder: Path) -> pd.DataFrame:
    """One row per n of the DDPM in ``folder`` (every replicate stops at the same T̲)."""
    (spec,) = specs_from_results(folder)
    target = build_target(spec.target, max(spec.n))
    df = store.read_table(folder)
    rows = df[(df["estimator"] == "ddpm") & (df["metric"] == "tv") & (df["status"] == "ok")]
    out = []
    for n, group in rows.groupby("n"):
        params = [json.loads(p) for p in group["estimator_params"]]
        t_mins = {round(float(p["sample_t_min"]), 12) for p in params}
        if len(t_mins) != 1 or {p["standardize"] for p in params} != {"box"}:
            raise RuntimeError(f"n={n}: replicates do not share one T̲ and the box scaling")
        t = t_mins.pop()
        # the DDPM's own grid: the default schedule refined so that T̲ is a grid time
        process = aligned_grid(make_process("ddpm"), int(n), spec.target.D, spec.target.s)
        if {int(p["T"]) for p in params} != {process.schedule.T}:
            raise RuntimeError(f"n={n}: the rebuilt grid is not the DDPM's (T differs)")
        m, sigma = (float(v) for v in process.marginal(np.float64(t)))
        # the box [-1, 1]^D is the model's own coordinates (standardize "box": shift 0, scale 1)
        res = blur_tv(target, m, sigma, centre=np.zeros(target.dim), boundary="reflect")
        tv = float(group["value"].mean())
        out.append({"n": int(n), "t_min": t, "sigma_over_m": sigma / m,
                    # the realised constant c of σ/m = c·n^{-1/(2s+D)} (the rule's is 0.2)
                    "early_stop_ratio": sigma / m * n ** (1 / (2 * spec.target.s + spec.target.D)),
                    "blur_tv": res.value, "blur_flag": res.flag,
                    "blur_change_from_half_cells": res.ci_high - res.value, "cells": res.m,
                    "ddpm_tv_mean": tv, "replicates": len(group),
                    "blur_share": res.value / tv})  # fmt: skip
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results/adaptivity", type=Path)
    args = ap.parse_args()
    table = run(args.results)
    path = args.results / "blur.csv"
    table.to_csv(path, index=False)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
