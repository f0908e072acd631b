"""Plugging a user's estimators and targets into a study, and the options each entry accepts.

Register by decorator (the class or factory stays usable as it is)::

    from minimax.study.plugins import register_estimator, register_target

    @register_estimator("hist", role="control")
    class Histogram(Estimator): ...          # built as Histogram(**options) for each cell

    @register_target("bump")
    class Bump(Target): ...                  # built as Bump(**the make_target keywords it takes)

or pass an instance to ``RateStudy`` (``estimators={"hist": Histogram(bins=16)}``,
``target=Bump(...)``): each cell then works on a deep copy of it. A user's entry travels with
the study spec to the workers (``StudySpec.plugins``), which install it before computing, so it
works with every backend; its class and parameters enter its cells' cache identity. Built-in
entries are untouched: their cells keep their identity. A user's entry and a built-in one go
into the same ``registry.ESTIMATORS`` through ``registry.add_estimator``.

The options a registered class accepts are its ``__init__`` keywords (``minimax.study.options``).
"""

from __future__ import annotations

import copy
import inspect
import json
from dataclasses import dataclass

from minimax.study.options import ClassOptions, NoOptions
from minimax.study.registry import ESTIMATORS, EstimatorEntry, add_estimator


# -- estimators ----------------------------------------------------------------------------
class _FromClass:
    """build(target, spec, n, options) -> cls(**options) (picklable, unlike a lambda)."""

    def __init__(self, cls):
        self.cls = cls

    def __call__(self, target, spec, n, options):
        return self.cls(**options)


class _FromInstance:
    """build(...) -> a deep copy of the user's (unfitted) instance."""

    def __init__(self, est):
        self.est = est

    def __call__(self, target, spec, n, options):
        return copy.deepcopy(self.est)


def _qualname(obj) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _jsonable(d) -> dict:
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def _check_name(kind: str, name, taken) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in ",=/ \n"):
        raise ValueError(
            f"{kind} name={name!r} is not allowed: expected a non-empty name without , = / or spaces"
        )
    if name in taken:
        raise ValueError(f"{kind} name={name!r} is not allowed: it is a built-in {kind}")
    return name


def _builtin_estimators() -> set[str]:
    return {k for k, e in ESTIMATORS.items() if not e.plugin}


def _check_estimator_contract(name: str, obj) -> None:
    missing = [m for m in ("fit", "sample", "describe") if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(
            f"estimator {name}={obj!r} is not allowed: it lacks {', '.join(missing)} (the "
            "Estimator contract: fit(X, rng) -> self, sample(m, rng), describe(), and pdf(x) "
            "where has_pdf)"
        )


def register_estimator(
    name: str,
    *,
    role: str = "user",
    description: str = "",
    ensemble: bool = False,
    uses_torch: bool = False,
    has_score: bool = False,
    choices: dict | None = None,
):
    """Decorator: register an Estimator class (built as ``cls(**options)``) or a factory
    ``build(target, spec, n, options)`` under ``name``. ``role="control"`` also scores an
    explicit density from its samples (the calibration arm); ``"trivial"`` marks a baseline.
    A class's options are its ``__init__`` keywords, typed by their defaults (int, float,
    bool); ``choices`` ({option: allowed values}) declares the values an option may take."""
    _check_name("estimator", name, _builtin_estimators())

    def decorate(obj):
        if isinstance(obj, type):
            _check_estimator_contract(name, obj)
            build, params = _FromClass(obj), ClassOptions(obj, choices=choices)
        elif callable(obj):
            build, params = obj, None
        else:
            raise ValueError(
                f"estimator {name}={obj!r} is not allowed: expected a class or a function"
            )
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        entry = EstimatorEntry(
            name,
            role,
            description or (doc[0] if doc else _qualname(obj)),
            build,
            ensemble=ensemble,
            uses_torch=uses_torch,
            has_score=has_score,
            params=params,
            plugin=True,
            identity={"class": _qualname(obj)},
        )
        add_estimator(entry)
        return obj

    return decorate


def estimator_from_instance(name: str, est) -> EstimatorEntry:
    """Register an unfitted estimator instance under ``name``; each cell fits a deep copy."""
    _check_name("estimator", name, _builtin_estimators())
    _check_estimator_contract(name, est)
    try:
        params = _jsonable(est.describe())
    except Exception as exc:
        raise ValueError(
            f"estimator {name}={est!r} is not allowed: describe() failed ({exc})"
        ) from None
    entry = EstimatorEntry(
        name,
        str(getattr(est, "role", "user")),
        f"{type(est).__name__} (an instance)",
        _FromInstance(est),
        params=NoOptions(),
        plugin=True,
        identity={"class": _qualname(est), "params": params},
    )
    return add_estimator(entry)


# -- targets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetPlugin:
    kind: str
    factory: object  # called with make_target's keywords, filtered to those it accepts
    description: str
    identity: dict


class _Filtered:
    """Call ``fn`` with only the keywords its signature accepts (all with ``**kw``)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, **kw):
        sig = inspect.signature(self.fn)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            kw = {k: v for k, v in kw.items() if k in sig.parameters}
        return self.fn(**kw)


class _Fixed:
    """A target instance: the same object whatever the keywords (its D must match)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, **kw):
        if kw.get("D") != self.target.dim:
            raise ValueError(
                f"D={kw.get('D')!r} is not allowed: the target has dim {self.target.dim}"
            )
        return self.target


