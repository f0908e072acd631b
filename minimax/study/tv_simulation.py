"""Simulated rate studies with a known exponent, for calibrating the sampled TV (docs/tv.md §5).

At each (n, replicate) the model is a sine field (``metrics.calibration_cases``) on [0, 1] of
cell side h_n = c·n^(-1/(2s+D)) (D = 1, s = 1), fresh signs and offset per replicate, with
exact TV_n = 0.56·n^(-1/3): 0.089 at n = 250, 0.028 at n = 8000, the DDPM's mean in the D = 1,
s = 1 band recipe study. Its TV is estimated from M samples by ``metrics.tv`` (through
``tv_resolved``, so that a rule may grow M row by row) and the study is fitted by ``fit_rate``
exactly as a results table would be, flagged rows left out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from minimax.metrics.calibration_cases import UnitCube, sine_field
from minimax.metrics.sample_size import tv_resolved
from minimax.study.rates import fit_rate

SIZES = (250, 500, 1000, 2000, 4000, 8000)
EXPONENT = 1 / 3
__all__ = ["EXPONENT", "SIZES", "UnitCube", "simulated_study"]


def simulated_study(c: float, study: int, m_rule: Callable[[int], tuple[int, int]],
                    replicates: int = 3) -> dict:  # fmt: skip
    """One simulated study: ``m_rule(n)`` gives (M to start with, M at most) per n. Returns the
    fitted exponent, its 95 % CI, whether the CI holds 1/3, the flagged rows and the mean
    relative error of the rows."""
    rows = []
    for n in SIZES:
        truth = 0.56 * n ** (-EXPONENT)
        for rep in range(replicates):
            rng = np.random.default_rng([study, n, rep, int(100 * c)])
            model_seed = int(rng.integers(2**31))

            def draw(m, g, model_seed=model_seed, truth=truth, n=n):
                return sine_field(m, 1, truth, c * n ** (-EXPONENT), model_seed, g)

            m0, m_max = m_rule(n)
            r = tv_resolved(UnitCube(1), draw(m0, rng), draw, m_max, rng, n_boot=0,
                            floor_samples=False)  # fmt: skip
            rows.append({"study": "sim", "arm": "a", "estimator": "sim", "metric": "tv",
                         "n": n, "replicate": rep, "value": r.value, "se": r.se,
                         "floor": np.nan, "flag": r.flag, "status": "ok", "s": 1.0, "D": 1,
                         "truth": truth})  # fmt: skip
    df = pd.DataFrame(rows)
    fit = fit_rate(df, "tv", "sim", arm="a", theory=EXPONENT)
    lo, hi = fit.ci
    return {"c": c, "study": study, "exponent": fit.exponent, "ci_low": lo, "ci_high": hi,
            "covered": bool(lo <= EXPONENT <= hi), "flagged": int((df["flag"] != "ok").sum()),
            "mean_rel_error": float(((df["value"] - df["truth"]) / df["truth"]).mean())}  # fmt: skip
