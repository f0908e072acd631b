"""How many samples a sampled TV needs at training size n (``M = "auto"``; docs/tv.md §4).

An error of size ≍ n^(-s/(2s+D)) spread over cells of the scale n^(-1/(2s+D)) is resolved when
the correction's bias over those cells, ∝ √(K/M) with K ∝ n^(D/(2s+D)) cells, is a fixed
fraction of it: that makes M ∝ n, whatever s (docs/theory.md's resolution rule M ≳ 4^D n/(2πC²)).
With M proportional to n every row of a study has the same signal-to-noise per cell, so the
estimator's relative bias is the same at every n and the fitted exponent is not tilted by it;
a floor or a cap on M breaks that, and so does growing M row by row until each is resolved
(measured in ``studies/tv_calibration.py``: exponent bias +0.022 to +0.048 with the previous
floor of 40,000, ±0.01 with M ∝ n).
"""

from __future__ import annotations

import math

#: the constant C of M = 4^D n/(2πC²). C = 0.16: in simulated studies shaped like the DDPM's error
#: (sine fields at scales 0.5-1 × n^(-1/(2s+D)), D = 1, s = 1; results/tv_calibration) it gave
#: exponent bias ≤ 0.01 with CI coverage ≥ 90 %, where C = 0.32 (a quarter of the M) gave
#: +0.015-0.033 and 3-8 flagged rows of 18.
AUTO_M_CONSTANT = 0.16
#: the range of the rule's M: below, too few samples to split the box; above, the CPU budget
#: (rows past the cap get a smaller M than the rule and may read low: they are flagged)
AUTO_M_RANGE = (2_000, 1_000_000)


def samples_for(n: int, D: int, C: float = AUTO_M_CONSTANT, cap: int | None = None) -> int:
    """M = 4^D n/(2πC²) rounded up to a multiple of 100 and clipped to ``AUTO_M_RANGE`` (and to
    ``cap`` when given: a compute budget, below which the rule is no longer proportional)."""
    lo, hi = AUTO_M_RANGE
    hi = hi if cap is None else min(hi, int(cap))
    m = 4**D * n / (2 * math.pi * C**2)
    return int(min(hi, max(lo, math.ceil(m / 100) * 100)))
