"""One exponent per arm across target seeds, the seed a random effect (docs/verdicts.md §6).

Rows sharing everything but ``target_seed`` (several random functions of one Besov class) are
pooled over the rows each seed's own rate fit (:func:`minimax.study.rates.fit_rate`) used:

- **primary**: a linear mixed model of log e on log n (statsmodels ``MixedLM``, REML) with an
  independent random intercept and random slope per seed, on the per-(seed, n) means of log e;
  the random slope is dropped, and said so, when its variance is on the boundary or the fit
  fails; when rows ≤ 0 had to be dropped for the log, the two-stage estimate is primary;
- **cross-check**: the per-seed log-link exponents â_j pooled as mean ± t_{J−1}·sd/√J.

Both CIs use t with J − 1 df (J seeds): with few groups the mixed model's Wald z under-covers.
The two estimators are :mod:`minimax.study.pooled_slope` (``mixed_slope``, ``two_stage`` and
``MixedSlope`` are re-exported here for their callers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minimax.reporting.summary import ci, num
from minimax.study import verdicts
from minimax.study.paired import fit_paired
from minimax.study.pooled_slope import _NAN, MixedSlope, mixed_slope, two_stage
from minimax.study.rates import DEFAULT_MARGIN, fit_rate

#: what a pooled group shares besides the arm's label without its seed (those present are used)
GROUP_KEYS = ("study", "target", "D", "s", "p", "boundary", "sampler", "sizing")
_SEED = re.compile(r"\s*target_seed=\d+")


def unit_label(arm) -> str:
    """The arm's label without its target seed: the unit that pools over seeds."""
    return _SEED.sub("", str(arm))


@dataclass
class PooledFit:
    """The pooled exponent of one (arm without its seed, estimator, metric) over J seeds:
    ``exponent``/``se``/CI/``df`` are the ``primary`` estimate's, ``mixed`` and ``stage`` both."""

    arm: str
    estimator: str
    metric: str
    theory: float
    margin: float
    level: float = 0.95
    seeds: tuple = ()
    primary: str = "mixed model"
    exponent: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    df: float = math.nan
    mixed: MixedSlope = field(default_factory=MixedSlope)
    stage: dict = field(default_factory=lambda: dict(_NAN))
    #: per seed in the data, from its own rate fit: target_seed, exponent, se, rows fitted,
    #: rows ≤ 0 among them (kept), verdict
    per_seed: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    nonpositive_dropped: int = 0
    notes: list = field(default_factory=list)
    tost: verdicts.Tost | None = field(default=None, repr=False)
    verdict: str = "not measurable: fewer than 2 target seeds measured"

    @property
    def J(self) -> int:
        return len(self.seeds)

    def row(self) -> dict:
        """One row of pooled.csv."""
        keys = ("arm", "estimator", "metric", "J", "primary", "exponent", "se", "ci_low",
                "ci_high", "df", "theory", "margin", "nonpositive_dropped", "verdict")  # fmt: skip
        return {
            **{k: getattr(self, k) for k in keys},
            "seeds": " ".join(map(str, self.seeds)),
            "per_seed_exponents": " ".join(f"{v:.4f}" for v in self.per_seed.get("exponent", [])),
            **{f"mixed_{k}": v for k, v in vars(self.mixed).items() if k not in ("df", "note")},
            **{f"two_stage_{k}": v for k, v in self.stage.items() if k != "df"},
            "tost_half_width": self.tost.half_width if self.tost else math.nan,
            "tost_p": self.tost.p_value if self.tost else math.nan,
            "notes": "; ".join(self.notes),
        }

    def text(self) -> str:
        """One line: the primary estimate, the other, the between-seed sd's, the verdict."""
        head = f"{self.estimator} · {self.metric} · {self.arm} · J = {self.J} seeds: "
        notes = "".join(f"; {n}" for n in self.notes)
        if not math.isfinite(self.exponent):
            return head + self.verdict + notes
        m, s = self.mixed, self.stage
        mixed = f"mixed model ({m.model or 'not fitted'}) {num(m.exponent)} "
        mixed += f"{ci(m.ci_low, m.ci_high)}, slope sd {num(m.slope_sd)}"
        stage = f"two-stage {num(s['exponent'])} {ci(s['ci_low'], s['ci_high'])}, "
        stage += f"sd of â_j {num(s['sd'])} (between seeds {num(s['between_sd'])})"
        a, b = (stage, mixed) if self.primary == "two-stage" else (mixed, stage)
        pct = round(100 * self.level)
        return (
            f"{head}{a}; {b} ({pct}% CIs, t with {self.df:g} df); theory {num(self.theory)}: "
            f"{self.verdict}{notes}"
        )


