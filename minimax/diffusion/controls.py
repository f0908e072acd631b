"""The two no-training controls: known scores through the diffusion estimator's own sampler.

* :class:`EmpiricalScoreDiffusion`: the closed-form empirical score, a Gaussian-KDE control
  (docs/theory.md §5);
* :class:`OracleScoreDiffusion`: the true score, which isolates the sampler's own error
  (discretisation, early stop, prior mismatch) with no learning.

Both standardise data as the DiffusionEstimator does (coordinates.py) and sample through the
same pipeline (sampling.py), so T̲, T̄ and the boundary treatment mean the same in all three.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax.diffusion.coordinates import (
    AffineTarget,
    check_box,
    standardize_name,
    standardizer_for,
)
from minimax.diffusion.recipe import (
    EmpiricalRecipe,
    OracleRecipe,
    RecipeEstimator,
    process_for_rule,
    rule_sizing,
)
from minimax.diffusion.sampling import check_sampling, draw, sampling_plan
from minimax.diffusion.sizing import size
from minimax.runtime import resolve_device
from minimax.targets.base import Target
from minimax.validation import check_int, check_points, check_real, check_rng


class _ControlBase(RecipeEstimator):
    """What the two controls share: setup from the data, sampling and describe()."""

    has_pdf = False
    #: sample all m points in one chunk: a score whose cost is a table per time step (the
    #: numerical oracle) would otherwise rebuild every table once per chunk; results do not
    #: depend on the chunk size (samplers.generate)
    one_chunk = False

    def _setup(self, X, rng):
        """Check X, rng and the sampler options; set process_, dim_, n_, box_, device_ and
        standardizer_; return X as checked."""
        X = check_points("X", X)
        check_rng("rng", rng)
        D = X.shape[1]
        self.process_ = check_sampling(self)
        self.dim_ = D
        self.n_ = X.shape[0]
        self.box_ = check_box(self.box, D)
        self.device_ = resolve_device(self.device)
        self.standardizer_ = standardizer_for(X, self.box_)
        return X

    def _fitted(self):
        if not hasattr(self, "score_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit first")

    def _draw(self, m, rng, *, denoise: bool, divide_by_mean: bool = False) -> np.ndarray:
        plan = sampling_plan(self, steps=self.sample_steps_, t_min=self.t_min_, t_end=self.t_end_,
                             denoise=denoise, one_chunk=self.one_chunk)  # fmt: skip
        x, self.sample_info_ = draw(self.score_, plan, m, rng, divide_by_mean=divide_by_mean)
        return x

    def describe(self) -> dict:
        """Hyperparameters that matter (with "auto" resolved), the sizes once fitted and the
        last sampling's outcome once sampled."""
        d = {"estimator": self.name, **self.recipe().shown(),
             "standardize": standardize_name(self.box)}  # fmt: skip
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

    RECIPE = EmpiricalRecipe
    name = "empirical_score"

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
        """m draws (m, D) of the KDE: the sampler's draws at T̲, divided by m(T̲)."""
        self._fitted()
        return self._draw(m, rng, denoise=False, divide_by_mean=True)

    def bandwidth(self) -> float:
        """The KDE bandwidth σ(T̲)/m(T̲) in standardised units."""
        mean, std = self.process_.marginal(float(self.t_min_))
        return float(std / mean)

    def describe(self) -> dict:
        d = super().describe()
        if hasattr(self, "t_min_"):
            d["bandwidth"] = self.bandwidth()
        return d


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

    RECIPE = OracleRecipe
    name = "oracle_score"
    one_chunk = True

    def fit(self, X, rng) -> OracleScoreDiffusion:
        from minimax.targets.gaussian_mixture import GaussianMixture

        if not isinstance(self.target, Target):
            raise ValueError(f"target={self.target!r} is not allowed: expected a Target")
        X = self._setup(X, rng)
        if X.shape[1] != self.target.dim:
            raise ValueError(f"X has dimension {X.shape[1]}: expected D={self.target.dim}")
        self.process_ = process_for_rule(self, self.process_, self.n_, self.dim_)
        sz = rule_sizing(self, self.n_, self.dim_, self.process_)
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
        """m draws (m, D) of the true score through the sampler."""
        self._fitted()
        return self._draw(m, rng, denoise=self.recipe().in_use("denoise"))
