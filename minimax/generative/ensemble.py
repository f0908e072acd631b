"""Shared machinery of the GAN and the VAE: batched MLP ensembles, sizes, diagnostics.

``EnsembleNet`` holds E independent MLPs in one flat (E, P) parameter (the idea of
``minimax.diffusion.networks.EnsembleMLP``): every layer is one ``torch.baddbmm`` over the
ensemble dimension, so the replicates of a study train as one network while never mixing
(layers act per member, member e's initial weights come from its own generator, and the loss
is the sum of the member losses, so each member gets its own gradient; Adam is elementwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from minimax.validation import check_int, check_real

#: reference sample size of the size rules: sizes are quoted at n = N_REF
N_REF = 1000


class GenerativeFailure(RuntimeError):
    """A fitted member that must not be scored (e.g. mode collapse); the message is the reason."""


class EnsembleNet(torch.nn.Module):
    """E MLPs ``sizes[0] → ... → sizes[-1]`` (activation between layers, linear output).

    Weights use ``nn.Linear``'s default initialisation, uniform ±1/√fan_in, drawn per member
    from ``generators[e]``. ``activation``: "silu" or "leaky_relu" (slope 0.2).
    """

    def __init__(self, sizes: Sequence[int], generators, activation="silu", device="cpu"):
        super().__init__()
        self.sizes = [check_int("sizes", s, low=1) for s in sizes]
        if activation not in ("silu", "leaky_relu"):
            raise ValueError(
                f"activation={activation!r} is not allowed: expected 'silu' or 'leaky_relu'"
            )
        self.activation = activation
        self.ensemble_size = len(generators)
        self.layers, offset = [], 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            self.layers.append((fan_in, fan_out, offset, offset + fan_in * fan_out))
            offset += fan_in * fan_out + fan_out
        flat = torch.empty(self.ensemble_size, offset, dtype=torch.float32)
        for e, g in enumerate(generators):
            for fan_in, fan_out, w_at, b_at in self.layers:
                bound = 1.0 / math.sqrt(fan_in)
                u = torch.rand(b_at - w_at + fan_out, generator=g, dtype=torch.float32)
                flat[e, w_at : b_at + fan_out] = ((2 * u - 1) * bound).cpu()
        self.flat = torch.nn.Parameter(flat.to(device))

    def forward(self, h: torch.Tensor, flat: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs (E, B, sizes[-1]) at inputs h (E, B, sizes[0]); ``flat`` replaces the
        parameters (e.g. by their moving average)."""
        flat = self.flat if flat is None else flat
        E = flat.shape[0]
        last = len(self.layers) - 1
        for i, (fan_in, fan_out, w_at, b_at) in enumerate(self.layers):
            w = flat[:, w_at:b_at].view(E, fan_in, fan_out)
            b = flat[:, b_at : b_at + fan_out].view(E, 1, fan_out)
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = (
                    torch.nn.functional.silu(h)
                    if self.activation == "silu"
                    else torch.nn.functional.leaky_relu(h, 0.2)
                )
        return h

    def parameter_count(self) -> int:
        """Parameters of ONE member."""
        return int(self.flat.shape[1])


def fourier_frequencies(finest: float | None, count: int = 8) -> np.ndarray:
    """Angular frequencies 2π/h for scales h on a geometric ladder from 1 down to ``finest``
    (model units); none when ``finest`` is None."""
    if finest is None:
        return np.zeros(0)
    h = check_real("finest", finest, low=0.0, high=1.0, low_open=True)
    return 2 * math.pi / np.geomspace(1.0, h, count)


