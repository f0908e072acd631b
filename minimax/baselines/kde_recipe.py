"""The KDE control's recipe in a rate study: its bandwidth constant, kernel order and boundary
treatment as functions of the target's box and smoothness s, fixed by a stated rule.

The study's ``kde`` and ``kde-oracle`` entries (``minimax.study.registry``) build their
estimators from these keywords; a user's ``--set kde.KEY=VALUE`` overrides any of them.
"""

from __future__ import annotations

import numpy as np

#: the KDE control's bandwidth constant per unit half-width of the box: the DDPM's σ(T̲)/m(T̲)
#: constant (minimax.diffusion.sizing.EARLY_STOP_RATIO; a test keeps them equal)
KDE_C_RATIO = 0.2


def study_kde_options(target, s: float) -> dict:
    """The keywords of ``KDE`` for the study's KDE control on ``target`` (its ``support``) at
    smoothness ``s``: the theory bandwidth h = c·n^(-1/(2s+D)) with c = ``KDE_C_RATIO`` times
    the box's mean half-width (1 for an unbounded support), an order-2 kernel with reflection
    for s <= 2 and an order-4 kernel with local-polynomial boundary kernels above."""
    # an order-2 kernel with reflection keeps the rate up to s = 2 (kde.py); beyond, order 4
    # with local-polynomial boundary kernels (docs/theory.md §6: the kernel's order must exceed s)
    order = 2 if s <= 2 else 4
    # h = c·n^(-1/(2s+D)) by a stated rule, not by its outcome: c = the DDPM's early-stop
    # noise-to-signal constant (KDE_C_RATIO = sizing.EARLY_STOP_RATIO = 0.2) times the box's
    # half-width, so the KDE smooths the data exactly as much as the DDPM's last step blurs them
    # and the paired DDPM − KDE difference is what learning the score adds. (c = 0.25 was chosen
    # earlier because it reproduced the theory exponent on the tuning targets: docs/decisions.md.)
    support = np.asarray(target.support, dtype=np.float64)
    half = (support[:, 1] - support[:, 0]) / 2
    half = float(np.mean(half)) if np.isfinite(half).all() else 1.0
    return {
        "bandwidth": "theory",
        "c": KDE_C_RATIO * half,
        "smoothness": s,
        "order": order,
        "boundary": "reflect" if order == 2 else "local",
        "support": target.support,
    }


def study_oracle_kde_options(target, s: float) -> dict:
    """The keywords of ``OracleKDE`` (besides the target) for the study's KDE oracle: the
    control's kernel, order and boundary, its bandwidth search starting at the control's
    constant, scored with the target's own ``tv_exact_options`` where it states them."""
    kw = study_kde_options(target, s)
    del kw["bandwidth"]
    kw["start_c"] = kw.pop("c")  # the search starts at the theory bandwidth
    kw["tv_options"] = getattr(target, "tv_exact_options", None)
    return kw
