"""Score sources that need no training: exact (Gaussian mixture), empirical, and oracle.

All follow :class:`minimax.diffusion.base.ScoreSource`: ``score(x, t)`` with x of shape
(E, N, D) and a float time t, computed in float64 and returned as float64 on x's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax.diffusion.base import Process, ScoreSource
from minimax.targets.gaussian_mixture import GaussianMixture
from minimax.validation import check_int, check_points

#: default bound on the number of (query, training point) pairs held at once per score call
DEFAULT_BLOCK_ENTRIES = 1 << 22


def _check_process(process) -> Process:
    if not isinstance(process, Process):
        raise ValueError(f"process={process!r} is not allowed: expected a diffusion Process")
    return process


def _check_x(x: torch.Tensor, dim: int, ens: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x with shape {shape} is not allowed: expected a tensor (E, N, {dim})")
    if ens > 1 and x.shape[0] != ens:
        raise ValueError(f"x with shape {tuple(x.shape)} is not allowed: expected E={ens} first")
    return x.to(torch.float64)


class ExactGMMScore(ScoreSource):
    """The exact score ∇ log q_t of a Gaussian mixture's marginals (theory.md §5).

    q_t is the law of m(t) X + sigma(t) Z, again a Gaussian mixture
    (``GaussianMixture.marginal``). The same mixture serves every ensemble member.
    """

    ensemble_size = 1

    def __init__(self, gmm: GaussianMixture, process: Process):
        if not isinstance(gmm, GaussianMixture):
            raise ValueError(f"gmm={gmm!r} is not allowed: expected a GaussianMixture")
        self.gmm, self.process, self.dim = gmm, _check_process(process), gmm.dim

    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        x = _check_x(x, self.dim, 1)
        m, std = self.process.marginal(float(t))
        return self.gmm.marginal(m, std).score_torch(x)


class EmpiricalScore(ScoreSource):
    """The score of (1/n) Σ_i N(m(t) x_i, sigma(t)² I): the exact minimiser of the empirical
    denoising loss (theory.md §5), so sampling with it down to t_min draws from the Gaussian
    KDE of bandwidth sigma(t_min)/m(t_min) (after Tweedie denoising, see the tests).

    ``X`` is one training set (n, D) or a list of E sets (sizes may differ) for an ensemble.
    s(x) = (m Σ_i w_i x_i - x)/sigma², w = softmax_i(-|x - m x_i|²/(2 sigma²)) by logsumexp, in
    float64, in blocks of queries so that at most ``block_entries`` (query, point) pairs per
    member are held at once.
    """

    def __init__(self, X, process: Process, *, block_entries: int = DEFAULT_BLOCK_ENTRIES):
        sets = X if isinstance(X, list | tuple) else [X]
        if len(sets) == 0:
            raise ValueError("X=[] is not allowed: expected at least one training set")
        sets = [check_points("X", s) for s in sets]
        dim = sets[0].shape[1]
        sets = [check_points("X", s, dim) for s in sets]
        if any(len(s) == 0 for s in sets):
            raise ValueError("X with an empty training set is not allowed: expected n >= 1")
        self.process = _check_process(process)
        self.block_entries = check_int("block_entries", block_entries, low=1)
        self.dim, self.ensemble_size = dim, len(sets)
        self.sizes = [len(s) for s in sets]
        n_max = max(self.sizes)
        points = np.zeros((len(sets), n_max, dim))
        log_w = np.full((len(sets), n_max), -np.inf)
        for e, s in enumerate(sets):
            points[e, : len(s)] = s
            log_w[e, : len(s)] = -math.log(len(s))
        self._points, self._log_w = points, log_w
        self._cache: dict = {}

    def _on(self, device):
        key = str(device)
        if key not in self._cache:
            pts = torch.as_tensor(self._points, dtype=torch.float64, device=device)
            self._cache[key] = (pts, torch.as_tensor(self._log_w, device=device),
                                (pts * pts).sum(-1))  # fmt: skip
        return self._cache[key]

    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        x = _check_x(x, self.dim, self.ensemble_size)
        pts, log_w, sq = self._on(x.device)
        m, std = self.process.marginal(float(t))
        var = std**2
        if x.shape[0] != pts.shape[0]:  # one training set shared by every member
            pts, log_w, sq = (a.expand(x.shape[0], *a.shape[1:]) for a in (pts, log_w, sq))
        rows = max(1, self.block_entries // pts.shape[1])
        out = torch.empty_like(x)
        for i in range(0, x.shape[1], rows):
            xb = x[:, i : i + rows]
            # |x - m x_i|² expanded; float64 keeps the cancellation error far below sigma²
            d2 = torch.baddbmm(
                (xb * xb).sum(-1, keepdim=True) + (m * m) * sq.unsqueeze(1),
                xb, pts.transpose(1, 2), alpha=-2.0 * m,
            ).clamp_min_(0.0)  # fmt: skip
            w = torch.softmax(log_w.unsqueeze(1) - d2 / (2.0 * var), dim=-1)
            out[:, i : i + rows] = (m * torch.bmm(w, pts) - xb) / var
        return out
