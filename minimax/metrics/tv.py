"""TV(q̂, q) from M samples of q̂ and the exact cell masses of q, on an adaptive partition
chosen and scored on different halves of the samples (docs/tv.md).

The TV of a partition P, TV(P) = ½ Σ_{R∈P} |Q̂(R) − Q(R)|, never exceeds TV(q̂, q) and tends to
it as the cells shrink where q̂ − q changes sign. The estimator

1. splits the samples into halves A and B (even and odd rows; the samples are i.i.d.);
2. chooses on A the anisotropic dyadic partition (``_dyadic``) maximising the corrected TV of
   its cells minus a penalty per cell, ½ Σ_R σ_R (h(u_R) − λ): the penalty λ·σ_R is what a cell
   must gain to be worth its noise, so flat regions stay coarse and thin local errors (a strip
   along a face, a corner blob) get cells of their own shape;
3. scores that partition on B with the corrected value ½ Σ_R σ_R h(u_R) (``_correction``: worst
   bias 0.19-0.26 σ_R per cell under the binomial law), plus the mass outside the box;
4. swaps the halves and averages (cross-fitting: the choice on one half adds no selection bias
   to the score on the other);
5. takes, among these adaptive candidates (penalties λ ∈ ``PENALTIES``) and the regular grids
   of 2^ℓ and ≈ 2^(ℓ+½) cells per axis (``grid_ladder``; scored on all samples: a fixed
   partition needs no cross-fitting), the simplest one whose
   value minus bias bound is within one se of the best (docs/tv.md §3).

The result's ``bias_bound`` is the worst-case bias of step 3 given the partition,
½ Σ_R β(M·p_R) σ_R; binning loss TV − TV(P) ≥ 0 is checked by re-estimating on each quarter of the
samples (``drift`` = value(M) − mean of the four value(M/4): a loss that has not stopped
shrinking shows up as a rise beyond the quarters' own scatter).
"""

from __future__ import annotations

import math

import numpy as np

from minimax.metrics.result import MetricResult
from minimax.metrics.tv_candidates import (
    _adaptive,
    _cells_value,
    _grid,
    _grid_sizes,
    _Setup,
    _splits,
    grid_ladder,  # noqa: F401  (re-exported: the ladder is part of the estimator's contract)
)
from minimax.targets.base import Target
from minimax.validation import check_int, check_points, check_real, check_rng

PENALTIES = (1.0, 2.0)
# "ok" needs the bias bound at most this fraction of the value (docs/tv.md §4) ...
MAX_BIAS_FRACTION = 0.25
# ... and its se at most this fraction (a noisier row cannot tell a finer partition's larger
# value from noise, so its choice stays coarse and its binning loss unseen)
MAX_SE_FRACTION = 0.25
# ... and no rise from M/4 to M beyond this fraction of the value (or within DRIFT_T sd)
MAX_DRIFT_FRACTION = 0.05
# ... where "rise" means beyond this many sd of the difference: the one-sided 97.5 % point of
# Student's t with the 3 df of the quarters' scatter
DRIFT_T = 3.182
# the choice among candidates scores each by value − CHOICE_BIAS × bias bound (docs/tv.md §3)
CHOICE_BIAS = 1.0


def _estimate(setup, counts_a, counts_b, penalties, alpha=None) -> dict:
    """Every candidate partition on one pair of halves, and the one chosen (docs/tv.md §3).
    Candidates: the adaptive partitions at each penalty and the regular grids. When none is
    resolved, the one with the largest value minus bias bound (the best guaranteed part)."""
    Ma, Mb = int(counts_a.sum()), int(counts_b.sum())
    sa, sb = setup.count_sums(counts_a), setup.count_sums(counts_b)
    ra, rb = sa.dyadic(setup.tuples), sb.dyadic(setup.tuples)
    oa, ob = float(counts_a[-1]), float(counts_b[-1])
    ks = _grid_sizes(setup, Ma + Mb)
    # the witness bound is reported as the best over all candidates, each at α/K (a union
    # bound: the chosen one alone, picked by its value, would be optimistic)
    each = None if alpha is None else alpha / (len(penalties) + len(ks))
    splits = _splits(setup, ra, rb, Ma, Mb)
    cands = [_adaptive(setup, ra, rb, oa, ob, Ma, Mb, lam, each, splits) for lam in penalties]
    grids_a, grids_b = setup.grid_counts(sa, ra), setup.grid_counts(sb, rb)
    cands += [_grid(setup, grids_a, grids_b, oa, ob, Ma, Mb, k, each) for k in ks]
    # each candidate scored by value − CHOICE_BIAS × bias bound (the part of TV it guarantees);
    # the simplest (smallest bias bound) within one se of the best score is taken. Past the
    # plateau of TV(P) a finer partition only adds noise and bias (mostly upward: its cells are
    # near the null), and the largest value is the luckiest of them. Every candidate competes,
    # resolved or not: one that sees more TV than the resolved ones can account for must win,
    # so that the row is flagged rather than a coarse, resolved, low value reported.
    score = [c["value"] - CHOICE_BIAS * c["bias_bound"] for c in cands]
    top = int(np.argmax(score))
    near = score[top] - _conditional_se(setup, cands[top]["parts"], 0, None)
    near_ok = [c for c, v in zip(cands, score, strict=True) if v >= near]
    best = min(near_ok, key=lambda c: c["bias_bound"])
    if alpha is not None:
        best["ci_low"] = max(0.0, *(c["ci_low"] for c in cands))
        best["ci_high"] = min(1.0, best["ci_high"])
    return best


