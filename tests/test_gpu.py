"""CUDA checks of issue 17, run on a GPU by ``make gpu-check`` (``pytest -m gpu``); skipped
without CUDA (tests/conftest.py).

The GPU machine may lack pytest: these tests use plain asserts and no fixtures, so
``benchmarks/gpu_check.py`` can run them directly. ``test_peak_memory_of_a_paper_size_fit``
writes its measurements to ``$GPU_CHECK_OUT/paper_fit.json`` when that variable is set.

``MINIMAX_GPU_TEST_DEVICE=cpu`` is a dry run of the tests' own logic on the CPU (conftest then
does not skip them; the CUDA-only parts, sync debug mode and memory statistics, are left out).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings

import numpy as np
import torch

try:
    import pytest

    pytestmark = pytest.mark.gpu
except ImportError:  # pragma: no cover - the GPU machine's environment
    pytest = None

from minimax.diffusion.processes import DDPMSchedule
from minimax.diffusion.training import TrainConfig, train_ensemble

PROC = DDPMSchedule().process()
#: "cuda"; "cpu" for a dry run of these tests on the CPU
DEV = os.environ.get("MINIMAX_GPU_TEST_DEVICE", "cuda")
CUDA = DEV == "cuda"


def _sync():
    if CUDA:
        torch.cuda.synchronize()


class _sync_debug:
    """torch.cuda.set_sync_debug_mode(mode) inside the block (nothing on a CPU dry run)."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        if CUDA:
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode(self.mode)

    def __exit__(self, *exc):
        if CUDA:
            torch.cuda.set_sync_debug_mode(0)
        return False


def _mixture(n, rng, D=1):
    c = np.where(rng.random(n) < 0.4, -1.0, 1.5)
    return c[:, None] + 0.4 * rng.standard_normal((n, D))


def _cfg(**kw):
    base = dict(width=32, depth=2, steps=120, batch_size=64, eval_every=40, block_steps=25,
                device=DEV, warmup_steps=10)  # fmt: skip
    return TrainConfig(**(base | kw))


def _fit(Xs, seeds, **kw):
    return train_ensemble(Xs, PROC, _cfg(**kw), [np.random.default_rng(s) for s in seeds])


def _network_score(fit):
    from minimax.diffusion.networks import NetworkScore

    return NetworkScore(fit.network, PROC, fit.standardizer)


def test_auto_resolves_to_cuda_and_pins_determinism():
    from minimax.runtime import device_identity, resolve_device

    if not CUDA:
        return
    assert resolve_device("auto") == "cuda"
    ident = device_identity("auto")
    assert ident["type"] == "cuda" and ident["name"] == torch.cuda.get_device_name()
    assert ident["torch"] == torch.__version__
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cuda.matmul.allow_tf32
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == ":4096:8"


def test_ensemble_members_on_cuda_equal_separate_trainings():
    rng = np.random.default_rng(0)
    Xs = [_mixture(n, rng) for n in (150, 60, 400)]
    seeds = (11, 12, 13)
    ens = _fit(Xs, seeds, loss="continuous")
    for e, (X, s) in enumerate(zip(Xs, seeds, strict=True)):
        alone = _fit([X], (s,), loss="continuous")
        np.testing.assert_allclose(ens.loss_history[e], alone.loss_history[0], rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(ens.network.flat[e], alone.network.flat[0], rtol=1e-4, atol=2e-5)
    assert not torch.allclose(ens.network.flat[0], ens.network.flat[1])


def test_rerun_on_the_same_gpu_gives_equal_tensors():
    from minimax.diffusion.samplers import generate

    rng = np.random.default_rng(1)
    Xs = [_mixture(300, rng), _mixture(200, rng)]
    a, b = _fit(Xs, (1, 2)), _fit(Xs, (1, 2))
    assert a.network.flat.device.type == DEV
    assert torch.equal(a.network.flat, b.network.flat)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    draws = [
        generate(_network_score(f), 5000, sampler="ancestral", steps=50, device=DEV,
                 generator=torch.Generator().manual_seed(3))[0]
        for f in (a, b)
    ]  # fmt: skip
    assert torch.equal(draws[0], draws[1])


def test_sampler_results_do_not_depend_on_chunk_size_on_cuda():
    from minimax.diffusion.samplers import generate, noise_block
    from minimax.diffusion.scores import EmpiricalScore

    rng = np.random.default_rng(2)
    fit = _fit([_mixture(300, rng)], (4,))
    block = noise_block(DEV)
    m = 2 * block + 100
    for score, exact in ((_network_score(fit), False), (EmpiricalScore(fit_data(rng), PROC), True)):
        kw = dict(sampler="ancestral", steps=30, device=DEV)
        x, _ = generate(score, m, chunk_size=block, generator=_gen(9), **kw)
        y, _ = generate(score, m, chunk_size=4 * block, generator=_gen(9), **kw)
        # per-query arithmetic up to the summation order of the (b)mm kernels, which may follow
        # the batch size: float64 rounding for the empirical score, float32 for the network
        tol = dict(rtol=1e-9, atol=1e-9) if exact else dict(rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(x, y, **tol)


def fit_data(rng):
    return _mixture(500, rng)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_cpu_and_cuda_scores_agree_on_the_same_inputs():
    from minimax.diffusion.scores import EmpiricalScore, ExactGMMScore
    from minimax.targets import GaussianMixture

    if not CUDA:
        return
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (3000, 2))
    x = torch.as_tensor(rng.uniform(-1.2, 1.2, (1, 2000, 2)))
    for t in (0.003, 0.05, 0.5):
        cpu = EmpiricalScore(X, PROC).score(x, t)
        gpu64 = EmpiricalScore(X, PROC, precision="float64").score(x.cuda(), t).cpu()
        gpu32 = EmpiricalScore(X, PROC).score(x.cuda(), t).cpu()  # the CUDA default
        torch.testing.assert_close(gpu64, cpu, rtol=1e-9, atol=1e-9)
        assert float((gpu32 - cpu).square().sum().sqrt() / cpu.square().sum().sqrt()) < 5e-5
    gmm = GaussianMixture([0.3, 0.7], [[-1.0, 0.0], [1.0, 0.5]], [0.3, 0.5])
    exact = ExactGMMScore(gmm, PROC)
    torch.testing.assert_close(exact.score(x.cuda(), 0.1).cpu(), exact.score(x, 0.1))
    fit = _fit([_mixture(300, rng)], (6,))
    score = _network_score(fit)
    u = torch.as_tensor(rng.standard_normal((1, 2000, 1)))
    on_gpu = score.score(u.cuda(), 0.05).cpu()
    fit.network.to("cpu")
    score_cpu = _network_score(fit)
    on_cpu = score_cpu.score(u, 0.05)
    assert on_gpu.dtype == on_cpu.dtype == torch.float64
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-4, atol=1e-4)  # float32, no TF32


