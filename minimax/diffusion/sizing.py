"""Sizing rules: how network, training and sampling budgets grow with the sample size n.

A rule maps (n, D, s) and a forward process to a :class:`Sizing`; every field can be overridden
by the user. Rules (``SIZING_RULES``):

* ``"fixed"``: the same sizes at every n (the plain DDPM recipe; its floors flatten a rate curve,
  docs/theory.md §8.2, which is why it exists: as a contrast).
* ``"theory"``: the prescriptions of Oko et al. (2023) as tabulated in docs/theory.md §2, with constants
  chosen for a 2-core CPU:

  - parameter count N ∝ n^{D/(2s+D)} at fixed depth 3 (depth is polylog in the theorem);
    N(1000) = the parameters of a 64-wide, 3-deep MLP; the width solves N(width) = target;
  - early stop T̲: the time where the noise-to-signal ratio σ(T̲)/m(T̲) equals
    0.2 · n^{-1/(2s+D)} (data standardised to unit scale). For VP-type processes σ² ≈ β(0) t at
    small t, so T̲ ≈ C n^{-2/(2s+D)}: the T̲ = n^{-c} of the theorem with c = 2/(2s+D), small enough
    that the Gaussian blur it leaves costs ≲ n^{-s/(2s+D)} for s ≤ 2, and no smaller (a smaller T̲
    only adds variance and memorisation, docs/theory.md §8.3). On a DDPM grid the estimators
    adapt the grid to T̲ (``aligned_grid``: a grid time within 0.1 % of it), so T̲ follows the
    rule exactly rather than being rounded up to the default 1/1000 grid. The constant 0.2
    against 0.5 (D = 2, s = 1.5 smooth-boundary target, one fit each, M = 200,000, scratch
    runs): TV 0.105 vs 0.138 at n = 1000 and 0.076 vs 0.102 at n = 8000; with 0.5 the blur of T̲ costs more than it saves (in D = 1, s = 1 the
    constants 0.25-1 were within the replicate spread);
  - terminal time T̄: for the OU process of Oko et al., T̄ = 1.5 · s log n / (β (2s+D)), so the
    prior mismatch m(T̄) = n^{-1.5 s/(2s+D)} is below the rate; VP/DDPM/sub-VP/VE keep their
    own t_end (m(1) = e^{-5} ≈ 0.007 for the default VP);
  - training: a constant ``TRAIN_EPOCHS`` = 1600 passes over the training part (0.9 n) at every
    n, at least 2000 steps (steps = max(2000, ⌈1600 · 0.9 n / 256⌉): 2000 at n = 250, 45,000 at
    n = 8000), batch 256, learning rate 2e-3 · (64/width)^{1/2}, cosine decay to the last step;
    the held-out stop ends a fit sooner only when its held-out loss is significantly above its
    best. The old √n budget gave 2,275 epochs at n = 250 but 402 at n = 8000, and quadrupling it
    at n = 8000 cut the large-t score error by 64-71% (results/ablations/score_steps_summary.md):
    training, not data, limited the score there;
  - sampling steps 25 · n^{s/(2s+D)} within [100, T]: a first-order sampler's discretisation
    error ∝ 1/steps then stays below the rate n^{-s/(2s+D)}; the second-order dpm2m (the
    theory rule's default sampler) takes a quarter of them (SAMPLER_STEP_FACTORS);
  - Fourier features of x at 8 geometric scales from 1 down to 0.5 · n^{-1/(2s+D)} (model units),
    half the resolution scale the rate needs. Measured (D = 1, s = 1 Besov target, n = 16,000,
    M = 20,000, binned TV floor 0.024): TV 0.11 without them, 0.066 with them; with the
    continuous loss as well 0.030 (recipe.resolve_loss makes that loss the theory rule's default).

Measured with the defaults (theory rule, continuous loss, x features, reflection at the box;
D = 1, s = 1 Besov target with a jump at the box's edge, one replicate, binned TV on 64 cells
with M = 50,000, whose floor is 0.013): n = 500, 2000, 8000, 32,000 gave TV 0.078, 0.051,
0.029, 0.029 (slope 0.36 over 500-8000 against s/(2s+D) = 1/3). From n ≈ 8000 on (D = 1,
s = 1) the rule's T̲ falls below the default DDPM grid's first time 1/T = 0.001; the estimators
refine the grid (``refined_ddpm``, same continuous β(t)), now at every n so that T̲ is exact.
At n = 32,000 that moved T̲ from 0.001 to 0.0005 and TV from 0.029 to 0.031 (one replicate):
the flattening seen there is not T̲ but, at least partly, this check's own floor (0.013) and 64-cell resolution.

The recipe, measured with the tool itself (studies/ablation_*.toml, results/ablations/; theory
rule, M = 40,000, 2 replicates, band boundary):

- final Tweedie denoising at T̲: off by default under this rule (recipe.resolve_denoise, "auto").
  D = 1, s = 1, n = 500/2000/8000: TV 0.070/0.065/0.0295 without, 0.079/0.048/0.039 with (WLS
  exponent 0.33 ± 0.08 vs 0.18 ± 0.04, theory 0.333); D = 2, s = 1.5, n = 250 → 8000: 0.102 →
  0.063 without, 0.142 → 0.063 with (lower or equal at every n; nearly every point of both is
  flagged "rising", so the step is not what causes those flags). Without the step 4-9% of the
  samples (D = 2) leave the box before reflection; with it 1-6%.
- training steps: with 2000 · (n/1000)^{1/2} the D = 2, s = 1.5 fits at n = 8000 kept improving
  to the cap (best step 5600-5657 of 5657). Doubling it (studies/ablation_d2_steps.toml, 11,314
  steps) moved the mean TV at n = 2000/4000/8000 from 0.073/0.068/0.063 to 0.069/0.061/0.053
  (2 replicates each, spread up to ±0.013), and on D = 1, s = 1 (smooth boundary, n = 8000, one
  data set, two training seeds) from 0.034/0.029 to 0.030/0.026: the rule now uses the doubled
  constant 4000. Most of the early stops the old held-out rule made (keep the lowest held-out
  loss) were noise: see train_config.TrainConfig for the rule that replaced it.
- samplers: the probability-flow ODE samplers ("heun", "adaptive") with a trained network at the
  rule's small T̲ collapse the samples onto a few points (TV ≈ 0.84 against 0.04-0.05 for
  ancestral/euler on the same fit): the learned score memorises at small t and the ODE adds no
  noise to hide it. DiffusionEstimator.sample warns. The stochastic two-step dpm2m at a quarter
  of the ancestral steps gave the same TV as the ancestral sampler on the same six trained
  networks (D = 2, s = 1.5, band, n = 500-8000: mean paired difference +0.0006, sd 0.004) and
  sampled 3.4 times faster.
- evaluation M: resolving the error C n^{-s/(2s+D)} needs M ≳ 4^D n/(2πC²) (docs/theory.md §9).
  With C ≈ 0.6 (the error's size) that was 57,000 for D = 2 at n = 8000, yet every D = 2 point
  stayed flagged "rising" at M = 40,000 and only levelled off (corrected TV flat from level 5 to
  6) at M = 200,000: the DDPM's error has structure finer than the rate's scale (its T̲ sets
  σ(T̲) = 0.2 n^{-1/(2s+D)}). The study's M = "auto" (metrics.sample_size.samples_for) now
  uses C = 0.16, proportional to n, calibrated with the adaptive TV estimator (docs/tv.md §4).

Measured on this project's 2-core CPU (one thread, torch 2.13): an ensemble of 5 members, width
64, depth 3, batch 256 trains at ≈ 270 steps/s (≈ 1,300 model-steps/s); width 128 at ≈ 100
steps/s. The theory rule at n = 1000 (D = 1, s = 1: width 64, 4000 steps) thus trains 5 replicates
in ≈ 15 s, and at n = 32,000 (width 121, ≈ 22,600 steps at ≈ 110 steps/s) in ≈ 3.4 min unless
the held-out stop ends it sooner.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from minimax.diffusion.base import Process
from minimax.validation import check_choice, check_int, check_real

SIZING_RULES = {
    "fixed": "the same width 128, depth 3, 4000 steps and 1000 sampling steps at every n",
    "theory": "Oko et al.: parameters ∝ n^{D/(2s+D)}, T̲ ∝ n^{-2/(2s+D)}, T̄ ∝ log n (OU), "
    "sampling steps ∝ n^{s/(2s+D)}",
}

#: the depth of every rule (polylog in the theorem; constant over the n range of a study)
DEPTH = 3
#: the reference sample size and width of the theory rule
N_REF, WIDTH_REF = 1000, 64


@dataclass
class Sizing:
    """Budgets of one fit. ``t_min``/``t_end`` are T̲/T̄ on the process's clock."""

    width: int
    depth: int
    steps: int
    batch_size: int
    lr: float
    t_min: float
    t_end: float
    sample_steps: int
    rule: str
    #: finest scale of the Fourier features of x, in model units (None: no x features)
    x_finest_scale: float | None = None

    def describe(self) -> dict:
        return {f"sizing_{k}" if k == "rule" else k: v for k, v in asdict(self).items()}


