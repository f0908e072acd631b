"""The configuration of one ensemble training run, and the time range its loss covers.

``TrainConfig`` holds everything that defines a run (network, loss, optimiser, held-out early
stop, divergence, standardisation; all members share it); ``resolve_times`` turns its
``t_min``/``t_end``/``loss_steps`` and the forward process into the loss's (T̲, T̄, T).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from minimax.diffusion.base import Process
from minimax.diffusion.losses import LOSSES
from minimax.runtime import resolve_device
from minimax.validation import check_choice, check_int, check_real

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
