"""Training E denoising networks at once as one batched ensemble (issue 3).

``train_ensemble(Xs, process, config, rngs)`` trains member e on ``Xs[e]`` (sizes may differ)
with exactly the computation a lone training with the same ``rngs[e]`` would do:

* the loss is the sum of the member losses, so each member's parameters get their own gradient;
* Adam is elementwise, with a per-member step count (Kingma & Ba 2015, as ``torch.optim.Adam``);
  gradient clipping uses each member's own gradient norm;
* every random draw (held-out split, initial weights, minibatch indices, times, noise) comes from
  the member's own generator; minibatches are drawn in blocks of ``block_steps`` steps;
* a member that stops (held-out early stop, divergence) is frozen by masking its update,
  never dropped, so the others are unaffected.

Per member the result records steps done, the training and held-out denoising losses of the
model that is kept (the EMA weights at the best held-out evaluation; their gap is a memorisation
signal), wall time, status ("completed", "early_stopped" or "diverged") and a reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from minimax.diffusion.base import Process
from minimax.diffusion.losses import LOSSES, make_loss
from minimax.diffusion.networks import EnsembleMLP, Standardizer, member_generators
from minimax.runtime import resolve_device
from minimax.validation import check_choice, check_int, check_points, check_real, check_rng

LR_SCHEDULES = ("constant", "warmup", "cosine")
STANDARDIZE = ("moments", "box", "none")


@dataclass
class TrainConfig:
    """Everything that defines one training run (all members share it).

    Network: ``width`` × ``depth`` SiLU MLP; ``x_finest_scale`` adds Fourier features of x down to
    that scale (in model units). Loss: ``loss`` in LOSSES on [``t_min``, ``t_end``] (None: the
    process's own grid start 1/T and its t_end); ``loss_steps`` T of the DDPM grid (None: from
    the process). Optimiser: Adam(``lr``, ``betas``, ``adam_eps``), schedule ``lr_schedule``
    ("constant"; "warmup": linear ramp over ``warmup_steps`` then constant; "cosine": the ramp then
    cosine decay to ``lr_min_ratio``·lr at ``steps``), per-member gradient-norm clip ``grad_clip``
    (None: off), EMA with decay ``ema_decay`` (warmed up as min(decay, (1+k)/(10+k))).
    Early stop: a ``heldout_fraction`` of each member's data is held out; every ``eval_every``
    steps the EMA model's loss on ``eval_size`` fixed (x₀, t, ε) draws (common random numbers) is
    computed. The kept snapshot is the latest one that is not significantly worse than the best
    so far: worse means its mean held-out loss exceeds the best's by more than ``worse_z``
    standard errors of the paired difference, clustered by held-out point (the draws reuse a few
    hundred points, so draw-level errors would overstate the evidence). A member whose snapshots
    are significantly worse for ``patience`` evaluations in a row stops (memorisation). Why not
    "keep the lowest held-out loss": with a few hundred held-out points that minimum is mostly
    noise, and it picked under-trained snapshots (measured, D = 1, s = 1 smooth-boundary Besov
    target, n = 2000, one data set, two training seeds: best steps 1200 and 800 of 2,828 with
    TV 0.059 and 0.067, against 0.054 and 0.057 when trained to the end; with 2048 draws it
    once picked step 400, TV 0.062 vs 0.051). As a study (studies/ablation_heldout_*.toml, same
    target, n = 500/2000/8000, 3 replicates, paired fits): mean TV 0.078/0.049/0.042 with the
    lowest-loss rule (``worse_z=0``) and 0.071/0.043/0.031 with this one; paired difference
    0.008 ± 0.0025 (t = 3.3, 8 df). Divergence: a non-finite loss or gradient, or a loss above
    ``divergence_factor`` × the member's first loss. ``standardize``: "moments" (per-axis mean
    and sd of the member's training data → 0 and 1), "box" (each bounded axis of ``box`` (D, 2)
    → [-1, 1], the setting of Oko et al.; unbounded axes by moments), or "none".
    """

    width: int = 128
    depth: int = 3
    x_finest_scale: float | None = None
    x_frequencies: int = 8
    loss: str = "simple"
    loss_variance: str = "large"
    loss_steps: int | None = None
    t_min: float | None = None
    t_end: float | None = None
    steps: int = 2000
    batch_size: int = 256
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    warmup_steps: int = 100
    lr_min_ratio: float = 0.05
    betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float | None = 1.0
    ema_decay: float = 0.995
    heldout_fraction: float = 0.1
    eval_every: int = 200
    eval_size: int = 8192
    patience: int = 8
    worse_z: float = 2.0
    divergence_factor: float = 1e3
    block_steps: int = 50
    standardize: str = "moments"
    box: object = None
    device: str = "auto"

    def validated(self, dim: int) -> TrainConfig:
        """A checked copy (ValueError naming the field otherwise)."""
        for name in ("width", "depth", "x_frequencies", "steps", "batch_size", "eval_every"):
            check_int(name, getattr(self, name), low=1)
        for name in ("warmup_steps", "patience"):
            check_int(name, getattr(self, name), low=0)
        check_int("eval_size", self.eval_size, low=1)
        check_int("block_steps", self.block_steps, low=1)
        check_choice("loss", self.loss, LOSSES)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice("standardize", self.standardize, STANDARDIZE)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("lr_min_ratio", self.lr_min_ratio, low=0.0, high=1.0)
        b1, b2 = self.betas
        check_real("betas[0]", b1, low=0.0, high=1.0, high_open=True)
        check_real("betas[1]", b2, low=0.0, high=1.0, high_open=True)
        check_real("adam_eps", self.adam_eps, low=0.0, low_open=True)
        if self.grad_clip is not None:
            check_real("grad_clip", self.grad_clip, low=0.0, low_open=True)
        check_real("ema_decay", self.ema_decay, low=0.0, high=1.0, high_open=True)
        check_real("heldout_fraction", self.heldout_fraction, low=0.0, high=0.5)
        check_real("worse_z", self.worse_z, low=0.0)
        check_real("divergence_factor", self.divergence_factor, low=1.0, low_open=True)
        if self.x_finest_scale is not None:
            check_real("x_finest_scale", self.x_finest_scale, low=0.0, high=1.0, low_open=True)
        if self.standardize == "box":
            box = np.asarray(self.box, dtype=np.float64) if self.box is not None else None
            if box is None or box.shape != (dim, 2) or not np.all(box[:, 1] > box[:, 0]):
                raise ValueError(
                    f"box={self.box!r} is not allowed: standardize='box' needs a ({dim}, 2) array "
                    "of [low, high] rows with low < high (±inf for an unbounded axis)"
                )
        resolve_device(self.device)
        return self

    def describe(self) -> dict:
        d = asdict(self)
        d["betas"] = f"{self.betas[0]},{self.betas[1]}"
        d["box"] = None if self.box is None else str(np.asarray(self.box).tolist())
        return d


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


def _grid_steps(process: Process) -> int | None:
    """The DDPM grid size T of a discrete process (None for continuous ones)."""
    for name in ("T", "steps", "num_steps"):
        v = getattr(process, name, None)
        if isinstance(v, int):
            return v
    sched = getattr(process, "schedule", None)
    if sched is not None:
        for name in ("T", "steps", "num_steps"):
            v = getattr(sched, name, None)
            if isinstance(v, int):
                return v
    return None


def resolve_times(process: Process, config: TrainConfig) -> tuple[float, float, int | None]:
    """(t_min, t_end, T) for training: defaults are the first DDPM grid time 1/T (or 1e-3 for a
    continuous process) and the process's t_end."""
    T = config.loss_steps if config.loss_steps is not None else _grid_steps(process)
    if T is None and config.loss in ("simple", "elbo"):
        T = 1000
    t_end = float(process.t_end) if config.t_end is None else config.t_end
    if config.t_min is not None:
        t_min = config.t_min
    else:
        t_min = 1.0 / T if T is not None else 1e-3
    check_real("t_min", t_min, low=0.0, low_open=True)
    check_real("t_end", t_end, low=0.0, low_open=True)
    if t_min >= t_end:
        raise ValueError(f"t_min={t_min!r} is not allowed: expected t_min < t_end={t_end!r}")
    return t_min, t_end, T


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


