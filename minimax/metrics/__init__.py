"""minimax.metrics: how far an estimate is from the target (TV, W1, score error)."""

from minimax.metrics.result import MetricResult
from minimax.metrics.score_error import score_error
from minimax.metrics.score_error import time_integral as score_error_integral
from minimax.metrics.tv import tv
from minimax.metrics.tv_exact import tv_exact
from minimax.metrics.tv_mc import tv_mc
from minimax.metrics.wasserstein import w1

__all__ = ["MetricResult", "score_error", "score_error_integral", "tv", "tv_exact", "tv_mc", "w1"]
