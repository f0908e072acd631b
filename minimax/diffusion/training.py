"""Training E denoising networks at once as one batched ensemble (issue 3).

``train_ensemble(Xs, process, config, rngs)`` trains member e on ``Xs[e]`` (sizes may differ)
with exactly the computation a lone training with the same ``rngs[e]`` would do:

* the loss is the sum of the member losses, so each member's parameters get their own gradient;
* Adam is elementwise, with a per-member step count (Kingma & Ba 2015, as ``torch.optim.Adam``);
  gradient clipping uses each member's own gradient norm (optim.py);
* every random draw (held-out split, initial weights, minibatch indices, times, noise) comes from
  the member's own generator; minibatches are drawn in blocks of ``block_steps`` steps;
* a member that stops (held-out early stop, divergence) is frozen by masking its update,
  never dropped, so the others are unaffected.

Per member the result records steps done, the training and held-out denoising losses of the
model that is kept (the EMA weights at the best held-out evaluation, heldout.py; their gap is a
memorisation signal), wall time, status ("completed", "early_stopped" or "diverged") and a
reason. The run's configuration is ``train_config.TrainConfig``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from minimax.diffusion.base import Process
from minimax.diffusion.coordinates import standardization
from minimax.diffusion.heldout import MemberReport, SnapshotKeeper, heldout_split
from minimax.diffusion.losses import make_loss
from minimax.diffusion.networks import EnsembleMLP, Standardizer, member_generators
from minimax.diffusion.optim import MemberOptimizer, adam_step
from minimax.diffusion.train_config import LR_SCHEDULES, STANDARDIZE, TrainConfig, resolve_times
from minimax.runtime import resolve_device
from minimax.validation import check_points, check_rng

__all__ = [
    "LR_SCHEDULES", "STANDARDIZE", "EnsembleFit", "MemberReport", "TrainConfig", "adam_step",
    "check_datasets", "resolve_times", "standardization", "train_ensemble",
]  # fmt: skip

#: check the device-side divergence flags after every step (one host sync per step) instead of
#: at each evaluation; the results are the same either way (tests compare the two), only the
#: wall time reported for a diverged member differs (taken when the flag is read)
SYNC_EVERY_STEP = False


@dataclass
class EnsembleFit:
    """The trained ensemble: EMA network at each member's best evaluation, its data transform,
    the loss object (with t_min, t_end) and per-member reports.

    ``loss_history`` is (E, steps run) of minibatch losses (NaN once a member is frozen).
    """

    network: EnsembleMLP
    standardizer: Standardizer
    loss: object
    members: list[MemberReport]
    loss_history: np.ndarray
    config: TrainConfig
    seconds: float
    device: str
    extra: dict = field(default_factory=dict)


class _IndexStream:
    """Minibatch indices of one member: concatenated random permutations (epochs) of range(n)."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n, self.rng = n, rng
        self.buf = np.empty(0, dtype=np.int64)

    def take(self, count: int) -> np.ndarray:
        while self.buf.size < count:
            self.buf = np.concatenate([self.buf, self.rng.permutation(self.n)])
        out, self.buf = self.buf[:count], self.buf[count:]
        return out


def _upload(idx: np.ndarray, device) -> torch.Tensor:
    """Minibatch indices to the device; on CUDA through pinned memory without a host sync."""
    if torch.device(device).type == "cuda":
        return torch.from_numpy(idx).pin_memory().to(device, non_blocking=True)
    return torch.as_tensor(idx, device=device)


def _pad(arrays: list[np.ndarray], device) -> torch.Tensor:
    n_max = max(a.shape[0] for a in arrays)
    out = np.zeros((len(arrays), n_max, arrays[0].shape[1]), dtype=np.float32)
    for e, a in enumerate(arrays):
        out[e, : a.shape[0]] = a
    return torch.as_tensor(out, device=device)


