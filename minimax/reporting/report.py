"""Tables, fits and figures from a stored results table (never recomputing a cell).

``write_report(OUT)`` reads ``OUT/results.parquet`` and writes, per arm (one target and setting)
and metric: a log-log figure of error vs n (PNG and PDF, one column wide), the table of fits
``fits.csv``, the paired slope differences ``paired.csv``, and ``summary.txt`` with the printed
tables, exponents and verdicts. The figures are drawn by :mod:`minimax.reporting.figures`, the
style the paper uses too. The verdicts use each arm's equivalence margin δ as stored in
``study.json`` (``--margin`` at run time; 0.05 for studies that predate it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.reporting.figures import (  # noqa: F401 (COLUMN_WIDTH_IN, rate_figure: re-exported)
    COLUMN_WIDTH_IN,
    METRIC_LABELS,
    THEORY_LABELS,
    plot_rates,
    rate_figure,
)
from minimax.reporting.summary import paired_block
from minimax.study import store
from minimax.study.budget import budget_table, design_note
from minimax.study.calibration import (
    calibration_block,
    calibration_fits,
    gate_verdicts,
    gating_pair,
    sampled_pair_fits,
)
from minimax.study.paired import PairedFit, paired_fits
from minimax.study.rates import DEFAULT_MARGIN, RateFit, fit_rates
from minimax.study.registry import DERIVED_METRICS

#: metrics shown only in the error budget table (budget.budget_table), not fitted on their own
BUDGET_ONLY = ("oracle_tv", "blur_tv")


@dataclass
class Report:
    text: str
    fits: list[RateFit]
    files: list[Path] = field(default_factory=list)
    pairs: list[PairedFit] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def report_metrics(df: pd.DataFrame) -> list[str]:
    """Metrics with a rate to fit, in the table's order (derived ones such as outside mass last)."""
    seen = [m for m in dict.fromkeys(df["metric"]) if m not in BUDGET_ONLY]
    return [m for m in seen if m not in DERIVED_METRICS] + [m for m in seen if m in DERIVED_METRICS]


def points_table(fits: list[RateFit]) -> str:
    """n, mean ± se, floor and flags per estimator, as fixed-width text."""
    lines = [f"{'estimator':<16}{'n':>8}  {'mean ± se':<22}{'floor':>10}  {'k':>3}  flags"]
    for fit in fits:
        for r in fit.points.itertuples():
            se = f"{r.se:.3g}" if math.isfinite(r.se) else "—"
            mean = f"{r.mean:.4g} ± {se}" if math.isfinite(r.mean) else "—"
            floor = f"{r.floor:.3g}" if math.isfinite(r.floor) else "—"
            notes = []
            if r.failed:
                notes.append(f"{r.failed} {r.failed_as}")
            if r.flags:
                notes.append(f"{r.flags} flagged")
            if r.below_floor:
                notes.append("below 2×floor")
            if not r.used and not notes:
                notes.append("not fitted")
            flag = ", ".join(notes) or "ok"
            lines.append(f"{fit.estimator:<16}{r.n:>8}  {mean:<22}{floor:>10}  {r.k:>3}  {flag}")
    return "\n".join(lines)


def fits_table(fits: list[RateFit]) -> str:
    """Exponent, 95% CI, theory, the TOST's 90% half-width w and the verdict per estimator;
    ``k-dep`` marks a verdict that changes under the log-factor models (log n)^k."""
    lines = [
        f"{'estimator':<16}{'exponent':>9}  {'95% CI':<18}{'theory':>7}  {'w (90%)':>7}  "
        f"{'k-dep':<5}  verdict"
    ]
    for f in fits:
        theory = f"{f.theory:>7.3f}" if math.isfinite(f.theory) else f"{'—':>7}"
        if f.measured:
            ci = f"[{f.ci_low:.3f}, {f.ci_high:.3f}]"
            w = f"{f.tost.half_width:.3f}" if f.tost else "—"
            dep = "yes" if f.depends_on_k else "no"
            lines.append(
                f"{f.estimator:<16}{f.exponent:>9.3f}  {ci:<18}{theory}  {w:>7}  {dep:<5}  "
                f"{f.verdict}"
            )
        else:
            lines.append(
                f"{f.estimator:<16}{'—':>9}  {'':<18}{theory}  {'—':>7}  {'—':<5}  {f.verdict}"
            )
    return "\n".join(lines)


def mean_table(df: pd.DataFrame, metric: str) -> str:
    """mean ± se per (estimator, n) of a metric with no rate (e.g. the mass outside the box);
    estimators whose values are all zero are left out."""
    sel = df[(df["metric"] == metric) & (df["status"] == "ok")]
    lines = [f"{'estimator':<16}{'n':>8}  mean ± se"]
    for est, g in sel.groupby("estimator", sort=False):
        if not np.any(g["value"].to_numpy(float) != 0):
            continue
        for n, h in g.groupby("n"):
            v = h["value"].to_numpy(float)
            se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
            lines.append(f"{est:<16}{int(n):>8}  {v.mean():.4g} ± {se:.2g}")
    if sel.empty:
        return "(no successful cell)"
    return "\n".join(lines) if len(lines) > 1 else "(zero for every estimator)"