def test_no_host_sync_inside_the_sampler_loop():
    from minimax.diffusion.samplers import _ancestral, _euler, _Streams, time_grid
    from minimax.diffusion.scores import EmpiricalScore

    rng = np.random.default_rng(7)
    fit = _fit([_mixture(300, rng)], (8,))
    sched = PROC.schedule.respace(40)
    grid = time_grid(PROC, 40, 1e-3)
    for score in (_network_score(fit), EmpiricalScore(_mixture(400, rng), PROC)):
        streams = _Streams(12345, 0, 8192, (1, 1), DEV)
        x = streams.prior(PROC).to(torch.float64)
        score(x, 0.5)  # first call: the score's tables go to the device (once, before the loop)
        with _sync_debug("error"), torch.no_grad():
            y, _ = _ancestral(score, x, sched, streams, "beta", False)
            z, _ = _euler(score, PROC, x, grid, streams)
        assert torch.isfinite(y).all() and torch.isfinite(z).all()


def test_no_host_sync_per_training_step_on_cuda():
    # one minibatch block and one evaluation whatever the steps: syncs may not grow with them
    rng = np.random.default_rng(9)
    Xs = [_mixture(300, rng), _mixture(200, rng)]
    counts = {}
    for steps in (20, 80):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _sync_debug("warn"):
                _fit(Xs, (1, 2), steps=steps, eval_every=steps, block_steps=steps)
        counts[steps] = sum("synchroniz" in str(w.message) for w in caught)
    assert counts[20] == counts[80], counts


def test_peak_memory_of_a_paper_size_fit():
    """The paper preset's largest DDPM unit (n = 64,000, D = 2, 5 replicates) for 300 training
    steps and 2^17 samples: peak memory, and the measured rates extrapolated to the rule's full
    steps and M = 10^6 (written to $GPU_CHECK_OUT/paper_fit.json)."""
    from minimax.diffusion import DiffusionEstimator
    from minimax.targets import make_target

    n, D, s, reps, steps, m = (
        (64_000, 2, 1.5, 5, 300, 1 << 17) if CUDA else (2000, 2, 1.5, 2, 20, 2000)
    )
    target = make_target("besov", D=D, s=s, p=2.0, boundary="band", seed=0, n_max=n)
    Xs = [target.sample(n, np.random.default_rng(r)) for r in range(reps)]
    est = DiffusionEstimator(process="ddpm", sizing="theory", s=s, box=target.support,
                             device=DEV, steps=steps)  # fmt: skip
    _peak_reset()
    t0 = time.perf_counter()
    members = est.fit_ensemble(Xs, [np.random.default_rng(10 + r) for r in range(reps)])
    _sync()
    fit_s = time.perf_counter() - t0
    peak_fit = _peak_reset()
    t1 = time.perf_counter()
    y = members[0].sample(m, np.random.default_rng(99))
    _sync()
    sample_s = time.perf_counter() - t1
    peak_sample = _peak_reset()
    # the rule's own training steps at this n (the fit above ran `steps` of them)
    unrestricted = DiffusionEstimator(process="ddpm", sizing="theory", s=s, box=target.support)
    rule = unrestricted._sizing(n, D, members[0].process_)
    total = torch.cuda.get_device_properties(0).total_memory if CUDA else 1 << 62
    record = {
        "device": torch.cuda.get_device_name() if CUDA else "cpu", "n": n, "D": D, "replicates": reps,
        "width": rule.width, "depth": rule.depth, "batch_size": rule.batch_size,
        "rule_steps": rule.steps, "steps_run": steps, "fit_seconds": fit_s,
        "seconds_per_step": fit_s / steps, "fit_seconds_extrapolated": fit_s / steps * rule.steps,
        "sample_steps": rule.sample_steps, "samples": m, "sample_seconds": sample_s,
        "sample_seconds_for_1e6": sample_s * 1e6 / m, "peak_fit_bytes": peak_fit,
        "peak_sample_bytes": peak_sample, "total_bytes": total,
    }  # fmt: skip
    out = os.environ.get("GPU_CHECK_OUT")
    if out and CUDA:
        with open(os.path.join(out, "paper_fit.json"), "w") as fh:
            json.dump(record, fh, indent=1)
    assert y.shape == (m, D) and np.isfinite(y).all()
    assert max(peak_fit, peak_sample) < 0.5 * total, record
    assert math.isfinite(fit_s)


def _peak_reset() -> int:
    """The peak allocated CUDA memory since the last call (0 on a CPU dry run), then reset."""
    if not CUDA:
        return 0
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    return peak
