"""The sampler's and the early stop's parts of a diffusion estimator's TV error budget
(docs/tv.md §9): the true score through the estimator's own sampler, sampled and scored like
the estimator, and the exact TV of the blur at its early-stop time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np


def sampler_budget(oracle, target, X, m: int, rng) -> list:
    """[oracle_tv, blur_tv] of an unfitted oracle-score diffusion estimator ``oracle`` (the
    true score of ``target`` through a sampler): fitted on ``X`` (for n and the
    standardisation only) and sampled ``m`` times with ``rng``. oracle_tv: the sampled TV of
    those draws (``minimax.metrics.tv``), flagged ``below_rule`` like the estimator's own row
    when m is below the resolution rule's M at n = len(X); blur_tv: the exact TV of the same
    sampler without discretisation or prior error (``diffusion.early_stop.early_stop_blur``)."""
    from minimax.diffusion.early_stop import early_stop_blur
    from minimax.metrics.sample_size import flag_below_rule
    from minimax.metrics.tv import tv

    oracle.fit(X, rng)
    y = np.asarray(oracle.sample(m, rng), dtype=np.float64)
    sampled = flag_below_rule(tv(target, y, rng=rng), len(X), int(target.dim))
    return [replace(sampled, metric="oracle_tv"), early_stop_blur(oracle, target)]
