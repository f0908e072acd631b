"""TV from samples: speed against a plain ``np.histogramdd`` plug-in, and accuracy of the
plug-in against the bias-corrected value.

Speed: ``tv`` (all dyadic levels, exact de Moivre floors, correction, 200 bootstrap resamples,
cross-fitted lower bound; no fresh-sample floor) against one ``np.histogramdd`` plug-in at the
level ``tv`` chose (exact cell masses precomputed and not timed), on N(δe1, I) samples against
N(0, I), δ = 0.25 (TV ≈ 0.1).

Accuracy: shifted Gaussians in D = 2 with closed-form TV = 2Φ(δ/2) − 1, a few repetitions per
(TV, M): bias and sd of the corrected value at ``tv``'s chosen level, of the plug-in at the same
level, and of both at the finest level whose null floor B0 is ≤ the true TV (the resolution rule
K ≈ 2πM·TV² of theory.md §9, where the plug-in's bias is largest).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import norm

from minimax.metrics import tv
from minimax.targets import GaussianMixture


def _gauss(mean):
    mean = np.asarray(mean, dtype=float)
    return GaussianMixture([1.0], mean[None, :], np.ones((1, mean.size)))


def _speed_rows(rng) -> list[str]:
    rows = []
    for D in (1, 2, 4):
        q = _gauss(np.zeros(D))
        for M in (10**6, 10**7):
            x = _gauss(np.r_[0.25, np.zeros(D - 1)]).sample(M, rng)
            t0 = time.perf_counter()
            r = tv(q, x, rng=rng, n_boot=200, floor_samples=False)
            t_ours = time.perf_counter() - t0
            box = np.array(r.details["box"])
            L = r.details["level"]
            edges = [np.linspace(lo, hi, 2**L + 1) for lo, hi in box]
            p = q.cell_masses(edges)
            t0 = time.perf_counter()
            counts, _ = np.histogramdd(x, bins=edges)
            plain = 0.5 * (np.abs(counts / M - p).sum() + (M - counts.sum()) / M)
            t_plain = time.perf_counter() - t0
            rows.append(
                f"| {D} | {M:.0e} | {len(r.details['curve'])} | {L} | {t_ours:.2f} | "
                f"{t_plain:.2f} | {t_ours / t_plain:.2f} | {r.value:.4f} | {plain:.4f} |"
            )
    return rows


def _accuracy_rows(rng) -> list[str]:
    rows = []
    q = _gauss(np.zeros(2))
    for shift, M, reps in ((0.025, 10**5, 6), (0.025, 10**6, 4), (0.1, 10**5, 6), (0.1, 10**6, 4)):
        truth = 2 * norm.cdf(shift / 2) - 1
        sampler = _gauss([shift, 0.0])
        got = {k: [] for k in ("corr", "plug", "corr_f", "plug_f")}
        for _ in range(reps):
            r = tv(q, sampler.sample(M, rng), rng=rng, n_boot=0, floor_samples=False)
            curve = r.details["curve"]
            got["corr"].append(r.value)
            got["plug"].append(r.details["plugin"])
            fixed = [c for c in curve if c["b0"] <= truth][-1]
            got["corr_f"].append(fixed["corrected"])
            got["plug_f"].append(fixed["plugin"])
        cells = []
        for k in ("corr", "plug", "corr_f", "plug_f"):
            v = np.array(got[k])
            cells.append(
                f"{100 * (v.mean() / truth - 1):+.1f} % ± {100 * v.std(ddof=1) / truth:.1f}"
            )
        rows.append(f"| {truth:.4f} | {M:.0e} | {reps} | " + " | ".join(cells) + " |")
    return rows


def main() -> str:
    rng = np.random.default_rng(0)
    out = [
        "### TV from samples: time (s), ours vs a plain np.histogramdd plug-in at one level",
        "",
        "| D | M | levels | chosen level | tv (s) | histogramdd (s) | ratio | tv value | plain plug-in |",
        "|---|---|---|---|---|---|---|---|---|",
        *_speed_rows(rng),
        "",
        "ours computes every level, exact floors, the correction, 200 bootstrap resamples and the",
        "cross-fitted lower bound; the plain plug-in one histogram. Shared 2-core CPU.",
        "",
        "### Accuracy, D = 2 shifted Gaussians: relative bias ± sd over repetitions",
        "",
        "| true TV | M | reps | corrected (chosen level) | plug-in (same level) | corrected (B0 ≈ TV level) | plug-in (B0 ≈ TV level) |",
        "|---|---|---|---|---|---|---|",
        *_accuracy_rows(rng),
        "",
    ]
    return "\n".join(out)
