"""The built-in metrics of a study, each registered by ``metric`` in the order ``list`` shows
them: which estimate of each distance a cell gets, and the rows it yields.

The numbers come from ``minimax.metrics`` (imported inside the functions, so registering
imports neither scipy nor torch); here is only the choice among them: exact quadrature or
Monte Carlo for an explicit density, the sampled estimator otherwise, and the calibration row
of a control (docs/tv.md §6).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import replace

import numpy as np

from minimax.study.registry import (
    ESTIMATORS,
    FittedCell,
    metric,
    score_exponent,
    tv_exponent,
    w1_exponent,
)

#: explicit densities are scored by quadrature up to this dimension, by tv_mc above it
EXACT_TV_MAX_DIM = 2


def _explicit(entry, est) -> bool:
    # an estimator that could not even be built is named as its role suggests: a control
    # scored from its pdf
    return getattr(est, "has_pdf", False) if est is not None else entry.role == "control"


def _tv_rows(entry, est, target) -> list[str]:
    explicit = _explicit(entry, est)
    names = ["tv"]
    if explicit and entry.role == "control":
        names.append("tv_sampled")
    if not explicit or target.dim <= EXACT_TV_MAX_DIM:  # tv_mc states no outside mass
        names.append("outside_mass")
    return names


@metric(
    "tv",
    "total variation: exact quadrature for explicit densities, binned with floor otherwise",
    theory=tv_exponent,
    rows=_tv_rows,
)
def tv_rows(fit: FittedCell) -> list:
    """[tv, tv_sampled for a control with a pdf, outside_mass where the estimate states it]."""
    from minimax import metrics as M
    from minimax.metrics.result import MetricResult
    from minimax.metrics.sample_size import flag_below_rule

    target, est, rng = fit.target, fit.est, fit.streams["metric"]
    n, D = fit.cell.n, int(target.dim)
    out = []
    if getattr(est, "has_pdf", False):
        # a target with features finer than tv_exact's defaults states what it needs
        if target.dim <= EXACT_TV_MAX_DIM:
            res = M.tv_exact(target, est.pdf, **getattr(target, "tv_exact_options", {}))
        else:  # quadrature's cost grows like (cells × nodes)^D: Monte Carlo instead
            res = M.tv_mc(target, est.pdf, est.sample, rng=rng)
        out.append(res)
        if fit.entry.role == "control":
            # the calibration arm (docs/tv.md §6): the same explicit-density fit scored by the
            # sampled estimator at the study's M, so that its exponent can be compared with the
            # exact one on the very rows the DDPM is measured with
            sampled = flag_below_rule(M.tv(target, fit.samples(), rng=rng), n, D)
            out.append(replace(sampled, metric="tv_sampled"))
    else:
        # a sampled TV is ok only at the resolution rule's M or more (docs/tv.md §4)
        res = flag_below_rule(M.tv(target, fit.samples(), rng=rng), n, D)
        out.append(res)
    outside = (res.details or {}).get("outside_mass")
    if outside is not None:
        out.append(
            MetricResult("outside_mass", float(outside), method=f"from {res.metric}", m=res.m)
        )
    return out


@metric("w1", "Wasserstein-1 distance from samples", theory=w1_exponent)
def w1_rows(fit: FittedCell) -> list:
    """[w1] of the cell's draws."""
    from minimax import metrics as M

    return [M.w1(fit.target, fit.samples(), rng=fit.streams["metric"])]


@metric(
    "oracle_tv",
    "TV of the true score through the DDPM's own sampler, T̲, T̄ and steps (its sampling "
    "error budget; once per n, D <= 2; slow on a CPU: ≈ 0.4 s per sampling step for D = 1)",
    theory=tv_exponent,
    rows=lambda entry, est, target: ["oracle_tv", "blur_tv"],
    needs_score=True,
    per_unit=True,
)
def oracle_tv(target, spec, n: int, options: dict, X, seed: int) -> list:
    """[oracle_tv, blur_tv]: the sampler's and the early stop's parts of a DDPM's error budget
    (``minimax.metrics.sampler_budget``), for the ``oracle-score`` estimator built as the
    study builds it with the DDPM's ``options`` that it accepts (same sizing rule, T̲, T̄,
    sampling steps), fitted on ``X`` and sampled at the DDPM's own M, so that both TVs have
    the same resolution. Random numbers come from a fourth child of ``seed`` (the first cell's
    seed), so the cells' own streams are untouched."""
    from minimax.diffusion import OracleScoreDiffusion
    from minimax.metrics.sampler_budget import sampler_budget

    accepted = set(inspect.signature(OracleScoreDiffusion.__init__).parameters)
    kw = {k: v for k, v in options.items() if k in accepted}
    oracle = ESTIMATORS["oracle-score"].build(target, spec, n, kw)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    return sampler_budget(oracle, target, X, spec.samples_at(n), rng)


@metric(
    "score",
    "σ²-weighted score error of a trained diffusion model vs the numerical oracle (D <= 2)",
    theory=score_exponent,
    rows=lambda entry, est, target: ["score", "score_integral"],
    needs_score=True,
)
def score_rows(fit: FittedCell) -> list:
    """[score, score_integral]: the σ²-weighted error and, from the same per-time errors, the
    unweighted time integral the theory bounds."""
    from minimax.metrics import score_error_integral
    from minimax.metrics.score_metric import score_metric

    res = score_metric(fit.target, fit.est, fit.streams["metric"])
    return [res, score_error_integral(res)]


def failed_results(names, why: str) -> list:
    """NaN results named ``names``, flag "failed", method ``why``: a per-unit metric that
    failed, without failing the cells it belongs to."""
    from minimax.metrics.result import MetricResult

    return [MetricResult(k, math.nan, method=why, flag="failed") for k in names]
