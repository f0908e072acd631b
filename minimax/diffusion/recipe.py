"""The hyperparameters of the diffusion estimators, each listed once, with its default.

A recipe is a frozen dataclass whose fields are an estimator's constructor arguments in
signature order (the first ``positional`` may be given by position). From it follow:

* the estimator's ``__init__`` (``RecipeEstimator``): every argument stored unchanged as an
  attribute of the same name, validated in ``fit`` (the contract of minimax/estimator.py);
  ``inspect.signature`` sees the recipe's names and defaults, which is what a study's options
  are checked against (minimax/study/options.py);
* ``params()`` (the arguments back, as a dict) and ``recipe()`` (them as a frozen recipe);
* the hyperparameters that ``describe()`` reports (fields marked ``shown``, with "auto" resolved
  to the value in use), those passed to ``train_config.TrainConfig`` under their own name (role
  "train") and those that override a sizing rule's value (role "size").

Also here: how "auto" values resolve (loss, spacing, denoise) and how an estimator's recipe
applies its sizing rule (``rule_sizing``, ``process_for_rule``).
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, dataclass, field, fields
from typing import ClassVar

import numpy as np

from minimax.diffusion.sizing import EARLY_STOP_RATIO, Sizing, aligned_grid, size
from minimax.estimator import Estimator
from minimax.validation import check_real


def _knob(default=MISSING, *, shown: bool = False, role: str | None = None):
    """A recipe field: ``shown`` enters describe(); ``role`` "train" or "size" (module doc)."""
    return field(default=default, metadata={"shown": shown, "role": role})


def resolve_loss(loss: str, sizing: str, process: str) -> str:
    """The loss in use: "auto" is Oko et al.'s continuous loss under the theory rule
    (docs/theory.md §2) or on a continuous process, the plain DDPM "simple" loss otherwise."""
    if loss != "auto":
        return loss
    return "continuous" if sizing == "theory" or process != "ddpm" else "simple"


def resolve_spacing(spacing: str, sizing: str) -> str:
    """ "auto": log under sizing="theory" (results/ablations/sampler_discretisation: uniform steps
    add 0.0095 TV at n = 8000 with the true score, log ones none; with a trained network the TV
    was the same within its CI, results/ablations/spacing_*), uniform under "fixed"."""
    if spacing == "auto":
        return "log" if sizing == "theory" else "uniform"
    return spacing


def resolve_sampler(sampler: str, sizing: str) -> str:
    """ "auto": "dpm2m" at a quarter of the rule's steps under sizing="theory" (the same TV as
    the ancestral sampler at its full steps with the true score and with the same trained
    networks, at 3.4 times less sampling time: results/ablations/sampler_discretisation,
    results/ablations/d2_sampler_*, docs/decisions.md), "ancestral" under "fixed" (the plain
    DDPM recipe)."""
    if sampler == "auto":
        return "dpm2m" if sizing == "theory" else "ancestral"
    return sampler


def resolve_denoise(denoise, sizing: str) -> bool:
    """The final Tweedie step in use: "auto" is off under the theory rule (its T̲ is already
    the blur the rate allows; see DiffusionEstimator), on under the fixed DDPM recipe.
    ValueError for anything but True, False or "auto"."""
    if denoise == "auto":
        return sizing != "theory"
    if not isinstance(denoise, bool | np.bool_):
        raise ValueError(f"denoise={denoise!r} is not allowed: expected True, False or 'auto'")
    return bool(denoise)


@dataclass(frozen=True)
class Recipe:
    """Base of the recipes: reading fields by their marks."""

    positional: ClassVar[int] = 0

    def in_use(self, name: str):
        """The value of field ``name`` in use: "auto" of loss, sampler, spacing and denoise resolved
        (an estimator without a ``sizing`` field reads as sizing="fixed")."""
        value, sizing = getattr(self, name), getattr(self, "sizing", "fixed")
        if name == "loss":
            return resolve_loss(value, sizing, self.process)
        if name == "spacing":
            return resolve_spacing(value, sizing)
        if name == "sampler":
            return resolve_sampler(value, sizing)
        if name == "denoise":
            return resolve_denoise(value, sizing)
        return value

    def shown(self) -> dict:
        """{name: value in use} of the fields describe() reports, in field order."""
        return {f.name: self.in_use(f.name) for f in fields(self) if f.metadata["shown"]}

    def with_role(self, role: str) -> dict:
        """{name: value as given} of the fields with ``role`` ("train" or "size")."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["role"] == role}


@dataclass(frozen=True)
class DiffusionRecipe(Recipe):
    """The hyperparameters of DiffusionEstimator (documented there)."""

    positional: ClassVar[int] = 5
    process: str = _knob("ddpm", shown=True)
    loss: str = _knob("auto", shown=True)
    sizing: str = _knob("theory", shown=True)
    s: float | None = _knob(None, shown=True)
    sampler: str = _knob("auto", shown=True)
    process_options: dict | None = _knob(None)
    width: int | None = _knob(None, role="size")
    depth: int | None = _knob(None, role="size")
    steps: int | None = _knob(None, role="size")
    batch_size: int | None = _knob(None, role="size")
    lr: float | None = _knob(None, role="size")
    t_min: float | None = _knob(None, role="size")
    t_end: float | None = _knob(None, role="size")
    sample_steps: int | None = _knob(None, role="size")
    variance: str = _knob("beta", shown=True)
    spacing: str = _knob("auto", shown=True)
    denoise: object = _knob("auto", shown=True)
    x_finest_scale: object = _knob("auto")
    x_frequencies: int = _knob(8, shown=True, role="train")
    lr_schedule: str = _knob("cosine", shown=True, role="train")
    warmup_steps: int = _knob(100, shown=True, role="train")
    ema_decay: float = _knob(0.995, shown=True, role="train")
    grad_clip: float | None = _knob(1.0, shown=True, role="train")
    heldout_fraction: float = _knob(0.1, shown=True, role="train")
    eval_every: int = _knob(200, shown=True, role="train")
    eval_size: int = _knob(8192, shown=True, role="train")
    patience: int = _knob(8, shown=True, role="train")
    worse_z: float = _knob(2.0, shown=True, role="train")
    steps_scale: float = _knob(1.0)
    early_stop_scale: float = _knob(1.0)
    box: object = _knob(None)
    boundary: str = _knob("reflect", shown=True)
    device: str = _knob("auto")
    chunk_size: int | None = _knob(None)