def mlp_parameter_count(width: int, depth: int, n_in: int, dim: int) -> int:
    """Parameters of one MLP with input size n_in, ``depth`` hidden layers of ``width``, output dim."""
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * dim


def network_inputs(dim: int, x_frequencies: int = 0) -> int:
    """Input size of networks.EnsembleMLP: x, c(t), its Fourier features, x's Fourier features."""
    from minimax.diffusion.networks import TIME_FREQUENCIES

    return dim + 1 + 2 * TIME_FREQUENCIES + 2 * dim * x_frequencies


def width_for(params: float, depth: int, n_in: int, dim: int) -> int:
    """The smallest width whose MLP has at least ``params`` parameters (at least 8)."""
    a, b, c = depth - 1, (n_in + 1) + (depth - 1) + (dim), dim - params
    if a == 0:
        w = -c / b
    else:
        w = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return max(8, math.ceil(w - 1e-9))


def _grid_T(process: Process) -> int | None:
    sched = getattr(process, "schedule", None)
    return getattr(sched, "T", None) if sched is not None else None


def time_for_ratio(process: Process, ratio: float) -> float:
    """The time t where σ(t)/m(t) = ratio (bisection on the process's float64 marginal)."""
    lo, hi = 1e-12, float(process.t_end)

    def snr(t):
        m, s = process.marginal(np.float64(t))
        return float(s) / float(m)

    if snr(hi) <= ratio:
        return hi
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if snr(mid) < ratio:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-12:
            break
    return hi


