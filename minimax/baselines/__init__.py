"""minimax.baselines: classical estimators used as controls.

The study registers them by name (``minimax.study.builtin_estimators``) with the KDE control's
recipe of ``kde_recipe``.
"""

from minimax.baselines.kde import KDE
from minimax.baselines.kde_oracle import OracleKDE
from minimax.baselines.trivial import BestGaussian, UniformBox
from minimax.baselines.wavelet import WaveletThreshold

__all__ = ["KDE", "BestGaussian", "OracleKDE", "UniformBox", "WaveletThreshold"]
