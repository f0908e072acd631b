"""The Estimator contract (docs/design.md), in the style of scikit-learn.

Parameters are stored by ``__init__`` unchanged and validated in ``fit``; fitted attributes end
in ``_``; ``fit`` returns ``self``. Randomness comes only from the ``rng`` passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Estimator(ABC):
    """A density estimator that can be sampled (and, where explicit, evaluated)."""

    #: True when the estimator has an explicit density (``pdf``), so TV can be computed exactly.
    has_pdf: bool = False

    @abstractmethod
    def fit(self, X: np.ndarray, rng: np.random.Generator) -> Estimator:
        """Fit to training data X of shape (n, D); return self."""

    @abstractmethod
    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m draws, shape (m, D), from the fitted estimate."""

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The estimated density at x (N, D); only where ``has_pdf``."""
        raise NotImplementedError(f"{type(self).__name__} has no explicit density")

    @abstractmethod
    def describe(self) -> dict:
        """Every hyperparameter that matters, as a flat dict of scalars."""
