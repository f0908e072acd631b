"""The metric result record shared by every metric (docs/design.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class MetricResult:
    """One metric's value with its uncertainty and noise floor.

    ``floor`` is what the same estimator reports when the samples come from the target itself
    (NaN when the metric has no sampling floor, e.g. exact quadrature). ``flag`` is ``"ok"``,
    ``"rising"``, ``"unresolved"`` or a metric-specific word; ``details`` holds anything else
    (curves per resolution level, bounds, settings) and is not written to the tidy table.
    """

    metric: str
    value: float
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    floor: float = math.nan
    method: str = ""
    flag: str = "ok"
    m: int = 0
    details: dict = field(default_factory=dict, compare=False, repr=False)

    def row(self) -> dict:
        """The columns this result contributes to a row of the results table."""
        d = asdict(self)
        d.pop("details")
        return d
