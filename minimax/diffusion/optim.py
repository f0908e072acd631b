"""The per-member optimiser of ensemble training: masked Adam, clipping, schedule and EMA.

Every state tensor has a leading member dimension E, and a member that is not active (stopped
or diverged) keeps its parameters, moments, step count and EMA unchanged, so the members of
one batched run never affect each other.
"""

from __future__ import annotations

import math

import torch

from minimax.diffusion.train_config import TrainConfig


def lr_factor(cfg: TrainConfig, k: torch.Tensor) -> torch.Tensor:
    """The schedule's multiplier of lr at (1-based) step k, per member: 1 ("constant"); a
    linear ramp to 1 over ``warmup_steps`` ("warmup"); the ramp times a cosine decay from 1 at
    ``warmup_steps`` to ``lr_min_ratio`` at ``steps`` ("cosine")."""
    if cfg.lr_schedule == "constant":
        return torch.ones_like(k)
    ramp = (
        torch.clamp(k / cfg.warmup_steps, max=1.0) if cfg.warmup_steps > 0 else torch.ones_like(k)
    )
    if cfg.lr_schedule == "warmup":
        return ramp
    span = max(cfg.steps - cfg.warmup_steps, 1)
    frac = torch.clamp((k - cfg.warmup_steps) / span, min=0.0, max=1.0)
    cos = cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + torch.cos(math.pi * frac))
    return ramp * cos


@torch.no_grad()
def adam_step(p, grad, m1, m2, k, active, lr, b1: float, b2: float, eps: float) -> None:
    """One masked Adam update of flat parameters p (E, P) in place, per member.

    Same arithmetic as ``torch.optim.Adam`` (Kingma & Ba 2015, Alg. 1 with bias correction):
    m1 ← β1 m1 + (1-β1) g; m2 ← β2 m2 + (1-β2) g²; p ← p - lr/(1-β1^k) · m1/(√m2/√(1-β2^k) + eps),
    with k (E,) each member's own step count (≥ 1) and lr (E,) its own learning rate. Members
    with ``active`` False keep p, m1 and m2 unchanged.
    """
    a = active.to(p.dtype).unsqueeze(1)
    m1.lerp_(grad, (1 - b1) * a)
    m2.lerp_(grad * grad, (1 - b2) * a)
    step_size = (lr / (1 - b1**k)).to(p.dtype).unsqueeze(1) * a
    denom = (m2.sqrt() / torch.sqrt(1 - b2**k).to(p.dtype).unsqueeze(1)).add_(eps)
    p.addcdiv_(m1 * step_size, denom, value=-1.0)


class MemberOptimizer:
    """Adam on flat parameters ``p`` (E, P), updated in place, with the EMA of the weights.

    A step zeroes inactive members' gradients, clips each active member's gradient to norm
    ``grad_clip`` (when set), advances the step counts of the active members, applies
    ``adam_step`` at lr · ``lr_factor`` and moves the EMA towards p with decay
    min(``ema_decay``, (1+k)/(10+k)) (a warm-up of the average).
    """

    def __init__(self, p: torch.Tensor, cfg: TrainConfig):
        self.p, self.cfg = p, cfg
        self.m1 = torch.zeros_like(p)
        self.m2 = torch.zeros_like(p)
        self.ema = p.detach().clone()
        self.k = torch.zeros(p.shape[0], dtype=torch.float64, device=p.device)

    def step(self, grad: torch.Tensor, gnorm: torch.Tensor, active: torch.Tensor) -> None:
        """One update from the members' gradients (E, P) and their norms (E,)."""
        cfg, p = self.cfg, self.p
        a = active.to(p.dtype).unsqueeze(1)
        grad = torch.where(active.unsqueeze(1), grad, torch.zeros_like(grad))
        if cfg.grad_clip is not None:
            clip = torch.clamp(cfg.grad_clip / (gnorm + 1e-6), max=1.0)
            grad = grad * torch.where(active, clip, torch.ones_like(clip)).unsqueeze(1)
        self.k = self.k + active.to(self.k.dtype)
        kk = torch.clamp(self.k, min=1.0)
        b1, b2 = cfg.betas
        with torch.no_grad():
            adam_step(p, grad, self.m1, self.m2, kk, active, cfg.lr * lr_factor(cfg, kk), b1, b2,
                      cfg.adam_eps)  # fmt: skip
            decay = torch.clamp((1 + kk) / (10 + kk), max=cfg.ema_decay).to(p.dtype).unsqueeze(1)
            self.ema.lerp_(p, (1 - decay) * a)
