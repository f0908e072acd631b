"""Calibration of the sampled TV on the study's own control: KDE fits, whose TV is exact.

    python studies/tv_kde_calibration.py [--out results/tv_calibration]

The KDE's bandwidth is the DDPM's early-stop blur, h = 0.2·n^(-1/(2s+D)) (docs/decisions.md),
so its error is as local and as fine-scaled as the DDPM's: a blurred jump along every face of
the box (band boundary) and fluctuations at scale h everywhere. Unlike the sine fields and
strips of ``tv_calibration.py``, it is the very case the calibration arm scores. For each arm
(D, s), n and M = the resolution rule's M times a factor, ``REPLICATES`` KDE fits (target seed 0,
the tuning target) are scored exactly (``tv_exact``) and by ``tv`` on M of their samples; the
table gives the relative error, the estimator's own flag (before the study's ``below_rule``)
and what the choice rests on. A second table gives the exact TV of each regular grid, TV(P_ℓ),
from the first fit's cell masses (midpoint sums on a 2^11-per-axis grid in D = 2): the binning
loss TV − TV(P_ℓ) that no estimator on P_ℓ can see.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax import metrics as mx
from minimax.metrics.sample_size import rule_samples
from minimax.study import worker
from minimax.study.spec import spec_from_values

ARMS = [(1, 1.0), (2, 1.5)]  # (D, s), band boundary
SIZES = (250, 1000, 8000)
FACTORS = (0.25, 1.0, 4.0)
REPLICATES = 3
FINE_SIDE = {1: 1 << 16, 2: 1 << 11}


def _fit(D: int, s: float, n: int, replicate: int):
    spec = spec_from_values({"D": D, "s": s, "boundary": "band", "n": list(SIZES),
                             "estimators": ["kde"], "M": "auto"}, name="tv-kde-calibration")  # fmt: skip
    target = worker.build_target(spec.target, max(SIZES))
    est = worker.ESTIMATORS["kde"].build(target, spec, n, dict(spec.estimator_options("kde")))
    data = np.random.default_rng([n, replicate])
    est.fit(target.sample(n, data), np.random.default_rng(replicate))
    return target, est


def grid_losses(target, est, exact: float) -> list[dict]:
    """TV(P_ℓ) of the regular grids from the KDE's midpoint cell masses."""
    D, G = int(target.dim), FINE_SIDE[int(target.dim)]
    c = (np.arange(G) + 0.5) / G * 2 - 1
    pts = np.stack(np.meshgrid(*([c] * D), indexing="ij"), axis=-1).reshape(-1, D)
    fine = est.pdf(pts).reshape((G,) * D) * (2.0 / G) ** D
    rows = []
    for level in range(2, 10):
        k = 2**level
        shape = sum(((k, G // k) for _ in range(D)), ())
        ph = fine.reshape(shape).sum(axis=tuple(range(1, 2 * D, 2)))
        q = target.cell_masses([np.linspace(-1, 1, k + 1)] * D)
        tvp = 0.5 * float(np.abs(ph - q).sum())
        rows.append({"level": level, "cells": k**D, "tv_grid": tvp, "loss": 1 - tvp / exact})
    return rows


def run() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, losses = [], []
    for D, s in ARMS:
        for n, rep in ((n, rep) for n in SIZES for rep in range(REPLICATES)):
            target, est = _fit(D, s, n, rep)
            exact = mx.tv_exact(target, est.pdf, **getattr(target, "tv_exact_options", {})).value
            if rep == 0:
                for g in grid_losses(target, est, exact):
                    losses.append({"D": D, "s": s, "n": n, "exact": exact, **g})
            rule = rule_samples(n, D)
            for f in FACTORS:
                M = int(round(f * rule))
                rng = np.random.default_rng([M, rep])
                t0 = time.perf_counter()
                r = mx.tv(target, est.sample(M, rng), rng=rng, floor_samples=False)
                d = r.details
                rows.append({"D": D, "s": s, "n": n, "replicate": rep, "M_factor": f, "M": M, "exact": exact,
                             "value": r.value, "rel_error": r.value / exact - 1, "se": r.se,
                             "flag": r.flag, "partition": d["partition"],
                             "bias_bound": d["bias_bound"], "value_quarter": d["value_quarter"],
                             "loss_estimate": d["binning_loss_estimate"],
                             "seconds": time.perf_counter() - t0})  # fmt: skip
                print(rows[-1], flush=True)
    return pd.DataFrame(rows), pd.DataFrame(losses)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/tv_calibration")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, losses = run()
    rows.to_csv(out / "kde_cases.csv", index=False)
    losses.to_csv(out / "kde_grid_losses.csv", index=False)
    from tv_calibration import markdown  # this script's folder is on sys.path

    ok = rows[rows["flag"] == "ok"]
    by = ok.groupby("M_factor")["rel_error"].agg(["count", "min", "max"])
    text = [
        "# The sampled TV on KDE fits, whose TV is exact (studies/tv_kde_calibration.py)\n",
        "Target seed 0 (tuning), band boundary; M = the resolution rule's M × M_factor.\n",
        markdown(rows.drop(columns=["seconds"]).set_index(["D", "s", "n"])),
        "\nRows flagged ok by the estimator's own tests, by M factor (count, relative error "
        "range):\n",
        markdown(by),
        "\n## Exact TV of the regular grids (the binning loss no estimator on them can see)\n",
        markdown(losses.set_index(["D", "s", "n"])),
        "",
    ]
    (out / "kde_cases.md").write_text("\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
