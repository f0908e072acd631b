"""Calibration of the sampled TV (docs/tv.md §5): convergence in M for fixed models, and
simulated rate studies with a known exponent, shaped like the DDPM's.

    python studies/tv_calibration.py [--studies 100] [--first-study 0]
                                     [--out results/tv_calibration]
                                     [--skip-convergence] [--rules all|study]

Simulated studies: D = 1, s = 1, n = 250 … 8000 (6 sizes), 3 replicates, M by each rule of
``M_RULES`` (the study's is ``samples_for``); the model at (n, replicate) is a sine field
(``calibration_cases``) of cell side h_n = c·n^(-1/(2s+D)), c ∈ {0.5, 1}, with fresh signs and
offset per replicate, and exact TV_n = 0.56·n^(-1/3) (0.089 at n = 250, 0.028 at n = 8000: the DDPM's mean in the D = 1, s = 1
band recipe study). Each study is fitted by ``fit_rate`` exactly as a results table would be,
flagged rows left out; the report gives the exponent's bias and the CI's coverage of 1/3.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.metrics import tv
from minimax.metrics.calibration_cases import sine_field, strip
from minimax.metrics.sample_size import samples_for
from minimax.study.tv_simulation import EXPONENT, UnitCube, simulated_study


def markdown(df: pd.DataFrame) -> str:
    """A plain Markdown table (pandas' to_markdown needs tabulate, not a dependency)."""
    df = df.reset_index()
    fmt = [lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)] * df.shape[1]
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * df.shape[1]
    body = ["| " + " | ".join(f(v) for f, v in zip(fmt, row, strict=True)) + " |"
            for row in df.itertuples(index=False)]  # fmt: skip
    return "\n".join([head, rule, *body])


def convergence() -> pd.DataFrame:
    rows = []
    cases = [
        ("sine field D=1, h=0.05", 1, lambda M, r, s: (sine_field(M, 1, 0.03, 0.05, 0, r), 0.03)),
        ("sine field D=2, h=0.2", 2, lambda M, r, s: (sine_field(M, 2, 0.03, 0.2, 0, r), 0.03)),
        ("strip D=2, w=1/256 at 0.3", 2, lambda M, r, s: strip(M, 2, 0.03, 0.3, 1 / 256, r)),
    ]
    for name, D, draw in cases:
        for M in (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000):
            for seed in range(3):
                rng = np.random.default_rng(seed)
                x, truth = draw(M, rng, seed)
                r = tv(UnitCube(D), x, rng=rng, n_boot=20, floor_samples=False)
                rows.append({"case": name, "M": M, "seed": seed, "truth": truth,
                             "value": r.value, "se": r.se, "flag": r.flag,
                             "bias_bound": r.details["bias_bound"],
                             "partition": r.details["partition"]})  # fmt: skip
            print(name, M, flush=True)
    return pd.DataFrame(rows)


def _previous_rule(n: int) -> int:
    """The rule before: C = 0.32, rounded up to 10,000, clipped to [40,000, 1e6] (D = 1)."""
    m = 4 * n / (2 * np.pi * 0.32**2)
    return int(min(1e6, max(40_000, np.ceil(m / 10_000) * 10_000)))


def _proportional(n: int, C: float) -> int:
    return int(np.ceil(4 * n / (2 * np.pi * C**2)))


#: (label, n -> (M to start with, M at most)): the M rules compared
M_RULES = {
    "previous: C = 0.32, M >= 40,000": lambda n: (_previous_rule(n), _previous_rule(n)),
    "previous, x4 until ok (up to 4x)": lambda n: (_previous_rule(n), 4 * _previous_rule(n)),
    "previous, x4 until ok (up to 16x)": lambda n: (_previous_rule(n), 16 * _previous_rule(n)),
    "C = 0.32, proportional to n": lambda n: (_proportional(n, 0.32),) * 2,
    "C = 0.16, proportional to n (samples_for)": lambda n: (samples_for(n, 1),) * 2,
    "C = 0.32, proportional, x4 until ok (up to 16x)": lambda n: (_proportional(n, 0.32),
                                                                  16 * _proportional(n, 0.32)),
}  # fmt: skip
STUDY_RULE = "C = 0.16, proportional to n (samples_for)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--studies", type=int, default=100, help="simulated studies per c")
    ap.add_argument("--first-study", type=int, default=0,
                    help="index of the first study (its seeds); a batch on fresh seeds starts "
                         "where the last one ended")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("results/tv_calibration"))
    ap.add_argument("--skip-convergence", action="store_true")
    ap.add_argument("--rules", default="all",
                    help="'all', or 'study' for the study's own M rule alone")  # fmt: skip
    a = ap.parse_args(argv)
    if a.rules not in ("all", "study"):
        ap.error(f"--rules={a.rules!r} is not allowed: expected 'all' or 'study'")
    rules = list(M_RULES) if a.rules == "all" else [STUDY_RULE]
    if a.studies < 1:
        ap.error(f"--studies={a.studies} is not allowed: expected an integer >= 1")
    if a.first_study < 0:
        ap.error(f"--first-study={a.first_study} is not allowed: expected an integer >= 0")
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lines = ["# Calibration of the sampled TV (studies/tv_calibration.py)", ""]
    if not a.skip_convergence:
        conv = convergence()
        conv.to_csv(a.out / "convergence.csv", index=False)
        g = conv.assign(rel=(conv["value"] - conv["truth"]) / conv["truth"]).groupby(["case", "M"])
        table = g.agg(truth=("truth", "mean"), value=("value", "mean"), se=("se", "mean"),
                      rel_error=("rel", "mean"), abs_rel_error=("rel", lambda r: r.abs().mean()),
                      bias_bound=("bias_bound", "mean"),
                      ok=("flag", lambda f: f"{(f == 'ok').sum()}/{len(f)}"))  # fmt: skip
        lines += ["## Convergence in M (3 seeds per row; fixed model)", "",
                  markdown(table), ""]  # fmt: skip
    sims = pd.DataFrame(
        [
            {"M_rule": rule, **simulated_study(c, k, M_RULES[rule])}
            for rule in rules
            for c in (0.5, 1.0)
            for k in range(a.first_study, a.first_study + a.studies)
        ]
    )
    sims.to_csv(a.out / "simulated_studies.csv", index=False)
    summ = sims.groupby(["M_rule", "c"]).agg(studies=("study", "size"),
                                 exponent_bias=("exponent", lambda e: e.mean() - EXPONENT),
                                 exponent_sd=("exponent", "std"), coverage=("covered", "mean"),
                                 flagged_rows=("flagged", "mean"),
                                 row_rel_error=("mean_rel_error", "mean"))  # fmt: skip
    lines += [f"## Simulated studies (true exponent {EXPONENT:.4f}; D = 1, s = 1, 6 sizes x 3 "
              "replicates)", "", markdown(summ), "",
              f"{time.time() - t0:.0f} s"]  # fmt: skip
    (a.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