def _conditional_se(setup, parts, n_boot, rng) -> float:
    """se of the estimate given its partitions: each part (a fold's cells scored on the other
    half, or a grid on all samples) resampled multinomially ``n_boot`` times; the parts use
    disjoint halves, so their variances add with the parts' weights squared. With
    ``n_boot=0``, the delta method: Var ½Σ|dev| ≈ (1 − (Σ s_R Q̂(R))²)/(4M), s_R = sign(dev)."""
    var = 0.0
    for w, p, c, out, M in parts:
        if n_boot == 0:
            drift = float(np.sum(np.sign(c / M - p) * c / M)) + out / M
            var += w * w * max(0.0, 1 - drift**2) / (4 * M)
            continue
        probs = np.r_[c, out] / M
        vals = [
            _cells_value(setup, p, b[:-1].astype(np.float64), b[-1], M)["value"]
            for b in rng.multinomial(M, probs, size=n_boot)
        ]
        var += w * w * float(np.var(vals, ddof=1))
    return math.sqrt(var)


def _halves(setup: _Setup, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return setup.counts(flat[0::2]), setup.counts(flat[1::2])


def tv(
    target: Target,
    samples,
    *,
    n_boot: int = 30,
    alpha: float = 0.05,
    floor_samples: bool = True,
    rng=None,
    tail_mass: float = 1e-6,
    min_expected: float = 10.0,
    penalties=PENALTIES,
    stability: bool = True,
) -> MetricResult:
    """Cross-fitted adaptive-partition estimate of TV(q̂, q) from M samples of q̂ (docs/tv.md).

    Promise:

    * ``value``: the mean of the two folds' corrected TV of their partitions (module docstring).
      Consistent for a fixed q̂ as M → ∞ (docs/tv.md §3 gives the rate).
    * ``se``: the sd of the value given the chosen partitions (``_conditional_se``); the choice
      on one half does not depend on the half it is scored on, so this is the adaptive
      candidates' whole sampling sd, while the choice among candidates is left out.
    * ``flag``: ``"unresolved"`` when ``bias_bound`` > ¼·value or ``se`` > ¼·value (M too small
      for this value; a value ≤ 0 included); else ``"rising"`` when value(M) − value(M/4) −
      se(M/4) exceeds ``DRIFT_T`` sd of the difference and the binning loss it implies at M
      (that rise over 4^γ − 1, γ = 2/(2 + D)) exceeds 5 % of the value (probably low); else
      ``"ok"``. value(M/4) is the mean of the estimate on the four disjoint quarters of the
      samples and the sd comes from their scatter (docs/tv.md §4).
    * ``ci_low``: a 1 − α lower confidence bound on TV (the witness set of one half's partition
      scored on the other by Clopper–Pearson, the better fold at α/2 each; the best over the K
      candidates, each at α/K); ``ci_high``: a 1 − α/K upper bound on the TV of the chosen
      partitions (not on TV: none exists from samples).
    * ``floor``: the same estimator on M fresh samples of q, else NaN. ``rng`` (a Generator or
      a seed; None means seed 0) drives the resamples and those samples.
    * ``details``: ``bias_bound``, ``plugin``, ``b0`` (the exact null mean of the plug-in on the
      partitions), ``partition`` (the chosen candidate), ``cells`` and ``fold_values`` per
      fold, ``finest_side``, ``value_quarter``, ``quarter_values``, ``drift``, ``drift_sd``,
      ``binning_loss_estimate``, ``outside_mass``, ``box``, ``L``.

    Raises ValueError for samples of the wrong shape, NaN/inf, or too few to split the box once.
    """
    if not isinstance(target, Target):
        raise ValueError(f"target={target!r} is not allowed: expected a minimax Target")
    D = int(target.dim)
    x = check_points("samples", samples, D)
    M = x.shape[0]
    n_boot = check_int("n_boot", n_boot, low=0)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    tail_mass = check_real("tail_mass", tail_mass, low=0.0, high=0.01, low_open=True)
    min_expected = check_real("min_expected", min_expected, low=1.0)
    try:
        penalties = tuple(check_real("penalties", lam, low=0.0) for lam in penalties)
    except TypeError:
        raise ValueError(
            f"penalties={penalties!r} is not allowed: expected a list of numbers >= 0"
        ) from None
    # the bootstrap and the floor draw random numbers: None means a fixed seed (0), so a call
    # without rng is still reproducible
    rng = check_rng("rng", 0 if rng is None else rng)
    if M < 8 * min_expected:
        raise ValueError(
            f"samples with M={M} rows is not allowed: expected M >= {8 * min_expected:g} "
            "(too few to split the box once)"
        )
    setup = _Setup(target, M // 2, tail_mass, min_expected)
    flat = setup.flat_index(x)
    ca, cb = _halves(setup, flat)
    main = _estimate(setup, ca, cb, penalties, alpha)
    value = main["value"]

    se = _conditional_se(setup, main["parts"], n_boot, rng)

    # a value of 0 (a one-cell partition, or a cancellation) states no accuracy at all: with
    # bias bound and se 0 too the two ratios below would otherwise hold trivially
    resolved = (value > 1e-12 and main["bias_bound"] <= MAX_BIAS_FRACTION * value
                and se <= MAX_SE_FRACTION * value)  # fmt: skip
    flag = "ok" if resolved else "unresolved"
    quarter, drift, drift_sd, loss = math.nan, math.nan, math.nan, math.nan
    q_vals = []
    if stability and M // 4 >= 8 * min_expected:
        # the whole estimate redone on each of the four disjoint quarters of the samples: their
        # mean is value(M/4) with a quarter of one quarter's variance, and their scatter is its
        # sd with the choice among candidates included (docs/tv.md §4)
        q_setup = _Setup(target, M // 8, tail_mass, min_expected)
        q = M // 4
        for j in range(4):
            q_flat = q_setup.flat_index(x[j * q : (j + 1) * q])
            q_est = _estimate(q_setup, *_halves(q_setup, q_flat), penalties)
            q_vals.append(q_est["value"])
            if j == 0:  # the delta-method sd of one quarter's partitions
                se_q = _conditional_se(q_setup, q_est["parts"], 0, None)
        quarter = float(np.mean(q_vals))
        drift = value - quarter
        # sd of value(M) − mean of the quarters: the quarters' own scatter (3 df) over √4,
        # never below what the delta method gives for one fixed partition, plus value(M)'s
        # own se (the two share their samples, so this errs wide)
        scatter = float(np.std(q_vals, ddof=1)) / 2.0
        se_m = se if math.isfinite(se) else 0.0
        drift_sd = math.sqrt(max(scatter, se_q / 2.0) ** 2 + se_m**2)
        # the choice rule may sit up to one of its se below its largest candidate, so that
        # much is allowed; a binning loss falling like M^(-γ), γ = 2/(2+D) (docs/tv.md §3),
        # leaves at M the rise from M/4 divided by 4^γ − 1
        loss = (drift - se_q) / (4.0 ** (2.0 / (2.0 + D)) - 1.0)
        if (flag == "ok" and drift - se_q > DRIFT_T * drift_sd
                and loss > MAX_DRIFT_FRACTION * value):  # fmt: skip
            flag = "rising"

    floor = math.nan
    if floor_samples:
        fresh = check_points("target.sample", target.sample(M, rng), D)
        floor = _estimate(setup, *_halves(setup, setup.flat_index(fresh)), penalties)["value"]

    return MetricResult(
        metric="tv",
        value=float(value),
        se=se,
        ci_low=main["ci_low"],
        ci_high=main["ci_high"],
        floor=floor,
        method="adaptive-crossfit",
        flag=flag,
        m=M,
        details={
            "bias_bound": main["bias_bound"],
            "plugin": main["plugin"],
            "b0": main["b0"],
            "cells": main["cells"],
            "fold_values": main["fold_values"],
            "finest_side": main["finest_side"],
            "value_quarter": quarter,
            "quarter_values": [float(v) for v in q_vals],
            "drift": drift,
            "drift_sd": drift_sd,
            "binning_loss_estimate": loss,
            "outside_mass": float(ca[-1] + cb[-1]) / M,
            "partition": main["partition"],
            "box": setup.box.tolist(),
            "L": setup.L,
            "ci_low_meaning": f"{1 - alpha:g} lower confidence bound on TV (cross-fitted witness + Clopper-Pearson)",
            "ci_high_meaning": f"1 - {alpha:g}/K upper confidence bound on the TV of the chosen partitions (K candidates), not on TV",
        },
    )
