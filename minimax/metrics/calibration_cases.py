"""The uniform density on [0, 1]^D (``UnitCube``) and models with exactly known TV to it,
shaped like a trained model's error, for calibrating the sampled TV (docs/tv.md §5).

* ``sine_field``: density 1 + a·ε_k·Π_i sin(2π(x_i − o_i)/h) on the whole cells of side h of a
  randomly offset grid (random signs ε_k); each cell's perturbation integrates to 0, so the
  density stays normalised and TV = ½·a·(2/π)^D·(volume of the whole cells) exactly, whatever h
  and the signs. Global and fine-scaled, like the DDPM's error at the scale of its early stop.
* ``strip``: (1 − ε)·U + ε·U(strip [lo, lo + w] along one axis), TV = ε(1 − w). Local, like
  an excess of mass along a face of the box.
"""

from __future__ import annotations

import math

import numpy as np

from minimax.targets.base import Target


class UnitCube(Target):
    """The uniform density on [0, 1]^D, the q of the calibration cases."""

    def __init__(self, D: int):
        self.dim, self.support = D, np.tile([0.0, 1.0], (D, 1))

    def pdf(self, x):
        x = self._points(x)
        return np.all((x >= 0) & (x <= 1), axis=1).astype(float)

    def sample(self, n, rng):
        return rng.random((n, self.dim))

    def cell_masses(self, edges):
        out = np.ones(())
        for e in edges:
            out = np.multiply.outer(out, np.diff(np.clip(np.asarray(e), 0.0, 1.0)))
        return out

    def describe(self):
        return {"target": "unit cube"}


def _whole_cells(D: int, h: float, off: np.ndarray) -> tuple[list[int], float]:
    n_whole = [int(math.floor((1 - off[i]) / h)) for i in range(D)]
    return n_whole, float(np.prod([n * h for n in n_whole]))


def sine_model(D: int, tv: float, h: float, model_seed: int):
    """The sine-field model of ``model_seed``: (offset per axis, whole cells per axis,
    amplitude a, sign per whole cell). Raises ValueError when ``tv`` needs an amplitude a > 1
    (a negative density)."""
    g = np.random.default_rng(model_seed)
    off = g.random(D) * h
    n_whole, volume = _whole_cells(D, h, off)
    a = 2 * tv / ((2 / math.pi) ** D * volume)
    if not 0 < a <= 1:
        raise ValueError(f"tv={tv!r} is not allowed at h={h!r}: expected amplitude in (0, 1]")
    return off, n_whole, a, g.choice([-1.0, 1.0], size=tuple(n_whole))


def sine_field(M: int, D: int, tv: float, h: float, model_seed: int, rng) -> np.ndarray:
    """M samples of the sine-field model whose TV to U[0,1]^D is exactly ``tv``.

    ``model_seed`` fixes the offset and the signs (the model, ``sine_model``), ``rng`` the
    samples. Raises ValueError when ``tv`` needs an amplitude a > 1 (a negative density)."""
    off, n_whole, a, signs = sine_model(D, tv, h, model_seed)
    out, need = [], M
    while need > 0:
        x = rng.random((int(need * (1 + a) * 1.1) + 100, D))
        t = (x - off) / h
        idx = np.floor(t).astype(np.int64)
        whole = np.all((idx >= 0) & (idx < np.array(n_whole)), axis=1)
        pert = np.zeros(len(x))
        if whole.any():
            wi = idx[whole]
            pert[whole] = signs[tuple(wi.T)] * np.prod(np.sin(2 * np.pi * (t[whole] - wi)), axis=1)
        keep = rng.random(len(x)) * (1 + a) < 1 + a * pert
        out.append(x[keep])
        need -= int(keep.sum())
    return np.concatenate(out)[:M]


def strip(M: int, D: int, eps: float, lo: float, width: float, rng, axis: int = 0):
    """(samples, exact TV) of the strip model."""
    x = rng.random((M, D))
    k = rng.random(M) < eps
    x[k, axis] = lo + width * rng.random(int(k.sum()))
    return x, eps * (1 - width)
