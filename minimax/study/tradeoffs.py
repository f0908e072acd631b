"""What a study gives up to fit its compute budget, said out loud before it runs.

docs/theory.md §8 lists what flattens a measured rate: too short a range of n, too few replicates,
a TV estimate whose noise floor is not well below the error, and training/sampling budgets
that do not grow with n. The quick preset trades each of these for a 10-minute CPU run; this
module states the trade for the spec at hand, so the printed plan says what was traded.
"""

from __future__ import annotations

import math

from minimax.study.spec import AUTO_M_CONSTANT, AUTO_M_RANGE, StudySpec, rule_samples


def tv_floor_estimate(M: int, D: int, levels_per_axis: int = 32) -> float:
    """Null floor of a binned TV with K = levels_per_axis^D cells: ≈ √(K/(2πM)) (docs/theory.md §9)."""
    K = levels_per_axis**D
    return math.sqrt(K / (2 * math.pi * M))


def tradeoffs(specs: list[StudySpec]) -> list[str]:
    """One line per compromise of the first spec (a sweep's arms share their budget choices)."""
    s = specs[0]
    lines = []
    decades = math.log10(max(s.n) / min(s.n))
    if decades < 2:
        lines.append(
            f"traded: n spans {decades:.1f} decades (docs/theory.md §8 asks for >= 2) to fit the budget"
        )
    if s.replicates < 5:
        lines.append(f"traded: {s.replicates} replicates per n (wide CIs on the exponent)")
    sampled = [e for e in s.estimators if e in _SAMPLED]
    if sampled and "tv" in s.metrics:
        lo, hi = s.samples_at(min(s.n)), s.samples_at(max(s.n))
        rule = (
            f"M per n by the resolution rule M = 4^D n/(2πC²), C = {AUTO_M_CONSTANT} (measured "
            f"on calibration cases shaped like the DDPM's error; proportional to n within "
            f"[{AUTO_M_RANGE[0]}, {s.samples_cap()}]): "
            if s.samples == "auto"
            else ""
        )
        lines.append(
            f"traded: {rule}M = {lo}{'' if lo == hi else f' → {hi}'} samples per sampled TV "
            f"({', '.join(sampled)}): the binned TV floor is ≈ "
            f"{tv_floor_estimate(hi, s.target.D, 16):.3f} at 16 bins/axis; points within 2 floors "
            "are left out of the fit"
        )
        below = [n for n in s.n if s.samples_at(n) < rule_samples(n, s.target.D)]
        if below:
            need = rule_samples(max(below), s.target.D)
            lines.append(
                f"traded: M = {s.samples_at(max(below))} < {need}, the resolution rule's M, at n = "
                f"{max(below)}: the sampled TV rows at n = {', '.join(map(str, below))} will be "
                "flagged below_rule and left out of the fit"
            )
    if any(e.startswith("ddpm") for e in s.estimators):
        if "oracle_tv" not in s.metrics:
            lines.append(
                "traded: no oracle-score TV in the error budget (add oracle_tv to the metrics: "
                "≈ 0.4 s per sampling step per n on this CPU for D = 1, several minutes per n)"
            )
        lines.append(
            f"DDPM: sizing rule '{s.sizing}' (network, steps, T̲ scale with n by the diffusion "
            "engine's rule; its per-n choices are in the results' estimator_params column)"
        )
        lines += _ddpm_sizing(s)
    return lines


def _ddpm_sizing(spec: StudySpec) -> list[str]:
    """The DDPM budgets at the smallest and largest n, as the sizing rule will choose them."""
    try:
        from minimax.diffusion import make_process, size
    except (ImportError, AttributeError):  # the engine is optional for KDE-only studies
        return []
    options = spec.estimator_options("ddpm")
    process = make_process(options.get("process", "ddpm"), **(options.get("process_options") or {}))
    fields = ("width", "depth", "steps", "batch_size", "lr", "t_min", "t_end", "sample_steps")
    overrides = {k: v for k, v in options.items() if k in fields}
    from minimax.diffusion.sizing import EARLY_STOP_RATIO

    ratio = EARLY_STOP_RATIO * float(options.get("early_stop_scale", 1.0))
    from minimax.diffusion.recipe import resolve_sampler
    from minimax.diffusion.sizing import aligned_grid

    # as the study builds the estimator: its options over the study's sampler over the default
    given = options.get("sampler", spec.sampler if spec.sampler != "default" else "auto")
    sampler = resolve_sampler(given, spec.sizing)

    def sized(n):  # on the grid the estimator itself builds (T̲ exact under the theory rule)
        grid = process
        if spec.sizing == "theory" and "t_min" not in overrides:
            grid = aligned_grid(process, n, spec.target.D, float(spec.target.s), ratio)
        return size(spec.sizing, n, spec.target.D, grid, s=spec.target.s, early_stop_ratio=ratio,
                    sampler=sampler, **overrides)  # fmt: skip

    lo, hi = sized(min(spec.n)), sized(max(spec.n))
    if "steps" not in overrides and float(options.get("steps_scale", 1.0)) != 1.0:
        for z in (lo, hi):
            z.steps = max(1, int(round(float(options["steps_scale"]) * z.steps)))
    recipe = []
    if spec.sizing == "theory":
        denoise = options.get("denoise", "auto")
        recipe.append(
            "  recipe: continuous loss, Fourier features of x, reflection at the box, "
            f"final denoising {'off' if denoise in ('auto', False) else 'on'} "
            "(studies/ablation_*denoise*.toml)"
        )
    if sampler in ("heun", "adaptive"):
        recipe.append(
            f"  warning: sampler {sampler!r} integrates the probability-flow ODE; with a "
            "trained network it collapsed the samples in our measurements (TV ≈ 0.84)"
        )
    return recipe + [
        f"  n {min(spec.n)} → {max(spec.n)}: width ≈ {lo.width} → {hi.width}, training steps "
        f"{lo.steps} → {hi.steps} (caps: a fit stops sooner only when its held-out loss stays "
        f"significantly above its best), T̲ {lo.t_min:.3g} → {hi.t_min:.3g}, sampler {sampler}, "
        f"sampling steps {lo.sample_steps} → {hi.sample_steps}"
    ]


#: estimators measured from samples (TV has a noise floor); the others have an explicit density
_SAMPLED = ("ddpm", "ddpm-fixed-tmin", "empirical-score", "oracle-score")
