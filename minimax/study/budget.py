"""What a study gives up to fit its compute budget, said out loud before it runs.

theory.md §8 lists what flattens a measured rate: too short a range of n, too few replicates,
a TV estimate whose noise floor is not well below the error, and training/sampling budgets
that do not grow with n. The quick preset trades each of these for a 10-minute CPU run; this
module states the trade for the spec at hand, so the printed plan says what was traded.
"""

from __future__ import annotations

import math

from minimax.study.spec import StudySpec


def tv_floor_estimate(M: int, D: int, levels_per_axis: int = 32) -> float:
    """Null floor of a binned TV with K = levels_per_axis^D cells: ≈ √(K/(2πM)) (theory.md §9)."""
    K = levels_per_axis**D
    return math.sqrt(K / (2 * math.pi * M))


def tradeoffs(specs: list[StudySpec]) -> list[str]:
    """One line per compromise of the first spec (a sweep's arms share their budget choices)."""
    s = specs[0]
    lines = []
    decades = math.log10(max(s.n) / min(s.n))
    if decades < 2:
        lines.append(
            f"traded: n spans {decades:.1f} decades (theory.md §8 asks for >= 2) to fit the budget"
        )
    if s.replicates < 5:
        lines.append(f"traded: {s.replicates} replicates per n (wide CIs on the exponent)")
    sampled = [e for e in s.estimators if e in _SAMPLED]
    if sampled and "tv" in s.metrics:
        lines.append(
            f"traded: M = {s.samples} samples per sampled TV ({', '.join(sampled)}): the binned "
            f"TV floor is ≈ {tv_floor_estimate(s.samples, s.target.D, 16):.3f} at 16 bins/axis; "
            "points within 2 floors are left out of the fit"
        )
    if any(e.startswith("ddpm") for e in s.estimators):
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
    lo, hi = (
        size(spec.sizing, n, spec.target.D, process, s=spec.target.s, **overrides)
        for n in (min(spec.n), max(spec.n))
    )
    return [
        f"  n {min(spec.n)} → {max(spec.n)}: width ≈ {lo.width} → {hi.width}, training steps "
        f"{lo.steps} → {hi.steps} (held-out early stop), T̲ {lo.t_min:.3g} → {hi.t_min:.3g}, "
        f"sampling steps {lo.sample_steps} → {hi.sample_steps}"
    ]


#: estimators measured from samples (TV has a noise floor); the others have an explicit density
_SAMPLED = ("ddpm", "ddpm-fixed-tmin", "empirical-score", "oracle-score")
