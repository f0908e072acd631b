"""Targets by name, for the study layer: ``make_target("besov", D=2, s=1.5)``.

The built-in kinds register by ``builtin_target``, a user's by
``minimax.study.plugins.register_target``; both are listed in ``TARGET_KINDS``.
"""

from __future__ import annotations

import numpy as np

from minimax.targets.base import Target
from minimax.targets.besov import BesovDensity
from minimax.targets.gaussian_mixture import GaussianMixture
from minimax.targets.sparse import SparseMultiscaleDensity
from minimax.validation import check_choice, check_int

#: kind -> one-line description of every target ``make_target`` builds (built-in and a user's)
TARGET_KINDS: dict[str, str] = {}
#: the built-in targets: kind -> factory(D, s, p, boundary, seed, n_max, **kw) -> Target
BUILTINS: dict = {}
#: targets registered by users (``minimax.study.plugins.register_target``): kind -> a factory
#: called with the keywords of make_target it accepts, returning a Target
PLUGINS: dict = {}


def builtin_target(kind: str, description: str):
    """Decorator: register ``factory`` as the built-in target ``kind`` (listed in
    ``TARGET_KINDS`` in the order of registration); returns ``factory`` unchanged."""

    def decorate(factory):
        if kind in TARGET_KINDS:
            raise ValueError(f"target kind={kind!r} is not allowed: it is registered")
        TARGET_KINDS[kind] = description
        BUILTINS[kind] = factory
        return factory

    return decorate


def default_gmm(D: int) -> GaussianMixture:
    """The study's default mixture: C^∞, mostly inside [-1, 1]^D, exact score at every t."""
    ones = np.ones(D)
    return GaussianMixture([0.4, 0.6], np.stack([-0.4 * ones, 0.4 * ones]), [0.3, 0.3])


@builtin_target(
    "besov", "random-sign multilevel B-spline density of exact Besov smoothness s on [-1, 1]^D"
)
def _besov(*, D, s, p, boundary, seed, n_max, **kw) -> Target:
    if s is None:
        raise ValueError("s=None is not allowed: the 'besov' target needs a smoothness s > 0")
    if n_max is not None:
        kw["n_max"] = n_max
    return BesovDensity(D, s, p, boundary=boundary, seed=seed, **kw)


@builtin_target(
    "sparse-multiscale",
    "dense Besov density + a sparse multiscale spike train: in B^s_{p,inf} "
    "with p < 1, L1 smoothness s·p (where linear estimators lose; docs/sparse_targets.md)",
)
def _sparse(*, D, s, p, boundary, seed, n_max, **kw) -> Target:
    if s is None:
        raise ValueError("s=None is not allowed: the 'sparse-multiscale' target needs s > 0")
    if n_max is not None:
        kw["n_max"] = n_max
    return SparseMultiscaleDensity(D, s, p, boundary=boundary, seed=seed, **kw)


@builtin_target(
    "gmm", "two-component Gaussian mixture on R^D (weights 0.4/0.6, means ∓0.4·1, std 0.3)"
)
def _gmm(*, D, s, p, boundary, seed, n_max, **kw) -> Target:
    if kw:
        allowed = {"weights", "means", "stds"}
        extra = sorted(set(kw) - allowed)
        if extra:
            raise ValueError(
                f"{extra[0]}={kw[extra[0]]!r} is not allowed: the 'gmm' target takes only "
                "weights, means, stds"
            )
        return GaussianMixture(kw["weights"], kw["means"], kw["stds"])
    return default_gmm(D)


def make_target(
    kind: str, *, D, s=None, p=2.0, boundary="band", seed=0, n_max=None, **kw
) -> Target:
    """Build a target by kind (one of ``TARGET_KINDS``).

    "besov": ``BesovDensity(D, s, p, boundary=..., seed=..., n_max=...)`` with any further
    keyword arguments passed on (s is required). "sparse-multiscale":
    ``SparseMultiscaleDensity(D, s, p, ...)`` likewise (0 < p < 1). "gmm": ``default_gmm(D)``, or a mixture given
    by ``weights``, ``means``, ``stds``; s, p, boundary and seed do not apply and are ignored.
    A user's kind (``PLUGINS``) gets the keywords its factory accepts.
    """
    if not isinstance(kind, str) or kind not in TARGET_KINDS:
        check_choice("kind", kind, tuple(TARGET_KINDS))
    D = check_int("D", D, low=1)
    values = dict(D=D, s=s, p=p, boundary=boundary, seed=seed, n_max=n_max, **kw)
    factory = PLUGINS.get(kind) or BUILTINS[kind]
    return factory(**values)
