"""The early-stop part of a diffusion estimator's error budget, exactly (docs/tv.md §9)."""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics.blur_tv import blur_tv
from minimax.metrics.result import MetricResult


def early_stop_blur(est, target) -> MetricResult:
    """TV(q, law of x_T̲) for a sampled diffusion estimator ``est`` (fitted, and sampled once so
    that its realised last time is known): the error of a sampler with the true score and no
    discretisation error, stopped where ``est`` stops, with ``est``'s standardisation and
    boundary treatment. NaN (flag "failed") where that law is not a Gaussian blur of q: a final
    denoising step, or a target without a bounded box."""
    info = getattr(est, "sample_info_", None) or {}
    if "t_min" not in info:
        raise RuntimeError("early_stop_blur needs a sampled estimator: call sample first")
    denoise = bool(est.describe().get("denoise", False))
    if denoise:
        return MetricResult("blur_tv", math.nan, flag="failed",
                            method="final denoising on: the output is not a Gaussian blur of q")  # fmt: skip
    t = float(info["t_min"])
    m, sigma = (float(v) for v in est.process_.marginal(np.float64(t)))
    scale = est.standardizer_.scale[0, 0].numpy().astype(np.float64)
    centre = est.standardizer_.shift[0, 0].numpy().astype(np.float64)
    res = blur_tv(target, m, sigma * scale, centre=centre, boundary=est.boundary)
    res.details["t"] = t
    return res