def _groups(df: pd.DataFrame, metric: str, by_estimator: bool = True) -> list:
    """(key, rows) for the rows of ``metric`` sharing everything but target_seed (the arm label
    without its ``target_seed=`` part, GROUP_KEYS, the estimator), with ≥ 2 distinct seeds."""
    if "target_seed" not in df or df.empty:
        return []
    sel = df[df["metric"] == metric].copy()
    sel["_arm"] = sel["arm"].astype(str).map(unit_label)
    keys = [k for k in GROUP_KEYS if k in sel] + ["_arm"] + ["estimator"] * by_estimator
    groups = sel.groupby(keys, sort=False, dropna=False)
    return [(key, g) for key, g in groups if g["target_seed"].nunique() >= 2]


def _seed_fits(g: pd.DataFrame, metric: str, estimator: str, margin: float, level: float):
    """Each seed's own rate fit (rates.fit_rate: its exclusions, floors and flags)."""
    rows = g[g["estimator"] == estimator].groupby("target_seed", sort=True)
    return {
        seed: fit_rate(sub, metric, estimator, arm=sub["arm"].iloc[0], margin=margin, level=level)
        for seed, sub in rows
    }


def _margin(margin, arms) -> float:
    """δ: a number, or the smallest of a dict arm → δ (report.study_margins) over ``arms``."""
    if isinstance(margin, dict):
        return min(float(margin.get(a, DEFAULT_MARGIN)) for a in arms)
    return verdicts.check_margin(margin)


def pooled_fits(df, metric: str = "tv", margin=DEFAULT_MARGIN, level=0.95) -> list[PooledFit]:
    """One PooledFit per group of rows sharing everything but the target seed (≥ 2 seeds in
    the data) and per estimator: the mixed-model and two-stage exponents over the seeds whose
    own rate fit is measured, on the rows those fits used, and the TOST verdict of the primary
    estimate against the theory at ``margin`` (fewer than 2 measured seeds: not measurable)."""
    out = []
    for key, g in _groups(df, metric):
        delta = _margin(margin, g["arm"].unique())
        fits = _seed_fits(g, metric, key[-1], delta, level)
        theory = next(iter(fits.values())).theory
        pf = PooledFit(key[-2], key[-1], metric, theory, delta, level)
        pf.per_seed = pd.DataFrame(
            [dict(target_seed=s, exponent=f.exponent, se=f.se, rows=f.n_rows,
                  nonpositive=f.nonpositive_rows, verdict=f.verdict)
             for s, f in fits.items()]
        )  # fmt: skip
        ok = {s: f for s, f in fits.items() if f.measured}
        pf.seeds = tuple(ok)
        lost = [f"seed {s}: {f.verdict}" for s, f in fits.items() if not f.measured]
        if lost:
            pf.notes.append("left out: " + ", ".join(lost))
        if len(ok) >= 2:
            _pool(pf, ok)
        out.append(pf)
    return out


