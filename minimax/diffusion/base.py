"""Interfaces of the diffusion engine: forward processes and score sources.

Conventions shared by every module of ``minimax.diffusion``:

* Time is continuous, t in [0, t_end]. The discrete DDPM with T steps is the VP process read at
  t = k/T (k = 1..T), so one truncation time ``t_min`` (T̲, the early-stop time) and one time grid
  serve training and every sampler.
* Every forward process has Gaussian marginals x_t = m(t) x_0 + sigma(t) z (docs/theory.md §2-4).
* Tensors carry the ensemble dimension first: x has shape (E, N, D), E independent models.
* Schedules and closed forms are float64; networks float32.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch


class Process(ABC):
    """A forward noising SDE dx = f(x, t) dt + g(t) dw with Gaussian conditionals.

    Model: ``sde_lib.py`` of score_sde_pytorch (Song et al. 2021), without image broadcasting.
    """

    name: str
    #: the terminal time T̄ where sampling starts from the prior
    t_end: float

    @abstractmethod
    def marginal(self, t):
        """(mean_coef m(t), std sigma(t)) of x_t given x_0, for t a float, numpy array or tensor.

        Computed in float64; returns the same kind of object as ``t`` (tensors on t's device).
        """

    @abstractmethod
    def sde(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | float]:
        """(drift f(x, t), diffusion g(t)) of the forward SDE."""

    @abstractmethod
    def prior_sample(self, shape, generator: torch.Generator, device="cpu") -> torch.Tensor:
        """Draws from the prior at t_end (N(0, I) for VP/sub-VP/OU, N(0, sigma_max² I) for VE)."""

    def reverse_drift(self, x: torch.Tensor, t: float, score: torch.Tensor, probability_flow=False):
        """Drift of the reverse-time SDE f - g² score, or of the probability-flow ODE f - ½ g² score."""
        f, g = self.sde(x, t)
        return f - (0.5 if probability_flow else 1.0) * (g**2) * score


class ScoreSource(ABC):
    """A callable score s(x, t) ≈ ∇_x log p_t(x), batched over an ensemble of E models."""

    process: Process
    #: number of independent models; inputs x have shape (E, N, D)
    ensemble_size: int = 1

    @abstractmethod
    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The score at (x, t); x and the result have shape (E, N, D)."""

    def eps(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The noise prediction linked to the score: eps = -sigma(t) · score (docs/theory.md §3)."""
        _, std = self.process.marginal(float(t))
        return -std * self.score(x, t)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return self.score(x, t)


def as_numpy_time(t) -> np.ndarray:
    """t as a float64 numpy array (helper for closed forms)."""
    return np.asarray(t, dtype=np.float64)
