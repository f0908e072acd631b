"""Sampler benchmarks: ensemble throughput with the empirical score, and error per evaluation.

1. Throughput (samples/s): ``generate`` with an ``EmpiricalScore`` over an ensemble of E
   training sets, batched and chunked, against the plain alternative (one member at a time,
   ``torch.cdist`` + softmax over the whole batch, unchunked), same Euler-Maruyama steps.
2. Accuracy per score evaluation: W1 to the exact 1-D mixture of Euler-Maruyama, the
   exponential integrator and Heun (uniform steps), and of the exponential integrator and
   dpm2m on log-spaced steps, for growing step counts, and the evaluations each needs to reach
   a W1 of 0.03 (interpolated on log-log axes).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from minimax.diffusion.processes import VPProcess
from minimax.diffusion.samplers import generate, time_grid
from minimax.diffusion.scores import EmpiricalScore, ExactGMMScore
from minimax.runtime import resolve_device
from minimax.targets import GaussianMixture


def _plain_euler(sets, m, steps, t_min, process, seed, device="cpu"):
    """One member at a time, the whole batch at once, the textbook formulas."""
    g = torch.Generator(device=device).manual_seed(seed)
    grid = time_grid(process, steps, t_min)
    outs = []
    for X in sets:
        X = torch.as_tensor(X, device=device)
        x = torch.randn((m, X.shape[1]), generator=g, dtype=torch.float64, device=device)
        for i in range(steps, 0, -1):
            t, h = grid[i], grid[i] - grid[i - 1]
            mt, st = process.marginal(float(t))
            w = torch.softmax(-torch.cdist(x, mt * X).pow(2) / (2 * st * st), dim=1)
            s = (mt * (w @ X) - x) / (st * st)
            beta = float(process.beta(t))
            x = (
                x
                + (0.5 * beta * x + beta * s) * h
                + math.sqrt(beta * h)
                * torch.randn(x.shape, generator=g, dtype=x.dtype, device=device)
            )
        outs.append(x)
    return torch.stack(outs)


DEVICE = resolve_device("auto")


def _sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, repeats=2):
    """Best of ``repeats`` wall times (the CPU is shared; the minimum is the least disturbed);
    on CUDA after one untimed warm-up call."""
    if DEVICE.startswith("cuda"):
        fn()
    best = float("inf")
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        best = min(best, time.perf_counter() - start)
    return best


def _throughput_table() -> str:
    E, n, D, m, steps, t_min = 8, 500, 2, 4096, 30, 1e-2
    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(n, D)) for _ in range(E)]
    process = VPProcess()
    score = EmpiricalScore(sets, process)

    def ours(chunk):
        return lambda: generate(score, m, sampler="euler", steps=steps, t_min=t_min,
                                denoise=False, chunk_size=chunk,
                                generator=torch.Generator().manual_seed(1))  # fmt: skip

    plain = _timed(lambda: _plain_euler(sets, m, steps, t_min, process, 1, DEVICE))
    rows = [("plain: member by member, unchunked", plain)]
    rows.append(("ours: batched ensemble, one chunk", _timed(ours(m))))
    rows.append(("ours: batched ensemble, chunks of 1024", _timed(ours(1024))))
    lines = [
        f"Empirical-score Euler sampling, E={E} members, n={n}, D={D}, m={m} per member, "
        f"{steps} steps, 1 thread, best of 2 runs, device {DEVICE} (the plain loop too; the "
        f"empirical score's defaults there: {score.settings(DEVICE)}).",
        "",
        "| method | seconds | samples/s (all members) | speed vs plain |",
        "|---|---:|---:|---:|",
    ]
    for name, sec in rows:
        lines.append(f"| {name} | {sec:.2f} | {E * m / sec:,.0f} | {plain / sec:.2f}x |")
    peak_plain = m * n * 8 * 3 / 2**20
    peak_ours = 3 * 8 * score.settings(DEVICE)[0] / 2**20
    lines.append("")
    lines.append(
        f"Score workspace: plain ~{peak_plain:.0f} MiB per member (m x n distances, weights, "
        f"softmax), growing with m; ours ~{peak_ours:.0f} MiB for all {E} members whatever m."
    )
    return "\n".join(lines)


def _w1_to_cdf(y: np.ndarray, gmm: GaussianMixture) -> float:
    """∫ |F_M(x) - F(x)| dx on a fine grid (exact F from the mixture's cell masses)."""
    edges = np.linspace(-5, 5, 4001)
    exact = np.concatenate([[0.0], np.cumsum(gmm.cell_masses([edges]))])
    empirical = np.searchsorted(np.sort(y), edges, side="right") / len(y)
    return float(np.sum(np.abs(empirical - exact)[:-1] * np.diff(edges)))


def _accuracy_table() -> str:
    gmm = GaussianMixture([0.3, 0.7], [[-1.0], [1.0]], [0.3, 0.5])
    process = VPProcess()
    score = ExactGMMScore(gmm, process)
    M, target = 20_000, 0.03
    floor = np.mean([_w1_to_cdf(gmm.sample(M, np.random.default_rng(s))[:, 0], gmm)
                     for s in range(3)])  # fmt: skip
    lines = [
        f"W1 to the exact 2-component mixture (D=1, VP, t_min=1e-3, M={M}; "
        f"W1 of M exact samples: {floor:.4f}).",
        "",
        "| sampler | steps | score evaluations | W1 |",
        "|---|---:|---:|---:|",
    ]
    need = {}
    # the first-order stochastic samplers on the uniform grid (the plain alternative), Heun's
    # ODE, and the two exponential integrators on log-spaced steps, the theory rule's spacing
    for sampler, spacing, step_list in (("euler", "uniform", (10, 20, 40, 80, 160)),
                                        ("exponential", "uniform", (10, 20, 40, 80, 160)),
                                        ("heun", "uniform", (5, 10, 20, 40)),
                                        ("exponential", "log", (10, 20, 40, 80, 160)),
                                        ("dpm2m", "log", (5, 10, 20, 40, 80))):  # fmt: skip
        nfes, errs = [], []
        name = sampler if spacing == "uniform" else f"{sampler} ({spacing} steps)"
        for steps in step_list:
            y, info = generate(score, M, sampler=sampler, steps=steps, spacing=spacing,
                               generator=torch.Generator().manual_seed(2))  # fmt: skip
            w1 = _w1_to_cdf(y[0, :, 0].numpy(), gmm)
            nfes.append(info["nfe"])
            errs.append(w1)
            lines.append(f"| {name} | {steps} | {info['nfe']:.0f} | {w1:.4f} |")
        need[name] = _nfe_for(nfes, errs, target)
    lines += ["", f"Score evaluations to reach W1 = {target}:", ""]
    lines += ["| sampler | evaluations | vs Euler |", "|---|---:|---:|"]
    for sampler, nfe in need.items():
        ratio = need["euler"] / nfe if math.isfinite(nfe) and math.isfinite(need["euler"]) else 0
        lines.append(f"| {sampler} | {nfe:.0f} | {ratio:.2f}x fewer |")
    return "\n".join(lines)


def _nfe_for(nfes, errs, target) -> float:
    """Evaluations at which the error first falls to ``target`` (log-log interpolation)."""
    for i in range(1, len(errs)):
        if errs[i] <= target < errs[i - 1]:
            a = (math.log(target) - math.log(errs[i - 1])) / (
                math.log(errs[i]) - math.log(errs[i - 1])
            )
            return math.exp(math.log(nfes[i - 1]) + a * (math.log(nfes[i]) - math.log(nfes[i - 1])))
    return nfes[0] if errs[0] <= target else float("inf")


def main() -> str:
    torch.set_num_threads(1)
    return "## Samplers\n\n" + _throughput_table() + "\n\n" + _accuracy_table() + "\n"


if __name__ == "__main__":
    print(main())