def check_datasets(Xs, rngs) -> tuple[list[np.ndarray], list[np.random.Generator]]:
    """Validated copies of the training sets (same D, finite, ≥ 2 points) and generators."""
    if not isinstance(Xs, list | tuple) or len(Xs) == 0:
        raise ValueError(
            f"Xs={type(Xs).__name__} is not allowed: expected a non-empty list of (n, D) arrays"
        )
    if not isinstance(rngs, list | tuple) or len(rngs) != len(Xs):
        raise ValueError(
            f"rngs={rngs!r} is not allowed: expected a list of {len(Xs)} numpy Generators"
        )
    first = check_points("Xs[0]", Xs[0])
    arrays = [first] + [check_points(f"Xs[{e}]", X, first.shape[1]) for e, X in enumerate(Xs) if e]
    for e, a in enumerate(arrays):
        if a.shape[0] < 2:
            raise ValueError(f"Xs[{e}] has n={a.shape[0]} points: expected at least 2")
    return arrays, [check_rng(f"rngs[{e}]", r) for e, r in enumerate(rngs)]


class _Divergence:
    """Divergence flags kept on the device (no host sync per step).

    A member diverges at its first step with a non-finite loss or gradient norm, or a loss
    above ``factor`` × its first loss; that step, loss and gradient norm are recorded on the
    device, and ``flag`` deactivates the member at once. ``newly_diverged`` reads them (one
    host read) for the reports.
    """

    def __init__(self, E: int, factor: float, device):
        self.factor = factor
        self.step = torch.full((E,), -1, dtype=torch.int64, device=device)
        self.first = self.loss = self.gnorm = None

    def flag(self, step: int, loss: torch.Tensor, gnorm: torch.Tensor, active: torch.Tensor):
        """The members still active after this step's check."""
        if self.first is None:
            self.first = loss.clone()
            self.loss, self.gnorm = torch.zeros_like(loss), torch.zeros_like(loss)
        bad = active & ~(
            torch.isfinite(loss) & torch.isfinite(gnorm) & (loss <= self.factor * self.first)
        )
        self.step = torch.where(bad, step, self.step)
        self.loss = torch.where(bad, loss, self.loss)
        self.gnorm = torch.where(bad, gnorm, self.gnorm)
        return active & ~bad

    def newly_diverged(self, reports: list[MemberReport]) -> list[tuple[int, str, int]]:
        """(member, reason, steps done) of the flagged members whose report is still running."""
        flagged = self.step.cpu().numpy()
        todo = [e for e in np.flatnonzero(flagged >= 0) if reports[e].status == "running"]
        if not todo:
            return []
        vals = torch.stack([self.loss, self.gnorm, self.first]).double().cpu().numpy()
        out = []
        for e in todo:
            s, v, g, f = int(flagged[e]), float(vals[0, e]), float(vals[1, e]), float(vals[2, e])
            why = (
                f"non-finite training loss ({v}) at step {s + 1}"
                if not math.isfinite(v)
                else f"non-finite gradient at step {s + 1}"
                if not math.isfinite(g)
                else f"training loss {v:.3g} exceeded {self.factor:g} x its first value "
                f"{f:.3g} at step {s + 1}"
            )
            out.append((int(e), why, s))
        return out


def _prepare(arrays, rngs, cfg: TrainConfig):
    """Per member, in this order (part of the contract): held-out split, then the transform
    fitted on the training part. Returns (train sets, held-out sets, shifts, scales, reports),
    the sets in model coordinates."""
    D = arrays[0].shape[1]
    train_sets, held_sets, shifts, scales, reports = [], [], [], [], []
    for X, rng in zip(arrays, rngs, strict=True):
        tr, ho = heldout_split(X, rng, cfg.heldout_fraction)
        if cfg.standardize == "none":
            shift, scale = np.zeros(D), np.ones(D)
        else:
            shift, scale = standardization(tr, cfg.box if cfg.standardize == "box" else None)
        train_sets.append((tr - shift) / scale)
        held_sets.append((ho - shift) / scale)
        shifts.append(shift)
        scales.append(scale)
        reports.append(MemberReport(n_train=tr.shape[0], n_heldout=ho.shape[0]))
    return train_sets, held_sets, shifts, scales, reports


