"""minimax.diffusion: the estimator under study (issue 3).

Forward processes (``processes``), score sources (``scores``: exact, empirical, oracle;
``networks.NetworkScore``), ε-networks trained as batched ensembles (``networks``, ``losses``,
``training`` with ``train_config``, ``optim`` and ``heldout``), sizing rules (``sizing``),
samplers (``samplers``) and the estimators that tie them together: their hyperparameters
(``recipe``), data coordinates (``coordinates``), one sampling pipeline (``sampling``), the
trained network (``estimator``) and the no-training controls (``controls``). Names are imported
lazily on first use, so importing the package is cheap (no torch import) and one module's
absence does not break the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "base": ("Process", "ScoreSource"),
    "processes": (
        "DDPMSchedule", "DDPMProcess", "VPProcess", "SubVPProcess", "VEProcess", "OUProcess",
        "make_process", "PROCESSES", "SCHEDULES",
    ),
    "samplers": ("time_grid", "generate", "SAMPLERS"),
    "scores": ("ExactGMMScore", "EmpiricalScore", "OracleScore"),
    "networks": ("EnsembleMLP", "NetworkScore", "Standardizer", "noise_conditioning"),
    "losses": ("DenoisingLoss", "SimpleLoss", "ELBOLoss", "ContinuousLoss", "make_loss", "LOSSES"),
    "train_config": ("TrainConfig",),
    "heldout": ("MemberReport",),
    "training": ("EnsembleFit", "train_ensemble"),
    "sizing": ("Sizing", "size", "SIZING_RULES", "rate_exponent"),
    "estimator": ("DiffusionEstimator", "TrainingDiverged"),
    "controls": ("EmpiricalScoreDiffusion", "OracleScoreDiffusion"),
}  # fmt: skip

_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'minimax.diffusion' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f"minimax.diffusion.{mod}"), name)
    except (ImportError, AttributeError) as err:
        raise AttributeError(f"minimax.diffusion.{name} is unavailable: {err}") from err
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