def _pool(pf: PooledFit, fits: dict) -> None:
    a, se = [f.exponent for f in fits.values()], [f.se for f in fits.values()]
    pf.stage = two_stage(a, se, pf.level)
    rows = pd.concat([f.used.assign(seed=s) for s, f in fits.items()])
    pos = rows[rows["value"] > 0]
    pf.nonpositive_dropped = len(rows) - len(pos)
    cells = pos.assign(y=np.log(pos["value"])).groupby(["seed", "n"], as_index=False)["y"].mean()
    pf.mixed = mixed_slope(cells["y"], np.log(cells["n"].astype(float)), cells["seed"], pf.level)
    if pf.mixed.note:
        pf.notes.append(f"mixed model: {pf.mixed.note}")
    if pf.nonpositive_dropped:
        pf.notes.append(
            f"{pf.nonpositive_dropped} rows ≤ 0 dropped from the mixed model (log e needs e > 0): "
            "its means are biased up where the error is smallest, which flattens its slope; "
            "the two-stage estimate (no row dropped) is primary"
        )
    if pf.nonpositive_dropped or not math.isfinite(pf.mixed.exponent):
        pf.primary = "two-stage"
    src = pf.stage if pf.primary == "two-stage" else vars(pf.mixed)
    for k in ("exponent", "se", "ci_low", "ci_high"):
        setattr(pf, k, float(src[k]))
    pf.df = float(len(fits) - 1)
    if not math.isfinite(pf.theory):
        pf.verdict = "no theory exponent"
        return
    pf.tost = verdicts.tost(pf.exponent, pf.se, pf.df, pf.theory, pf.margin)
    pf.verdict = verdicts.verdict_text(pf.tost, pf.exponent, pf.theory)


@dataclass
class PooledPair:
    """first − second exponent, paired within each seed (paired.fit_paired), pooled two-stage
    (``stage``: difference in ``exponent``), and the TOST of |difference| < δ."""

    arm: str
    first: str
    second: str
    metric: str
    margin: float
    seeds: tuple = ()
    per_seed: tuple = ()
    stage: dict = field(default_factory=lambda: dict(_NAN))
    tost: verdicts.Tost | None = field(default=None, repr=False)
    verdict: str = "not measurable: fewer than 2 target seeds paired"

    def row(self) -> dict:
        keys = ("arm", "metric", "first", "second", "margin", "verdict")
        s = {("difference" if k == "exponent" else k): v for k, v in self.stage.items()}
        per_seed = " ".join(f"{d:+.4f}" for d in self.per_seed)
        out = {k: getattr(self, k) for k in keys} | {"J": len(self.seeds), "per_seed": per_seed}
        return out | {k: v for k, v in s.items() if k != "between_sd"}

    def text(self) -> str:
        head = f"{self.first} − {self.second} · {self.metric} · {self.arm} · "
        head += f"J = {len(self.seeds)} seeds: "
        s = self.stage
        if not math.isfinite(s["exponent"]):
            return head + self.verdict
        per = " ".join(f"{d:+.3f}" for d in self.per_seed)
        return (
            f"{head}{s['exponent']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] (95% CI, t "
            f"with {s['df']:g} df; per seed {per}): {self.verdict}"
        )


def pooled_paired(
    df, first: str = "ddpm", second: str = "kde", metric: str = "tv", margin=DEFAULT_MARGIN
) -> list[PooledPair]:
    """Per group holding both estimators on ≥ 2 seeds: d_j = a_first − a_second from each
    seed's paired fit (the rows both its rate fits used, joint CRV3 by n), pooled as
    mean ± t_{J−1}·sd/√J, and the TOST of |d| < δ: "equivalent within ±δ"; "differ: first
    steeper/flatter than second" (the 95% CI excludes 0); else "not resolved by this design"
    (verdicts.py's wording, with its half-width)."""
    out = []
    for key, g in _groups(df, metric, by_estimator=False):
        both = g.groupby("target_seed")["estimator"].agg(lambda e: {first, second} <= set(e))
        if both.sum() < 2:  # both estimators on fewer than 2 seeds: no pooled pair
            continue
        delta = _margin(margin, g["arm"].unique())
        fa, fb = (_seed_fits(g, metric, e, delta, 0.95) for e in (first, second))
        pairs = {s: fit_paired(fa[s], fb[s]) for s in fa if s in fb}
        d = {s: p.difference for s, p in pairs.items() if p.measured}
        pp = PooledPair(key[-1], first, second, metric, delta, tuple(d), tuple(d.values()))
        out.append(pp)
        if len(d) < 2:
            continue
        pp.stage = two_stage(list(d.values()))
        pp.tost = t = verdicts.tost(pp.stage["exponent"], pp.stage["se"], len(d) - 1, 0.0, delta)
        if t.equivalent:
            pp.verdict = f"equivalent within ±{delta:g}"
        elif t.p_two_sided < verdicts.ALPHA:
            way = "steeper" if pp.stage["exponent"] > 0 else "flatter"
            pp.verdict = f"differ: {first} {way} than {second}"
        else:
            fmt = verdicts.NOT_RESOLVED if t.half_width >= delta else verdicts.CROSSES
            pp.verdict = fmt.format(w=t.half_width, margin=delta)
    return out


