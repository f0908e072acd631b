"""The box over which a metric works: the target's support, or for unbounded targets a box that
holds all but a stated tail mass (checked with the target's exact cell masses)."""

from __future__ import annotations

import numpy as np

from minimax.targets.base import Target


def _box_mass(target: Target, box: np.ndarray) -> float:
    return float(np.sum(target.cell_masses([np.array([lo, hi]) for lo, hi in box])))


def covering_box(target: Target, tail_mass: float) -> tuple[np.ndarray, float]:
    """Return ``(box, outside)``: a finite (D, 2) box and its exact q-mass outside, ``outside <= tail_mass``.

    Finite sides of ``target.support`` are kept. Infinite sides start at ±1 and double until the
    box holds ``1 - tail_mass/2``; each infinite side is then pulled in by bisection as long as the
    mass outside stays ``<= tail_mass``. Every test uses ``target.cell_masses`` (exact), so the
    stated outside mass is exact up to floating point, whatever the shape of q.
    """
    support = np.asarray(target.support, dtype=np.float64)
    if np.all(np.isfinite(support)):
        return support.copy(), 0.0
    free = ~np.isfinite(support)
    box = np.where(free, np.where(np.arange(2)[None, :] == 0, -1.0, 1.0), support)
    width = 1.0
    while 1.0 - _box_mass(target, box) > tail_mass / 2:
        width *= 2.0
        if width > 1e12:
            raise ValueError(
                f"tail_mass={tail_mass!r} is not allowed: no box up to ±1e12 holds 1 - tail_mass"
            )
        box = np.where(free, np.where(np.arange(2)[None, :] == 0, -width, width), support)
    # Each free side may give up an equal share of the remaining allowance.
    n_free = int(free.sum())
    allowance = (tail_mass - (1.0 - _box_mass(target, box))) / n_free
    for i, j in zip(*np.nonzero(free), strict=True):
        base_out = 1.0 - _box_mass(target, box)

        def feasible(pos, i=i, j=j, base_out=base_out):
            trial = box.copy()
            trial[i, j] = pos
            return 1.0 - _box_mass(target, trial) - base_out <= allowance

        # bisection between a feasible edge (the current one) and an infeasible one (the
        # opposite edge: an empty box loses everything)
        good, bad = box[i, j], box[i, 1 - j]
        for _ in range(60):
            mid = 0.5 * (good + bad)
            if feasible(mid):
                good = mid
            else:
                bad = mid
        box[i, j] = good
    return box, max(0.0, 1.0 - _box_mass(target, box))
