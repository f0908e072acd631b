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
from dataclasses import replace

import numpy as np

from minimax.metrics.tv import tv
from minimax.validation import check_int, check_points

#: the constant C of M = 4^D n/(2πC²). C = 0.16: in simulated studies shaped like the DDPM's error
#: (sine fields at scales 0.5-1 × n^(-1/(2s+D)), D = 1, s = 1; results/tv_calibration) it gave
#: exponent bias ≤ 0.01 with CI coverage ≥ 90 %, where C = 0.32 (a quarter of the M) gave
#: +0.015-0.033 and 3-8 flagged rows of 18.
AUTO_M_CONSTANT = 0.16
#: the range of the rule's M: below, too few samples to split the box; above, the CPU budget
#: when no preset sets its own cap (rows past the cap get a smaller M than the rule and may read
#: low: they are flagged ``below_rule`` by :func:`flag_below_rule`)
AUTO_M_RANGE = (2_000, 1_000_000)
#: the flag of a sampled TV whose M is below the rule's (docs/tv.md §4)
BELOW_RULE = "below_rule"


def rule_samples(n: int, D: int, C: float = AUTO_M_CONSTANT) -> int:
    """The resolution rule itself: M = 4^D n/(2πC²) rounded up to a multiple of 100, at least
    ``AUTO_M_RANGE[0]``, with no upper limit."""
    m = 4**D * n / (2 * math.pi * C**2)
    return int(max(AUTO_M_RANGE[0], math.ceil(m / 100) * 100))


def samples_for(n: int, D: int, C: float = AUTO_M_CONSTANT, cap: int | None = None) -> int:
    """``rule_samples`` clipped to ``[AUTO_M_RANGE[0], cap]``: ``cap`` is a compute budget (a
    preset's ``samples_cap``, which may exceed the CPU's ``AUTO_M_RANGE[1]``, its default);
    above it the rule is no longer proportional to n."""
    hi = AUTO_M_RANGE[1] if cap is None else check_int("cap", cap, low=AUTO_M_RANGE[0])
    return int(min(hi, rule_samples(n, D, C)))


def flag_below_rule(result, n: int, D: int):
    """``result`` (a sampled TV at training size n) with flag ``below_rule`` when it is ``ok``
    but rests on fewer samples than ``rule_samples(n, D)``; its details gain ``m_rule``.

    The estimator's own tests cannot see a binning loss that M and M/4 share: on KDE fits,
    whose TV is exact and whose error is as fine-scaled as the DDPM's, rows at a quarter of the
    rule's M read 5-66 % low and some passed them (results/tv_calibration/kde_cases.md), so the
    rule is part of what ``ok`` states (docs/tv.md §4)."""
    m_rule = rule_samples(n, D)
    details = {**(result.details or {}), "m_rule": m_rule}
    flag = BELOW_RULE if result.flag == "ok" and result.m < m_rule else result.flag
    return replace(result, flag=flag, details=details)


def tv_resolved(target, samples, draw, m_max: int, rng, **kw):
    """M chosen by accuracy (docs/tv.md §4): ``tv`` on ``samples``, and while the row is not
    ``ok`` and M < ``m_max``, three times as many new samples from ``draw(m, rng)`` added (M × 4,
    capped at ``m_max``) and the whole estimate redone on all of them. The last result is
    returned with ``details["m_steps"]``, the M tried; a row still flagged at ``m_max`` keeps
    its flag."""
    x = check_points("samples", samples, int(target.dim))
    m_max = check_int("m_max", m_max, low=1)
    steps = [len(x)]
    while True:
        res = tv(target, x, rng=rng, **kw)
        if res.flag == "ok" or len(x) >= m_max:
            break
        more = min(3 * len(x), m_max - len(x))
        x = np.concatenate([x, check_points("draw", draw(more, rng), int(target.dim))])
        steps.append(len(x))
    res.details["m_steps"] = steps
    return res
