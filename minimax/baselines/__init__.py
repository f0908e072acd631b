"""minimax.baselines: classical estimators used as controls.

``BASELINES`` maps a short name to (class, one-line description); the study layer builds
estimators from it by name.
"""

from minimax.baselines.kde import KDE
from minimax.baselines.kde_oracle import OracleKDE
from minimax.baselines.trivial import BestGaussian, UniformBox
from minimax.baselines.wavelet import WaveletThreshold

BASELINES = {
    "kde": (
        KDE,
        "kernel density estimate, theory/rule/CV bandwidth, boundary-corrected on the box",
    ),
    "kde-oracle": (OracleKDE, "KDE with the grid bandwidth minimising the exact TV (an oracle)"),
    "wavelet": (
        WaveletThreshold,
        "average-interpolating wavelet hard thresholding on the box (nonlinear control)",
    ),
    "uniform": (UniformBox, "uniform density on the box: knowing nothing but the support"),
    "gaussian": (BestGaussian, "maximum-likelihood Gaussian with full covariance"),
}

__all__ = ["BASELINES", "KDE", "BestGaussian", "OracleKDE", "UniformBox", "WaveletThreshold"]
