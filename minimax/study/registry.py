"""What a study can run: estimators (by CLI name), metrics and target kinds.

Importing this module imports no estimator code (and no torch): each entry builds its estimator
lazily in the worker, so ``--help``, ``list`` and input validation stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EstimatorEntry:
    """A named estimator of the study: how to build it for one target and sample size."""

    name: str
    role: str  # "control", "trivial", "diffusion", "negative control", "oracle"
    description: str
    #: build(target, spec, n, options) -> an unfitted Estimator
    build: Callable
    #: True when replicates train together through ``fit_ensemble(Xs, rngs)``
    ensemble: bool = False
    #: True when it runs torch (device matters)
    uses_torch: bool = False
    #: True when the fitted estimator has a learned score (``score_source()``): the score metric
    has_score: bool = False
    #: () -> the options ``--set EST.KEY=VALUE`` may give it, {key: default}; None: those of
    #: the class in ``options.BUILTIN_CLASSES``, or any key for an entry not listed there
    params: Callable | None = None
    #: a user's entry (``register_estimator`` or an instance given to ``RateStudy``): it travels
    #: with the spec to the workers, and its ``identity`` enters its cells' cache identity
    plugin: bool = False
    identity: dict | None = None


#: the KDE control's bandwidth constant per unit half-width of the box: the DDPM's σ(T̲)/m(T̲)
#: constant (minimax.diffusion.sizing.EARLY_STOP_RATIO; a test keeps them equal)
KDE_C_RATIO = 0.2


def _kde_kwargs(target, spec) -> dict:
    # an order-2 kernel with reflection keeps the rate up to s = 2 (kde.py); beyond, order 4
    # with local-polynomial boundary kernels (docs/theory.md §6: the kernel's order must exceed s)
    order = 2 if spec.target.s <= 2 else 4
    # h = c·n^(-1/(2s+D)) by a stated rule, not by its outcome: c = the DDPM's early-stop
    # noise-to-signal constant (KDE_C_RATIO = sizing.EARLY_STOP_RATIO = 0.2) times the box's
    # half-width, so the KDE smooths the data exactly as much as the DDPM's last step blurs them
    # and the paired DDPM − KDE difference is what learning the score adds. (c = 0.25 was chosen
    # earlier because it reproduced the theory exponent on the tuning targets: docs/decisions.md.)
    support = np.asarray(target.support, dtype=np.float64)
    half = (support[:, 1] - support[:, 0]) / 2
    half = float(np.mean(half)) if np.isfinite(half).all() else 1.0
    kw = {
        "bandwidth": "theory",
        "c": KDE_C_RATIO * half,
        "smoothness": spec.target.s,
        "order": order,
        "boundary": "reflect" if order == 2 else "local",
        "support": target.support,
    }
    return kw


def _kde(target, spec, n, options):
    from minimax.baselines import KDE

    return KDE(**{**_kde_kwargs(target, spec), **options})


def _kde_oracle(target, spec, n, options):
    from minimax.baselines import OracleKDE

    kw = _kde_kwargs(target, spec)
    del kw["bandwidth"]
    kw["start_c"] = kw.pop("c")  # the search starts at the theory bandwidth
    kw["tv_options"] = getattr(target, "tv_exact_options", None)
    return OracleKDE(target, **{**kw, **options})


def _wavelet(target, spec, n, options):
    from minimax.baselines import WaveletThreshold

    return WaveletThreshold(target.support, **options)


def _uniform(target, spec, n, options):
    from minimax.baselines import UniformBox

    return UniformBox(target.support, **options)


def _best_gaussian(target, spec, n, options):
    from minimax.baselines import BestGaussian

    return BestGaussian(**options)


def _diffusion_common(spec, options) -> dict:
    kw = {"s": spec.target.s, "device": spec.device}
    if spec.sampler != "default":
        kw["sampler"] = spec.sampler
    kw.update(options)
    return kw


def _ddpm(target, spec, n, options):
    from minimax.diffusion import DiffusionEstimator

    kw = {"process": "ddpm", "sizing": spec.sizing, "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return DiffusionEstimator(**kw)


def _ddpm_fixed_tmin(target, spec, n, options):
    """DDPM whose early-stop time T̲ stays at the theory rule's value for the smallest n."""
    from minimax.diffusion import make_process, size

    est = _ddpm(target, spec, n, options)
    if "t_min" not in options:
        process = make_process(est.process, **(est.process_options or {}))
        est.t_min = size("theory", min(spec.n), spec.target.D, process, s=spec.target.s).t_min
    return est


