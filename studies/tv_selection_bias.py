"""Where the simulated studies' exponent bias comes from (docs/decisions.md, issue 11, seventh
session): each sampled TV split into the binning loss of its chosen partition and the error of
estimating that partition's TV, beside a grid fixed before the data is seen.

    python studies/tv_selection_bias.py [--studies 100] [--label current] [--out DIR]

The rows are those of ``minimax.study.tv_simulation`` (D = 1, s = 1, sine fields at scale
h_n = c·n^(-1/3), c ∈ {0.5, 1}, M = ``samples_for(n, 1)``, the same seeds). For a sine field the
deviation's integral from 0 to x is a·ε_j·h/(2π)·(1 − cos 2π(t − j)) inside whole cell j
(t = (x − o)/h) and 0 elsewhere, so the TV of any grid, TV(P), is exact:

* binning loss = (TV(P) − TV) / TV of the chosen grid (≤ 0);
* estimation error = (value − TV(P)) / TV, split into the selection part (value − the same
  grids' corrected value on M fresh samples of the same model, where no choice was made) and
  the correction's part (that fresh value − TV(P));
* the fixed grid: k = round(3.8 / h_n) cells (the chosen grids' mean cells per sine period),
  scored by the same corrected value on all M samples, with no choice.

Rows where a fold's chosen partition is adaptive (no grid) are left out of the split (their
TV(P) is not computed); where the two folds chose different grids, TV(P) is their mean.
``--label`` names the arm in the output; the cross-fitted choice arms are this script run on a
tree patched with ``studies/patches/tv_crossfit_choice.patch`` (docs/decisions.md), with
``PYTHONPATH`` set to that tree (an editable install otherwise imports the main checkout).
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd
from tv_calibration import markdown  # studies/ is on sys.path when run as a script

from minimax.metrics.calibration_cases import UnitCube, sine_field, sine_model
from minimax.metrics.sample_size import samples_for
from minimax.study.rates import fit_rate
from minimax.study.tv_simulation import EXPONENT, SIZES

TV = importlib.import_module("minimax.metrics.tv")
FIXED_CELLS_PER_PERIOD = 3.8


def grid_tv(k: int, truth: float, h: float, model_seed: int) -> float:
    """Exact TV, to U[0, 1], of the sine field's masses on the regular grid of k cells."""
    off, n_whole, a, signs = sine_model(1, truth, h, model_seed)
    t = (np.linspace(0.0, 1.0, k + 1) - off[0]) / h
    j = np.floor(t).astype(np.int64)
    whole = (j >= 0) & (j < n_whole[0])
    cum = np.zeros(k + 1)
    cum[whole] = (
        signs[j[whole]] * a * h / (2 * np.pi) * (1 - np.cos(2 * np.pi * (t[whole] - j[whole])))
    )
    return 0.5 * float(np.abs(np.diff(cum)).sum())


def fold_cells(partition: str) -> list[int] | None:
    """Cells of each fold's grid (a label "A / B" names the two folds' choices when they
    differ); None when a fold's partition is adaptive."""
    labels = partition.split(" / ")
    if not all(lab.startswith("grid(") for lab in labels):
        return None
    ks = [int(lab.split("=")[1].rstrip(")")) for lab in labels]
    ks = [2**k if "level=" in lab else k for k, lab in zip(ks, labels, strict=True)]
    return ks * 2 if len(ks) == 1 else ks


def grid_value(setup, x: np.ndarray, k: int) -> float:
    """The corrected value of the regular grid of k cells on the points x (all of them)."""
    counts = np.histogram(x, bins=k, range=(0.0, 1.0))[0].astype(np.float64)
    return TV._cells_value(setup, np.full(k, 1.0 / k), counts, 0.0, x.size)["value"]