def _lr_factor(cfg: TrainConfig, k: torch.Tensor) -> torch.Tensor:
    """The schedule's multiplier of lr at (1-based) step k, per member."""
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


def standardization(X: np.ndarray, box=None) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) per axis: a bounded axis of ``box`` maps [low, high] → [-1, 1] (the setting
    of Oko et al.); any other axis maps the data's mean and sd to 0 and 1."""
    shift, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if box is not None:
        box = np.asarray(box, dtype=np.float64)
        bounded = np.isfinite(box).all(axis=1)
        finite = np.where(np.isfinite(box), box, 0.0)
        shift = np.where(bounded, finite.mean(axis=1), shift)
        scale = np.where(bounded, (finite[:, 1] - finite[:, 0]) / 2, scale)
    return shift, scale


#: check the device-side divergence flags after every step (one host sync per step) instead of
#: at each evaluation; the results are the same either way (tests compare the two), only the
#: wall time reported for a diverged member differs (taken when the flag is read)
SYNC_EVERY_STEP = False


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

    # -- per member: split, transform, generators (this order is part of the contract)
    train_sets, held_sets, shifts, scales, reports = [], [], [], [], []
    for X, rng in zip(arrays, rngs, strict=True):
        n = X.shape[0]
        n_ho = (
            0 if cfg.heldout_fraction == 0 else min(max(1, round(cfg.heldout_fraction * n)), n - 1)
        )
        perm = rng.permutation(n)
        tr, ho = X[perm[n_ho:]], X[perm[:n_ho]]
        if cfg.standardize == "none":
            shift, scale = np.zeros(D), np.ones(D)
        else:
            shift, scale = standardization(tr, cfg.box if cfg.standardize == "box" else None)
        train_sets.append((tr - shift) / scale)
        held_sets.append((ho - shift) / scale)
        shifts.append(shift)
        scales.append(scale)
        reports.append(MemberReport(n_train=tr.shape[0], n_heldout=n_ho))
    init_gens = member_generators(rngs, device)
    net = EnsembleMLP(
        D,
        cfg.width,
        cfg.depth,
        init_gens,
        x_finest_scale=cfg.x_finest_scale,
        x_frequencies=cfg.x_frequencies,
        device=device,
    )
    gens = member_generators(rngs, device)
    streams = [_IndexStream(tr.shape[0], rng) for tr, rng in zip(train_sets, rngs, strict=True)]
    Xtr = _pad(train_sets, device)
    standardizer = Standardizer(
        torch.as_tensor(np.stack(shifts)[:, None, :], dtype=torch.float64, device=device),
        torch.as_tensor(np.stack(scales)[:, None, :], dtype=torch.float64, device=device),
    )

    # -- fixed evaluation draws (common random numbers across evaluations)
    use_heldout = cfg.heldout_fraction > 0

    def eval_draws(sets):
        which = [
            rng.integers(0, s.shape[0], cfg.eval_size) for s, rng in zip(sets, rngs, strict=True)
        ]
        x0 = np.stack([s[i] for s, i in zip(sets, which, strict=True)])
        t = torch.stack([loss.sample_times((cfg.eval_size,), g) for g in gens])
        noise = torch.stack(
            [torch.randn((cfg.eval_size, D), generator=g, device=device) for g in gens]
        )
        xt, c, w = loss.inputs(torch.as_tensor(x0, dtype=torch.float32, device=device), t, noise)
        return xt, c, w, noise, which

    eval_train = eval_draws(train_sets)
    eval_held = eval_draws(held_sets) if use_heldout else None

    def evaluate(flat, draws):
        """Per-draw weighted losses (E, eval_size), float64 on the CPU (their mean is the loss)."""
        xt, c, w, noise, _ = draws
        with torch.no_grad():
            per = w * (net(xt, c, flat) - noise).square().mean(dim=-1)
        return per.double().cpu().numpy()

    def significantly_worse(e, v, ref, draws) -> bool:
        """Mean of v − ref > worse_z × its standard error clustered by the draws' data point."""
        d = v - ref
        which = draws[4][e]
        sums = np.bincount(which, weights=d)
        sizes = np.bincount(which)
        mean = float(d.mean())
        se = math.sqrt(float(np.sum((sums - sizes * mean) ** 2))) / d.size
        return mean > cfg.worse_z * se

    # -- optimiser state, all (E, P)
    p = net.flat
    m1 = torch.zeros_like(p)
    m2 = torch.zeros_like(p)
    ema = p.detach().clone()
    best = ema.clone()
    k = torch.zeros(E, dtype=torch.float64, device=device)  # Adam steps per member
    active = torch.ones(E, dtype=torch.bool, device=device)
    ref_draws = [None] * E  # per-draw losses of each member's lowest-loss snapshot so far
    stale = np.zeros(E, dtype=np.int64)
    first_loss = None
    b1, b2 = cfg.betas
    history = []
    start = time.perf_counter()
    K, B = cfg.block_steps, cfg.batch_size

    def freeze(e: int, status: str, reason: str, step: int):
        active[e] = False
        reports[e].status, reports[e].reason = status, reason
        reports[e].seconds = time.perf_counter() - start
        reports[e].steps = step

    # divergence flags stay on the device (no host sync per step): the step, loss and gradient
    # norm of each member's first bad step are recorded there, its update is masked at once,
    # and the report is written at the next evaluation (or the end)
    div_step = torch.full((E,), -1, dtype=torch.int64, device=device)
    div_loss = div_gnorm = None

    def report_divergence():
        """Reports of the members flagged on the device since the last call (one host read)."""
        flagged = div_step.cpu().numpy()
        todo = [e for e in np.flatnonzero(flagged >= 0) if reports[e].status == "running"]
        if not todo:
            return
        vals = torch.stack([div_loss, div_gnorm, first_loss]).double().cpu().numpy()
        for e in todo:
            s, v, g, f = int(flagged[e]), float(vals[0, e]), float(vals[1, e]), float(vals[2, e])
            why = (
                f"non-finite training loss ({v}) at step {s + 1}"
                if not math.isfinite(v)
                else f"non-finite gradient at step {s + 1}"
                if not math.isfinite(g)
                else f"training loss {v:.3g} exceeded {cfg.divergence_factor:g} x its first value "
                f"{f:.3g} at step {s + 1}"
            )
            freeze(int(e), "diverged", why, s)

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
        views = net.views(p)
        per = loss.per_member(net(xt, c_blk[:, j], views=views), noise, w_blk[:, j])
        per_d = per.detach()
        if first_loss is None:
            first_loss = per_d.clone()
            div_loss, div_gnorm = torch.zeros_like(per_d), torch.zeros_like(per_d)
        total = torch.where(active, per, torch.zeros_like(per)).sum()
        grads = torch.autograd.grad(total, views)
        grad = torch.cat([g.reshape(E, -1) for g in grads], dim=1)
        gnorm = grad.square().sum(dim=1).sqrt()
        bad = active & ~(
            torch.isfinite(per_d)
            & torch.isfinite(gnorm)
            & (per_d <= cfg.divergence_factor * first_loss)
        )
        div_step = torch.where(bad, step, div_step)
        div_loss = torch.where(bad, per_d, div_loss)
        div_gnorm = torch.where(bad, gnorm, div_gnorm)
        active = active & ~bad
        if SYNC_EVERY_STEP:
            report_divergence()
        history.append(torch.where(active, per_d, torch.full_like(per_d, math.nan)))
        a = active.to(p.dtype).unsqueeze(1)
        grad = torch.where(active.unsqueeze(1), grad, torch.zeros_like(grad))
        if cfg.grad_clip is not None:
            clip = torch.clamp(cfg.grad_clip / (gnorm + 1e-6), max=1.0)
            grad = grad * torch.where(active, clip, torch.ones_like(clip)).unsqueeze(1)
        k = k + active.to(k.dtype)
        kk = torch.clamp(k, min=1.0)
        with torch.no_grad():
            adam_step(
                p, grad, m1, m2, kk, active, cfg.lr * _lr_factor(cfg, kk), b1, b2, cfg.adam_eps
            )
            decay = torch.clamp((1 + kk) / (10 + kk), max=cfg.ema_decay).to(p.dtype).unsqueeze(1)
            ema.lerp_(p, (1 - decay) * a)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            report_divergence()
            draws = eval_held if use_heldout else eval_train
            ho = evaluate(ema, draws)
            tr_loss = evaluate(ema, eval_train).mean(axis=1) if use_heldout else ho.mean(axis=1)
            for e in torch.nonzero(active).flatten().tolist():
                v = ho[e]
                h = float(v.mean())
                if not math.isfinite(h):
                    stale[e] += 1  # a non-finite evaluation is never kept
                    continue
                if ref_draws[e] is None or h < float(ref_draws[e].mean()):
                    ref_draws[e] = v
                if not significantly_worse(e, v, ref_draws[e], draws):
                    best[e] = ema[e]
                    stale[e] = 0
                    reports[e].best_step = done
                    reports[e].train_loss = float(tr_loss[e])
                    reports[e].heldout_loss = h if use_heldout else math.nan
                else:
                    stale[e] += 1
                    if use_heldout and cfg.patience > 0 and stale[e] >= cfg.patience:
                        freeze(
                            e,
                            "early_stopped",
                            f"held-out loss significantly above its best "
                            f"({float(ref_draws[e].mean()):.4g}) for {cfg.patience} evaluations "
                            f"(kept step {reports[e].best_step})",
                            done,
                        )
            if not bool(active.any()):
                break
    seconds = time.perf_counter() - start
    report_divergence()
    for e in torch.nonzero(active).flatten().tolist():
        freeze(e, "completed", f"ran all {cfg.steps} steps", step + 1)
    for e, r in enumerate(reports):
        if r.best_step == 0:  # diverged before the first evaluation: keep the last finite weights
            best[e] = p.detach()[e] if bool(torch.isfinite(p.detach()[e]).all()) else ema[e]
    final = EnsembleMLP.like(net, best)
    hist = torch.stack(history, dim=1).cpu().numpy() if history else np.zeros((E, 0))
    return EnsembleFit(
        final,
        standardizer,
        loss,
        reports,
        hist,
        cfg,
        seconds,
        device,
        extra={"t_min": t_min, "t_end": t_end, "loss_steps": T},
    )
