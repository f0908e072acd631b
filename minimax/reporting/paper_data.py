"""What the paper is made from: one stored results folder, read and fitted once.

:func:`load_study` reads ``results.parquet`` and ``study.json`` and fits every rate exactly as
``report`` does (the study's own margins; the calibration gate on sampled-TV verdicts; the
budget's design note), so a verdict in the paper is the verdict in ``summary.txt``. Nothing is
recomputed.

**Units.** The paper reports per *unit*: an arm, or, where the folder holds several target
seeds of one (D, s, p, boundary), the group of those arms (:mod:`.paper_pooled`). A group's
headline fit is the pooled fit across its seeds (``headline``/``headline_pair``), its budget is
:func:`~minimax.study.budget.budget_components` over all its rows, and its rate figure draws
every seed's points. A folder with one seed per arm has one unit per arm, and its headline fits
are the per-arm fits, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minimax.reporting.paper_budget import budget_frame, learned_fit
from minimax.reporting.paper_pooled import Pooled, load_pooled
from minimax.reporting.paper_tables import arms_in_order, measured_smoothness_by_arm
from minimax.reporting.report import study_margins
from minimax.study import store
from minimax.study.budget import design_note
from minimax.study.calibration import calibration_fits, gate_verdicts
from minimax.study.paired import PairedFit, paired_fits
from minimax.study.rates import DEFAULT_MARGIN, RateFit, fit_rates

#: metrics with a rate of their own in the paper (score_integral: the unweighted time
#: integral the theory bounds)
RATE_METRICS = ("tv", "score", "score_integral", "w1")


@dataclass
class StudyData:
    """A results folder with its fits: ``fits`` (every arm and rate metric), ``pairs`` (paired
    slope differences on the same training sets), ``calibration`` (the sampled − exact offsets
    of the explicit-density controls), ``budgets`` (per arm), ``measured`` (target smoothness
    measured from the pdf; only when asked)."""

    folder: Path
    df: pd.DataFrame
    study: dict
    margins: dict[str, float]
    fits: list[RateFit] = field(default_factory=list)
    pairs: list[PairedFit] = field(default_factory=list)
    calibration: list[PairedFit] = field(default_factory=list)
    #: per unit (arm or group label): the DDPM's budget frame and its learned-part fit
    budgets: dict[str, pd.DataFrame] = field(default_factory=dict)
    learned: dict[str, RateFit] = field(default_factory=dict)
    measured: dict[str, tuple[float, float]] = field(default_factory=dict)
    pooled: Pooled = field(default_factory=Pooled)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def label(self) -> str:
        """The folder as a reader finds it: its path below ``results/`` when it is there."""
        parts = self.folder.parts
        return (
            "/".join(parts[parts.index("results") + 1 :]) if "results" in parts[:-1] else self.name
        )

    @property
    def arms(self) -> list[tuple[str, int, float]]:
        return arms_in_order(self.df)

    @property
    def multi_seed(self) -> bool:
        """Whether some unit pools several target seeds."""
        return bool(self.pooled.groups)

    @property
    def units(self) -> list[tuple[str, int, float]]:
        """(label, D, s) of each unit in (D, s) order: a group of seeds once, under its label
        without the seed, in the place of its first arm; every other arm as itself."""
        out, seen = [], set()
        of = {a: g for g, arms in self.pooled.groups.items() for a in arms}
        for arm, D, s in self.arms:
            label = of.get(arm, arm)
            if label not in seen:
                seen.add(label)
                out.append((label, D, s))
        return out

    def unit_arms(self, unit: str) -> list[str]:
        return self.pooled.groups.get(unit, [unit])

    def unit_rows(self, unit: str) -> pd.DataFrame:
        """The rows of a unit's arms."""
        return self.df[self.df["arm"].isin(self.unit_arms(unit))]

    def headline(self, unit: str, estimator: str, metric: str = "tv"):
        """The unit's headline fit: the pooled one of a group, the arm's own otherwise."""
        if unit in self.pooled.groups:
            return self.pooled.fit(unit, estimator, metric)
        return self.fit(unit, estimator, metric)

    def headline_fits(self, metric: str = "tv") -> list:
        """Every unit's headline fits of ``metric`` (a group's pooled ones; an arm's own)."""
        out = []
        for unit, _, _ in self.units:
            if unit in self.pooled.groups:
                out += [f for f in self.pooled.fits if f.arm == unit and f.metric == metric]
            else:
                out += self.arm_fits(unit, metric)
        return out

    def headline_pair(self, unit: str, first: str, second: str, metric: str = "tv"):
        if unit in self.pooled.groups:
            return self.pooled.pair(unit, first, second, metric) or _flip_group(
                self.pooled.pair(unit, second, first, metric)
            )
        return self.pair(unit, first, second, metric)

    def arm_fits(self, arm: str, metric: str = "tv") -> list[RateFit]:
        return [f for f in self.fits if f.arm == arm and f.metric == metric]

    def fit(self, arm: str, estimator: str, metric: str = "tv") -> RateFit | None:
        return next((f for f in self.arm_fits(arm, metric) if f.estimator == estimator), None)

    def pair(self, arm: str, first: str, second: str, metric: str = "tv") -> PairedFit | None:
        for p in self.pairs:
            if (p.arm, p.metric) == (arm, metric) and {p.first, p.second} == {first, second}:
                return p if p.first == first else _flipped(p)
        return None

    def roles(self) -> dict[str, str]:
        if "role" not in self.df:
            return {}
        return self.df.groupby("estimator")["role"].first().to_dict()


