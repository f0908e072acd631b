"""minimax.targets: the truth side of every experiment (exact pdf, sampler, cell masses)."""

from minimax.targets.base import Target
from minimax.targets.besov import BesovDensity
from minimax.targets.gaussian_mixture import GaussianMixture
from minimax.targets.registry import TARGET_KINDS, default_gmm, make_target
from minimax.targets.smoothness import SmoothnessEstimate, estimate_smoothness
from minimax.targets.sparse import SparseMultiscaleDensity

__all__ = [
    "TARGET_KINDS",
    "BesovDensity",
    "GaussianMixture",
    "SmoothnessEstimate",
    "SparseMultiscaleDensity",
    "Target",
    "default_gmm",
    "estimate_smoothness",
    "make_target",
]