def rows_of(c: float, study: int) -> list[dict]:
    out = []
    setup = TV._Setup(UnitCube(1), 1000, 1e-6, 10.0)
    for n in SIZES:
        truth, h, M = 0.56 * n ** (-EXPONENT), c * n ** (-EXPONENT), samples_for(n, 1)
        for rep in range(3):
            rng = np.random.default_rng([study, n, rep, int(100 * c)])
            model_seed = int(rng.integers(2**31))
            x = sine_field(M, 1, truth, h, model_seed, rng)
            r = TV.tv(UnitCube(1), x, rng=rng, n_boot=0, floor_samples=False)
            ks = fold_cells(r.details["partition"])
            k0 = int(round(FIXED_CELLS_PER_PERIOD / h))
            fixed = grid_value(setup, x[:, 0], k0)
            tv_fixed = grid_tv(k0, truth, h, model_seed)
            tv_p = (
                math.nan if ks is None else np.mean([grid_tv(k, truth, h, model_seed) for k in ks])
            )
            # the chosen grids scored on M fresh samples of the same model: no selection there
            fresh = math.nan
            if ks is not None:
                y = sine_field(M, 1, truth, h, model_seed, rng)[:, 0]
                fresh = np.mean([grid_value(setup, y, k) for k in ks])
            out.append({"c": c, "study": study, "n": n, "replicate": rep, "truth": truth, "M": M,
                        "value": r.value, "se": r.se, "flag": r.flag,
                        "partition": r.details["partition"], "tv_partition": tv_p, "fresh_value": fresh,
                        "fixed_value": fixed, "fixed_tv_partition": tv_fixed})  # fmt: skip
    return out


def exponent(df: pd.DataFrame, value: str) -> float:
    rows = df.assign(study="sim", arm="a", estimator="sim", metric="tv", value=df[value],
                     floor=np.nan, status="ok", s=1.0, D=1)  # fmt: skip
    if value != "value":
        rows["flag"] = "ok"
    return fit_rate(rows, "tv", "sim", arm="a", theory=EXPONENT).exponent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--studies", type=int, default=100, help="simulated studies per c")
    ap.add_argument("--label", default="current", help="name of the arm in the output")
    ap.add_argument("--out", type=Path, default=Path("results/tv_calibration/selection_bias"))
    a = ap.parse_args(argv)
    if a.studies < 2:
        ap.error(f"--studies={a.studies} is not allowed: expected an integer >= 2")
    if not a.label.replace("_", "").replace("-", "").isalnum():
        ap.error(f"--label={a.label!r} is not allowed: expected letters, digits, - and _")
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    df = pd.DataFrame([r for c in (0.5, 1.0) for k in range(a.studies) for r in rows_of(c, k)])
    df.to_csv(a.out / f"{a.label}.csv", index=False)
    df["error"] = (df["value"] - df["truth"]) / df["truth"]
    df["binning_loss"] = (df["tv_partition"] - df["truth"]) / df["truth"]
    df["estimation_error"] = (df["value"] - df["tv_partition"]) / df["truth"]
    df["selection"] = (df["value"] - df["fresh_value"]) / df["truth"]
    df["correction"] = (df["fresh_value"] - df["tv_partition"]) / df["truth"]
    df["fixed_error"] = (df["fixed_value"] - df["truth"]) / df["truth"]
    df["fixed_estimation_error"] = (df["fixed_value"] - df["fixed_tv_partition"]) / df["truth"]
    cols = [
        "error",
        "binning_loss",
        "estimation_error",
        "selection",
        "correction",
        "fixed_error",
        "fixed_estimation_error",
    ]
    table = df.groupby(["c", "n"]).agg(**{k: (k, "mean") for k in cols},
                                       flagged=("flag", lambda f: (f != "ok").mean()))  # fmt: skip
    fits = []
    for c, g in df.groupby("c"):
        e = [exponent(s, "value") for _, s in g.groupby("study")]
        f = [exponent(s, "fixed_value") for _, s in g.groupby("study")]
        fits.append({"c": c, "studies": len(e),
                     "exponent_bias": np.mean(e) - EXPONENT, "se": np.std(e, ddof=1) / math.sqrt(len(e)),
                     "fixed_grid_exponent_bias": np.mean(f) - EXPONENT,
                     "fixed_se": np.std(f, ddof=1) / math.sqrt(len(f))})  # fmt: skip
    lines = [f"# Selection bias of the sampled TV: arm `{a.label}` (studies/tv_selection_bias.py)",
             "", f"{a.studies} simulated studies per c; errors relative to the true TV, means "
             "over studies and replicates; flagged rows included", "", markdown(table), "",
             "## Exponent bias (flagged rows left out; the fixed grid's rows all used)", "",
             markdown(pd.DataFrame(fits).set_index("c")), "", f"{time.time() - t0:.0f} s"]  # fmt: skip
    (a.out / f"{a.label}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
