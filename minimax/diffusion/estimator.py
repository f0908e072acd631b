"""Estimators built on the diffusion engine (the scikit-learn-style contract of docs/design.md).

* :class:`DiffusionEstimator`: a trained ε-network (training.py) sampled by ``samplers.generate``;
  ``fit_ensemble`` trains replicates as ONE batched ensemble and returns one fitted estimator
  per replicate.
* :class:`EmpiricalScoreDiffusion`: the closed-form empirical score through the same sampler
  code: a Gaussian-KDE control (docs/theory.md §5).
* :class:`OracleScoreDiffusion`: the true score through the same sampler: the sampler's own
  error (discretisation, early stop, prior mismatch) with no learning.

All three standardise data the same way (per-axis moments of the training data, or a given box
mapped to [-1, 1]^D, the setting of Oko et al.), so T̲ and T̄ mean the same in each.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import numpy as np
import torch

from minimax.diffusion.networks import NetworkScore, Standardizer
from minimax.diffusion.processes import PROCESSES, make_process
from minimax.diffusion.samplers import SAMPLERS, SPACINGS, VARIANCES, generate
from minimax.diffusion.sizing import SIZING_RULES, aligned_grid, size
from minimax.diffusion.training import TrainConfig, standardization, train_ensemble
from minimax.estimator import Estimator
from minimax.runtime import resolve_device, torch_generator
from minimax.targets.base import Target
from minimax.validation import check_choice, check_int, check_points, check_real, check_rng


class TrainingDiverged(RuntimeError):
    """Raised by ``sample`` of a member whose training diverged; the message is the reason."""


def _check_box(box, dim: int):
    """The box as a (D, 2) array, or None when absent or unbounded on every axis."""
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (dim, 2) or np.isnan(arr).any() or not np.all(arr[:, 1] > arr[:, 0]):
        raise ValueError(
            f"box={box!r} is not allowed: expected a ({dim}, 2) array of [low, high] rows "
            "(±inf for an unbounded axis)"
        )
    return arr if np.isfinite(arr).all(axis=1).any() else None


BOUNDARIES = ("reflect", "none")


def _reflect_into_box(u: np.ndarray, box) -> np.ndarray:
    """Fold model-coordinate samples u (m, D) into [-1, 1] on every bounded axis of ``box``.

    The box's bounded axes are [-1, 1] in model coordinates (``standardization``). Folding
    x → 2b - x at each face is the reflection boundary correction of kernel estimators
    (docs/theory.md §6): the mass a Gaussian blur of width σ leaks past a face where the density
    jumps (O(σ) in TV) is put back as its mirror image, leaving O(σ²) for a density with zero
    slope at the face.
    """
    if box is None:
        return u
    bounded = np.isfinite(np.asarray(box, dtype=np.float64)).all(axis=1)
    y = np.mod(u[:, bounded] + 1.0, 4.0)
    u = u.copy()
    u[:, bounded] = np.where(y > 2.0, 4.0 - y, y) - 1.0
    return u


def _outside_fraction(u: np.ndarray, box) -> float:
    """The fraction of model-coordinate samples outside [-1, 1] on some bounded axis (NaN if
    there is no bounded axis): the mass the sampler put outside the support, before any fold."""
    if box is None:
        return math.nan
    bounded = np.isfinite(np.asarray(box, dtype=np.float64)).all(axis=1)
    return float(np.mean(np.any(np.abs(u[:, bounded]) > 1.0, axis=1)))


def _standardize_name(box) -> str:
    """ "box" (every axis bounded), "box+moments" (some) or "moments" (none, or no box)."""
    if box is None:
        return "moments"
    bounded = np.isfinite(np.asarray(box, dtype=np.float64)).all(axis=-1)
    return "box" if bounded.all() else "box+moments" if bounded.any() else "moments"


def _standardizer(X: np.ndarray, box) -> Standardizer:
    """The one-member data transform used by the controls (the same rule as training.py)."""
    shift, scale = standardization(X, box)
    as_t = lambda a: torch.as_tensor(np.asarray(a)[None, None, :], dtype=torch.float64)  # noqa: E731
    return Standardizer(as_t(shift), as_t(scale))


def _sample_kwargs(sampler, sample_steps, t_min, t_end, process, spacing):
    """Arguments of ``generate`` for one of our samplers; on a DDPM grid the ancestral sampler
    takes at most the grid steps available above t_min."""
    if sampler == "ancestral":
        times = process.schedule.times
        first = int(np.searchsorted(times, t_min - 1e-12))
        steps = min(sample_steps, len(times) - first)
        return {"steps": steps, "t_min": t_min, "spacing": spacing}
    return {"steps": sample_steps, "t_min": t_min, "t_end": min(t_end, process.t_end),
            "spacing": spacing}  # fmt: skip


#: samples per sampler chunk on the CPU: small enough that a chunk's activations stay in cache
#: (a 64-wide layer ran ≈ 3x faster on 2048 rows than on 20,000 here, and a 16-member ensemble
#: sampled fastest with 1024); GPUs take the sampler's own (large) default
CPU_CHUNK = 1024


def _chunk(chunk_size, device: str):
    if chunk_size is not None:
        return check_int("chunk_size", chunk_size, low=1)
    return CPU_CHUNK if device == "cpu" else None


#: samplers of the deterministic probability-flow ODE (no fresh noise along the path)
ODE_SAMPLERS = ("heun", "adaptive")


def _resolve_spacing(spacing, sizing: str) -> str:
    """ "auto": log under sizing="theory" (results/ablations/sampler_discretisation: uniform steps
    add 0.0095 TV at n = 8000 with the true score, log ones none; with a trained network the TV
    was the same within its CI, results/ablations/spacing_*), uniform under "fixed"."""
    if spacing == "auto":
        return "log" if sizing == "theory" else "uniform"
    return spacing


def _resolve_denoise(denoise, sizing: str) -> bool:
    """The final Tweedie step in use: "auto" is off under the theory rule (its T̲ is already
    the blur the rate allows; see DiffusionEstimator), on under the fixed DDPM recipe."""
    if denoise == "auto":
        return sizing != "theory"
    if not isinstance(denoise, bool | np.bool_):
        raise ValueError(f"denoise={denoise!r} is not allowed: expected True, False or 'auto'")
    return bool(denoise)


def _grid_size(process) -> int | None:
    sched = getattr(process, "schedule", None)
    return None if sched is None else sched.T


def _process_for_rule(est, base, n: int, D: int):
    """Under the theory rule on a DDPM process whose grid the rule's T̲ undercuts (and with no
    user-given T̲ or T), the same continuous process on a finer grid (sizing.refined_ddpm)."""
    if (est.process != "ddpm" or est.sizing != "theory" or est.s is None
            or est.t_min is not None or "T" in (est.process_options or {})):  # fmt: skip
        return base
    return aligned_grid(base, n, D, float(est.s), _early_stop_ratio(est))


def _early_stop_ratio(est) -> float:
    """The rule's σ(T̲)/m(T̲) constant times ``early_stop_scale`` (an ablation knob, default 1)."""
    from minimax.diffusion.sizing import EARLY_STOP_RATIO

    scale = check_real("early_stop_scale", getattr(est, "early_stop_scale", 1.0), low=0.0,
                       low_open=True)  # fmt: skip
    return EARLY_STOP_RATIO * scale


