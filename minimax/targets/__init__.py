"""minimax.targets: the truth side of every experiment (exact pdf, sampler, cell masses)."""

from minimax.targets.base import Target
from minimax.targets.gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture", "Target"]