def theory_early_stop(process: Process, n: int, D: int, s: float,
                      ratio: float | None = None) -> float:  # fmt: skip
    """The theory rule's T̲ before any grid rounding: σ(T̲)/m(T̲) = ratio · n^{-1/(2s+D)}
    (``ratio`` default EARLY_STOP_RATIO = 0.2)."""
    ratio = EARLY_STOP_RATIO if ratio is None else ratio
    return time_for_ratio(process, ratio * n ** (-1.0 / (2 * s + D)))


#: σ(T̲)/m(T̲) = EARLY_STOP_RATIO · n^{-1/(2s+D)} (model units: the box's half-width is 1)
EARLY_STOP_RATIO = 0.2

#: passes over the training data (0.9 n after the held-out part) at every n, and the step cap
TRAIN_EPOCHS, MAX_STEPS = 1600, 400_000

#: grid steps of a refined DDPM grid below T̲: a sampler spaced geometrically in t can then take
#: steps of a few per cent of t down to T̲ (studies/sampler_discretisation.py)
GRID_STEPS_BELOW_T_MIN = 64


def refined_ddpm(process: Process, t_min: float, below: int = GRID_STEPS_BELOW_T_MIN) -> Process:
    """A DDPM process whose grid has a time within a relative 1/(2T') of ``t_min`` and at least
    ``below`` steps under it: the same continuous β(t) on T' = round(K/t_min) steps,
    K = max(⌈T t_min⌉, below) (β_k scaled by T/T', as docs/theory.md §4's β_k = β(k/T)/T), so
    T' ≥ T and the grid adapts to T̲ rather than T̲ to the grid; ``process`` itself when it
    already is such a grid or is not a DDPM process."""
    sched = getattr(process, "schedule", None)
    if sched is None:
        return process
    K = max(1, math.ceil(sched.T * t_min - 1e-9), int(below))
    T = int(round(K / t_min))
    if T == sched.T:
        return process
    from minimax.diffusion.processes import DDPMSchedule

    ratio = sched.T / T
    return DDPMSchedule(T=T, schedule=sched.schedule, beta_min=sched.beta_min * ratio,
                        beta_max=sched.beta_max * ratio).process()  # fmt: skip


def aligned_grid(process: Process, n: int, D: int, s: float, ratio: float | None = None) -> Process:
    """``refined_ddpm`` at the theory rule's T̲, where T̲ is computed on the refined grid itself
    (a grid's discrete marginal moves σ(t) by O(1/(tT)), so T̲ on the default 1/1000 grid is
    off by a few per cent); two passes reach the rule's T̲ to within 0.1%."""
    fine = refined_ddpm(process, theory_early_stop(process, n, D, s, ratio))
    return refined_ddpm(process, theory_early_stop(fine, n, D, s, ratio))


