"""The empirical-score control at study size (issue 17): one score call, device-sized vs plain.

Compares, in the same run and on the same inputs, the historical settings (blocks of 2^20
(query, point) pairs, float64 expansion: the "plain" loop the GPU would otherwise run) with
big blocks in float64 and with the device's defaults (``EmpiricalScore.settings``: on CUDA
2^26-pair blocks and the float32 path), at the smallest t a study samples. It then extrapolates
one paper-preset cell (n = 64,000, D = 2, M = 10^6 samples, the sizing rule's sampling steps) from
the measured seconds per query and step. On a CPU the sizes shrink (n = 4,000, 2,048 queries)
and the extrapolation is printed for that n.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from minimax.diffusion.processes import DDPMSchedule
from minimax.diffusion.scores import DEFAULT_BLOCK_ENTRIES, EmpiricalScore
from minimax.runtime import resolve_device


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device, repeats=2) -> float:
    fn()  # warm-up (CUDA context, allocator, kernels)
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _sample_steps(n: int, D: int, s: float) -> tuple[int, float]:
    """The paper cell's sampling steps and T̲ (EmpiricalScoreDiffusion's own rule)."""
    from minimax.diffusion import EmpiricalScoreDiffusion

    X = np.random.default_rng(0).uniform(-1, 1, (n, D))
    est = EmpiricalScoreDiffusion(process="ddpm", s=s, box=[[-1.0, 1.0]] * D, device="cpu")
    est.fit(X, np.random.default_rng(1))
    return est.sample_steps_, est.t_min_


def main() -> str:
    torch.set_num_threads(1)
    device = resolve_device("auto")
    cuda = device.startswith("cuda")
    D, s, M = 2, 1.5, 1_000_000
    n, queries = (64_000, 1 << 16) if cuda else (4_000, 2_048)
    steps, t_min = _sample_steps(n, D, s)
    process = DDPMSchedule().process()
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, D))
    m, sd = process.marginal(t_min)
    q = m * X[rng.integers(0, n, queries)] + sd * rng.standard_normal((queries, D))
    x = torch.as_tensor(q, device=device)[None]
    variants = [
        ("plain: 2^20-pair blocks, float64 (the old settings)",
         EmpiricalScore(X, process, block_entries=DEFAULT_BLOCK_ENTRIES, precision="float64")),
        ("big blocks, float64", EmpiricalScore(X, process, block_entries=1 << 26,
                                               precision="float64")),
        (f"device defaults {EmpiricalScore(X, process).settings(device)}",
         EmpiricalScore(X, process)),
    ]  # fmt: skip
    ref = variants[0][1].score(x, t_min)
    rows = []
    for name, score in variants:
        sec = _timed(lambda score=score: score.score(x, t_min), device)
        got = score.score(x, t_min)
        rel = float((got - ref).square().sum().sqrt() / ref.square().sum().sqrt())
        cell = sec / queries * M * steps
        rows.append((name, sec, rel, cell))
    plain = rows[0][1]
    name = torch.cuda.get_device_name() if cuda else "cpu"
    lines = [
        "## Empirical score at study size",
        "",
        f"Device {device} ({name}, torch {torch.__version__}); n = {n}, D = {D}, {queries} "
        f"queries at T̲ = {t_min:.4g} (σ = {sd:.3g}); one score call, best of 2 after a "
        f"warm-up. Cell: M = {M:,} samples × {steps} ancestral steps (the rule at this n), "
        "extrapolated linearly in queries × steps.",
        "",
        "| settings | seconds per call | vs plain | RMS rel. diff. vs plain | one cell (extrapolated) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, sec, rel, cell in rows:
        lines.append(
            f"| {label} | {sec:.3f} | {plain / sec:.1f}x | {rel:.1e} | {cell / 60:,.1f} min |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
