"""What a study gives up to fit its compute budget, said out loud before it runs.

docs/theory.md §8 lists what flattens a measured rate: too short a range of n, too few replicates,
a TV estimate whose noise floor is not well below the error, and training/sampling budgets
that do not grow with n. The quick preset trades each of these for a 10-minute CPU run; this
module states the trade for the spec at hand, so the printed plan says what was traded.
"""

from __future__ import annotations

import math

from minimax.study.spec import AUTO_M_CONSTANT, AUTO_M_RANGE, StudySpec, samples_for


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
            f"[{AUTO_M_RANGE[0]}, {AUTO_M_RANGE[1]}]): "
            if s.samples == "auto"
            else ""
        )
        lines.append(
            f"traded: {rule}M = {lo}{'' if lo == hi else f' → {hi}'} samples per sampled TV "
            f"({', '.join(sampled)}): the binned TV floor is ≈ "
            f"{tv_floor_estimate(hi, s.target.D, 16):.3f} at 16 bins/axis; points within 2 floors "
            "are left out of the fit"
        )
        need = samples_for(max(s.n), s.target.D)
        if hi < need:
            lines.append(
                f"traded: M = {hi} < {need}, the M of the resolution rule (M = auto) at n = "
                f"{max(s.n)}: the largest n may be flagged 'rising' (a lower bound) and left out "
                "of the fit"
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
    lo, hi = (
        size(spec.sizing, n, spec.target.D, process, s=spec.target.s, **overrides)
        for n in (min(spec.n), max(spec.n))
    )
    recipe = []
    if spec.sizing == "theory":
        denoise = options.get("denoise", "auto")
        recipe.append(
            "  recipe: continuous loss, Fourier features of x, reflection at the box, "
            f"final denoising {'off' if denoise in ('auto', False) else 'on'} "
            "(studies/ablation_*denoise*.toml)"
        )
    if spec.sampler in ("heun", "adaptive"):
        recipe.append(
            f"  warning: sampler {spec.sampler!r} integrates the probability-flow ODE; with a "
            "trained network it collapsed the samples in our measurements (TV ≈ 0.84)"
        )
    return recipe + [
        f"  n {min(spec.n)} → {max(spec.n)}: width ≈ {lo.width} → {hi.width}, training steps "
        f"{lo.steps} → {hi.steps} (caps: a fit stops sooner only when its held-out loss stays "
        f"significantly above its best), T̲ {lo.t_min:.3g} → {hi.t_min:.3g}, sampling steps "
        f"{lo.sample_steps} → {hi.sample_steps}"
    ]


#: estimators measured from samples (TV has a noise floor); the others have an explicit density
_SAMPLED = ("ddpm", "ddpm-fixed-tmin", "empirical-score", "oracle-score")


# -- the error budget of a diffusion estimator, per n (issue 7) -------------------------------

#: the TV-unit components of a DDPM's error, in the order the budget table prints them
COMPONENTS = {
    "floor": "TV floor (the measurement's own noise)",
    "outside": "mass outside the box (before reflection)",
    "sampler": "sampler: oracle-score TV (discretisation + early stop + prior)",
    "learned": "learned score: TV − oracle-score TV",
    "unsplit": "network + sampler (not separated: add oracle_tv to the metrics)",
}


def _means(df, metric: str, estimator: str):
    """Per-n (mean, se, mean floor) of one metric's successful rows."""
    import numpy as np

    sel = df[(df["metric"] == metric) & (df["estimator"] == estimator) & (df["status"] == "ok")]
    out = {}
    for n, g in sel.groupby("n"):
        v = g["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
        floors = g["floor"].to_numpy(float)
        floor = float(floors[np.isfinite(floors)].mean()) if np.isfinite(floors).any() else math.nan
        out[int(n)] = (float(v.mean()), se, floor)
    return out


def _loss_gaps(df, estimator: str, key: str = "loss_gap"):
    """Per-n mean of an estimator_params entry of the TV rows: by default the held-out −
    training loss of the kept network; ``outside_fraction``: its samples outside the box
    before reflection."""
    import json

    import numpy as np

    sel = df[(df["metric"] == "tv") & (df["estimator"] == estimator) & (df["status"] == "ok")]
    out = {}
    for n, g in sel.groupby("n"):
        v = np.array([_number(json.loads(p).get(key)) for p in g["estimator_params"]])
        if np.isfinite(v).any():
            out[int(n)] = (float(np.nanmean(v)),)
    return out


def _number(v) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def budget_components(df, estimator: str) -> dict[int, dict[str, float]]:
    """Per n, the TV-unit components of ``estimator``'s error (NaN where not measured).

    floor: the binned TV's null floor; outside: the mass its sampler put outside the box
    (before reflection folds it back);
    sampler: the oracle-score TV with the same T̲, T̄ and steps (when ``oracle_tv`` was measured);
    learned: TV − sampler, the part the learned score adds; unsplit: TV − floor when there is no
    oracle run (network and sampler together). Components are not additive (TV is a norm); the
    budget says which one is of the size of the error.
    """
    tv = _means(df, "tv", estimator)
    # the sampler's own outside fraction (before reflection) where recorded, else the TV's
    outside = _means(df, "outside_mass", estimator) | _loss_gaps(df, estimator, "outside_fraction")
    oracle = _means(df, "oracle_tv", estimator)
    out = {}
    for n, (value, se, floor) in tv.items():
        comp = {"tv": value, "tv_se": se, "floor": floor,
                "outside": outside.get(n, (math.nan,))[0]}  # fmt: skip
        if n in oracle:
            comp["sampler"] = oracle[n][0]
            comp["learned"] = max(value - oracle[n][0], 0.0)
        else:
            comp["unsplit"] = max(value - floor, 0.0) if math.isfinite(floor) else value
        out[n] = comp
    return out


def largest_component(components: dict[str, float]) -> tuple[str, float]:
    """The name and size of the largest TV-unit component."""
    named = [(k, v) for k, v in components.items() if k in COMPONENTS and math.isfinite(v)]
    return max(named, key=lambda kv: kv[1]) if named else ("none", math.nan)


def budget_table(df, fits=()) -> str:
    """The error budget per n of every diffusion estimator of one arm, and a line naming the
    largest component at the largest n. ``fits``: the arm's RateFits (the score metric's fitted
    exponent is quoted against 2s/(2s+D)). Empty text when the arm has no diffusion estimator."""
    blocks = []
    diffusion = df[df["role"] == "diffusion"]["estimator"].unique()
    trivial = df[(df["role"] == "trivial") & (df["metric"] == "tv")]["estimator"].unique()
    for est in diffusion:
        comps = budget_components(df, est)
        if not comps:
            continue
        gap = _loss_gaps(df, est)
        score = _means(df, "score", est)
        base = {b: _means(df, "tv", b) for b in trivial}
        head = (f"{'n':>8}  {'TV ± se':<18}{'floor':>7}{'outside':>9}{'oracle':>8}{'learned':>9}"
                f"{'score':>9}{'loss gap':>10}  beats")  # fmt: skip
        lines = [f"-- error budget of {est} (TV units except score and loss gap)", head]

        def f(v, w=7, d=3):
            return f"{v:>{w}.{d}f}" if math.isfinite(v) else f"{'—':>{w}}"

        for n, c in sorted(comps.items()):
            tvse = (
                f"{c['tv']:.4f} ± {c['tv_se']:.4f}"
                if math.isfinite(c["tv_se"])
                else f"{c['tv']:.4f}"
            )
            beats = [b for b in trivial if n in base[b] and c["tv"] < base[b][n][0]]
            lost = [b for b in trivial if n in base[b] and c["tv"] >= base[b][n][0]]
            verdict = ",".join(beats) or "-"
            if lost:
                verdict += f" (NOT {','.join(lost)})"
            lines.append(
                f"{n:>8}  {tvse:<18}{f(c['floor'])}{f(c['outside'], 9, 4)}"
                f"{f(c.get('sampler', math.nan), 8)}{f(c.get('learned', math.nan), 9)}"
                f"{f(score.get(n, (math.nan,))[0], 9, 4)}{f(gap.get(n, (math.nan,))[0], 10, 4)}"
                f"  {verdict}"
            )
        n_max = max(comps)
        name, value = largest_component(comps[n_max])
        share = value / comps[n_max]["tv"] if comps[n_max]["tv"] > 0 else math.nan
        lines.append(
            f"largest component at n = {n_max}: {COMPONENTS.get(name, name)} = {value:.4f} "
            f"({share:.0%} of TV {comps[n_max]['tv']:.4f})"
        )
        g = gap.get(n_max)
        if g is not None and math.isfinite(g[0]):
            lines.append(
                f"memorisation signal at n = {n_max}: held-out − train loss = {g[0]:+.4f} "
                f"({'the network fits its training set better than fresh data' if g[0] > 0 else 'no sign of memorisation'})"
            )
        for fit in fits:
            if fit.metric == "score" and fit.estimator == est:
                if fit.measured:
                    lines.append(
                        f"score error exponent: {fit.exponent:.3f} [{fit.ci_low:.3f}, "
                        f"{fit.ci_high:.3f}] vs theory 2s/(2s+D) = {fit.theory:.3f}"
                    )
                else:
                    lines.append(f"score error exponent: {fit.verdict}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
