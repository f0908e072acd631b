"""A synthetic multi-seed results folder shaped like the confirmatory study (studies/confirm.toml),
built from the rows of the real tiny fixture (tests/fixtures/tiny), for the paper's tests.

Per target seed, the D = 1 arms of the fixture are copied under the label "<arm>
target_seed=K" with the seed's own level and slope (log e + c_K + b_K log(n/200)); the DDPM
gets the budget's metrics (``blur_tv`` exact, ``oracle_tv`` sampled, shares of its TV), the
σ²-weighted score a time integral (``score_integral``) and per-time errors in ``audit``; the KDE
is scored from its own samples too (``tv_sampled``: the calibration arm). The oracle-score
estimator and the D = 2 arm of the fixture are dropped (the confirmatory study has neither).
Not a measurement: the numbers only have to be shaped like one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny"
SEEDS = (11, 12, 13, 14, 15)
TIMES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def multiseed_table(seeds=SEEDS, rng_seed: int = 7, replicates: int | None = None) -> pd.DataFrame:
    """The synthetic table (``replicates``: keep only that many replicates per n)."""
    base = pd.read_parquet(FIXTURE / "results.parquet")
    base = base[(base["D"] == 1) & (base["estimator"] != "oracle-score")].copy()
    if replicates is not None:
        base = base[base["replicate"] < replicates]
    rng = np.random.default_rng(rng_seed)
    frames = []
    for k in seeds:
        c, b = rng.normal(0.0, 0.1), rng.normal(0.0, 0.03)
        t = base.copy()
        t["arm"] = t["arm"] + f" target_seed={k}"
        t["target_seed"] = k
        moves = t["metric"].isin(["tv", "score"]) & t["estimator"].isin(["ddpm", "kde"])
        scale = np.exp(c + b * np.log(t["n"] / 200.0) + rng.normal(0, 0.02, len(t)))
        t.loc[moves, "value"] = t.loc[moves, "value"] * scale[moves]
        frames.append(t)
        frames.append(_extra_rows(t, rng))
    df = pd.concat(frames, ignore_index=True)
    df["audit"] = df["audit"].astype(object).where(df["audit"].notna(), None)
    return df


def _extra_rows(t: pd.DataFrame, rng) -> pd.DataFrame:
    ddpm_tv = t[(t["estimator"] == "ddpm") & (t["metric"] == "tv") & (t["status"] == "ok")]
    mean = ddpm_tv.groupby(["arm", "n"])["value"].mean()
    out = []
    for metric, share, se in (("blur_tv", 0.15, 0.0), ("oracle_tv", 0.3, 0.002)):
        rows = ddpm_tv.copy()
        rows["metric"] = metric
        rows["value"] = [share * mean[(a, n)] for a, n in zip(rows["arm"], rows["n"], strict=True)]
        rows["se"] = se
        rows["floor"] = math.nan if metric == "blur_tv" else rows["floor"]
        rows["method"] = "exact-blur" if metric == "blur_tv" else rows["method"]
        out.append(rows)
    kde = t[(t["estimator"] == "kde") & (t["metric"] == "tv")].copy()
    kde["metric"], kde["method"] = "tv_sampled", "adaptive-crossfit"
    kde["value"] = kde["value"] * np.exp(rng.normal(0, 0.01, len(kde)))
    out.append(kde)
    score = t[(t["estimator"] == "ddpm") & (t["metric"] == "score")].copy()
    integral = score.copy()
    integral["metric"], integral["value"] = "score_integral", score["value"] * 12.0
    out.append(integral)
    frame = pd.concat(out, ignore_index=True)
    # per-time errors of the score rows (and only those): e(t) ∝ value · t^-1.2, flatter at large t
    audits = [
        json.dumps({"per_t": [{"t": s, "error": float(v * s**-1.2 * (1 + s))} for s in TIMES]})
        for v in score["value"]
    ]
    t.loc[score.index, "audit"] = audits
    return frame


def write_multiseed(folder: Path, **kw) -> Path:
    """The synthetic table as a results folder (results.parquet and the fixture's study.json)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    multiseed_table(**kw).to_parquet(folder / "results.parquet")
    shutil.copy(FIXTURE / "study.json", folder / "study.json")
    return folder
