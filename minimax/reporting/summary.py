"""The printed text of a rate fit: every number with its CI, and a reason where none exists.

No line prints ``nan``: a quantity that cannot be computed is named with why (too few sizes,
a mean ≤ 0, one replicate, no theory exponent).
"""

from __future__ import annotations

import math

K_LABELS = {0.0: "0", 0.5: "½", 1.0: "1"}


def num(v: float, fmt: str = ".3f", why: str = "not computable") -> str:
    """``v`` formatted, or ``why`` when it is not a finite number."""
    return format(v, fmt) if isinstance(v, int | float) and math.isfinite(v) else why


def ci(lo: float, hi: float, fmt: str = ".3f") -> str:
    if math.isfinite(lo) and math.isfinite(hi):
        return f"[{lo:{fmt}}, {hi:{fmt}}]"
    return "[no CI]"


def fit_summary(fit) -> str:
    """The lines of one RateFit (see :meth:`minimax.study.rates.RateFit.summary`)."""
    lines = [f"{fit.estimator} · {fit.metric} · {fit.arm}"]
    if fit.measured:
        pct = round(100 * fit.level)
        theory = (
            f"theory {fit.theory:.3f}   p = {fit.p_value:.3g}"
            if math.isfinite(fit.theory)
            else "no theory exponent"
        )
        lines.append(
            f"  exponent {fit.exponent:.3f}  {ci(fit.ci_low, fit.ci_high)} ({pct}% CI; log-link "
            f"fit of the mean error, {fit.cov.upper()} by n, t with {fit.df:g} df)   {theory}"
        )
        ols = (
            f"{fit.ols_exponent:.3f} {ci(fit.ols_ci_low, fit.ols_ci_high)}"
            if math.isfinite(fit.ols_exponent)
            else ""
        )
        ols = "; ".join(x for x in (ols, fit.ols_note) if x)
        lines.append(
            f"  n {fit.n_min}..{fit.n_max} ({fit.n_points} sizes, {fit.n_rows} rows, "
            f"{fit.nonpositive_rows} of them ≤ 0, kept); cross-check OLS on log e: {ols}"
        )
    lines.append(f"  verdict: {fit.verdict}")
    if fit.tost is not None:
        t = fit.tost
        lines.append(
            f"    TOST of |a − {fit.theory:.3f}| ≥ {fit.margin:g}: 90% CI {ci(t.low, t.high)}, "
            f"p = {t.p_value:.3g}; {fit.need.text() if fit.need else ''}"
        )
    if len(fit.log_factors):
        parts = []
        for r in fit.log_factors.itertuples():
            k = K_LABELS.get(r.k, f"{r.k:g}")
            if math.isfinite(r.exponent):
                parts.append(
                    f"k={k}: {r.exponent:.3f} {ci(r.ci_low, r.ci_high)} {_short(r.verdict)}"
                )
            else:
                parts.append(f"k={k}: {r.verdict}")
        if math.isfinite(fit.theory):
            tail = (
                "the verdict depends on k" if fit.depends_on_k else "the same verdict for every k"
            )
        else:
            tail = "no theory exponent to judge"
        lines.append("  under n^-a (log n)^k: " + "; ".join(parts) + f" — {tail}")
        lo, hi = fit.k_hull
        if math.isfinite(lo) and math.isfinite(hi):
            lines.append(f"    95% CI allowing any k in [0, 1] (hull of the three): {ci(lo, hi)}")
    if len(fit.local_slopes):
        parts = []
        for r in fit.local_slopes.itertuples():
            span = f"{int(r.n_low)}→{int(r.n_high)}"
            if r.note == "mean ≤ 0":
                parts.append(f"{span}: not computable (a mean ≤ 0)")
            elif r.note:
                parts.append(f"{span}: {r.exponent:.2f} (no CI: {r.note})")
            else:
                parts.append(f"{span}: {r.exponent:.2f} {ci(r.ci_low, r.ci_high, '.2f')}")
        lines.append("  local slopes (95% CI from the replicate scatter): " + ", ".join(parts))
    c = fit.curvature
    if fit.measured:
        if not math.isfinite(c.p_value):
            lines.append(
                "  trend check: not computable "
                f"({'fewer than 4 sizes of n' if fit.n_points < 4 else 'the quadratic fit failed'})"
            )
        elif c.flagged:
            lines.append(
                f"  MISSPECIFIED? the local slopes trend (curvature p = {c.p_value:.3g}): "
                f"{c.slope_low:.3f} at n = {fit.n_min} → {c.slope_high:.3f} at n = {fit.n_max}; "
                "the exponent describes this range of n, not the asymptote"
            )
        else:
            lines.append(
                f"  trend check: no trend in the local slopes (curvature p = {c.p_value:.3g})"
            )
    if math.isfinite(fit.flagged_exponent):
        lines.append(
            f"  keeping the flagged rows (TV lower bounds; indicative only): "
            f"{fit.flagged_exponent:.3f} {ci(fit.flagged_ci_low, fit.flagged_ci_high)}"
        )
    elif fit.excluded["reason"].str.startswith("flag").any() if len(fit.excluded) else False:
        lines.append("  keeping the flagged rows (TV lower bounds): not computable either")
    if len(fit.excluded):
        by = fit.excluded.groupby("reason")["n"].apply(lambda s: sorted(set(s)))
        lines.append(
            "  excluded: "
            + "; ".join(f"{reason} (n={', '.join(map(str, ns))})" for reason, ns in by.items())
        )
    return "\n".join(lines)


def _short(verdict: str) -> str:
    """A verdict in a few words, for the log-factor line."""
    if verdict.startswith("equivalent"):
        return "equivalent"
    if verdict.startswith("not resolved"):
        return "not resolved"
    return verdict


def paired_block(pairs) -> list[str]:
    """The paired comparisons of one arm and metric as printed lines."""
    if not pairs:
        return []
    head = (
        "-- paired slope differences a_A − a_B (the same training sets: rows matched by "
        "(n, replicate); joint CRV3 by n)"
    )
    return [head, *(p.text() for p in pairs)]
