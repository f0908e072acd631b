"""Held-out evaluation of ensemble training: which snapshot each member keeps, and when it stops.

Each member holds out a ``heldout_fraction`` of its data (``heldout_split``). Every
``eval_every`` steps the EMA model's loss is computed on fixed (x₀, t, ε) draws, the same at
every evaluation (common random numbers, ``eval_draws``). ``SnapshotKeeper`` applies
TrainConfig's rule: keep the latest snapshot that is not significantly worse than the best so
far (``significantly_worse``: the paired difference clustered by held-out point), and stop a
member whose snapshots are significantly worse for ``patience`` evaluations in a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from minimax.diffusion.train_config import TrainConfig


@dataclass
class MemberReport:
    """What happened to one member of the ensemble."""

    n_train: int
    n_heldout: int
    steps: int = 0
    best_step: int = 0
    train_loss: float = math.nan
    heldout_loss: float = math.nan
    seconds: float = 0.0
    status: str = "running"
    reason: str = ""


def heldout_split(X: np.ndarray, rng: np.random.Generator, fraction: float):
    """(training part, held-out part) of X: round(fraction · n) points, at least 1 and at most
    n - 1 when fraction > 0 (none when 0), chosen by one ``rng.permutation(n)``."""
    n = X.shape[0]
    n_ho = 0 if fraction == 0 else min(max(1, round(fraction * n)), n - 1)
    perm = rng.permutation(n)
    return X[perm[n_ho:]], X[perm[:n_ho]]


@dataclass
class EvalDraws:
    """Fixed evaluation inputs of every member: x_t, c(t), w(t), ε (E, size, ...) and, per
    member, which data point each draw uses (``which``)."""

    xt: torch.Tensor
    c: torch.Tensor
    w: torch.Tensor
    noise: torch.Tensor
    which: list[np.ndarray]


def eval_draws(sets, loss, rngs, gens, size: int, device) -> EvalDraws:
    """``size`` draws per member e from ``sets[e]`` (points from ``rngs[e]``, then times and
    noise from ``gens[e]``, in that order)."""
    which = [rng.integers(0, s.shape[0], size) for s, rng in zip(sets, rngs, strict=True)]
    x0 = np.stack([s[i] for s, i in zip(sets, which, strict=True)])
    t = torch.stack([loss.sample_times((size,), g) for g in gens])
    D = sets[0].shape[1]
    noise = torch.stack([torch.randn((size, D), generator=g, device=device) for g in gens])
    xt, c, w = loss.inputs(torch.as_tensor(x0, dtype=torch.float32, device=device), t, noise)
    return EvalDraws(xt, c, w, noise, which)


def draw_losses(net, flat: torch.Tensor, draws: EvalDraws) -> np.ndarray:
    """Per-draw weighted losses (E, size) of the network with parameters ``flat``, float64 on
    the CPU (their mean over draws is the member's loss)."""
    with torch.no_grad():
        per = draws.w * (net(draws.xt, draws.c, flat) - draws.noise).square().mean(dim=-1)
    return per.double().cpu().numpy()


def significantly_worse(d: np.ndarray, which: np.ndarray, worse_z: float) -> bool:
    """Whether the mean of the paired per-draw differences ``d`` exceeds ``worse_z`` standard
    errors, the error clustered by the draws' data point ``which`` (the draws reuse a few
    hundred points, so a draw-level error would overstate the evidence)."""
    sums = np.bincount(which, weights=d)
    sizes = np.bincount(which)
    mean = float(d.mean())
    se = math.sqrt(float(np.sum((sums - sizes * mean) ** 2))) / d.size
    return mean > worse_z * se


class SnapshotKeeper:
    """Per member: the kept EMA snapshot (``best``, (E, P)) and the early-stop count.

    Evaluation draws come from the held-out parts when ``heldout_fraction`` > 0 (then from the
    training parts as well, for the training loss of the kept snapshot), else from the training
    parts only, and then no member stops early. The draws are made here, at construction.
    """

    def __init__(self, net, loss, train_sets, held_sets, rngs, gens, cfg: TrainConfig,
                 reports: list[MemberReport], initial: torch.Tensor, device):  # fmt: skip
        self.net, self.cfg, self.reports = net, cfg, reports
        self.use_heldout = cfg.heldout_fraction > 0
        self.train = eval_draws(train_sets, loss, rngs, gens, cfg.eval_size, device)
        self.held = (
            eval_draws(held_sets, loss, rngs, gens, cfg.eval_size, device)
            if self.use_heldout else None
        )  # fmt: skip
        self.best = initial.clone()
        self.ref: list = [None] * len(reports)  # per-draw losses of the lowest-loss snapshot
        self.stale = np.zeros(len(reports), dtype=np.int64)

    def evaluate(self, ema: torch.Tensor, members: list[int], done: int) -> list[tuple[int, str]]:
        """Evaluate the EMA weights of ``members`` after ``done`` steps: update their kept
        snapshots and reports; return (member, reason) of those that must stop early."""
        cfg, reports = self.cfg, self.reports
        draws = self.held if self.use_heldout else self.train
        ho = draw_losses(self.net, ema, draws)
        tr_loss = draw_losses(self.net, ema, self.train).mean(axis=1) if self.use_heldout else (
            ho.mean(axis=1))  # fmt: skip
        stop = []
        for e in members:
            v = ho[e]
            h = float(v.mean())
            if not math.isfinite(h):
                self.stale[e] += 1  # a non-finite evaluation is never kept
                continue
            if self.ref[e] is None or h < float(self.ref[e].mean()):
                self.ref[e] = v
            if not significantly_worse(v - self.ref[e], draws.which[e], cfg.worse_z):
                self.best[e] = ema[e]
                self.stale[e] = 0
                reports[e].best_step = done
                reports[e].train_loss = float(tr_loss[e])
                reports[e].heldout_loss = h if self.use_heldout else math.nan
                continue
            self.stale[e] += 1
            if self.use_heldout and cfg.patience > 0 and self.stale[e] >= cfg.patience:
                stop.append((e, f"held-out loss significantly above its best "
                                f"({float(self.ref[e].mean()):.4g}) for {cfg.patience} "
                                f"evaluations (kept step {reports[e].best_step})"))  # fmt: skip
        return stop