def _build_process(name: str, options: dict | None):
    check_choice("process", name, tuple(PROCESSES))
    return make_process(name, **(options or {}))


class DiffusionEstimator(Estimator):
    """A DDPM / score-SDE density estimator: train an ε-MLP, then sample it.

    Parameters (all keyword, stored unchanged, validated in ``fit``):
      process: "ddpm" (default), "vp", "subvp", "ve", "ou"; ``process_options`` go to its
        constructor (e.g. {"T": 1000, "schedule": "cosine"} for ddpm, {"beta": 1.0} for ou).
      loss: "simple" (t uniform on the grid), "elbo", "continuous" (log-uniform t, λ ∝ t), or
        "auto" (default): "continuous" under sizing="theory" (Oko et al.'s prescription,
        docs/theory.md §2; on a D = 1, s = 1 Besov target at n = 16,000 it cut TV from 0.066 to
        0.030), "simple" under "fixed" (the plain DDPM recipe).
      sizing: "theory" (needs ``s``) or "fixed" (sizing.py); width, depth, steps, batch_size,
        lr, t_min (T̲), t_end (T̄), sample_steps override the rule.
      sampler: "ancestral" (DDPM Alg. 2, needs a ddpm process), "euler", "exponential", "heun",
        "adaptive" (the last two integrate the probability-flow ODE: with a trained network at
        the theory rule's small T̲ they collapse the samples onto a few points, TV ≈ 0.84
        against 0.04-0.05 for ancestral/euler on the same fit (D = 1, s = 1 Besov target): the
        learned score memorises at small t and the ODE adds no noise to hide it; ``sample``
        warns); ``variance`` "beta"/"beta_tilde" (ancestral), ``spacing`` of the sampling
        steps: "auto" (default: log under sizing="theory", uniform under "fixed"), uniform, log,
        quadratic, or snr (continuous samplers only). With the true score, uniform steps add
        0.0095 TV to the early-stop blur at n = 8000 (D = 1, s = 1, band) and log steps none
        (studies/sampler_discretisation.py); with a trained network the TV was the same within
        its CI (studies/ablation_spacing_*.toml), so the sampler's part of the budget is what
        log removes (docs/decisions.md). ``steps_scale`` / ``early_stop_scale`` multiply the
        rule's training steps and its σ(T̲)/m(T̲) constant 0.2 (ablations; an explicit ``steps``
        or ``t_min`` is taken as given). ``denoise`` (final Tweedie step x̂ = (x + σ² ŝ)/m at
        T̲): True, False or "auto" (default): False under sizing="theory", True under "fixed". Measured (D = 1,
        s = 1 Besov target, jump at the edge, theory rule, M = 40,000, 2 replicates; studies/
        ablation_denoise_*.toml): at the rule's T̲ the Tweedie step pulls samples towards the
        modes the network learned and the TV rises, e.g. 0.039 with it vs 0.030 without at
        n = 8000 (replicates within 0.0003).
      x_finest_scale: "auto" (the sizing rule's: 0.5 n^{-1/(2s+D)} under "theory", none under
        "fixed"), None (no Fourier features of x) or a scale in model units.
      training: x_frequencies, lr_schedule, warmup_steps, ema_decay, grad_clip,
        heldout_fraction, eval_every, eval_size, patience (0: no early stop), worse_z
        (see training.TrainConfig). The kept model is the latest EMA snapshot whose held-out loss
        is not significantly above the best one (training.TrainConfig).
      box: a (D, 2) support box (e.g. the target's ``support``); its bounded axes are mapped to
        [-1, 1] (the setting of Oko et al.), unbounded ones (±inf) and all axes when None are
        standardised by the training data's moments.
      boundary: "reflect" (default) folds samples that leave a bounded axis of ``box`` back in
        (the reflection boundary correction; see ``_reflect_into_box``), "none" keeps them
        (the outside-the-box mass is then part of the error).
      device: "auto" (CUDA when present), "cpu" or "cuda[:k]"; chunk_size: samples per sampler
        chunk (memory bound, see samplers.generate).
    """

    has_pdf = False
    name = "diffusion"

    def __init__(self, process="ddpm", loss="auto", sizing="theory", s=None, sampler="ancestral",
                 *, process_options=None, width=None, depth=None, steps=None, batch_size=None,
                 lr=None, t_min=None, t_end=None, sample_steps=None, variance="beta",
                 spacing="auto", denoise="auto", x_finest_scale="auto", x_frequencies=8,
                 lr_schedule="cosine", warmup_steps=100, ema_decay=0.995, grad_clip=1.0,
                 heldout_fraction=0.1, eval_every=200, eval_size=8192, patience=8,
                 worse_z=2.0, steps_scale=1.0, early_stop_scale=1.0,
                 box=None, boundary="reflect",
                 device="auto", chunk_size=None):  # fmt: skip
        self.process = process
        self.steps_scale, self.early_stop_scale = steps_scale, early_stop_scale
        self.loss = loss
        self.sizing = sizing
        self.s = s
        self.sampler = sampler
        self.process_options = process_options
        self.width, self.depth, self.steps = width, depth, steps
        self.batch_size, self.lr = batch_size, lr
        self.t_min, self.t_end, self.sample_steps = t_min, t_end, sample_steps
        self.variance, self.spacing, self.denoise = variance, spacing, denoise
        self.x_finest_scale, self.x_frequencies = x_finest_scale, x_frequencies
        self.lr_schedule, self.warmup_steps = lr_schedule, warmup_steps
        self.ema_decay, self.grad_clip = ema_decay, grad_clip
        self.heldout_fraction, self.eval_every = heldout_fraction, eval_every
        self.eval_size = eval_size
        self.patience, self.worse_z = patience, worse_z
        self.box = box
        self.boundary = boundary
        self.device = device
        self.chunk_size = chunk_size

    # -- configuration -------------------------------------------------------------------------
    def _check_params(self, D: int):
        check_choice("loss", self.loss, ("auto", "simple", "elbo", "continuous"))
        check_choice("sizing", self.sizing, tuple(SIZING_RULES))
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("variance", self.variance, VARIANCES)
        check_choice("spacing", self.spacing, (*SPACINGS, "auto"))
        check_choice("boundary", self.boundary, BOUNDARIES)
        _resolve_denoise(self.denoise, self.sizing)
        if self.s is not None:
            check_real("s", self.s, low=0.0, low_open=True)
        process = _build_process(self.process, self.process_options)
        if self.sampler == "ancestral" and self.process != "ddpm":
            raise ValueError(
                f"sampler='ancestral' is not allowed with process={self.process!r}: "
                "it needs process='ddpm'"
            )
        if self._loss() in ("simple", "elbo") and self.process != "ddpm":
            raise ValueError(
                f"loss={self.loss!r} is not allowed with process={self.process!r}: grid losses "
                "need process='ddpm'; use loss='continuous'"
            )
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size, low=1)
        return process, _check_box(self.box, D), resolve_device(self.device)

    def _spacing(self) -> str:
        return _resolve_spacing(self.spacing, self.sizing)

    def _denoise(self) -> bool:
        return _resolve_denoise(self.denoise, self.sizing)

    def _loss(self) -> str:
        """The loss in use: "auto" is Oko et al.'s continuous loss under the theory rule
        (docs/theory.md §2) or on a continuous process, the plain DDPM "simple" loss otherwise."""
        if self.loss != "auto":
            return self.loss
        return "continuous" if self.sizing == "theory" or self.process != "ddpm" else "simple"

    def _sizing(self, n: int, D: int, process):
        xs = self.x_finest_scale
        if isinstance(xs, str) and xs != "auto":
            raise ValueError(
                f"x_finest_scale={xs!r} is not allowed: expected 'auto', None or a number"
            )
        if xs is not None and not isinstance(xs, str):
            check_real("x_finest_scale", xs, low=0.0, high=1.0, low_open=True)
        sz = size(
            self.sizing, n, D, process, s=self.s,
            x_frequencies=0 if xs is None else check_int("x_frequencies", self.x_frequencies, low=1),
            width=self.width, depth=self.depth, steps=self.steps, batch_size=self.batch_size,
            lr=self.lr, t_min=self.t_min, t_end=self.t_end, sample_steps=self.sample_steps,
            x_finest_scale=None if isinstance(xs, str) else xs,
            early_stop_ratio=_early_stop_ratio(self),
        )  # fmt: skip
        scale = check_real("steps_scale", self.steps_scale, low=0.0, low_open=True)
        if self.steps is None and scale != 1.0:  # the rule's budget times a factor (ablations)
            sz.steps = max(1, int(round(scale * sz.steps)))
        if xs is None:
            sz.x_finest_scale = None
        return sz

    def _config(self, sizing, box, device) -> TrainConfig:
        return TrainConfig(
            width=sizing.width, depth=sizing.depth, x_finest_scale=sizing.x_finest_scale,
            x_frequencies=self.x_frequencies, loss=self._loss(),
            loss_variance="large" if self.variance == "beta" else "small",
            t_min=sizing.t_min, t_end=sizing.t_end, steps=sizing.steps,
            batch_size=sizing.batch_size, lr=sizing.lr, lr_schedule=self.lr_schedule,
            warmup_steps=self.warmup_steps, ema_decay=self.ema_decay, grad_clip=self.grad_clip,
            heldout_fraction=self.heldout_fraction, eval_every=self.eval_every,
            eval_size=self.eval_size, patience=self.patience, worse_z=self.worse_z,
            standardize="box" if box is not None else "moments",
            box=box, device=device,
        )  # fmt: skip

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, rng) -> DiffusionEstimator:
        """Train one network on X (n, D) with randomness from ``rng``; returns self."""
        (member,) = self.fit_ensemble([X], [rng])
        self.__dict__.update(member.__dict__)
        return self

    def fit_ensemble(self, Xs, rngs) -> list[DiffusionEstimator]:
        """Train one model per (X, rng) and return one fitted estimator per replicate.

        Replicates whose sizing is identical (same n under the theory rule, or any n under
        "fixed") train together as one batched ensemble; member e's model equals what
        ``fit(Xs[e], rngs[e])`` gives, up to float rounding.
        """
        if not isinstance(Xs, list | tuple) or not Xs:
            raise ValueError("Xs is not allowed: expected a non-empty list of (n, D) arrays")
        if not isinstance(rngs, list | tuple) or len(rngs) != len(Xs):
            raise ValueError(f"rngs is not allowed: expected a list of {len(Xs)} numpy Generators")
        arrays = [check_points(f"Xs[{e}]", X) for e, X in enumerate(Xs)]
        D = arrays[0].shape[1]
        arrays = [check_points(f"Xs[{e}]", X, D) for e, X in enumerate(arrays)]
        rngs = [check_rng(f"rngs[{e}]", r) for e, r in enumerate(rngs)]
        base, box, device = self._check_params(D)
        groups: dict = {}
        sizings, processes = [], []
        for e, X in enumerate(arrays):
            process = _process_for_rule(self, base, X.shape[0], D)
            sz = self._sizing(X.shape[0], D, process)
            sizings.append(sz)
            processes.append(process)
            key = (tuple(sorted(sz.describe().items())), _grid_size(process))
            groups.setdefault(key, []).append(e)
        out: list = [None] * len(arrays)
        for members in groups.values():
            sz, process = sizings[members[0]], processes[members[0]]
            cfg = self._config(sz, box, device)
            fit = train_ensemble(
                [arrays[e] for e in members], process, cfg, [rngs[e] for e in members]
            )
            for j, e in enumerate(members):
                est = copy.copy(self)
                est.process_ = process
                est.box_ = box
                est.dim_ = D
                est.n_ = arrays[e].shape[0]
                est.sizing_ = sz
                est.device_ = device
                est.network_ = fit.network.select([j])
                est.standardizer_ = fit.standardizer.select([j])
                est.report_ = fit.members[j]
                est.loss_history_ = fit.loss_history[j]
                est.train_info_ = dict(fit.extra, ensemble_size=len(members),
                                       ensemble_seconds=fit.seconds)  # fmt: skip
                est.loss_describe_ = fit.loss.describe()
                est.sample_info_ = {}
                out[e] = est
        return out

    # -- sampling ------------------------------------------------------------------------------
    def _fitted(self):
        if not hasattr(self, "network_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit first")

    def score_source(self) -> NetworkScore:
        """The fitted network as a ScoreSource (model coordinates; see NetworkScore)."""
        self._fitted()
        return NetworkScore(self.network_, self.process_, self.standardizer_)

    def sample(self, m: int, rng) -> np.ndarray:
        """m draws (m, D) from the fitted model; raises TrainingDiverged if training diverged."""
        self._fitted()
        if self.report_.status == "diverged":
            raise TrainingDiverged(self.report_.reason)
        m = check_int("m", m, low=1)
        rng = check_rng("rng", rng)
        if self.sampler in ODE_SAMPLERS:
            warnings.warn(
                f"sampler={self.sampler!r} integrates the probability-flow ODE with a trained "
                "network: at small T̲ it collapsed the samples onto a few points in our "
                "measurements (TV ≈ 0.84 vs 0.04 for 'ancestral'); prefer a stochastic sampler",
                RuntimeWarning,
                stacklevel=2,
            )
        kw = _sample_kwargs(self.sampler, self.sizing_.sample_steps, self.sizing_.t_min,
                            self.sizing_.t_end, self.process_, self._spacing())  # fmt: skip
        gen = torch_generator(rng, self.device_)
        start = time.perf_counter()
        u, info = generate(
            self.score_source(), m, sampler=self.sampler, generator=gen, device=self.device_,
            chunk_size=_chunk(self.chunk_size, self.device_), denoise=self._denoise(),
            variance=self.variance, **kw,
        )  # fmt: skip
        u = u.to(torch.float64).cpu()[0].numpy()
        outside = _outside_fraction(u, self.box_)
        if self.boundary == "reflect":
            u = _reflect_into_box(u, self.box_)
        x = self.standardizer_.from_model(torch.as_tensor(u)[None])[0].numpy()
        self.sample_info_ = dict(info, seconds=time.perf_counter() - start,
                                 outside_fraction=outside)  # fmt: skip
        return x

    def describe(self) -> dict:
        """Hyperparameters that matter, plus the fit's outcome once fitted."""
        d = {
            "estimator": self.name, "process": self.process, "loss": self._loss(),
            "sizing": self.sizing, "s": self.s, "sampler": self.sampler,
            "variance": self.variance, "spacing": self._spacing(), "denoise": self._denoise(),
            "lr_schedule": self.lr_schedule, "ema_decay": self.ema_decay,
            "x_frequencies": self.x_frequencies,
            "heldout_fraction": self.heldout_fraction, "patience": self.patience,
            "eval_every": self.eval_every, "eval_size": self.eval_size,
            "worse_z": self.worse_z,
            "warmup_steps": self.warmup_steps,
            "grad_clip": self.grad_clip,
            "standardize": _standardize_name(self.box), "boundary": self.boundary,
        }  # fmt: skip
        d.update({f"process_{k}": v for k, v in (self.process_options or {}).items()})
        if hasattr(self, "network_"):
            r = self.report_
            d.update(self.sizing_.describe())
            d.update(
                params=self.network_.parameter_count(), n=self.n_, D=self.dim_,
                device=self.device_, T=self.train_info_.get("loss_steps"),
                steps_run=r.steps, best_step=r.best_step, train_loss=r.train_loss,
                heldout_loss=r.heldout_loss, loss_gap=r.heldout_loss - r.train_loss,
                fit_seconds=r.seconds, ensemble_size=self.train_info_["ensemble_size"],
                status=r.status, reason=r.reason,
            )  # fmt: skip
            if self.sample_info_:
                d.update(sample_nfe=self.sample_info_.get("nfe"),
                         sample_t_min=self.sample_info_.get("t_min"),
                         sample_seconds=self.sample_info_.get("seconds"),
                         outside_fraction=self.sample_info_.get("outside_fraction"))  # fmt: skip
        return d


