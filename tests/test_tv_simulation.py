"""Simulated rate studies with a known exponent through the sampled TV (docs/tv.md §5)."""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics.sample_size import samples_for
from minimax.study.tv_simulation import EXPONENT, simulated_study


def test_simulated_studies_recover_the_exponent_with_the_auto_rule():
    # 8 studies at the DDPM-like scale c = 1 with M = samples_for(n): across 100 such studies
    # (results/tv_calibration) the exponent's bias was +0.003 and its sd 0.017, so the mean of 8
    # lies within 0.01 + 4·0.017/√8 = 0.034 of 1/3 unless the chain is biased; the 95 % CI held
    # 1/3 in 88 % of them, and P(Binomial(8, 0.88) <= 4) = 0.5 %
    res = [simulated_study(1.0, k, lambda n: (samples_for(n, 1),) * 2) for k in range(8)]
    exps = np.array([r["exponent"] for r in res])
    assert abs(exps.mean() - EXPONENT) <= 0.01 + 4 * 0.017 / math.sqrt(8), exps
    assert sum(r["covered"] for r in res) >= 5
    assert all(abs(r["mean_rel_error"]) < 0.2 for r in res)
