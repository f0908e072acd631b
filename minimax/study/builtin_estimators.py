"""The built-in estimators of a study, each registered by ``builtin_estimator`` in the order
``list`` shows them and a study computes them.

Each builder is ``build(target, spec, n, options) -> an unfitted Estimator``: the study's
recipe for that estimator (its owner's defaults for the target and spec) with the user's
``options`` on top. Estimator code is imported inside the builders, so registering imports
neither torch nor scipy.
"""

from __future__ import annotations

from minimax.study.registry import builtin_estimator


@builtin_estimator(
    "kde",
    "control",
    "boundary-corrected KDE, bandwidth n^(-1/(2s+D)), order > s: the positive control",
)
def _kde(target, spec, n, options):
    from minimax.baselines import KDE
    from minimax.baselines.kde_recipe import study_kde_options

    return KDE(**{**study_kde_options(target, spec.target.s), **options})


@builtin_estimator(
    "kde-oracle",
    "oracle",
    "the same KDE with the grid bandwidth minimising the exact TV to the target: an "
    "oracle for the best linear estimator of its kind (it knows the truth)",
)
def _kde_oracle(target, spec, n, options):
    from minimax.baselines import OracleKDE
    from minimax.baselines.kde_recipe import study_oracle_kde_options

    return OracleKDE(target, **{**study_oracle_kde_options(target, spec.target.s), **options})


@builtin_estimator(
    "wavelet",
    "control",
    "wavelet hard thresholding (average-interpolating, level-wise universal threshold): "
    "the nonlinear control of the sparse p < 1 targets",
)
def _wavelet(target, spec, n, options):
    from minimax.baselines import WaveletThreshold

    return WaveletThreshold(target.support, **options)


@builtin_estimator("uniform", "trivial", "the uniform density on the box: knowing nothing")
def _uniform(target, spec, n, options):
    from minimax.baselines import UniformBox

    return UniformBox(target.support, **options)


@builtin_estimator(
    "gaussian", "trivial", "the maximum-likelihood Gaussian (training mean and covariance)"
)
def _best_gaussian(target, spec, n, options):
    from minimax.baselines import BestGaussian

    return BestGaussian(**options)


def _diffusion_common(spec, options) -> dict:
    kw = {"s": spec.target.s, "device": spec.device}
    if spec.sampler != "default":
        kw["sampler"] = spec.sampler
    kw.update(options)
    return kw


@builtin_estimator(
    "ddpm",
    "diffusion",
    "DDPM (ε-MLP, batched ensemble of the replicates), sized by --sizing",
    ensemble=True,
    uses_torch=True,
    has_score=True,
)
def _ddpm(target, spec, n, options):
    from minimax.diffusion import DiffusionEstimator

    kw = {"process": "ddpm", "sizing": spec.sizing, "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return DiffusionEstimator(**kw)


@builtin_estimator(
    "ddpm-fixed-tmin",
    "negative control",
    "DDPM with T̲ frozen at its smallest-n value: a blur floor that must flatten the rate",
    ensemble=True,
    uses_torch=True,
    has_score=True,
)
def _ddpm_fixed_tmin(target, spec, n, options):
    """DDPM whose early-stop time T̲ stays at the theory rule's value for the smallest n."""
    from minimax.diffusion import make_process, size

    est = _ddpm(target, spec, n, options)
    if "t_min" not in options:
        process = make_process(est.process, **(est.process_options or {}))
        est.t_min = size("theory", min(spec.n), spec.target.D, process, s=spec.target.s).t_min
    return est


@builtin_estimator(
    "empirical-score",
    "control",
    "the empirical (training-set) score through the diffusion sampler: a Gaussian KDE",
    uses_torch=True,
)
def _empirical(target, spec, n, options):
    from minimax.diffusion import EmpiricalScoreDiffusion

    kw = {"process": "ddpm", "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return EmpiricalScoreDiffusion(**kw)


@builtin_estimator(
    "oracle-score",
    "control",
    "the true score through the same sampler: the sampler's own error (D <= 2)",
    uses_torch=True,
)
def _oracle(target, spec, n, options):
    from minimax.diffusion import OracleScoreDiffusion

    kw = {"process": "ddpm", "sizing": spec.sizing, "box": target.support}
    kw.update(_diffusion_common(spec, options))
    return OracleScoreDiffusion(target, **kw)


def _generative(target, spec, options) -> dict:
    return {"s": spec.target.s, "box": target.support, "device": spec.device, **options}


@builtin_estimator(
    "gan",
    "generative",
    "JS GAN (MLPs, non-saturating loss, tanh into the box; batched ensemble): theory "
    "TV <~ n^(-s/(2s+D)) (Puchkin, Samsonov, Belomestny, Moulines & Naumov 2021)",
    ensemble=True,
    uses_torch=True,
)
def _gan(target, spec, n, options):
    from minimax.generative import GANEstimator

    return GANEstimator(**_generative(target, spec, options))


@builtin_estimator(
    "vae",
    "generative",
    "VAE, Gaussian decoder with learned variance, sampled with its noise (batched "
    "ensemble): theory TV <= sqrt(2) H <~ n^(-s/(2s+D)) up to logs (Kwon & Chae 2023)",
    ensemble=True,
    uses_torch=True,
)
def _vae(target, spec, n, options):
    from minimax.generative import VAEEstimator

    return VAEEstimator(**_generative(target, spec, options))
