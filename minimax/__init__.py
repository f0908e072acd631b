"""minimax: check statistical rate theory by simulation.

First job: measure how fast diffusion models learn a density of Besov smoothness s in D
dimensions as the sample size n grows, against the minimax exponent s/(2s+D)
(Oko, Akiyama & Suzuki, ICML 2023).
"""

__version__ = "0.1.0"


import functools as _functools


def code_version() -> str:
    """``__version__`` plus a fingerprint of the code that produces numbers.

    The fingerprint is the SHA-256 of the source of the targets, estimators (the KDE recipe
    among them), metrics (the score and oracle metrics among them), the study worker, registry,
    built-in entries and spec modules (not of reporting code), so a study's cell cache never
    mixes results computed by different code: a changed recipe recomputes its cells instead of
    reusing stale ones.
    """
    return f"{__version__}+{_fingerprint()}"


@_functools.cache
def _fingerprint() -> str:
    import hashlib
    from pathlib import Path

    root = Path(__file__).parent
    files = [
        p
        for d in ("targets", "diffusion", "baselines", "metrics", "generative")
        for p in sorted((root / d).glob("*.py"))
    ]
    files += [root / n for n in ("estimator.py", "validation.py", "runtime.py")]
    files += [root / "study" / n for n in ("worker.py", "registry.py")]
    files += sorted((root / "study").glob("builtin_*.py"))  # the built-in estimators and metrics
    files += sorted((root / "study").glob("spec*.py"))  # spec.py and its parts (spec_*.py)
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


#: the Python API, imported on first use (``import minimax`` stays light)
_API = {
    "RateStudy": "minimax.study.api",
    "StudyResult": "minimax.study.api",
    "register_estimator": "minimax.study.plugins",
    "register_target": "minimax.study.plugins",
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'minimax' has no attribute {name!r}")