def train_ensemble(Xs, process: Process, config: TrainConfig, rngs) -> EnsembleFit:
    """Train one ε-network per training set, all at once (see the module docstring).

    ``rngs[e]`` (numpy Generators) drive member e entirely, so member e's result equals a lone
    ``train_ensemble([Xs[e]], process, config, [rngs[e]])`` up to float rounding.
    """
    arrays, rngs = check_datasets(Xs, rngs)
    D = arrays[0].shape[1]
    cfg = config.validated(D)
    device = resolve_device(cfg.device)
    t_min, t_end, T = resolve_times(process, cfg)
    loss = make_loss(cfg.loss, process, t_min, t_end, steps=T, variance=cfg.loss_variance)
    E = len(arrays)
    train_sets, held_sets, shifts, scales, reports = _prepare(arrays, rngs, cfg)
    net = EnsembleMLP(D, cfg.width, cfg.depth, member_generators(rngs, device),
                      x_finest_scale=cfg.x_finest_scale, x_frequencies=cfg.x_frequencies,
                      device=device)  # fmt: skip
    gens = member_generators(rngs, device)
    streams = [_IndexStream(tr.shape[0], rng) for tr, rng in zip(train_sets, rngs, strict=True)]
    Xtr = _pad(train_sets, device)
    standardizer = Standardizer(
        torch.as_tensor(np.stack(shifts)[:, None, :], dtype=torch.float64, device=device),
        torch.as_tensor(np.stack(scales)[:, None, :], dtype=torch.float64, device=device),
    )
    opt = MemberOptimizer(net.flat, cfg)
    keeper = SnapshotKeeper(net, loss, train_sets, held_sets, rngs, gens, cfg, reports, opt.ema,
                            device)  # fmt: skip
    divergence = _Divergence(E, cfg.divergence_factor, device)
    active = torch.ones(E, dtype=torch.bool, device=device)
    history = []
    start = time.perf_counter()
    K, B = cfg.block_steps, cfg.batch_size

    def freeze(e: int, status: str, reason: str, step: int):
        active[e] = False
        reports[e].status, reports[e].reason = status, reason
        reports[e].seconds = time.perf_counter() - start
        reports[e].steps = step

    def report_divergence():
        for e, why, s in divergence.newly_diverged(reports):
            freeze(e, "diverged", why, s)

    step = 0
    for step in range(cfg.steps):
        if step % K == 0:
            kb = min(K, cfg.steps - step)
            idx = np.stack([s.take(kb * B) for s in streams])
            idx_t = _upload(idx, device).view(E, kb * B, 1).expand(-1, -1, D)
            x0_blk = torch.gather(Xtr, 1, idx_t).view(E, kb, B, D)
            t_blk = torch.stack([loss.sample_times((kb, B), g) for g in gens])
            noise_blk = torch.stack(
                [torch.randn((kb, B, D), generator=g, device=device) for g in gens]
            )
            mean_blk, std_blk, c_blk, w_blk = loss.coefficients(t_blk)
        j = step % K
        x0, noise = x0_blk[:, j], noise_blk[:, j]
        xt = mean_blk[:, j, :, None] * x0 + std_blk[:, j, :, None] * noise
        views = net.views(opt.p)
        per = loss.per_member(net(xt, c_blk[:, j], views=views), noise, w_blk[:, j])
        per_d = per.detach()
        total = torch.where(active, per, torch.zeros_like(per)).sum()
        grads = torch.autograd.grad(total, views)
        grad = torch.cat([g.reshape(E, -1) for g in grads], dim=1)
        gnorm = grad.square().sum(dim=1).sqrt()
        active = divergence.flag(step, per_d, gnorm, active)
        if SYNC_EVERY_STEP:
            report_divergence()
        history.append(torch.where(active, per_d, torch.full_like(per_d, math.nan)))
        opt.step(grad, gnorm, active)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            report_divergence()
            members = torch.nonzero(active).flatten().tolist()
            for e, why in keeper.evaluate(opt.ema, members, done):
                freeze(e, "early_stopped", why, done)
            if not bool(active.any()):
                break
    seconds = time.perf_counter() - start
    report_divergence()
    for e in torch.nonzero(active).flatten().tolist():
        freeze(e, "completed", f"ran all {cfg.steps} steps", step + 1)
    p, best = opt.p.detach(), keeper.best
    for e, r in enumerate(reports):
        if r.best_step == 0:  # diverged before the first evaluation: keep the last finite weights
            best[e] = p[e] if bool(torch.isfinite(p[e]).all()) else opt.ema[e]
    hist = torch.stack(history, dim=1).cpu().numpy() if history else np.zeros((E, 0))
    extra = {"t_min": t_min, "t_end": t_end, "loss_steps": T}
    return EnsembleFit(EnsembleMLP.like(net, best), standardizer, loss, reports, hist, cfg,
                       seconds, device, extra=extra)  # fmt: skip
