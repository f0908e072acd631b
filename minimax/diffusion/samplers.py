"""Samplers: run a forward process backwards from its prior with a score source.

One entry point, :func:`generate`, batched over the ensemble (E) and the m samples and chunked
over m. Time grids come from :func:`time_grid`, shared with training (docs/design.md: one truncation
time t_min = T̲ and one grid). All states are float64.

Random streams (after EDM, Karras et al. 2022): the samples are cut into fixed blocks of
``noise_block(device)`` indices, each with its own torch.Generator seeded from (a draw of the
passed generator, block index). Every draw (prior, then per-step noise) of sample j comes from its
block's stream in a fixed order, so results do not depend on ``chunk_size`` (chunks hold whole
blocks) and the first m samples of a larger run equal a run of m.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax.diffusion.base import Process, ScoreSource
from minimax.diffusion.ode_steps import CONTINUOUS_SAMPLERS, _denoise, _euler, _score64  # noqa: F401
from minimax.diffusion.processes import DDPMProcess, DDPMSchedule
from minimax.runtime import resolve_device
from minimax.validation import check_choice, check_int, check_real

SPACINGS = ("uniform", "log", "quadratic", "snr")
VARIANCES = ("beta", "beta_tilde")
#: samples per random stream on the CPU; fixed so that results do not depend on the chunk size
NOISE_BLOCK = 1024
#: the same on CUDA devices, where a kernel launch per small block would dominate (CUDA streams
#: differ from CPU streams anyway, so the two never had to agree)
CUDA_NOISE_BLOCK = 1 << 16


def noise_block(device) -> int:
    """Samples per random stream on ``device``."""
    return NOISE_BLOCK if str(device) == "cpu" else CUDA_NOISE_BLOCK


#: default number of state entries E·chunk·D per chunk (about 32 MiB of float64 per state copy)
DEFAULT_CHUNK_ENTRIES = 1 << 22
DEFAULT_T_MIN = 1e-3
DEFAULT_STEPS = 500


def _log_snr(process: Process, t) -> np.ndarray:
    """λ(t) = log(m(t)/sigma(t)), decreasing in t (float64)."""
    m, std = process.marginal(np.asarray(t, dtype=np.float64))
    return np.log(m) - np.log(std)


def time_grid(process: Process, steps: int, t_min: float, t_end: float | None = None,
              spacing: str = "uniform") -> np.ndarray:  # fmt: skip
    """Increasing float64 times t_0 = t_min < ... < t_steps = t_end (default: process.t_end).

    spacing "uniform": linear in t; "log": geometric in t; "quadratic": t_min + (t_end - t_min)u²
    (DDIM, Song et al. 2021a); "snr": uniform in log(m/sigma) (DPM-Solver, Lu et al. 2022),
    inverted by bisection to 1e-15 relative.
    """
    steps = check_int("steps", steps, low=1)
    t_end = process.t_end if t_end is None else t_end
    t_end = check_real("t_end", t_end, low=0.0, high=process.t_end, low_open=True)
    t_min = check_real("t_min", t_min, low=0.0, high=t_end, low_open=True, high_open=True)
    spacing = check_choice("spacing", spacing, SPACINGS)
    u = np.linspace(0.0, 1.0, steps + 1)
    if spacing == "uniform":
        grid = t_min + (t_end - t_min) * u
    elif spacing == "log":
        grid = np.exp(np.log(t_min) + (np.log(t_end) - np.log(t_min)) * u)
    elif spacing == "quadratic":
        grid = t_min + (t_end - t_min) * u**2
    else:
        lam_lo, lam_hi = _log_snr(process, t_min), _log_snr(process, t_end)
        target = lam_lo + (lam_hi - lam_lo) * u
        lo, hi = np.full_like(u, t_min), np.full_like(u, t_end)
        for _ in range(200):  # bisection: λ is decreasing in t
            mid = 0.5 * (lo + hi)
            above = _log_snr(process, mid) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
            if np.all(hi - lo <= 1e-15 * hi):
                break
        grid = 0.5 * (lo + hi)
    grid[0], grid[-1] = t_min, t_end
    return grid


class _Streams:
    """Per-block random streams for samples [start, stop) (see the module docstring)."""

    def __init__(self, base_seed: int, start: int, stop: int, shape_tail, device):
        self.gens, self.takes = [], []
        self.block = block = noise_block(device)
        for b in range(start // block, (stop - 1) // block + 1):
            ss = np.random.SeedSequence(base_seed, spawn_key=(b,))
            g = torch.Generator(device=device)
            g.manual_seed(int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1)))
            lo = max(start, b * block) - b * block
            hi = min(stop, (b + 1) * block) - b * block
            self.gens.append(g)
            self.takes.append((lo, hi))
        self.e, self.d = shape_tail
        self.device = device

    def randn(self) -> torch.Tensor:
        """Standard normals of shape (E, stop - start, D), float64."""
        parts = [
            torch.randn(
                (self.e, self.block, self.d), generator=g, device=self.device, dtype=torch.float64
            )[:, lo:hi]  # fmt: skip
            for g, (lo, hi) in zip(self.gens, self.takes, strict=True)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def prior(self, process: Process) -> torch.Tensor:
        """Prior draws of shape (E, stop - start, D), block by block like the noise."""
        parts = [
            process.prior_sample((self.e, self.block, self.d), g, device=self.device)[:, lo:hi]
            for g, (lo, hi) in zip(self.gens, self.takes, strict=True)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


#: every sampler name ``generate`` accepts
SAMPLERS = ("ancestral", *CONTINUOUS_SAMPLERS)


def _ancestral(score, x, schedule, streams, variance, denoise):
    """DDPM Algorithm 2 (Ho et al. 2020) with the correct sqrt(1 - ᾱ) (docs/theory.md §3).

    x_{prev} = (x - β/sqrt(1-ᾱ) · eps)/sqrt(α) + sigma z, eps = -sqrt(1-ᾱ) · score,
    sigma² = β or β̃; the last step (to x_0) is noise-free.
    """
    steps = schedule.T
    last = 0 if denoise else 1
    for i in range(steps - 1, last - 1, -1):
        t = float(schedule.times[i])
        sqrt_1mab = schedule.sqrt_one_minus_alpha_bars[i]
        eps = -sqrt_1mab * _score64(score, x, t)
        beta = schedule.betas[i]
        x = (x - beta / sqrt_1mab * eps) / math.sqrt(1.0 - beta)
        if i > 0:
            var = beta if variance == "beta" else schedule.posterior_variance[i]
            x = x + math.sqrt(var) * streams.randn()
    return x, steps - last


def _ancestral_schedule(score, schedule, steps, t_min, spacing="uniform"):
    if schedule is None:
        if not isinstance(score.process, DDPMProcess):
            raise ValueError(
                "schedule=None is not allowed: the ancestral sampler needs a DDPMSchedule "
                f"(the score's process is {type(score.process).__name__})"
            )
        schedule = score.process.schedule
    if not isinstance(schedule, DDPMSchedule):
        raise ValueError(f"schedule={schedule!r} is not allowed: expected a DDPMSchedule")
    m, _ = score.process.marginal(schedule.times)
    if not np.allclose(m, np.sqrt(schedule.alpha_bars), rtol=1e-9, atol=0):
        raise ValueError(
            "schedule is not allowed: its ᾱ does not match the score's process at its times"
        )
    first = 1
    if t_min is not None:
        t_min = check_real("t_min", t_min, low=0.0, high=schedule.times[-1], low_open=True,
                           high_open=True)  # fmt: skip
        first = int(np.searchsorted(schedule.times, t_min - 1e-12)) + 1
    available = schedule.T - first + 1
    steps = available if steps is None else check_int("steps", steps, low=1, high=available)
    if first == 1 and steps == schedule.T:
        return schedule
    if spacing == "snr":
        raise ValueError(
            "spacing='snr' is not allowed with the ancestral sampler: expected uniform, log or "
            "quadratic (steps of the DDPM grid)"
        )
    return schedule.respace(steps, first, spacing)


def generate(
    score: ScoreSource,
    m: int,
    *,
    sampler: str = "ancestral",
    steps: int | None = None,
    t_min: float | None = None,
    t_end: float | None = None,
    generator: torch.Generator,
    device: str = "cpu",
    chunk_size: int | None = None,
    denoise: bool = True,
    schedule: DDPMSchedule | None = None,
    variance: str = "beta",
    spacing: str = "uniform",
    dim: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_nfe: int = 100_000,
) -> tuple[torch.Tensor, dict]:
    """Draw m samples from each of the score's E models; returns (tensor (E, m, D), info).

    The samples are float64 on the CPU. ``info`` has sampler, steps, nfe (score evaluations per
    sample path; for "adaptive" the mean over chunks, with ``nfe_per_chunk``), t_min, t_end,
    spacing, variance, chunk_size, denoise.

    Samplers:
      "ancestral": DDPM Algorithm 2 on ``schedule`` (default: the score's DDPM process), with
        reverse variance β ("beta") or β̃ ("beta_tilde"); respaced (β from the ᾱ ratio) when
        ``steps`` < T on grid steps placed by ``spacing`` (uniform, log or quadratic in the step
        index; DDPMSchedule.respace); it starts at the first step k with k/T ≥ t_min; its last,
        noise-free step to x_0 is Tweedie's denoising (skipped when ``denoise`` is False).
      "euler": Euler-Maruyama on the reverse SDE dx = [f - g² s] dt + g dw̄.
      "exponential": exponential integrator of the reverse SDE (exact linear part, frozen
        eps = -sigma s), see ``_exponential``.
      "heun": Heun's method on the probability-flow ODE dx = [f - ½ g² s] dt.
      "dpm2m": second-order multistep exponential integrator of the reverse SDE (one score
        evaluation per step), see ``_dpm2m``.
      "adaptive": Dormand-Prince 5(4) on the probability-flow ODE with tolerances rtol, atol.
    The continuous samplers run on ``time_grid(process, steps, t_min, t_end, spacing)`` from the
    prior down to t_min, then (``denoise``) apply Tweedie x_0 = (x + sigma² s)/m at t_min.

    Memory: the state of one chunk is E·chunk·D float64 values; the samplers keep at most about
    a dozen such arrays alive (the Dormand-Prince stages), plus what one score call needs for
    E·chunk points (EmpiricalScore: bounded by its ``block_entries``).
    ``chunk_size`` (default: about 2^22 / (E·D) samples) is rounded up to a multiple of
    ``noise_block(device)`` (1024 on the CPU). Results do not depend on it, except for
    "adaptive", whose step sizes are shared by a chunk (differences stay within its tolerances).
    """
    if not isinstance(score, ScoreSource):
        raise ValueError(f"score={score!r} is not allowed: expected a ScoreSource")
    m = check_int("m", m, low=1)
    sampler = check_choice("sampler", sampler, SAMPLERS)
    variance = check_choice("variance", variance, VARIANCES)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator={generator!r} is not allowed: expected a torch.Generator")
    device = resolve_device(device)
    dim = getattr(score, "dim", None) if dim is None else dim
    dim = check_int("dim", dim, low=1) if dim is not None else None
    if dim is None:
        raise ValueError("dim=None is not allowed: the score source has no `dim`; pass dim=D")
    ens = check_int("ensemble_size", getattr(score, "ensemble_size", 1), low=1)
    process = score.process

    if sampler == "ancestral":
        if t_end is not None:
            raise ValueError(
                f"t_end={t_end!r} is not allowed: the ancestral sampler starts at the schedule's "
                "last step; use steps/t_min or a continuous sampler"
            )
        sched = _ancestral_schedule(score, schedule, steps, t_min, spacing)
        grid = None
        info = {"steps": sched.T, "t_min": float(sched.times[0]), "t_end": float(sched.times[-1])}
    else:
        steps = DEFAULT_STEPS if steps is None else steps
        t_min = DEFAULT_T_MIN if t_min is None else t_min
        grid = time_grid(process, steps, t_min, t_end, spacing)
        info = {"steps": int(steps), "t_min": float(grid[0]), "t_end": float(grid[-1])}

    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_ENTRIES // (ens * dim))
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    block = noise_block(device)
    chunk_size = -(-chunk_size // block) * block
    base_seed = int(
        torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item()
    )

    out = torch.empty((ens, m, dim), dtype=torch.float64)
    nfe_chunks = []
    for start in range(0, m, chunk_size):
        stop = min(m, start + chunk_size)
        streams = _Streams(base_seed, start, stop, (ens, dim), device)
        x = streams.prior(process)
        x = x.to(torch.float64)
        with torch.no_grad():
            if sampler == "ancestral":
                x, nfe = _ancestral(score, x, sched, streams, variance, denoise)
            else:
                step = CONTINUOUS_SAMPLERS[sampler]
                x, nfe = step(score, process, x, grid, streams, rtol=rtol, atol=atol,
                              max_nfe=max_nfe)  # fmt: skip
                if denoise:
                    x, nfe = _denoise(score, process, x, grid[0]), nfe + 1
        out[:, start:stop] = x.to("cpu")
        nfe_chunks.append(nfe)

    info.update(
        sampler=sampler, spacing=spacing, variance=variance,
        chunk_size=chunk_size, denoise=bool(denoise), nfe=float(np.mean(nfe_chunks)),
    )  # fmt: skip
    if sampler == "adaptive":
        info["nfe_per_chunk"] = nfe_chunks
    return out, info