def _empirical(target, spec, n, options):
    from minimax.diffusion import EmpiricalScoreDiffusion

    kw = {"process": "ddpm", "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return EmpiricalScoreDiffusion(**kw)


def _oracle(target, spec, n, options):
    from minimax.diffusion import OracleScoreDiffusion

    kw = {"process": "ddpm", "sizing": spec.sizing, "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return OracleScoreDiffusion(target, **kw)


def _generative(target, spec, options) -> dict:
    return {"s": spec.target.s, "box": target.support, "device": spec.device, **options}


def _gan(target, spec, n, options):
    from minimax.generative import GANEstimator

    return GANEstimator(**_generative(target, spec, options))


def _vae(target, spec, n, options):
    from minimax.generative import VAEEstimator

    return VAEEstimator(**_generative(target, spec, options))


ESTIMATORS: dict[str, EstimatorEntry] = {
    e.name: e
    for e in (
        EstimatorEntry(
            "kde",
            "control",
            "boundary-corrected KDE, bandwidth n^(-1/(2s+D)), order > s: the positive control",
            _kde,
        ),
        EstimatorEntry(
            "kde-oracle",
            "oracle",
            "the same KDE with the grid bandwidth minimising the exact TV to the target: an "
            "oracle for the best linear estimator of its kind (it knows the truth)",
            _kde_oracle,
        ),
        EstimatorEntry(
            "wavelet",
            "control",
            "wavelet hard thresholding (average-interpolating, level-wise universal threshold): "
            "the nonlinear control of the sparse p < 1 targets",
            _wavelet,
        ),
        EstimatorEntry(
            "uniform", "trivial", "the uniform density on the box: knowing nothing", _uniform
        ),
        EstimatorEntry(
            "gaussian",
            "trivial",
            "the maximum-likelihood Gaussian (training mean and covariance)",
            _best_gaussian,
        ),
        EstimatorEntry(
            "ddpm",
            "diffusion",
            "DDPM (ε-MLP, batched ensemble of the replicates), sized by --sizing",
            _ddpm,
            ensemble=True,
            uses_torch=True,
            has_score=True,
        ),
        EstimatorEntry(
            "ddpm-fixed-tmin",
            "negative control",
            "DDPM with T̲ frozen at its smallest-n value: a blur floor that must flatten the rate",
            _ddpm_fixed_tmin,
            ensemble=True,
            uses_torch=True,
            has_score=True,
        ),
        EstimatorEntry(
            "empirical-score",
            "control",
            "the empirical (training-set) score through the diffusion sampler: a Gaussian KDE",
            _empirical,
            uses_torch=True,
        ),
        EstimatorEntry(
            "oracle-score",
            "control",
            "the true score through the same sampler: the sampler's own error (D <= 2)",
            _oracle,
            uses_torch=True,
        ),
        EstimatorEntry(
            "gan",
            "generative",
            "JS GAN (MLPs, non-saturating loss, tanh into the box; batched ensemble): theory "
            "TV <~ n^(-s/(2s+D)) (Puchkin, Samsonov, Belomestny, Moulines & Naumov 2021)",
            _gan,
            ensemble=True,
            uses_torch=True,
        ),
        EstimatorEntry(
            "vae",
            "generative",
            "VAE, Gaussian decoder with learned variance, sampled with its noise (batched "
            "ensemble): theory TV <= sqrt(2) H <~ n^(-s/(2s+D)) up to logs (Kwon & Chae 2023)",
            _vae,
            ensemble=True,
            uses_torch=True,
        ),
    )
}


@dataclass(frozen=True)
class MetricEntry:
    name: str
    description: str
    #: the minimax exponent a in error ≍ n^(-a), as a function of (s, D)
    theory: Callable[[float, int], float]


def tv_exponent(s: float, D: int) -> float:
    """s/(2s+D): minimax TV exponent (Oko, Akiyama & Suzuki 2023, Thm 5.1, Prop 5.2)."""
    return s / (2 * s + D)


def w1_exponent(s: float, D: int) -> float:
    """min((s+1)/(2s+D), 1/2): minimax W1 exponent (Niles-Weed & Berthet 2022)."""
    return min((s + 1) / (2 * s + D), 0.5)


def score_exponent(s: float, D: int) -> float:
    """2s/(2s+D): exponent of the integrated squared score error (docs/theory.md §8.6)."""
    return 2 * s / (2 * s + D)


METRICS: dict[str, MetricEntry] = {
    "tv": MetricEntry(
        "tv",
        "total variation: exact quadrature for explicit densities, binned with floor otherwise",
        tv_exponent,
    ),
    "w1": MetricEntry("w1", "Wasserstein-1 distance from samples", w1_exponent),
    "oracle_tv": MetricEntry(
        "oracle_tv",
        "TV of the true score through the DDPM's own sampler, T̲, T̄ and steps (its sampling "
        "error budget; once per n, D <= 2; slow on a CPU: ≈ 0.4 s per sampling step for D = 1)",
        tv_exponent,
    ),
    "score": MetricEntry(
        "score",
        "σ²-weighted score error of a trained diffusion model vs the numerical oracle (D <= 2)",
        score_exponent,
    ),
}

#: metrics derived from another one's details (rows added automatically, no theory exponent)
DERIVED_METRICS = {"outside_mass": "tv"}


def theory_exponent(metric: str, s: float, D: int) -> float:
    """The theory's exponent for ``metric`` (NaN where there is none)."""
    entry = METRICS.get(metric)
    if metric == "tv_sampled":  # the calibration arm: an explicit density scored from samples
        return tv_exponent(s, D)
    if entry is None:
        if metric in ("score", "score_error", "score_integral"):
            return score_exponent(s, D)
        return float("nan")
    return entry.theory(s, D)


def target_kinds() -> tuple[str, ...]:
    """The target kinds ``make_target`` accepts."""
    from minimax.targets import TARGET_KINDS

    return tuple(TARGET_KINDS)