def _check_target_contract(kind: str, obj) -> None:
    need = ("pdf", "sample", "cell_masses", "describe")
    missing = [m for m in need if not callable(getattr(obj, m, None))]
    if not isinstance(obj, type):
        missing += [a for a in ("dim", "support") if not hasattr(obj, a)]
    if missing:
        raise ValueError(
            f"target {kind}={obj!r} is not allowed: it lacks {', '.join(missing)} (the Target "
            "contract: dim, support, pdf, sample, cell_masses, describe)"
        )


def _install_target(plugin: TargetPlugin) -> None:
    from minimax.targets import registry as targets

    if targets.PLUGINS.get(plugin.kind) is not plugin.factory:
        targets.PLUGINS[plugin.kind] = plugin.factory
        targets.TARGET_KINDS[plugin.kind] = plugin.description
        from minimax.study.worker import build_target

        build_target.cache_clear()  # a kind now names another target
    _TARGETS[plugin.kind] = plugin


_TARGETS: dict[str, TargetPlugin] = {}


def _builtin_targets() -> set[str]:
    from minimax.targets import registry as targets

    return set(targets.TARGET_KINDS) - set(targets.PLUGINS)


def register_target(kind: str, *, description: str = ""):
    """Decorator: register a Target class (or factory) under ``kind``; a study builds it with
    the keywords of ``make_target`` it accepts (D, s, p, boundary, seed, n_max)."""
    _check_name("target", kind, _builtin_targets())

    def decorate(obj):
        if isinstance(obj, type):
            _check_target_contract(kind, obj)
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        _install_target(
            TargetPlugin(
                kind,
                _Filtered(obj),
                description or (doc[0] if doc else kind),
                {"class": _qualname(obj)},
            )
        )
        return obj

    return decorate


def target_from_instance(kind: str, target) -> TargetPlugin:
    """Register a Target instance under ``kind`` (its ``describe()`` enters the cells' identity)."""
    _check_name("target", kind, _builtin_targets())
    _check_target_contract(kind, target)
    plugin = TargetPlugin(
        kind,
        _Fixed(target),
        f"{type(target).__name__} (an instance)",
        {"class": _qualname(target), "params": _jsonable(target.describe())},
    )
    _install_target(plugin)
    return plugin


def target_plugin(kind: str) -> TargetPlugin | None:
    return _TARGETS.get(kind)


def unregister(*names: str) -> None:
    """Remove the user's estimators and targets of these names (every one when none is given);
    built-in entries stay. Specs built before keep the entries they carry."""
    from minimax.study.worker import build_target
    from minimax.targets import registry as targets

    for name in [k for k, e in ESTIMATORS.items() if e.plugin and (not names or k in names)]:
        del ESTIMATORS[name]
    for kind in [k for k in targets.PLUGINS if not names or k in names]:
        del targets.PLUGINS[kind]
        targets.TARGET_KINDS.pop(kind, None)
        _TARGETS.pop(kind, None)
    build_target.cache_clear()


# -- specs and workers ---------------------------------------------------------------------
def spec_plugins(spec) -> tuple:
    """The user's entries a spec uses, to travel with it: (("estimator", entry), ("target",
    plugin)); empty for a study of built-in entries."""
    out = [("estimator", ESTIMATORS[e]) for e in spec.estimators if ESTIMATORS[e].plugin]
    tp = _TARGETS.get(spec.target.kind)
    return tuple(out + ([("target", tp)] if tp is not None else []))


def install_plugins(plugins) -> None:
    """In a worker: register the entries a spec carries (a no-op for built-in studies)."""
    for kind, obj in plugins or ():
        if kind == "estimator":
            add_estimator(obj)
        else:
            _install_target(obj)
