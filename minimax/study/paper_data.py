"""What the paper is made from: one stored results folder, read and fitted once.

:func:`load_study` reads ``results.parquet`` and ``study.json`` and fits every rate exactly as
``report`` does (the study's own margins; the calibration gate on sampled-TV verdicts), so a
verdict in the paper is the verdict in ``summary.txt``. Nothing is recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minimax.study import store
from minimax.study.calibration import calibration_fits, gate_verdicts
from minimax.study.paired import PairedFit, paired_fits
from minimax.study.paper_budget import budget_frame
from minimax.study.paper_tables import arms_in_order, measured_smoothness_by_arm
from minimax.study.rates import DEFAULT_MARGIN, RateFit, fit_rates
from minimax.study.report import study_margins

#: metrics with a rate of their own in the paper
RATE_METRICS = ("tv", "score", "w1")


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
    budgets: dict[str, pd.DataFrame] = field(default_factory=dict)
    measured: dict[str, tuple[float, float]] = field(default_factory=dict)

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
            data.fits.extend(fits)
            data.pairs.extend(paired_fits(fits, adf[adf["metric"] == metric]))
        budget = budget_frame(df, arm)
        if not budget.empty:
            data.budgets[arm] = budget
    if measure_targets:
        data.measured = measured_smoothness_by_arm(df)
    return data