def study_margins(folder) -> dict[str, float]:
    """The equivalence margin of each arm, from ``folder/study.json`` (empty when absent)."""
    path = Path(folder) / "study.json"
    if not path.is_file():
        return {}
    out = {}
    for spec in json.loads(path.read_text()).get("studies", []):
        t = spec.get("target", {})
        label = (
            f"{t.get('kind')} D={t.get('D')} s={t.get('s'):g} p={t.get('p'):g} {t.get('boundary')}"
        )
        out[spec.get("arm") or label] = float(spec.get("margin", DEFAULT_MARGIN))
    return out


def build_report(
    df: pd.DataFrame,
    out: Path | None = None,
    figures: bool = True,
    margin: float | dict[str, float] | None = None,
) -> Report:
    """Fits, printed tables and (when ``out`` is given) figures, fits.csv, paired.csv and
    summary.txt. ``margin``: the equivalence margin δ, one for all arms or per arm (default
    0.05 for an arm not named)."""
    blocks, all_fits, files, all_pairs, offsets = [], [], [], [], {}
    margins = margin if isinstance(margin, dict) else {}
    default = margin if isinstance(margin, int | float) else DEFAULT_MARGIN
    for arm in dict.fromkeys(df["arm"]):
        adf = df[df["arm"] == arm]
        s, D = float(adf["s"].iloc[0]), int(adf["D"].iloc[0])
        arm_fits = []
        arm_margin = margins.get(arm, default)
        cals = (
            calibration_fits(adf, margin=arm_margin)
            if (adf["metric"] == "tv_sampled").any()
            else []
        )
        all_pairs.extend(cals)
        gate = gating_pair(cals)
        if gate is not None and gate.measured:
            offsets[arm] = gate.difference
        for metric in report_metrics(adf):
            if metric in DERIVED_METRICS:
                blocks += [f"== {arm} · {metric}", mean_table(adf, metric), ""]
                continue
            fits = fit_rates(adf, metric, margin=arm_margin)
            if not fits:
                continue
            if metric == "tv":
                gate_verdicts(fits, adf, cals)
                for f in fits:
                    note = design_note(adf, f.estimator) if f.measured else ""
                    if note:
                        f.verdict += f"; {note}"
            all_fits.extend(fits)
            arm_fits.extend(fits)
            theory = fits[0].theory
            head = f"== {arm} · {metric}"
            if math.isfinite(theory):
                head += f" · theory exponent {THEORY_LABELS.get(metric, '')} = {theory:.3f}"
                head += f" (s={s:g}, D={D})"
            blocks += [head, points_table(fits), "", fits_table(fits), ""]
            blocks += [f.summary() for f in fits if len(f.excluded) or f.measured] + [""]
            pairs = paired_fits(fits, adf[adf["metric"] == metric])
            all_pairs.extend(pairs)
            if pairs:
                blocks += [*paired_block(pairs), ""]
            if metric == "tv" and cals:
                blocks += [*calibration_block(cals), ""]
                same = sampled_pair_fits(adf, margin=arm_margin)
                all_pairs.extend(same)
                if same:
                    blocks += ["-- paired with the KDE's TV sampled at the same M (the "
                               "measurement's offset cancels)", *(p.text() for p in same), ""]  # fmt: skip
            if out is not None and figures:
                stem = Path(out) / "figures" / f"rate_{slug(arm)}_{metric}"
                files += plot_rates(fits, adf[adf["metric"] == metric], metric, arm, stem)
                if metric == "score":
                    from minimax.reporting.figures.score_profile import plot_score_profile

                    for est in dict.fromkeys(f.estimator for f in fits):
                        stem = Path(out) / "figures" / f"score_profile_{slug(arm)}_{est}"
                        files += plot_score_profile(adf, est, f"{est}: score error by time", stem)
        budget = budget_table(adf, arm_fits)
        if budget:
            blocks += [f"== {arm} · error budget", budget, ""]
    from minimax.reporting.pooled_report import pooled_section

    pooled_text, pooled_fits_frame, pooled_pairs_frame = pooled_section(
        df, margins or default, offsets
    )
    if pooled_text:
        blocks += [pooled_text]
    text = "\n".join(blocks).rstrip() + "\n"
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        fits_path = out / "fits.csv"
        store.atomic_write_frame(fits_path, pd.DataFrame([f.row() for f in all_fits]), "csv")
        summary_path = out / "summary.txt"
        store.atomic_write_bytes(summary_path, text.encode())
        files = [fits_path, summary_path, *files]
        for name, frame in (
            ("pooled.csv", pooled_fits_frame),
            ("pooled_paired.csv", pooled_pairs_frame),
        ):
            if len(frame):
                store.atomic_write_frame(out / name, frame, "csv")
                files.append(out / name)
        if all_pairs:
            paired_path = out / "paired.csv"
            store.atomic_write_frame(paired_path, pd.DataFrame([p.row() for p in all_pairs]), "csv")
            files.insert(1, paired_path)
    return Report(text=text, fits=all_fits, files=files, pairs=all_pairs)


def write_report(folder, figures: bool = True, out=None) -> Report:
    """Regenerate the report of a results folder from its stored table alone, into ``out``
    (default: the folder itself; only fits.csv, paired.csv, summary.txt, figures/ are written)."""
    target = Path(out) if out is not None else Path(folder)
    return build_report(
        store.read_table(folder), target, figures=figures, margin=study_margins(folder)
    )
