"""The score error of a fitted diffusion estimator: its learned score against the numerical
oracle of the target, on a time grid shared by every sample size (docs/theory.md §8.6).

``score_error`` knows nothing of torch or networks; this module is the bridge from a fitted
``DiffusionEstimator`` (its network, process, standardisation and sizing) to it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

#: the fixed time grid of the score error (the same times at every n, so per-time errors
#: compare across n; issue 13) and points per time
SCORE_GRID, SCORE_POINTS = np.geomspace(1e-4, 1.0, 25), 2000


def score_times(t_min: float, t_end: float) -> np.ndarray:
    """T̲, the grid's times inside (T̲, T̄), and T̄: the integral runs over exactly [T̲, T̄]."""
    inside = SCORE_GRID[(SCORE_GRID > t_min * (1 + 1e-9)) & (SCORE_GRID < t_end * (1 - 1e-9))]
    return np.concatenate([[t_min], inside, [t_end]])


def score_metric(target, est, rng):
    """σ²-weighted integrated error of a fitted diffusion estimator's score against the
    numerical oracle, over ``score_times`` of its T̲ and T̄ with ``SCORE_POINTS`` points per
    time; a ``MetricResult`` named "score" (per-time errors in ``details["per_t"]``).

    Both in the model's standardised coordinates u = (x - shift)/scale, where the forward
    process acts; there the target is ``AffineTarget`` (exact pdf and cell masses mapped).
    """
    import torch

    from minimax.diffusion.estimator import AffineTarget
    from minimax.diffusion.scores import OracleScore
    from minimax.metrics.score_error import score_error

    shift = est.standardizer_.shift[0, 0].cpu().numpy()
    scale = est.standardizer_.scale[0, 0].cpu().numpy()
    model_target = AffineTarget(target, shift, scale)
    oracle = OracleScore(model_target, est.process_)
    network = est.score_source()
    device = est.device_

    def learned(x, t):
        u = torch.as_tensor(x, dtype=torch.float32, device=device)[None]
        with torch.no_grad():
            return network.score(u, t)[0].double().cpu().numpy()

    def exact(x, t):
        return oracle.score(torch.as_tensor(x, dtype=torch.float64)[None], t)[0].numpy()

    times = score_times(est.sizing_.t_min, est.sizing_.t_end)
    res = score_error(
        learned, exact, model_target, est.process_.marginal, times, m=SCORE_POINTS, rng=rng
    )
    return res if res.metric == "score" else replace(res, metric="score")
