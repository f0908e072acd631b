"""Denoising losses as small callable classes (in the style of NVlabs/edm's ``loss.py``).

Every loss draws a diffusion time t and noise ε, forms x_t = m(t) x_0 + σ(t) ε from the
process's Gaussian conditional, and scores the network's ε prediction with a weight w(t):

    L_e = mean over the batch of  w(t) · ‖ε - ε_θ(x_t, t)‖² / D,     one value per member e.

Since ‖ε - ε_θ‖²/σ(t)² = ‖s_θ - ∇ log q(x_t | x_0)‖² with s_θ = -ε_θ/σ(t), each loss is a
weighted denoising score-matching loss (docs/theory.md §3). Weights are normalised to mean 1 under
the loss's own time distribution, so learning rates carry over between losses; the objective
is then proportional to the stated one.

Times live on the process's continuous clock; the discrete DDPM with T steps is read at
t = k/T, and only times in [t_min, t_end] (T̲, T̄) are drawn: training and sampling share one
truncation (docs/design.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax.diffusion.base import Process
from minimax.validation import check_choice, check_int, check_real


class DenoisingLoss:
    """Base class: subclasses define ``sample_times`` and ``weight``."""

    name: str

    def __init__(self, process: Process, t_min: float, t_end: float):
        self.process = process
        self.t_min = check_real("t_min", t_min, low=0.0, low_open=True)
        self.t_end = check_real("t_end", t_end, low=0.0, low_open=True)
        if self.t_min >= self.t_end:
            raise ValueError(f"t_min={t_min!r} is not allowed: expected t_min < t_end={t_end!r}")

    def sample_times(self, shape, generator: torch.Generator) -> torch.Tensor:
        """Training times of the given shape, float64, on the generator's device."""
        raise NotImplementedError

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """The loss weight w(t) (float64, mean 1 under ``sample_times``)."""
        return torch.ones_like(t)

    def coefficients(self, t: torch.Tensor):
        """(m(t), σ(t), c(t) = ¼ log σ(t), w(t)) as float32 tensors, computed in float64."""
        t = t.to(torch.float64)
        mean, std = self.process.marginal(t)
        out = (mean, std, 0.25 * torch.log(std), self.weight(t))
        return tuple(a.to(torch.float32) for a in out)

    def inputs(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor):
        """(x_t, c(t), w(t)) in float32 for a batch; t of shape x0.shape[:-1]."""
        mean, std, c, w = self.coefficients(t)
        xt = mean.unsqueeze(-1) * x0 + std.unsqueeze(-1) * noise
        return xt, c, w

    @staticmethod
    def per_member(eps_pred: torch.Tensor, noise: torch.Tensor, weight: torch.Tensor):
        """The weighted loss per member, shape (E,), from tensors (E, B, D), (E, B, D), (E, B)."""
        sq = (eps_pred - noise).square().mean(dim=-1)
        return (weight * sq).mean(dim=-1)

    def __call__(self, network, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per-member losses (E,) at x0 (E, B, D), drawing t and ε from one generator.

        A convenience for evaluation; training draws per-member streams itself (training.py).
        """
        t = self.sample_times(x0.shape[:-1], generator)
        noise = torch.randn(x0.shape, generator=generator, device=generator.device)
        xt, c, w = self.inputs(x0, t.to(x0.device), noise.to(x0.device))
        return self.per_member(network(xt, c), noise.to(x0.device), w)

    def describe(self) -> dict:
        return {"loss": self.name, "t_min": self.t_min, "t_end": self.t_end}


class _GridLoss(DenoisingLoss):
    """Times on the DDPM grid t = k/T with k uniform on {k : t_min ≤ k/T ≤ t_end}."""

    def __init__(self, process: Process, t_min: float, t_end: float, steps: int):
        super().__init__(process, t_min, t_end)
        self.steps = check_int("steps", steps, low=1)
        # a small tolerance so t_min = 1/T keeps k = 1 despite rounding
        self.k_lo = max(1, math.ceil(self.t_min * self.steps - 1e-9))
        self.k_hi = min(self.steps, math.floor(self.t_end * self.steps + 1e-9))
        if self.k_hi < self.k_lo:
            raise ValueError(
                f"t_min={t_min!r} is not allowed: no grid time k/{self.steps} lies in "
                f"[t_min, t_end={t_end!r}]"
            )
        self._tables: dict = {}

    def coefficients(self, t: torch.Tensor):
        """As the base class; off the CPU read from a table of the grid times (computed there by
        the same float64 code once per device), so no time tensor travels to the host."""
        if t.device.type == "cpu":
            return super().coefficients(t)
        return self.table_coefficients(t)

    def table_coefficients(self, t: torch.Tensor):
        """``coefficients`` by table lookup on t's device (t on the grid k/T, k_lo ≤ k ≤ k_hi)."""
        key = str(t.device)
        if key not in self._tables:
            k = torch.arange(self.k_lo, self.k_hi + 1, dtype=torch.float64)
            cols = super().coefficients(k / self.steps)
            self._tables[key] = torch.stack(cols).to(t.device)
        table = self._tables[key]
        idx = torch.round(t.to(torch.float64) * self.steps).to(torch.long) - self.k_lo
        return tuple(table[i][idx] for i in range(4))

    def sample_times(self, shape, generator):
        k = torch.randint(
            self.k_lo, self.k_hi + 1, tuple(shape), generator=generator, device=generator.device
        )
        return k.to(torch.float64) / self.steps

    def describe(self) -> dict:
        return super().describe() | {"loss_steps": self.steps}


class SimpleLoss(_GridLoss):
    """Ho et al. (2020) L_simple: w = 1, t uniform on the grid {k/T} within [T̲, T̄]."""

    name = "simple"


class ELBOLoss(_GridLoss):
    """The DDPM variational bound, ε-form (docs/theory.md §3): per step k the weight

        β_k² / (2 σ_k² α_k (1 - ᾱ_k)),   with reverse variance σ_k² = β_k ("large") or β̃_k ("small"),

    with ᾱ_k = m(k/T)² read off the process (so any VP-type schedule works), α_k = ᾱ_k/ᾱ_{k-1},
    β_k = 1 - α_k, β̃_k = (1 - ᾱ_{k-1})/(1 - ᾱ_k) β_k. At k = 1, β̃_1 = 0 (the last reverse step is
    deterministic), so σ_1² = β_1 is used there. Normalised to mean 1 over the drawn grid.
    """

    name = "elbo"

    def __init__(self, process, t_min, t_end, steps, variance: str = "large"):
        super().__init__(process, t_min, t_end, steps)
        self.variance = check_choice("variance", variance, ("large", "small"))
        k = np.arange(0, self.steps + 1, dtype=np.float64)
        mean, _ = process.marginal(np.maximum(k, 1e-300) / self.steps)
        abar = np.asarray(mean, dtype=np.float64) ** 2
        abar[0] = 1.0
        alpha = abar[1:] / abar[:-1]
        beta = 1.0 - alpha
        one_minus = -np.expm1(np.log(abar))  # 1 - ᾱ, accurate when ᾱ ≈ 1
        if variance == "large":
            var = beta.copy()
        else:
            var = one_minus[:-1] / one_minus[1:] * beta
            var[0] = beta[0]
        w = beta**2 / (2 * var * alpha * one_minus[1:])
        sel = w[self.k_lo - 1 : self.k_hi]
        self._table = torch.tensor(w / sel.mean(), dtype=torch.float64)
        self._on_device = {"cpu": self._table}

    def weight(self, t):
        k = torch.round(t * self.steps).to(torch.long) - 1
        key = str(t.device)
        if key not in self._on_device:
            self._on_device[key] = self._table.to(t.device)
        return self._on_device[key][k]

    def describe(self) -> dict:
        return super().describe() | {"loss_variance": self.variance}


class ContinuousLoss(DenoisingLoss):
    """Oko et al. (2023), Thm C.8: t log-uniform on [T̲, T̄] with λ(t) ∝ t.

    Density 1/(t log(T̄/T̲)) times weight t is uniform in t, so the objective is proportional to
    ∫_T̲^T̄ E‖s_θ(x_t, t) - ∇ log q(x_t | x_0)‖² dt; in ε-form the weight is w(t) ∝ t/σ(t)².
    The normaliser E[t/σ²] = (1/log(T̄/T̲)) ∫ dt/σ(t)² is computed by the trapezoid rule on a
    fine geometric grid (float64).
    """

    name = "continuous"

    def __init__(self, process, t_min, t_end):
        super().__init__(process, t_min, t_end)
        grid = np.geomspace(self.t_min, self.t_end, 4001)
        _, std = process.marginal(grid)
        integral = np.trapezoid(1.0 / np.asarray(std, dtype=np.float64) ** 2, grid)
        self._norm = float(integral / math.log(self.t_end / self.t_min))

    def sample_times(self, shape, generator):
        u = torch.rand(
            tuple(shape), generator=generator, device=generator.device, dtype=torch.float64
        )
        return self.t_min * torch.exp(u * math.log(self.t_end / self.t_min))

    def weight(self, t):
        _, std = self.process.marginal(t)
        return t / std**2 / self._norm


LOSSES = ("simple", "elbo", "continuous")


def make_loss(
    name: str,
    process: Process,
    t_min: float,
    t_end: float,
    *,
    steps: int | None = None,
    variance: str = "large",
) -> DenoisingLoss:
    """Build a loss by name ("simple", "elbo", "continuous").

    The grid losses need the number of DDPM steps T (``steps``); "continuous" ignores it.
    """
    check_choice("loss", name, LOSSES)
    if name == "continuous":
        return ContinuousLoss(process, t_min, t_end)
    if steps is None:
        raise ValueError(
            f"steps=None is not allowed: loss={name!r} needs the number of grid steps T"
        )
    if name == "simple":
        return SimpleLoss(process, t_min, t_end, steps)
    return ELBOLoss(process, t_min, t_end, steps, variance)
