"""The one sampling pipeline of the diffusion estimators: a score source to draws in data units.

Every estimator (the trained network, the empirical and the oracle score) samples the same way:
``sampling_plan`` gathers what a fitted estimator's sampler call needs (process, sampler, time
range, steps, spacing, final denoising, chunking, box and boundary treatment, data transform),
and ``draw`` runs ``samplers.generate`` on it, then maps the model-coordinate draws back to the
data: optionally divided by m(T̲) (the empirical score's KDE reading), the mass outside the box
recorded, folded into the box (boundary="reflect"), and un-standardised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from minimax.diffusion.base import Process, ScoreSource
from minimax.diffusion.coordinates import BOUNDARIES, outside_fraction, reflect_into_box
from minimax.diffusion.networks import Standardizer
from minimax.diffusion.processes import PROCESSES, make_process
from minimax.diffusion.samplers import SAMPLERS, SPACINGS, VARIANCES, generate
from minimax.runtime import torch_generator
from minimax.validation import check_choice, check_int, check_rng

#: samplers of the deterministic probability-flow ODE (no fresh noise along the path)
ODE_SAMPLERS = ("heun", "adaptive")

#: samples per sampler chunk on the CPU: small enough that a chunk's activations stay in cache
#: (a 64-wide layer ran ≈ 3x faster on 2048 rows than on 20,000 here, and a 16-member ensemble
#: sampled fastest with 1024); GPUs take the sampler's own (large) default
CPU_CHUNK = 1024


def build_process(name: str, options: dict | None) -> Process:
    """The forward process ``name`` (one of PROCESSES) built with ``options``."""
    check_choice("process", name, tuple(PROCESSES))
    return make_process(name, **(options or {}))


def grid_size(process: Process) -> int | None:
    """T of a DDPM process's grid; None for a continuous process."""
    sched = getattr(process, "schedule", None)
    return None if sched is None else sched.T


def check_sampling(est) -> Process:
    """Check an estimator's sampler, variance, spacing and boundary, build its process and
    return it; ValueError naming the parameter (the ancestral sampler needs process="ddpm")."""
    check_choice("sampler", est.sampler, (*SAMPLERS, "auto"))
    check_choice("variance", est.variance, VARIANCES)
    check_choice("spacing", est.spacing, (*SPACINGS, "auto"))
    check_choice("boundary", est.boundary, BOUNDARIES)
    process = build_process(est.process, est.process_options)
    if est.recipe().in_use("sampler") == "ancestral" and est.process != "ddpm":
        raise ValueError(
            f"sampler='ancestral' is not allowed with process={est.process!r}: "
            "it needs process='ddpm'"
        )
    return process


@dataclass(frozen=True)
class SamplingPlan:
    """Everything one sampler call needs besides the score source, m and the random numbers.

    ``steps``, ``t_min``, ``t_end``: the sizing's sampling steps and time range; ``spacing`` and
    ``denoise`` as resolved; ``chunk_size`` as given (None: ``CPU_CHUNK`` on the CPU, the
    sampler's default elsewhere, or all m draws at once when ``one_chunk``); ``box`` the checked
    box (or None) and ``standardizer`` the one-member data transform.
    """

    process: Process
    sampler: str
    variance: str
    spacing: str
    steps: int
    t_min: float
    t_end: float
    denoise: bool
    device: str
    dim: int
    box: np.ndarray | None
    boundary: str
    standardizer: Standardizer
    chunk_size: int | None = None
    one_chunk: bool = False

    def chunk(self, m: int) -> int | None:
        """The chunk size passed to ``generate`` for m draws."""
        if self.chunk_size is not None:
            return check_int("chunk_size", self.chunk_size, low=1)
        if self.one_chunk:
            return m
        return CPU_CHUNK if self.device == "cpu" else None

    def time_kwargs(self) -> dict:
        """steps, t_min, t_end and spacing of ``generate``; on a DDPM grid the ancestral sampler
        takes at most the grid steps available above t_min (and no t_end)."""
        if self.sampler == "ancestral":
            times = self.process.schedule.times
            first = int(np.searchsorted(times, self.t_min - 1e-12))
            steps = min(self.steps, len(times) - first)
            return {"steps": steps, "t_min": self.t_min, "spacing": self.spacing}
        return {"steps": self.steps, "t_min": self.t_min,
                "t_end": min(self.t_end, self.process.t_end), "spacing": self.spacing}  # fmt: skip


def sampling_plan(est, *, steps: int, t_min: float, t_end: float, denoise: bool,
                  one_chunk: bool = False) -> SamplingPlan:  # fmt: skip
    """The plan of a fitted estimator (its sampler options and fitted ``process_``, ``device_``,
    ``dim_``, ``box_``, ``standardizer_``) for the given steps, time range and denoising."""
    return SamplingPlan(
        process=est.process_, sampler=est.recipe().in_use("sampler"), variance=est.variance,
        spacing=est.recipe().in_use("spacing"), steps=steps, t_min=t_min, t_end=t_end,
        denoise=denoise, device=est.device_, dim=est.dim_, box=est.box_,
        boundary=est.boundary, standardizer=est.standardizer_, chunk_size=est.chunk_size,
        one_chunk=one_chunk,
    )  # fmt: skip


def draw(source: ScoreSource, plan: SamplingPlan, m, rng, *,
         divide_by_mean: bool = False) -> tuple[np.ndarray, dict]:  # fmt: skip
    """m draws (m, D) in data coordinates from the first model of ``source``, and their info.

    The info is ``generate``'s (sampler, steps, nfe, the realised t_min, ...) plus ``seconds``
    and ``outside_fraction`` (the fraction of draws outside the box before any fold; NaN
    without a bounded axis). ``divide_by_mean``: divide the model-coordinate draws by m(t) at
    the realised t_min before the boundary treatment.
    """
    m = check_int("m", m, low=1)
    rng = check_rng("rng", rng)
    kw = plan.time_kwargs()
    generator = torch_generator(rng, plan.device)
    start = time.perf_counter()
    u, info = generate(
        source, m, sampler=plan.sampler, generator=generator, device=plan.device,
        chunk_size=plan.chunk(m), denoise=plan.denoise, variance=plan.variance, dim=plan.dim,
        **kw,
    )  # fmt: skip
    u = u.to(torch.float64).cpu()[0]
    if divide_by_mean:
        mean, _ = plan.process.marginal(float(info["t_min"]))
        u = u / mean
    u = u.numpy()
    outside = outside_fraction(u, plan.box)
    if plan.boundary == "reflect":
        u = reflect_into_box(u, plan.box)
    x = plan.standardizer.from_model(torch.as_tensor(u)[None])[0].numpy()
    return x, dict(info, seconds=time.perf_counter() - start, outside_fraction=outside)
