"""Input checks shared by every public entry point.

Each raises ``ValueError`` with one line naming the parameter, its value and what is allowed
(the convention of docs/design.md); the CLI prints that line and exits 2.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _fail(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float within the stated bounds, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, value, "expected a real number")
    v = float(value)
    if not math.isfinite(v):
        raise _fail(name, value, "expected a finite number")
    lo_ok = low is None or (v > low if low_open else v >= low)
    hi_ok = high is None or (v < high if high_open else v <= high)
    if not (lo_ok and hi_ok):
        lo = "" if low is None else ("> " if low_open else ">= ") + f"{low:g}"
        hi = "" if high is None else ("< " if high_open else "<= ") + f"{high:g}"
        raise _fail(name, value, "expected a number " + " and ".join(x for x in (lo, hi) if x))
    return v


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Return ``value`` as an int within [low, high], else raise ValueError (floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, value, "expected an integer")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        rng = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise _fail(name, value, f"expected an integer in {rng}")
    return v


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if value not in choices:
        raise _fail(name, value, "expected one of " + ", ".join(repr(c) for c in choices))
    return value


def check_points(name: str, x, dim: int | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 array of shape (N, dim).

    A 1-D array is accepted as N points when ``dim == 1``.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} has shape {arr.shape}: expected (N, D)")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[1]}: expected D={dim}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr).all(axis=1)))
        raise ValueError(f"{name} has {bad} rows with NaN or inf: expected finite values")
    return arr


def check_rng(name: str, rng) -> np.random.Generator:
    """Return a numpy Generator; an int seed is accepted and turned into one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise _fail(name, rng, "expected a numpy.random.Generator or an integer seed")
