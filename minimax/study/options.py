"""The options a study may ask of an estimator, and what applies to what: checked before
the first cell (``validate_spec``), each failure one line naming the parameter.

An estimator's options (``--set EST.KEY=VALUE``, a study file's ``[options.EST]``, RateStudy's
``options=``) are the keywords of the class it builds (``BUILTIN_CLASSES`` for the built-in
entries, the registered class for a user's): an unknown key is refused with the closest match,
a value whose default is an int, a float or a bool must have that type, and where a tuple of
names declares the allowed values (``DECLARED_CHOICES``, or ``choices=`` of
``register_estimator``) the value must be one of them. The classes check every value again.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

from minimax.study.registry import ESTIMATORS, METRICS

#: the class each built-in estimator builds (module, class): its __init__ declares the options
BUILTIN_CLASSES = {
    "kde": [("minimax.baselines", "KDE")],
    "kde-oracle": [("minimax.baselines", "OracleKDE"), ("minimax.baselines", "KDE")],
    "wavelet": [("minimax.baselines", "WaveletThreshold")],
    "uniform": [("minimax.baselines", "UniformBox")],
    "gaussian": [("minimax.baselines", "BestGaussian")],
    "ddpm": [("minimax.diffusion", "DiffusionEstimator")],
    "ddpm-fixed-tmin": [("minimax.diffusion", "DiffusionEstimator")],
    "empirical-score": [("minimax.diffusion", "EmpiricalScoreDiffusion")],
    "oracle-score": [("minimax.diffusion", "OracleScoreDiffusion")],
    "gan": [("minimax.generative", "GANEstimator")],
    "vae": [("minimax.generative", "VAEEstimator")],
}
#: constructor arguments a study supplies itself (the truth), never an option
_NOT_OPTIONS = ("self", "target")
#: metrics that apply only to estimators with a learned score (``EstimatorEntry.has_score``)
SCORE_METRICS = tuple(name for name, m in METRICS.items() if m.needs_score)


class NoOptions:
    def __call__(self):
        return {}


#: the values a built-in class's option may take, where a tuple of names declares them: class
#: name -> {option: (module, constant) or a tuple} (the class checks them again in fit)
DECLARED_CHOICES = {
    "KDE": {
        "order": ("minimax.baselines.kernels", "ORDERS"),
        "boundary": ("minimax.baselines.kde", "BOUNDARIES"),
        "evaluation": ("minimax.baselines.kde", "EVALUATIONS"),
    },
    "WaveletThreshold": {"threshold": ("level", "universal")},
    "DiffusionEstimator": {
        "loss": ("auto", "simple", "elbo", "continuous"),
        "lr_schedule": ("minimax.diffusion.training", "LR_SCHEDULES"),
    },
}
_SAMPLING_CHOICES = {
    "sampler": ("minimax.diffusion.samplers", "SAMPLERS"),
    "variance": ("minimax.diffusion.samplers", "VARIANCES"),
    "spacing": ("minimax.diffusion.samplers", "SPACINGS"),
    "boundary": ("minimax.diffusion.estimator", "BOUNDARIES"),
}
for _cls in ("DiffusionEstimator", "EmpiricalScoreDiffusion", "OracleScoreDiffusion"):
    DECLARED_CHOICES.setdefault(_cls, {}).update(_SAMPLING_CHOICES)


#: options of built-in classes that take a number or a non-empty list of numbers (a grid the
#: class chooses from itself, e.g. the VAE's learning rates by held-out ELBO)
NUMBER_GRIDS = {"VAEEstimator": ("lr",)}


def _grid_options(estimator: str) -> tuple[str, ...]:
    where = BUILTIN_CLASSES.get(estimator, [])
    return tuple(key for _, name in where for key in NUMBER_GRIDS.get(name, ()))


def _resolve(choice) -> tuple:
    if len(choice) == 2 and isinstance(choice[0], str) and choice[0].startswith("minimax."):
        return tuple(getattr(importlib.import_module(choice[0]), choice[1]))
    return tuple(choice)


class ClassOptions:
    """The keyword options of a class's __init__, {name: default}; None when it takes **kw.
    ``choices``: {option: allowed values} (for built-in classes, ``DECLARED_CHOICES``)."""

    def __init__(self, *classes, choices=None):
        self.classes = classes
        self.choices = dict(choices or {})

    def allowed(self) -> dict[str, tuple]:
        out = {}
        for cls in reversed(self.classes):  # the first class's declaration wins
            out.update({k: _resolve(v) for k, v in DECLARED_CHOICES.get(cls.__name__, {}).items()})
        out.update({k: tuple(v) for k, v in self.choices.items()})
        return out

    def __call__(self):
        out: dict = {}
        for cls in self.classes:
            if cls.__init__ is object.__init__:
                continue
            for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
                if p.kind is p.VAR_KEYWORD:
                    continue  # forwarded: the next class declares them
                if p.kind is p.VAR_POSITIONAL or p.name in _NOT_OPTIONS:
                    continue
                out.setdefault(p.name, None if p.default is p.empty else p.default)
        return out


def _declared(estimator: str):
    entry = ESTIMATORS[estimator]
    if entry.params is not None:
        return entry.params
    where = BUILTIN_CLASSES.get(estimator)
    if where is None:
        return None
    return ClassOptions(*[getattr(importlib.import_module(mod), name) for mod, name in where])


def option_params(estimator: str) -> dict | None:
    """{key: default} of the options ``estimator`` accepts; None when any key is accepted."""
    declared = _declared(estimator)
    return None if declared is None else declared()


def option_choices(estimator: str) -> dict[str, tuple]:
    """{key: allowed values} of the options of ``estimator`` that declare them."""
    declared = _declared(estimator)
    return declared.allowed() if isinstance(declared, ClassOptions) else {}


def _type_error(default, value) -> str | None:
    """What is wrong with ``value`` for an option whose default is ``default`` (None: fine)."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected true or false"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "expected an integer"
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "expected a number"
    return None


