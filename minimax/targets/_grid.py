"""Rectangular grids: validation of cell edges and tensor products of per-axis factors."""

from __future__ import annotations

import numpy as np


def check_edges(edges, dim: int) -> list[np.ndarray]:
    """Return ``edges`` as D strictly increasing float64 arrays of >= 2 values (±inf allowed)."""
    try:
        n_axes = len(edges)
    except TypeError:
        raise ValueError(
            f"edges={edges!r} is not allowed: expected a list of D={dim} arrays"
        ) from None
    if n_axes != dim:
        raise ValueError(f"edges with {n_axes} axes is not allowed: expected D={dim} arrays")
    out = []
    for i, e in enumerate(edges):
        a = np.asarray(e, dtype=np.float64)
        if a.ndim != 1 or a.size < 2 or np.any(np.isnan(a)) or np.any(np.diff(a) <= 0):
            raise ValueError(
                f"edges[{i}] is not allowed: expected a strictly increasing 1-D array "
                "of >= 2 values without NaN"
            )
        out.append(a)
    return out


def outer(factors: list[np.ndarray]) -> np.ndarray:
    """Tensor product of 1-D arrays: out[i0, ..., iD-1] = Π_d factors[d][id]."""
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out
