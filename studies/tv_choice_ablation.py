"""Ablation of the sampled TV's choice among candidate partitions (docs/tv.md §3).

    python studies/tv_choice_ablation.py [--out results/tv_calibration]

Each candidate is scored by value − b × bias bound and the simplest one within one se of the
best score is taken; b = 0 is "the largest value", b = 1 the default. Cases with known TV
(``calibration_cases`` and shifted Gaussians), 4 seeds each, at M = 2e5 and 3e6; the table gives
the mean relative error, its spread over seeds, and how many rows were flagged ok.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd
from tv_calibration import markdown  # studies/ is on sys.path when run as a script

from minimax.metrics.calibration_cases import UnitCube, sine_field, strip

TV = importlib.import_module("minimax.metrics.tv")

CASES = {
    "strip D=1 w=1/64 at 0.3": (1, lambda M, r: strip(M, 1, 0.03, 0.3, 1 / 64, r)),
    "strip D=2 w=1/256 at 0.3": (2, lambda M, r: strip(M, 2, 0.03, 0.3, 1 / 256, r)),
    "sine field D=1 h=0.05": (1, lambda M, r: (sine_field(M, 1, 0.03, 0.05, 0, r), 0.03)),
    "sine field D=1 h=0.02": (1, lambda M, r: (sine_field(M, 1, 0.03, 0.02, 0, r), 0.03)),
    "sine field D=2 h=0.2": (2, lambda M, r: (sine_field(M, 2, 0.03, 0.2, 0, r), 0.03)),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--out", type=Path, default=Path("results/tv_calibration"))
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    default = TV.CHOICE_BIAS
    try:
        for b in (0.0, 0.5, 1.0):
            TV.CHOICE_BIAS = b
            for name, (D, draw) in CASES.items():
                for M in (200_000, 3_000_000):
                    for seed in range(4):
                        rng = np.random.default_rng(seed)
                        x, truth = draw(M, rng)
                        r = TV.tv(UnitCube(D), x, rng=rng, n_boot=0, floor_samples=False)
                        rows.append({"b": b, "case": name, "M": M, "rel": r.value / truth - 1,
                                     "ok": r.flag == "ok"})  # fmt: skip
                print(b, name, flush=True)
    finally:
        TV.CHOICE_BIAS = default
    df = pd.DataFrame(rows)
    df.to_csv(a.out / "choice_ablation.csv", index=False)
    table = df.groupby(["case", "M", "b"]).agg(
        rel_error=("rel", "mean"), sd=("rel", "std"),
        ok=("ok", lambda f: f"{int(f.sum())}/{len(f)}"),
    )  # fmt: skip
    text = "\n".join(["# Choice among candidate partitions (studies/tv_choice_ablation.py)", "",
                      "score = value − b × bias bound; simplest within one se of the best", "",
                      markdown(table), ""])  # fmt: skip
    (a.out / "choice_ablation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
