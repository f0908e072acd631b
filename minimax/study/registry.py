"""What a study can run: estimators (by CLI name), metrics and target kinds, in one mechanism.

Every estimator is an ``EstimatorEntry`` in ``ESTIMATORS`` and every metric a ``MetricEntry``
in ``METRICS``, put there by a decorator: the built-in ones by ``builtin_estimator`` and
``metric`` (``minimax.study.builtin_estimators``, ``minimax.study.builtin_metrics``), a user's
by ``minimax.study.plugins.register_estimator``, all through ``add_estimator``. Both mappings
keep the order of registration, which is the order of ``list`` and of a study's cells.

Importing this module imports no estimator code (and no torch): each entry builds its estimator
lazily in the worker, so ``--help``, ``list`` and input validation stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


ESTIMATORS: dict[str, EstimatorEntry] = {}


def add_estimator(entry: EstimatorEntry) -> EstimatorEntry:
    """Put ``entry`` into ``ESTIMATORS`` under its name and return it. A built-in name is
    taken once (ValueError for a second built-in of that name); a user's entry replaces a
    user's entry of the same name (``plugins`` refuses built-in names before calling this)."""
    old = ESTIMATORS.get(entry.name)
    if old is not None and not (old.plugin and entry.plugin):
        raise ValueError(f"estimator name={entry.name!r} is not allowed: it is registered")
    ESTIMATORS[entry.name] = entry
    return entry


def builtin_estimator(
    name: str,
    role: str,
    description: str,
    *,
    ensemble: bool = False,
    uses_torch: bool = False,
    has_score: bool = False,
):
    """Decorator: register ``build(target, spec, n, options)`` as the built-in estimator
    ``name`` (its options: those of its class in ``options.BUILTIN_CLASSES``); returns
    ``build`` unchanged."""

    def decorate(build: Callable) -> Callable:
        add_estimator(
            EstimatorEntry(
                name,
                role,
                description,
                build,
                ensemble=ensemble,
                uses_torch=uses_torch,
                has_score=has_score,
            )
        )
        return build

    return decorate


# -- metrics -------------------------------------------------------------------------------
@dataclass
class FittedCell:
    """What a metric of one cell sees: the cell, its target, its fitted estimator and entry,
    and the cell's random streams (``Cell.streams``)."""

    cell: object
    target: object
    est: object
    entry: EstimatorEntry
    streams: dict
    _samples: np.ndarray | None = field(default=None, repr=False)

    def samples(self) -> np.ndarray:
        """The estimator's M draws at this n (``spec.samples_at``), drawn on first use from the
        cell's sample stream and shared by every metric of the cell."""
        if self._samples is None:
            m = self.cell.spec.samples_at(self.cell.n)
            self._samples = np.asarray(self.est.sample(m, self.streams["sample"]), np.float64)
        return self._samples


@dataclass(frozen=True)
class MetricEntry:
    name: str
    description: str
    #: the minimax exponent a in error ≍ n^(-a), as a function of (s, D)
    theory: Callable[[float, int], float]
    #: compute(FittedCell) -> [MetricResult], in the order of ``row_names``; for a
    #: ``per_unit`` metric compute(target, spec, n, options, X, seed), once per work unit
    compute: Callable | None = None
    #: rows(entry, est, target) -> the names of its rows for an estimator; None: [name]
    rows: Callable | None = None
    #: True when it applies only to estimators with a learned score (``has_score``)
    needs_score: bool = False
    #: True when it is computed once per work unit and shared by its replicates' rows
    per_unit: bool = False

    def applies(self, entry: EstimatorEntry) -> bool:
        """Whether this metric yields rows for the estimator of ``entry``."""
        return entry.has_score or not self.needs_score

    def row_names(self, entry: EstimatorEntry, est, target) -> list[str]:
        """The metric names of its rows for ``entry`` (none where it does not apply); ``est``:
        the estimator as built (fitted or not), None where it could not be built."""
        if not self.applies(entry):
            return []
        return [self.name] if self.rows is None else list(self.rows(entry, est, target))


METRICS: dict[str, MetricEntry] = {}


def metric(
    name: str,
    description: str,
    *,
    theory: Callable[[float, int], float],
    rows: Callable | None = None,
    needs_score: bool = False,
    per_unit: bool = False,
):
    """Decorator: register ``compute`` as the metric ``name`` (see ``MetricEntry``); returns
    ``compute`` unchanged. A name is taken once."""

    def decorate(compute: Callable) -> Callable:
        if name in METRICS:
            raise ValueError(f"metric name={name!r} is not allowed: it is registered")
        METRICS[name] = MetricEntry(
            name, description, theory, compute, rows, needs_score=needs_score, per_unit=per_unit
        )
        return compute

    return decorate


def tv_exponent(s: float, D: int) -> float:
    """s/(2s+D): minimax TV exponent (Oko, Akiyama & Suzuki 2023, Thm 5.1, Prop 5.2)."""
    return s / (2 * s + D)


def w1_exponent(s: float, D: int) -> float:
    """min((s+1)/(2s+D), 1/2): minimax W1 exponent (Niles-Weed & Berthet 2022)."""
    return min((s + 1) / (2 * s + D), 0.5)


def score_exponent(s: float, D: int) -> float:
    """2s/(2s+D): exponent of the integrated squared score error (docs/theory.md §8.6)."""
    return 2 * s / (2 * s + D)


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


def __getattr__(name: str):
    # KDE_C_RATIO lives with the KDE recipe; imported on first use, since importing the
    # baselines package costs scipy
    if name == "KDE_C_RATIO":
        from minimax.baselines.kde_recipe import KDE_C_RATIO

        return KDE_C_RATIO
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def target_kinds() -> tuple[str, ...]:
    """The target kinds ``make_target`` accepts."""
    from minimax.targets import TARGET_KINDS

    return tuple(TARGET_KINDS)


# the built-in entries register themselves on import, in the order ``list`` shows them; they
# import this module's decorators, so they come after them
from minimax.study import builtin_estimators as _builtin_estimators  # noqa: E402, F401
from minimax.study import builtin_metrics as _builtin_metrics  # noqa: E402, F401