def all_pairs(df: pd.DataFrame, metric: str, margin) -> list[PooledPair]:
    """Every pair of non-trivial estimators, in the table's order (as paired.paired_fits)."""
    trivial = set(df.loc[df["role"] == "trivial", "estimator"]) if "role" in df else set()
    ests = [e for e in dict.fromkeys(df.loc[df["metric"] == metric, "estimator"])]
    ests = [e for e in ests if e not in trivial]
    pairs = [(a, b) for i, a in enumerate(ests) for b in ests[i + 1 :]]
    return [p for a, b in pairs for p in pooled_paired(df, a, b, metric, margin)]


def pooled_frame(df, margin=DEFAULT_MARGIN, metrics=("tv",), kind="fits") -> pd.DataFrame:
    """One row per pooled fit (``kind="fits"``) or per pooled pair of non-trivial estimators
    (``"paired"``) of each of ``metrics``, for a CSV; empty when no group has ≥ 2 seeds."""
    if kind not in ("fits", "paired"):
        raise ValueError(f"kind={kind!r} is not allowed: expected 'fits' or 'paired'")
    make = pooled_fits if kind == "fits" else all_pairs
    return pd.DataFrame([x.row() for m in metrics for x in make(df, m, margin)])


def pooled_block(df, margin=DEFAULT_MARGIN, metrics=("tv",), fits=None, pairs=None) -> str:
    """The text a report prints: per metric a table (estimator, J, the per-seed exponents, the
    pooled exponent [95% CI], theory, verdict kind), then one line per fit and one per pair of
    non-trivial estimators; the empty string when no group has ≥ 2 target seeds. ``fits`` /
    ``pairs``: dicts metric → precomputed lists (e.g. with gated verdicts) instead of fitting."""
    lines = []
    for m in metrics:
        fits_here = fits[m] if fits is not None and m in fits else pooled_fits(df, m, margin)
        pairs_m = pairs[m] if pairs is not None and m in pairs else None
        if not fits_here:
            continue
        lines += [
            f"== pooled over target seeds · {m} (the seed a random effect; docs/verdicts.md §6)",
            f"{'estimator':<16}{'J':>3}  {'per-seed exponents':<36}{'pooled [95% CI]':<25}"
            f"{'theory':>6}  verdict",
        ]
        for f in fits_here:
            a = " ".join(f"{v:.3f}" for v in f.per_seed["exponent"] if math.isfinite(v))
            pooled = f"{num(f.exponent)} {ci(f.ci_low, f.ci_high)}"
            kind = verdicts.verdict_kind(f.verdict)
            lines.append(
                f"{f.estimator:<16}{f.J:>3}  {a:<36}{pooled:<25}{num(f.theory):>6}  {kind}"
            )
        pairs_here = pairs_m if pairs_m is not None else all_pairs(df, m, margin)
        lines += [f.text() for f in fits_here] + [p.text() for p in pairs_here] + [""]
    return "\n".join(lines).rstrip() + "\n" if lines else ""
