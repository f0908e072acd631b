"""The Target contract (docs/design.md): the truth side of every experiment."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from minimax.validation import check_points


class Target(ABC):
    """A density with exact pdf, sampler and cell masses, frozen after construction.

    Subclasses set ``dim`` (int) and ``support`` (array (D, 2) of [low, high] per axis; use
    ``-inf``/``inf`` for unbounded axes) and implement ``pdf``, ``sample``, ``cell_masses`` and
    ``describe``.
    """

    dim: int
    support: np.ndarray

    @abstractmethod
    def pdf(self, x) -> np.ndarray:
        """Density at points x of shape (N, D); 0 outside the support."""

    def logpdf(self, x) -> np.ndarray:
        """log pdf at x (``-inf`` outside the support)."""
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))

    @abstractmethod
    def sample(self, n: int, rng) -> np.ndarray:
        """n exact independent draws, shape (n, D), from the explicit ``numpy.random.Generator``."""

    @abstractmethod
    def cell_masses(self, edges) -> np.ndarray:
        """Exact probabilities of the cells of a rectangular grid.

        ``edges`` is a list of D increasing 1-D arrays; the result has shape
        (len(edges[0]) - 1, ..., len(edges[D-1]) - 1). Mass outside the grid is not included.
        """

    @abstractmethod
    def describe(self) -> dict:
        """A flat dict of scalars that becomes columns of the results table."""

    def _points(self, x) -> np.ndarray:
        return check_points("x", x, self.dim)

    @property
    def bounded(self) -> bool:
        """True when the support is a bounded box."""
        return bool(np.all(np.isfinite(self.support)))