class _ControlBase(Estimator):
    """Shared sampling of the two no-training controls (empirical and oracle scores)."""

    has_pdf = False
    #: sample all m points in one chunk: a score whose cost is a table per time step (the
    #: numerical oracle) would otherwise rebuild every table once per chunk; results do not
    #: depend on the chunk size (samplers.generate)
    one_chunk = False

    def _setup(self, X, rng):
        X = check_points("X", X)
        check_rng("rng", rng)
        D = X.shape[1]
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("variance", self.variance, VARIANCES)
        check_choice("spacing", self.spacing, (*SPACINGS, "auto"))
        check_choice("boundary", self.boundary, BOUNDARIES)
        process = _build_process(self.process, self.process_options)
        if self.sampler == "ancestral" and self.process != "ddpm":
            raise ValueError(
                f"sampler='ancestral' is not allowed with process={self.process!r}: "
                "it needs process='ddpm'"
            )
        self.process_ = process
        self.dim_ = D
        self.n_ = X.shape[0]
        self.box_ = _check_box(self.box, D)
        self.device_ = resolve_device(self.device)
        self.standardizer_ = _standardizer(X, self.box_)
        return X

    def _finish(self, u: torch.Tensor) -> np.ndarray:
        """Model-coordinate samples (1, m, D) → data coordinates, folded into the box if asked."""
        u = u[0].numpy()
        self.sample_info_["outside_fraction"] = _outside_fraction(u, self.box_)
        if self.boundary == "reflect":
            u = _reflect_into_box(u, self.box_)
        return self.standardizer_.from_model(torch.as_tensor(u)[None])[0].numpy()

    def _spacing(self) -> str:
        return _resolve_spacing(self.spacing, getattr(self, "sizing", "fixed"))

    def _generate(self, source, m, rng, *, denoise: bool):
        m = check_int("m", m, low=1)
        rng = check_rng("rng", rng)
        kw = _sample_kwargs(self.sampler, self.sample_steps_, self.t_min_, self.t_end_,
                            self.process_, self._spacing())  # fmt: skip
        start = time.perf_counter()
        u, info = generate(
            source, m, sampler=self.sampler, generator=torch_generator(rng, self.device_),
            device=self.device_, denoise=denoise, variance=self.variance, dim=self.dim_,
            chunk_size=m if self.one_chunk and self.chunk_size is None
            else _chunk(self.chunk_size, self.device_), **kw,
        )  # fmt: skip
        self.sample_info_ = dict(info, seconds=time.perf_counter() - start)
        return u.to(torch.float64).cpu(), info

    def _describe_common(self) -> dict:
        d = {"estimator": self.name, "process": self.process, "sampler": self.sampler,
             "variance": self.variance, "spacing": self._spacing(), "s": self.s,
             "standardize": _standardize_name(self.box), "boundary": self.boundary}  # fmt: skip
        if hasattr(self, "t_min_"):
            d.update(n=self.n_, D=self.dim_, t_min=self.t_min_, t_end=self.t_end_,
                     sample_steps=self.sample_steps_, device=self.device_)  # fmt: skip
        if getattr(self, "sample_info_", None):
            d.update(sample_nfe=self.sample_info_.get("nfe"),
                     sample_t_min=self.sample_info_.get("t_min"),
                     outside_fraction=self.sample_info_.get("outside_fraction"))  # fmt: skip
        return d