def with_fourier(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """[x, sin(ω x), cos(ω x)] for every frequency ω, along the last axis."""
    if not len(freqs):
        return x
    arg = (x.unsqueeze(-1) * freqs).flatten(-2)
    return torch.cat([x, torch.sin(arg), torch.cos(arg)], dim=-1)


def torch_gens(rngs, device="cpu") -> list[torch.Generator]:
    """One torch.Generator per member, seeded from (and advancing) that member's numpy rng."""
    out = []
    for r in rngs:
        g = torch.Generator(device="cpu")
        g.manual_seed(int(r.integers(0, 2**63 - 1)))
        out.append(g)
    return out


def stacked_normal(gens, shape, device) -> torch.Tensor:
    """Standard normals (E, *shape), member e's from gens[e] (drawn on the CPU, moved)."""
    return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(device)


def minibatches(sizes: Sequence[int], count: int, batch: int, gens, device) -> torch.Tensor:
    """Indices (E, count, batch): member e's uniform with replacement on range(sizes[e])."""
    idx = [
        torch.randint(0, int(n), (count, batch), generator=g)
        for n, g in zip(sizes, gens, strict=True)
    ]
    return torch.stack(idx).to(device)


def size_rule(n: int, D: int, s: float | None, *, width0: int, steps0: int) -> dict:
    """Width and steps at sample size n (the rule of docs/generative.md §3).

    Network size N ∝ n^{D/(2s+D)} (the number of pieces of a resolution-h = n^{-1/(2s+D)}
    approximation, Puchkin et al. 2021 and Kwon & Chae 2023 size their networks so): with the
    depth fixed N ∝ width², so width = width0 · (n/N_REF)^{D/(2(2s+D))}, clipped to [16, 512].
    Optimisation steps ∝ n^{2s/(2s+D)}: the optimisation error (≈ 1/steps for SGD) must fall
    like the squared statistical error of the JS / KL loss, n^{-2s/(2s+D)}. Without s, the
    rule takes s = 1.
    """
    n = check_int("n", n, low=1)
    s = 1.0 if s is None else check_real("s", s, low=0.0, low_open=True)
    r = n / N_REF
    width = int(np.clip(round(width0 * r ** (D / (2 * (2 * s + D)))), 16, 512))
    steps = max(200, int(round(steps0 * r ** (2 * s / (2 * s + D)))))
    return {"width": width, "steps": steps, "bandwidth": n ** (-1.0 / (2 * s + D))}


def coverage_cells(D: int) -> int:
    """Cells per axis of the mode-coverage check: 8 in D = 1, 4 in D = 2, 2 above."""
    return 8 if D == 1 else 4 if D == 2 else 2


def mode_coverage(u_gen: np.ndarray, u_data: np.ndarray, ratio: float = 0.2) -> dict:
    """Mass per coarse cell of [-1, 1]^D of generated vs data points (model coordinates).

    Returns ``coverage_tv`` (½ Σ |gen − data| over the cells, out-of-box generated mass
    counted as its own cell) and ``uncovered_mass``: the data mass of the cells where the
    generator puts less than ``ratio`` × the data's mass (a missed mode).
    """
    D = u_data.shape[1]
    K = coverage_cells(D)

    def masses(u):
        inside = np.all(np.abs(u) <= 1.0, axis=1)
        cell = np.clip(np.floor((u[inside] + 1.0) / 2.0 * K).astype(np.int64), 0, K - 1)
        flat = np.ravel_multi_index(tuple(cell.T), (K,) * D) if len(cell) else cell[:, 0]
        return np.bincount(flat, minlength=K**D) / len(u), 1.0 - inside.mean()

    g, g_out = masses(u_gen)
    d, d_out = masses(u_data)
    missed = (d > 0) & (g < ratio * d)
    return {
        "coverage_cells": K**D,
        "coverage_tv": float(0.5 * (np.abs(g - d).sum() + abs(g_out - d_out))),
        "uncovered_mass": float(d[missed].sum()),
        "missed_cells": int(missed.sum()),
    }


def reflect_into_box(u: np.ndarray) -> np.ndarray:
    """Fold model-coordinate points into [-1, 1]^D (x → 2b − x at each face): keeps an
    absolutely continuous law absolutely continuous (clipping would put atoms on the faces)."""
    y = np.mod(u + 1.0, 4.0)
    return np.where(y > 2.0, 4.0 - y, y) - 1.0


def box_transform(X: np.ndarray, box) -> tuple[np.ndarray, np.ndarray, bool]:
    """(shift, scale, bounded): a finite box maps to [-1, 1]^D; otherwise the data's moments
    map to 0 and 1 (``bounded`` False: no squashing or folding then)."""
    if box is not None:
        b = np.asarray(box, dtype=np.float64)
        if b.shape != (X.shape[1], 2) or np.isnan(b).any() or not np.all(b[:, 1] > b[:, 0]):
            raise ValueError(
                f"box={box!r} is not allowed: expected a ({X.shape[1]}, 2) array of [low, high]"
            )
        if np.isfinite(b).all():
            return b.mean(axis=1), (b[:, 1] - b[:, 0]) / 2, True
    sd = X.std(axis=0)
    return X.mean(axis=0), np.where(sd > 0, sd, 1.0), False
