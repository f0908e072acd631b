"""Model coordinates: the affine map between data and the space the forward process acts in.

Every diffusion estimator standardises its data the same way, so T̲ and T̄ mean the same in
each: a bounded axis of a support box maps [low, high] → [-1, 1] (the setting of Oko et al.),
any other axis maps the training data's mean and sd to 0 and 1. Here are that rule
(``standardization``), the box checks, the reflection boundary correction that folds samples
back into the box, and the law of a target in model coordinates (``AffineTarget``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax.diffusion.networks import Standardizer
from minimax.targets.base import Target

#: what sampling does with draws that leave a bounded axis of the box
BOUNDARIES = ("reflect", "none")


def standardization(X: np.ndarray, box=None) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) per axis: a bounded axis of ``box`` maps [low, high] → [-1, 1] (the setting
    of Oko et al.); any other axis maps the data's mean and sd to 0 and 1."""
    shift, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if box is not None:
        box = np.asarray(box, dtype=np.float64)
        bounded = np.isfinite(box).all(axis=1)
        finite = np.where(np.isfinite(box), box, 0.0)
        shift = np.where(bounded, finite.mean(axis=1), shift)
        scale = np.where(bounded, (finite[:, 1] - finite[:, 0]) / 2, scale)
    return shift, scale


def standardizer_for(X: np.ndarray, box) -> Standardizer:
    """The one-member ``Standardizer`` (float64, shape (1, 1, D)) of ``standardization(X, box)``."""
    shift, scale = standardization(X, box)
    as_t = lambda a: torch.as_tensor(np.asarray(a)[None, None, :], dtype=torch.float64)  # noqa: E731
    return Standardizer(as_t(shift), as_t(scale))


def check_box(box, dim: int):
    """The box as a (D, 2) float64 array, or None when absent or unbounded on every axis;
    ValueError unless it is a (D, 2) array of [low, high] rows with low < high."""
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (dim, 2) or np.isnan(arr).any() or not np.all(arr[:, 1] > arr[:, 0]):
        raise ValueError(
            f"box={box!r} is not allowed: expected a ({dim}, 2) array of [low, high] rows "
            "(±inf for an unbounded axis)"
        )
    return arr if np.isfinite(arr).all(axis=1).any() else None


def _bounded(box) -> np.ndarray:
    return np.isfinite(np.asarray(box, dtype=np.float64)).all(axis=-1)


def standardize_name(box) -> str:
    """ "box" (every axis bounded), "box+moments" (some) or "moments" (none, or no box)."""
    if box is None:
        return "moments"
    bounded = _bounded(box)
    return "box" if bounded.all() else "box+moments" if bounded.any() else "moments"


def reflect_into_box(u: np.ndarray, box) -> np.ndarray:
    """Fold model-coordinate samples u (m, D) into [-1, 1] on every bounded axis of ``box``.

    The box's bounded axes are [-1, 1] in model coordinates (``standardization``). Folding
    x → 2b - x at each face is the reflection boundary correction of kernel estimators
    (docs/theory.md §6): the mass a Gaussian blur of width σ leaks past a face where the density
    jumps (O(σ) in TV) is put back as its mirror image, leaving O(σ²) for a density with zero
    slope at the face.
    """
    if box is None:
        return u
    bounded = _bounded(box)
    y = np.mod(u[:, bounded] + 1.0, 4.0)
    u = u.copy()
    u[:, bounded] = np.where(y > 2.0, 4.0 - y, y) - 1.0
    return u


def outside_fraction(u: np.ndarray, box) -> float:
    """The fraction of model-coordinate samples outside [-1, 1] on some bounded axis (NaN if
    there is no bounded axis): the mass the sampler put outside the support, before any fold."""
    if box is None:
        return math.nan
    return float(np.mean(np.any(np.abs(u[:, _bounded(box)]) > 1.0, axis=1)))


class AffineTarget(Target):
    """The law of u = (x - shift)/scale for x ~ target: pdf, sampler and cell masses mapped."""

    def __init__(self, target: Target, shift: np.ndarray, scale: np.ndarray):
        self.target, self.shift, self.scale = target, np.asarray(shift), np.asarray(scale)
        self.dim = target.dim
        self.support = (np.asarray(target.support) - self.shift[:, None]) / self.scale[:, None]

    def pdf(self, x):
        u = self._points(x)
        return self.target.pdf(u * self.scale + self.shift) * float(np.prod(self.scale))

    def sample(self, n, rng):
        return (self.target.sample(n, rng) - self.shift) / self.scale

    def cell_masses(self, edges):
        return self.target.cell_masses(
            [np.asarray(e) * s + c for e, s, c in zip(edges, self.scale, self.shift, strict=True)]
        )

    def describe(self):
        return self.target.describe()