class EmpiricalScoreDiffusion(_ControlBase):
    """The Gaussian-KDE control run through the diffusion sampler (docs/theory.md §5).

    The empirical score (the exact minimiser of the empirical denoising loss) sampled down to
    T̲ without the final denoising step, then divided by m(T̲), draws from the Gaussian KDE of the
    standardised data with bandwidth h = σ(T̲)/m(T̲) (up to the sampler's discretisation error).
    T̲ is chosen so that h = ``bandwidth_factor`` · n^{-1/(2s+D)} in standardised units, the
    rate-optimal bandwidth order: a second-order (Gaussian) KDE with h ≍ n^{-1/(2s+D)} has
    E‖f̂ - f‖₁ ≍ n^{-s/(2s+D)} for s ≤ 2 (Devroye & Györfi 1985; docs/theory.md §6), so this control's
    TV has the KDE's rate, and any gap to the network's is learning, not sampling. With ``s``
    None the rule uses s = 2 (the largest s a nonnegative kernel exploits). ``t_min`` overrides
    the rule; on a DDPM grid T̲ is rounded up to a grid time. With a bounded ``box`` and
    ``boundary="reflect"`` (default) samples are folded into the box: the reflection-corrected
    KDE, whose rate is not spoilt by a jump at the box's faces (docs/theory.md §6).
    """

    name = "empirical_score"

    def __init__(self, process="ddpm", s=None, sampler="ancestral", *, process_options=None,
                 bandwidth_factor=1.0, t_min=None, sample_steps=None, variance="beta",
                 spacing="uniform", box=None, boundary="reflect", device="auto",
                 chunk_size=None):  # fmt: skip
        self.process, self.s, self.sampler = process, s, sampler
        self.boundary = boundary
        self.process_options = process_options
        self.bandwidth_factor, self.t_min, self.sample_steps = bandwidth_factor, t_min, sample_steps
        self.variance, self.spacing, self.box = variance, spacing, box
        self.device, self.chunk_size = device, chunk_size

    def fit(self, X, rng) -> EmpiricalScoreDiffusion:
        from minimax.diffusion.scores import EmpiricalScore
        from minimax.diffusion.sizing import time_for_ratio

        X = self._setup(X, rng)
        s = 2.0 if self.s is None else check_real("s", self.s, low=0.0, low_open=True)
        factor = check_real("bandwidth_factor", self.bandwidth_factor, low=0.0, low_open=True)
        D, n = self.dim_, self.n_
        process = self.process_
        if self.t_min is None:
            t_min = time_for_ratio(process, factor * n ** (-1.0 / (2 * s + D)))
        else:
            t_min = check_real("t_min", self.t_min, low=0.0, low_open=True)
        T = getattr(getattr(process, "schedule", None), "T", None)
        if T:
            t_min = max(1, math.ceil(t_min * T - 1e-9)) / T
        if t_min >= process.t_end:
            raise ValueError(
                f"t_min={t_min!r} is not allowed: expected t_min < t_end={process.t_end}"
            )
        self.t_min_, self.t_end_ = t_min, float(process.t_end)
        if self.sample_steps is None:  # the theory rule's sampling steps, as for the network
            self.sample_steps_ = size("theory", n, D, process, s=s, t_min=t_min).sample_steps
        else:
            self.sample_steps_ = check_int("sample_steps", self.sample_steps, low=1)
        U = self.standardizer_.to_model(torch.as_tensor(X)[None])[0].numpy()
        self.score_ = EmpiricalScore(U, process)
        return self

    def sample(self, m, rng) -> np.ndarray:
        if not hasattr(self, "score_"):
            raise RuntimeError("EmpiricalScoreDiffusion is not fitted: call fit first")
        u, info = self._generate(self.score_, m, rng, denoise=False)
        mean, _ = self.process_.marginal(float(info["t_min"]))
        return self._finish(u / mean)

    def bandwidth(self) -> float:
        """The KDE bandwidth σ(T̲)/m(T̲) in standardised units."""
        mean, std = self.process_.marginal(float(self.t_min_))
        return float(std / mean)

    def describe(self) -> dict:
        d = self._describe_common() | {"bandwidth_factor": self.bandwidth_factor}
        if hasattr(self, "t_min_"):
            d["bandwidth"] = self.bandwidth()
        return d