@dataclass(frozen=True)
class EmpiricalRecipe(Recipe):
    """The hyperparameters of EmpiricalScoreDiffusion (documented there)."""

    positional: ClassVar[int] = 3
    process: str = _knob("ddpm", shown=True)
    s: float | None = _knob(None, shown=True)
    sampler: str = _knob("ancestral", shown=True)
    process_options: dict | None = _knob(None)
    bandwidth_factor: float = _knob(1.0, shown=True)
    t_min: float | None = _knob(None)
    sample_steps: int | None = _knob(None)
    variance: str = _knob("beta", shown=True)
    spacing: str = _knob("uniform", shown=True)
    box: object = _knob(None)
    boundary: str = _knob("reflect", shown=True)
    device: str = _knob("auto")
    chunk_size: int | None = _knob(None)


@dataclass(frozen=True)
class OracleRecipe(Recipe):
    """The target and hyperparameters of OracleScoreDiffusion (documented there)."""

    positional: ClassVar[int] = 5
    target: object = _knob()
    process: str = _knob("ddpm", shown=True)
    sizing: str = _knob("theory", shown=True)
    s: float | None = _knob(None, shown=True)
    sampler: str = _knob("auto", shown=True)
    process_options: dict | None = _knob(None)
    t_min: float | None = _knob(None, role="size")
    t_end: float | None = _knob(None, role="size")
    sample_steps: int | None = _knob(None, role="size")
    variance: str = _knob("beta", shown=True)
    spacing: str = _knob("auto", shown=True)
    denoise: object = _knob("auto", shown=True)
    box: object = _knob(None)
    boundary: str = _knob("reflect", shown=True)
    device: str = _knob("auto")
    chunk_size: int | None = _knob(None)
    oracle_options: dict | None = _knob(None)
    early_stop_scale: float = _knob(1.0)


def _constructor(recipe: type[Recipe]):
    """An ``__init__`` with the recipe's signature that stores every argument unchanged."""
    P = inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD)]
    for i, f in enumerate(fields(recipe)):
        kind = P.POSITIONAL_OR_KEYWORD if i < recipe.positional else P.KEYWORD_ONLY
        params.append(P(f.name, kind, default=P.empty if f.default is MISSING else f.default))
    signature = inspect.Signature(params)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    __init__.__doc__ = "Store every argument unchanged (validated in ``fit``)."
    return __init__


class RecipeEstimator(Estimator):
    """An Estimator whose constructor arguments are the fields of ``RECIPE``."""

    RECIPE: ClassVar[type[Recipe]]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "RECIPE" in cls.__dict__:
            init = _constructor(cls.RECIPE)
            init.__qualname__, init.__module__ = f"{cls.__qualname__}.__init__", cls.__module__
            cls.__init__ = init

    def params(self) -> dict:
        """The constructor arguments as now set, {name: value}, in signature order."""
        return {f.name: getattr(self, f.name) for f in fields(self.RECIPE)}

    def recipe(self) -> Recipe:
        """The constructor arguments as a frozen recipe."""
        return self.RECIPE(**self.params())


def early_stop_ratio(est) -> float:
    """The rule's σ(T̲)/m(T̲) constant times ``early_stop_scale`` (an ablation knob, default 1);
    ValueError unless that scale is > 0."""
    scale = check_real("early_stop_scale", getattr(est, "early_stop_scale", 1.0), low=0.0,
                       low_open=True)  # fmt: skip
    return EARLY_STOP_RATIO * scale


def process_for_rule(est, base, n: int, D: int):
    """Under the theory rule on a DDPM process whose grid the rule's T̲ undercuts (and with no
    user-given T̲ or T), the same continuous process on a finer grid (sizing.aligned_grid);
    ``base`` otherwise."""
    if (est.process != "ddpm" or est.sizing != "theory" or est.s is None
            or est.t_min is not None or "T" in (est.process_options or {})):  # fmt: skip
        return base
    return aligned_grid(base, n, D, float(est.s), early_stop_ratio(est))


def rule_sizing(est: RecipeEstimator, n: int, D: int, process, **extra) -> Sizing:
    """``sizing.size`` of the estimator's rule at (n, D) for ``process``, with its "size"
    overrides, its early-stop ratio and ``extra`` keywords of ``size``."""
    recipe = est.recipe()
    overrides = recipe.with_role("size") | extra
    return size(est.sizing, n, D, process, s=est.s, early_stop_ratio=early_stop_ratio(est),
                sampler=recipe.in_use("sampler"), **overrides)  # fmt: skip
