"""Study presets: the size classes a study's defaults come from, and the geometric n grid.

A preset sets defaults only: every field can be overridden on the command line or in a study
file. ``samples_cap`` enters the rule of ``M = "auto"`` (``StudySpec.samples_at``), and the M a
cell uses is part of its content, so changing a cap recomputes exactly the cells it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minimax.metrics.sample_size import AUTO_M_RANGE
from minimax.validation import check_int


@dataclass(frozen=True)
class Preset:
    """Defaults of a study size class; every field can be overridden on the command line."""

    name: str
    description: str
    n_min: int
    n_max: int
    n_steps: int
    replicates: int
    samples: int | str  # M, samples of q̂ per TV evaluation, or "auto" (samples_for)
    estimators: tuple[str, ...]
    metrics: tuple[str, ...] = ("tv",)
    #: the largest M of "auto" (a compute budget; the rule itself is proportional to n)
    samples_cap: int = AUTO_M_RANGE[1]

    def n_grid(self) -> tuple[int, ...]:
        return geometric_grid(self.n_min, self.n_max, self.n_steps)


PRESETS = {
    "quick": Preset(
        name="quick",
        description="sized for a 2-core CPU: about 10 minutes for D=2 including the DDPM",
        n_min=250,
        n_max=8000,
        n_steps=6,
        replicates=3,
        samples="auto",
        estimators=("kde", "ddpm", "uniform", "gaussian"),
        # the rule at n = 8000 asks 199,000 (D = 1) and 795,800 (D = 2): the cap keeps every
        # D <= 2 row at the rule. Sampling 800,000 points through the DDPM with dpm2m at its
        # 93 steps costs what 200,000 cost with the ancestral sampler's 371 (about 2 minutes
        # per replicate on this CPU); D = 3 rows past n ≈ 2000 are flagged below_rule
        samples_cap=800_000,
    ),
    "paper": Preset(
        name="paper",
        description="sized for one GPU: 2.5 decades of n, 5 replicates, M by the rule up to 8e6",
        n_min=250,
        n_max=64_000,
        n_steps=9,
        replicates=5,
        samples="auto",
        estimators=(
            "kde",
            "ddpm",
            "empirical-score",
            "ddpm-fixed-tmin",
            "uniform",
            "gaussian",
        ),
        # the rule at n = 64,000 asks 1.6e6 (D = 1), 6.4e6 (D = 2), 2.5e7 (D = 3): the cap keeps
        # every D <= 2 row at the rule and flags D = 3 rows past n ≈ 20,000 below_rule, where a
        # 3-D DDPM's sampling cost would dominate the GPU budget
        samples_cap=8_000_000,
    ),
}


def geometric_grid(n_min: int, n_max: int, n_steps: int) -> tuple[int, ...]:
    """``n_steps`` integers spaced geometrically from n_min to n_max (duplicates removed)."""
    n_min = check_int("n_min", n_min, low=1)
    n_max = check_int("n_max", n_max, low=1)
    n_steps = check_int("n_steps", n_steps, low=3)
    if n_max <= n_min:
        raise ValueError(f"n_max={n_max!r} is not allowed: expected n_max > n_min={n_min}")
    grid = np.unique(np.round(np.geomspace(n_min, n_max, n_steps)).astype(np.int64))
    return tuple(int(v) for v in grid)