def _flip_group(p):
    """A pooled pair read the other way round (second − first), or None."""
    if p is None:
        return None
    from minimax.reporting.paper_pooled import GroupPair
    from minimax.study.pooled import PooledPair

    st = dict(p.pair.stage)
    st["exponent"], st["ci_low"], st["ci_high"] = -st["exponent"], -st["ci_high"], -st["ci_low"]
    verdict = p.pair.verdict
    for way, other in (("steeper", "flatter"), ("flatter", "steeper")):
        if verdict == f"differ: {p.first} {way} than {p.second}":
            verdict = f"differ: {p.second} {other} than {p.first}"
            break
    flipped = PooledPair(p.arm, p.second, p.first, p.metric, p.pair.margin, p.pair.seeds,
                         tuple(-d for d in p.pair.per_seed), st, p.pair.tost, verdict)  # fmt: skip
    return GroupPair(flipped)


def _flipped(p: PairedFit) -> PairedFit:
    from dataclasses import replace

    return replace(p, first=p.second, second=p.first, difference=-p.difference,
                   ci_low=-p.ci_high, ci_high=-p.ci_low)  # fmt: skip


def load_study(folder, measure_targets: bool = False) -> StudyData:
    """Read and fit one results folder (``measure_targets``: also measure each target's
    smoothness from its pdf, which rebuilds the targets: a few seconds per arm)."""
    folder = Path(folder)
    df = store.read_table(folder)
    path = folder / "study.json"
    study = json.loads(path.read_text()) if path.is_file() else {}
    data = StudyData(folder=folder, df=df, study=study, margins=study_margins(folder))
    for arm, _, _ in data.arms:
        adf = df[df["arm"] == arm]
        margin = data.margins.get(arm, DEFAULT_MARGIN)
        cals = (calibration_fits(adf, margin=margin)
                if (adf["metric"] == "tv_sampled").any() else [])  # fmt: skip
        data.calibration.extend(cals)
        for metric in RATE_METRICS:
            if not (adf["metric"] == metric).any():
                continue
            fits = fit_rates(adf, metric, margin=margin)
            if metric == "tv":
                gate_verdicts(fits, adf, cals)
                for f in fits:  # as report.build_report: the budget's design note
                    note = design_note(adf, f.estimator) if f.measured else ""
                    if note:
                        f.verdict += f"; {note}"
            data.fits.extend(fits)
            data.pairs.extend(paired_fits(fits, adf[adf["metric"] == metric]))
    data.pooled = load_pooled(df, data.margins)
    for unit, _, _ in data.units:
        arms = data.unit_arms(unit)
        budget = budget_frame(df, arms)
        if not budget.empty:
            data.budgets[unit] = budget
        learned = learned_fit(df, arms, unit)
        if learned is not None:
            data.learned[unit] = learned
    if measure_targets:
        data.measured = measured_smoothness_by_arm(df)
    return data
