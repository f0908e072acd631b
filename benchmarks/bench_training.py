"""Training and sampling throughput of the batched ensemble (issue 3, Benchmarks).

1. Training: model-steps/s of ``train_ensemble`` with 16 members vs the plain PyTorch loop that
   trains the same 16 models one after another (nn.Sequential + torch.optim.Adam), same width,
   depth, batch, loss and features. Goal ≥ 5× on the 2-core CPU.
2. Sampling: network evaluations/s of ``samplers.generate`` with a 16-member NetworkScore vs a
   plain one-model-at-a-time DDPM ancestral loop, and the achieved GFLOP/s (matmul flops of the
   MLP) against a large float32 matmul measured in the same run. Goals (issue 11): at least the
   plain loop's evaluations/s, and ≥ 60% of the matmul rate.

Everything runs on one thread (the project's default: OMP_NUM_THREADS=1 per worker) unless
``MINIMAX_BENCH_THREADS`` says otherwise; on a CUDA machine the same code runs on the GPU.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from minimax.diffusion.networks import TIME_FREQUENCIES, NetworkScore, _fourier
from minimax.diffusion.processes import DDPMSchedule
from minimax.diffusion.samplers import generate
from minimax.diffusion.training import TrainConfig, train_ensemble
from minimax.runtime import resolve_device

E, D, DEPTH = 16, 1, 3
#: (width, batch) of the training comparisons: the theory rule's size at n = 1000, and a small
#: model where per-step overhead dominates the plain loop
TRAIN_SIZES = ((64, 256), (32, 128))
WIDTH, BATCH = TRAIN_SIZES[0]
TRAIN_STEPS = 200
SAMPLE_M, SAMPLE_STEPS = 4096, 50


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _plain_model(device, width=WIDTH):
    n_in = D + 1 + 2 * TIME_FREQUENCIES
    layers, prev = [], n_in
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(prev, width), torch.nn.SiLU()]
        prev = width
    layers.append(torch.nn.Linear(prev, D))
    return torch.nn.Sequential(*layers).to(device)


def _features(x, c, freqs):
    return torch.cat([x, c[:, None], _fourier(c[:, None], freqs)], dim=-1)


def plain_training(X: np.ndarray, sched: DDPMSchedule, device, width, batch, models=E,
                   steps=TRAIN_STEPS) -> float:  # fmt: skip
    """Seconds to train ``models`` models one at a time for ``steps`` steps each (the plain
    loop)."""
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    sqrt_ab = torch.as_tensor(np.sqrt(sched.alpha_bars), dtype=torch.float32, device=device)
    std = torch.as_tensor(sched.sqrt_one_minus_alpha_bars, dtype=torch.float32, device=device)
    freqs = 2.0 ** torch.arange(TIME_FREQUENCIES, dtype=torch.float32, device=device)
    _sync(device)
    start = time.perf_counter()
    for e in range(models):
        torch.manual_seed(e)
        g = torch.Generator(device=device).manual_seed(e)
        model = _plain_model(device, width)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(steps):
            idx = torch.randint(0, len(Xt), (batch,), generator=g, device=device)
            k = torch.randint(0, sched.T, (batch,), generator=g, device=device)
            noise = torch.randn((batch, D), generator=g, device=device)
            xt = sqrt_ab[k, None] * Xt[idx] + std[k, None] * noise
            c = 0.25 * torch.log(std[k])
            loss = (model(_features(xt, c, freqs)) - noise).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def ours_training(X: np.ndarray, process, device, width, batch, models=E,
                  steps=TRAIN_STEPS) -> tuple[float, object]:  # fmt: skip
    cfg = TrainConfig(width=width, depth=DEPTH, steps=steps, batch_size=batch,
                      heldout_fraction=0.0, eval_every=10 * steps, device=device)  # fmt: skip
    _sync(device)
    start = time.perf_counter()
    fit = train_ensemble([X] * models, process, cfg,
                         [np.random.default_rng(e) for e in range(models)])  # fmt: skip
    _sync(device)
    return time.perf_counter() - start, fit


def plain_sampling(models, sched: DDPMSchedule, device) -> float:
    """Seconds for a plain float32 DDPM ancestral loop, one model after another."""
    sched = sched.respace(SAMPLE_STEPS)
    freqs = 2.0 ** torch.arange(TIME_FREQUENCIES, dtype=torch.float32, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    _sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        for model in models:
            x = torch.randn((SAMPLE_M, D), generator=g, device=device)
            for i in range(sched.T - 1, -1, -1):
                s = float(sched.sqrt_one_minus_alpha_bars[i])
                c = torch.full((SAMPLE_M,), 0.25 * math.log(s), device=device)
                eps = model(_features(x, c, freqs))
                beta = float(sched.betas[i])
                x = (x - beta / s * eps) / math.sqrt(1 - beta)
                if i > 0:
                    x = x + math.sqrt(beta) * torch.randn(x.shape, generator=g, device=device)
    _sync(device)
    return time.perf_counter() - start


def matmul_gflops(device, size=2048, reps=10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - start) / 1e9


def main() -> str:
    threads = int(os.environ.get("MINIMAX_BENCH_THREADS", "1"))
    torch.set_num_threads(threads)
    device = resolve_device("auto")
    sched = DDPMSchedule()
    process = sched.process()
    X = np.random.default_rng(0).standard_normal((2000, D))

    # warm up first: CUDA context, cuBLAS handles, kernel caches and the allocator would
    # otherwise be paid inside whichever loop is timed first (the plain one)
    for width, batch in TRAIN_SIZES:
        plain_training(X, sched, device, width, batch, models=2, steps=10)
        ours_training(X, process, device, width, batch, models=2, steps=10)
    matmul_gflops(device, reps=2)
    train_rows, train_gflops = [], []
    for width, batch in TRAIN_SIZES:
        t_plain = plain_training(X, sched, device, width, batch)
        t_ours, out = ours_training(X, process, device, width, batch)
        if width == WIDTH:
            fit = out
        plain, ours = E * TRAIN_STEPS / t_plain, E * TRAIN_STEPS / t_ours
        train_rows.append((f"training width {width}, batch {batch}: model-steps/s",
                           f"{plain:,.0f}", f"{ours:,.0f}", f"{ours / plain:.1f}x", "≥ 5x"))  # fmt: skip
        # a step's matmuls: the forward one and two in the backward pass, per layer
        step_flops = 3 * batch * out.network.flops_per_eval()
        train_gflops.append((width, plain * step_flops / 1e9, ours * step_flops / 1e9,
                             5 * plain * step_flops / 1e9))  # fmt: skip

    models = [_plain_model(device) for _ in range(E)]
    s_plain = plain_sampling(models, sched, device)
    score = NetworkScore(fit.network, process, fit.standardizer)
    chunk = 1024 if device == "cpu" else None
    warm = torch.Generator().manual_seed(0)  # a warm-up call, untimed
    generate(score, 256, sampler="ancestral", steps=2, generator=warm, device=device)
    _sync(device)
    start = time.perf_counter()
    generate(score, SAMPLE_M, sampler="ancestral", steps=SAMPLE_STEPS, generator=torch.Generator(
        device=device).manual_seed(1), device=device, chunk_size=chunk)  # fmt: skip
    _sync(device)
    s_ours = time.perf_counter() - start
    evals = E * SAMPLE_M * SAMPLE_STEPS
    flops = fit.network.flops_per_eval()  # what the plain loop computes per evaluation
    flops_ours = fit.network.flops_per_eval(shared_time=True)  # the time features as a bias
    peak = matmul_gflops(device)
    rows = train_rows + [
        ("sampling, network evals/s", f"{evals / s_plain:,.0f}", f"{evals / s_ours:,.0f}",
         f"{s_plain / s_ours:.1f}x", "≥ 1x"),
        ("sampling, GFLOP/s (matmuls each computes)", f"{flops * evals / s_plain / 1e9:.1f}",
         f"{flops_ours * evals / s_ours / 1e9:.1f}",
         f"{flops_ours * evals / s_ours / 1e9 / peak:.0%} of matmul", "≥ 60%"),
        ("large matmul 2048², GFLOP/s", "", f"{peak:.1f}", "", ""),
    ]  # fmt: skip
    for width, g_plain, g_ours, g_goal in train_gflops:
        rows.append((f"training width {width}: matmul GFLOP/s (5x the plain loop needs "
                     f"{g_goal:.0f}, {g_goal / peak:.0%} of matmul)", f"{g_plain:.1f}",
                     f"{g_ours:.1f}", f"{g_ours / peak:.0%} of matmul", ""))  # fmt: skip
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    head = (
        f"Device {device} ({name}, torch {torch.__version__}), {torch.get_num_threads()} thread(s); ensemble of E = {E} MLPs "
        f"(D = {D}, depth {DEPTH}); training {TRAIN_STEPS} steps per model; sampling with width "
        f"{WIDTH} ({fit.network.parameter_count():,} parameters, {flops:,} flop per evaluation), "
        f"{SAMPLE_M} points × {SAMPLE_STEPS} ancestral steps per model, chunks of {chunk}; "
        "GFLOP/s counts the matmuls each loop computes (ours folds the time features, shared by "
        f"a step's points, into a bias: {flops_ours:,} flop per evaluation; SiLU, the Fourier "
        "features and the sampler's float64 update are extra work). Every loop is warmed up (a "
        "few steps) before it is timed.\n\n"
    )
    lines = ["| measure | plain one-model loop | ours (batched ensemble) | ratio | goal |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