def check_options(options: dict) -> None:
    """ValueError (one line) for an option key an estimator does not accept, a value of the
    wrong type where its default declares one, or a value outside the declared choices.
    ``options``: {estimator: {key: value}}."""
    for est, kv in options.items():
        params = option_params(est)
        if params is None:
            continue
        choices = option_choices(est)
        for key, value in kv.items():
            if key not in params:
                if not params:
                    raise ValueError(
                        f"set {est}.{key}={value!r} is not allowed: {est} takes no options"
                    )
                near = difflib.get_close_matches(key, params, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise ValueError(
                    f"set {est}.{key}={value!r} is not allowed{hint}: {est} takes "
                    + ", ".join(sorted(params))
                )
            if key in _grid_options(est):
                grid = value if isinstance(value, list) else [value]
                ok = bool(grid) and all(_type_error(1.0, v) is None for v in grid)
                why = None if ok else "expected a number or a non-empty list of numbers"
            else:
                why = _type_error(params[key], value)
            if why:
                raise ValueError(
                    f"set {est}.{key}={value!r} is not allowed: {why} (default {params[key]!r})"
                )
            allowed = choices.get(key)
            if allowed is not None and (isinstance(value, bool) or value not in allowed):
                raise ValueError(
                    f"set {est}.{key}={value!r} is not allowed: expected one of "
                    + ", ".join(map(repr, allowed))
                )


def metric_applies(metric: str, estimator: str) -> bool:
    """Whether ``metric`` yields rows for ``estimator`` (the score metrics need a learned score)."""
    entry = METRICS.get(metric)
    return entry is None or entry.applies(ESTIMATORS[estimator])


def sampler_names() -> tuple[str, ...]:
    """The values --sampler accepts: "default" (each estimator's own) and the samplers."""
    from minimax.diffusion.samplers import SAMPLERS

    return ("default", *SAMPLERS)