class AffineTarget(Target):
    """The law of u = (x - shift)/scale for x ~ target: pdf, sampler and cell masses mapped."""

    def __init__(self, target: Target, shift: np.ndarray, scale: np.ndarray):
        self.target, self.shift, self.scale = target, np.asarray(shift), np.asarray(scale)
        self.dim = target.dim
        self.support = (np.asarray(target.support) - self.shift[:, None]) / self.scale[:, None]

    def pdf(self, x):
        u = self._points(x)
        return self.target.pdf(u * self.scale + self.shift) * float(np.prod(self.scale))

    def sample(self, n, rng):
        return (self.target.sample(n, rng) - self.shift) / self.scale

    def cell_masses(self, edges):
        return self.target.cell_masses(
            [np.asarray(e) * s + c for e, s, c in zip(edges, self.scale, self.shift, strict=True)]
        )

    def describe(self):
        return self.target.describe()


class OracleScoreDiffusion(_ControlBase):
    """The true score of ``target`` through the same sampler: sampler error alone.

    With the same process, T̲, T̄ and sampling steps as a DiffusionEstimator at the same n
    (``sizing``, ``s`` and the overrides are read the same way; ``fit`` uses X only for n and
    the standardisation), the TV of this estimator is the discretisation + early-stop + prior
    mismatch part of the diffusion model's error budget (issue 7). A GaussianMixture target uses
    the exact score (scores.ExactGMMScore) of its standardised version; other targets the
    numerical oracle (scores.OracleScore, D ≤ 2). ``boundary`` folds samples into the box as
    the DiffusionEstimator does, so both have the same boundary treatment.
    """

    name = "oracle_score"
    one_chunk = True

    def __init__(self, target, process="ddpm", sizing="theory", s=None, sampler="ancestral", *,
                 process_options=None, t_min=None, t_end=None, sample_steps=None,
                 variance="beta", spacing="auto", denoise="auto", box=None, boundary="reflect",
                 device="auto", chunk_size=None, oracle_options=None,
                 early_stop_scale=1.0):  # fmt: skip
        self.boundary = boundary
        self.target, self.process, self.sizing, self.s = target, process, sizing, s
        self.sampler, self.process_options = sampler, process_options
        self.t_min, self.t_end, self.sample_steps = t_min, t_end, sample_steps
        self.variance, self.spacing, self.denoise = variance, spacing, denoise
        self.box, self.device, self.chunk_size = box, device, chunk_size
        self.oracle_options = oracle_options
        self.early_stop_scale = early_stop_scale

    def fit(self, X, rng) -> OracleScoreDiffusion:
        from minimax.targets.gaussian_mixture import GaussianMixture

        if not isinstance(self.target, Target):
            raise ValueError(f"target={self.target!r} is not allowed: expected a Target")
        X = self._setup(X, rng)
        if X.shape[1] != self.target.dim:
            raise ValueError(f"X has dimension {X.shape[1]}: expected D={self.target.dim}")
        self.process_ = _process_for_rule(self, self.process_, self.n_, self.dim_)
        sz = size(self.sizing, self.n_, self.dim_, self.process_, s=self.s, t_min=self.t_min,
                  t_end=self.t_end, sample_steps=self.sample_steps,
                  early_stop_ratio=_early_stop_ratio(self))  # fmt: skip
        self.sizing_ = sz
        self.t_min_, self.t_end_, self.sample_steps_ = sz.t_min, sz.t_end, sz.sample_steps
        shift = self.standardizer_.shift[0, 0].numpy()
        scale = self.standardizer_.scale[0, 0].numpy()
        if isinstance(self.target, GaussianMixture):
            from minimax.diffusion.scores import ExactGMMScore

            g = self.target
            gu = GaussianMixture(g.weights, (g.means - shift) / scale, g.stds / scale)
            self.score_ = ExactGMMScore(gu, self.process_)
        else:
            from minimax.diffusion import scores

            oracle = getattr(scores, "OracleScore", None)
            if oracle is None:
                raise ValueError("target is not allowed: no numerical OracleScore is available")
            self.score_ = oracle(AffineTarget(self.target, shift, scale), self.process_,
                                 **(self.oracle_options or {}))  # fmt: skip
        return self

    def sample(self, m, rng) -> np.ndarray:
        if not hasattr(self, "score_"):
            raise RuntimeError("OracleScoreDiffusion is not fitted: call fit first")
        u, _ = self._generate(self.score_, m, rng,
                              denoise=_resolve_denoise(self.denoise, self.sizing))  # fmt: skip
        return self._finish(u)

    def describe(self) -> dict:
        return self._describe_common() | {
            "sizing": self.sizing,
            "denoise": _resolve_denoise(self.denoise, self.sizing),
        }