def rate_exponent(s: float, D: int) -> float:
    """The minimax TV exponent s/(2s+D) (docs/theory.md §1)."""
    return s / (2 * s + D)


#: the fraction of the theory rule's (ancestral) sampling steps a sampler takes: the two-step
#: dpm2m matches the ancestral sampler's TV at a quarter of its steps, with the true score and
#: with the same trained networks (results/ablations/sampler_discretisation,
#: results/ablations/d2_sampler_dpm2m; docs/decisions.md)
SAMPLER_STEP_FACTORS = {"dpm2m": 0.25}


def size(rule: str, n: int, D: int, process: Process, s: float | None = None,
         x_frequencies: int = 8, early_stop_ratio: float | None = None,
         sampler: str = "ancestral", **overrides) -> Sizing:  # fmt: skip
    """The budgets of ``rule`` at (n, D, s) for ``process``; keyword overrides replace fields
    (None leaves the rule's value). Under "theory" the sampling steps are those of the
    ancestral sampler times ``SAMPLER_STEP_FACTORS[sampler]`` (1 for samplers not listed).

    ``x_frequencies`` (the number of Fourier scales of x; 0 for none) enters the theory rule's
    width, since the parameter count includes the first layer. Unknown override names raise
    ValueError.
    """
    check_choice("sizing", rule, tuple(SIZING_RULES))
    n = check_int("n", n, low=2)
    D = check_int("D", D, low=1)
    names = {f.name for f in fields(Sizing)} - {"rule"}
    for k in overrides:
        if k not in names:
            raise ValueError(
                f"{k}=... is not allowed: expected a sizing field, one of {sorted(names)}"
            )
    T = _grid_T(process)
    if rule == "fixed":
        t_min = 1.0 / T if T else 1e-3
        out = Sizing(width=128, depth=DEPTH, steps=4000, batch_size=256, lr=2e-3, t_min=t_min,
                     t_end=float(process.t_end), sample_steps=T or 1000, rule=rule)  # fmt: skip
    else:
        if s is None:
            raise ValueError("s=None is not allowed: sizing='theory' needs the smoothness s > 0")
        s = check_real("s", s, low=0.0, low_open=True)
        n_in = network_inputs(D, check_int("x_frequencies", x_frequencies, low=0))
        target = mlp_parameter_count(WIDTH_REF, DEPTH, n_in, D) * (n / N_REF) ** (D / (2 * s + D))
        width = width_for(target, DEPTH, n_in, D)
        t_min = theory_early_stop(process, n, D, s, early_stop_ratio)
        if T:  # the nearest grid time: refined_ddpm puts one within a relative 1/(2T) of T̲
            t_min = max(1, round(t_min * T)) / T
        t_end = float(process.t_end)
        if getattr(process, "name", "") == "ou" and getattr(process, "beta_const", None):
            t_end = 1.5 * s * math.log(n) / (process.beta_const * (2 * s + D))
        steps = int(min(MAX_STEPS, max(2000, math.ceil(TRAIN_EPOCHS * 0.9 * n / 256))))
        sample_steps = int(min(T or 1000, max(100, math.ceil(25 * n ** rate_exponent(s, D)))))
        sample_steps = max(1, round(SAMPLER_STEP_FACTORS.get(sampler, 1.0) * sample_steps))
        out = Sizing(width=width, depth=DEPTH, steps=steps, batch_size=256,
                     lr=2e-3 * math.sqrt(WIDTH_REF / width), t_min=t_min, t_end=t_end,
                     sample_steps=sample_steps, rule=rule,
                     x_finest_scale=0.5 * n ** (-1.0 / (2 * s + D)) if x_frequencies else None)  # fmt: skip
    for k, v in overrides.items():
        if v is not None:
            setattr(out, k, v)
    for k in ("width", "depth", "steps", "batch_size", "sample_steps"):
        check_int(k, getattr(out, k), low=1)
    check_real("lr", out.lr, low=0.0, low_open=True)
    check_real("t_min", out.t_min, low=0.0, low_open=True)
    check_real("t_end", out.t_end, low=0.0, low_open=True)
    if out.t_min >= out.t_end:
        raise ValueError(
            f"t_min={out.t_min!r} is not allowed: expected t_min < t_end={out.t_end!r}"
        )
    return out
