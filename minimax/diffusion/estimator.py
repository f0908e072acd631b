"""The trained-network diffusion estimator (the scikit-learn-style contract of docs/design.md).

:class:`DiffusionEstimator`: a trained ε-network (training.py) sampled through the one sampling
pipeline (sampling.py); ``fit_ensemble`` trains replicates as ONE batched ensemble and returns
one fitted estimator per replicate. Its hyperparameters are ``recipe.DiffusionRecipe``.

The two no-training controls (the empirical and the oracle score, controls.py) share its data
standardisation (coordinates.py), sizing rule and sampler, and are importable from here, as are
the names other modules have long imported from this one.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from minimax.diffusion.controls import EmpiricalScoreDiffusion, OracleScoreDiffusion
from minimax.diffusion.coordinates import (
    BOUNDARIES,
    AffineTarget,
    check_box,
    reflect_into_box,
    standardize_name,
)
from minimax.diffusion.networks import NetworkScore
from minimax.diffusion.recipe import (
    DiffusionRecipe,
    RecipeEstimator,
    early_stop_ratio,
    process_for_rule,
    resolve_denoise,
    rule_sizing,
)
from minimax.diffusion.sampling import ODE_SAMPLERS, check_sampling, draw, grid_size, sampling_plan
from minimax.diffusion.sizing import SIZING_RULES
from minimax.diffusion.train_config import TrainConfig
from minimax.diffusion.training import train_ensemble
from minimax.runtime import resolve_device
from minimax.validation import check_choice, check_int, check_points, check_real, check_rng

__all__ = [
    "BOUNDARIES", "AffineTarget", "DiffusionEstimator", "EmpiricalScoreDiffusion",
    "OracleScoreDiffusion", "TrainingDiverged",
]  # fmt: skip

# the old private names, still imported by tests (test_networks, test_blur_tv, ...)
_reflect_into_box = reflect_into_box
_early_stop_ratio = early_stop_ratio
_process_for_rule = process_for_rule

#: the Sizing fields that configure training (the others, sample_steps and rule, do not)
_TRAINING_SIZES = ("width", "depth", "x_finest_scale", "t_min", "t_end", "steps", "batch_size",
                   "lr")  # fmt: skip


class TrainingDiverged(RuntimeError):
    """Raised by ``sample`` of a member whose training diverged; the message is the reason."""


class DiffusionEstimator(RecipeEstimator):
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
      sampler: "auto" (default: "dpm2m" under sizing="theory", "ancestral" under "fixed";
        recipe.resolve_sampler), "ancestral" (DDPM Alg. 2, needs a ddpm process), "dpm2m" (a
        two-step exponential integrator of the reverse SDE, one evaluation per step; the theory
        rule gives it a quarter of the ancestral steps), "euler", "exponential", "heun",
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
        (see train_config.TrainConfig). The kept model is the latest EMA snapshot whose
        held-out loss is not significantly above the best one (heldout.SnapshotKeeper).
      box: a (D, 2) support box (e.g. the target's ``support``); its bounded axes are mapped to
        [-1, 1] (the setting of Oko et al.), unbounded ones (±inf) and all axes when None are
        standardised by the training data's moments.
      boundary: "reflect" (default) folds samples that leave a bounded axis of ``box`` back in
        (the reflection boundary correction; see ``coordinates.reflect_into_box``), "none"
        keeps them (the outside-the-box mass is then part of the error).
      device: "auto" (CUDA when present), "cpu" or "cuda[:k]"; chunk_size: samples per sampler
        chunk (memory bound, see samplers.generate).
    """

    RECIPE = DiffusionRecipe
    has_pdf = False
    name = "diffusion"

    # -- configuration -------------------------------------------------------------------------
    def _check_params(self, D: int):
        """(process, checked box, device) for data of dimension D; ValueError naming the
        parameter for a value that is not allowed."""
        check_choice("loss", self.loss, ("auto", "simple", "elbo", "continuous"))
        check_choice("sizing", self.sizing, tuple(SIZING_RULES))
        resolve_denoise(self.denoise, self.sizing)
        if self.s is not None:
            check_real("s", self.s, low=0.0, low_open=True)
        process = check_sampling(self)
        if self.recipe().in_use("loss") in ("simple", "elbo") and self.process != "ddpm":
            raise ValueError(
                f"loss={self.loss!r} is not allowed with process={self.process!r}: grid losses "
                "need process='ddpm'; use loss='continuous'"
            )
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size, low=1)
        return process, check_box(self.box, D), resolve_device(self.device)

    def _sizing(self, n: int, D: int, process):
        """The sizing rule's budgets at (n, D) for ``process``, with this recipe's overrides,
        x features and ``steps_scale``."""
        xs = self.x_finest_scale
        if isinstance(xs, str) and xs != "auto":
            raise ValueError(
                f"x_finest_scale={xs!r} is not allowed: expected 'auto', None or a number"
            )
        if xs is not None and not isinstance(xs, str):
            check_real("x_finest_scale", xs, low=0.0, high=1.0, low_open=True)
        x_frequencies = 0 if xs is None else check_int("x_frequencies", self.x_frequencies, low=1)
        sz = rule_sizing(self, n, D, process, x_frequencies=x_frequencies,
                         x_finest_scale=None if isinstance(xs, str) else xs)  # fmt: skip
        scale = check_real("steps_scale", self.steps_scale, low=0.0, low_open=True)
        if self.steps is None and scale != 1.0:  # the rule's budget times a factor (ablations)
            sz.steps = max(1, int(round(scale * sz.steps)))
        if xs is None:
            sz.x_finest_scale = None
        return sz

    def _config(self, sizing, box, device) -> TrainConfig:
        recipe = self.recipe()
        return TrainConfig(
            **{k: getattr(sizing, k) for k in _TRAINING_SIZES}, **recipe.with_role("train"),
            loss=recipe.in_use("loss"),
            loss_variance="large" if self.variance == "beta" else "small",
            standardize="box" if box is not None else "moments", box=box, device=device,
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
            process = process_for_rule(self, base, X.shape[0], D)
            sz = self._sizing(X.shape[0], D, process)
            sizings.append(sz)
            processes.append(process)
            key = (tuple(sorted(sz.describe().items())), grid_size(process))
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
        sampler = self.recipe().in_use("sampler")
        if sampler in ODE_SAMPLERS:
            warnings.warn(
                f"sampler={sampler!r} integrates the probability-flow ODE with a trained "
                "network: at small T̲ it collapsed the samples onto a few points in our "
                "measurements (TV ≈ 0.84 vs 0.04 for 'ancestral'); prefer a stochastic sampler",
                RuntimeWarning,
                stacklevel=2,
            )
        sz = self.sizing_
        plan = sampling_plan(self, steps=sz.sample_steps, t_min=sz.t_min, t_end=sz.t_end,
                             denoise=self.recipe().in_use("denoise"))  # fmt: skip
        x, self.sample_info_ = draw(self.score_source(), plan, m, rng)
        return x

    def describe(self) -> dict:
        """Hyperparameters that matter (with "auto" resolved), plus the fit's outcome once
        fitted and the last sampling's once sampled."""
        d = {"estimator": self.name, **self.recipe().shown(),
             "standardize": standardize_name(self.box)}  # fmt: skip
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
