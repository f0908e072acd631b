"""Ablation: how much TV the DDPM's own sampler adds with the true score (docs/tv.md §9).

    python studies/sampler_discretisation.py [--out results/ablations/sampler_discretisation]
    python studies/sampler_discretisation.py --spacings log --factors 0.25,0.5

The true score (``OracleScoreDiffusion``) runs through the DDPM's ancestral sampler with the
theory rule's T̲, T̄ and sampling steps at M = 10^6 (more than any study's M, so that parts of
0.005 are resolved), for time spacings uniform / log / quadratic and 1× or 2× the rule's steps;
``--spacings log --factors 0.25,0.5`` asks whether the sampler may take fewer steps, so that the
time saved buys the M the resolution rule asks for; ``--samplers dpm2m --spacings log,snr
--factors 0.25,0.5`` runs another sampler at those multiples of the ancestral rule's steps (the
factor is always relative to the ancestral rule). The exact early-stop blur (``blur_tv``) is
what a sampler with no discretisation error would reach; oracle − blur is the discretisation +
prior-mismatch part of the budget. Tuning targets only (target seed 0): the
confirmatory study (studies/confirm_*.toml) freezes the choice made here.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.study import worker
from minimax.study.spec import spec_from_values

ARMS = [  # (D, s, boundary, sizes of n)
    (1, 1.0, "band", (250, 1000, 8000)),
    (2, 1.5, "band", (250, 8000)),
]
SPACINGS = ("uniform", "log", "quadratic")


def run(csv: Path, arms=ARMS, spacings=SPACINGS, factors=(1, 2), M=1_000_000,
        samplers=("ancestral",)) -> pd.DataFrame:  # fmt: skip
    """Every (arm, n, sampler, spacing, factor) not yet in ``csv``, each row appended as it finishes (an
    interrupted run resumes where it stopped)."""
    rows = pd.read_csv(csv).to_dict("records") if csv.is_file() else []
    for r in rows:  # rows written before the sampler column was added are ancestral
        if not isinstance(r.get("sampler"), str):
            r["sampler"] = "ancestral"
    done = {(r["D"], r["n"], r["spacing"], r["steps_factor"], r["sampler"]) for r in rows}
    for D, s, boundary, sizes in arms:
        values = {"D": D, "s": s, "boundary": boundary, "n": [250, 1000, 8000],
                  "estimators": ["ddpm"], "metrics": ["tv", "oracle_tv"], "M": M}  # fmt: skip
        spec = spec_from_values(values, name="sampler-discretisation")
        target = worker.build_target(spec.target, 8000)
        for n in sizes:
            X = target.sample(n, np.random.default_rng(n))
            base = spec.estimator_options("ddpm")
            for sampler, spacing, factor in itertools.product(samplers, spacings, factors):
                if (D, n, spacing, factor, sampler) in done:
                    continue
                options = dict(base, spacing=spacing, sampler=sampler)
                if factor != 1 or sampler != "ancestral":  # multiples of the ancestral rule's
                    anc = dict(options, sampler="ancestral")
                    est = worker.ESTIMATORS["oracle-score"].build(target, spec, n, anc)
                    est.fit(X, np.random.default_rng(0))
                    options["sample_steps"] = max(1, round(factor * est.sizing_.sample_steps))
                t0 = time.perf_counter()
                oracle, blur = worker.oracle_tv(target, spec, n, options, X, seed=n)
                rows.append({
                    "D": D, "s": s, "boundary": boundary, "n": n, "sampler": sampler,
                    "spacing": spacing, "steps_factor": factor, "M": oracle.m,
                    "oracle_tv": oracle.value, "oracle_se": oracle.se, "oracle_flag": oracle.flag,
                    "blur_tv": blur.value, "sampler_part": oracle.value - blur.value,
                    "seconds": time.perf_counter() - t0,
                })  # fmt: skip
                pd.DataFrame(rows).to_csv(csv, index=False)
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/ablations/sampler_discretisation")
    ap.add_argument("--spacings", default=",".join(SPACINGS), help="comma-separated")
    ap.add_argument("--factors", default="1,2",
                    help="multiples of the ancestral rule's steps (for every sampler)")  # fmt: skip
    ap.add_argument("--samplers", default="ancestral", help="comma-separated sampler names")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spacings = tuple(args.spacings.split(","))
    factors = tuple(float(f) for f in args.factors.split(","))
    df = run(out / "sampler_discretisation.csv", spacings=spacings, factors=factors,
             samplers=tuple(args.samplers.split(",")))  # fmt: skip
    from tv_calibration import markdown  # this script's folder is on sys.path

    cols = ["D", "s", "n", "sampler", "spacing", "steps_factor", "M", "blur_tv", "oracle_tv",
            "oracle_se", "oracle_flag", "sampler_part"]  # fmt: skip
    (out / "summary.md").write_text(
        "# The DDPM sampler's own TV with the true score (studies/sampler_discretisation.py)\n\n"
        + markdown(df[cols].set_index(["D", "s", "n"]))
        + "\n"
    )


if __name__ == "__main__":
    main()
