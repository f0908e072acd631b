"""The continuous-time steppers of the reverse process: Euler-Maruyama, the exponential
integrator and SDE-DPM-Solver++(2M) on the reverse SDE, Heun and adaptive Dormand-Prince on the
probability-flow ODE (docs/theory.md §3-4; docs/decisions.md for which is the default).

Each is registered by name in :data:`CONTINUOUS_SAMPLERS` and called by
:func:`minimax.diffusion.samplers.generate` as ``step(score, process, x, grid, streams,
**tolerances) -> (x, nfe)``; ``grid`` is increasing in time and ``streams`` draws the per-step
noise.
"""

from __future__ import annotations

import math

import torch

from minimax.diffusion.base import ScoreSource

#: the continuous-time samplers by name: step(score, process, x, grid, streams, **tolerances)
#: -> (x, nfe), registered by :func:`continuous_sampler` (the ancestral sampler walks the
#: DDPM's discrete schedule instead and is handled by :func:`generate` itself)
CONTINUOUS_SAMPLERS: dict = {}


def _score64(score: ScoreSource, x: torch.Tensor, t: float) -> torch.Tensor:
    return score(x, float(t)).to(torch.float64)


def _denoise(score, process, x, t):
    """Tweedie: E[x_0 | x_t] = (x + sigma² s(x, t))/m (docs/theory.md §3 score view)."""
    m, std = process.marginal(float(t))
    return (x + std**2 * _score64(score, x, t)) / m


def continuous_sampler(name: str):
    """Register a continuous-time sampler under ``name`` (its order in ``SAMPLERS`` is the order
    of registration)."""

    def register(step):
        CONTINUOUS_SAMPLERS[name] = step
        return step

    return register


@continuous_sampler("euler")
def _euler(score, process, x, grid, streams, **_):
    for i in range(len(grid) - 1, 0, -1):
        t, h = grid[i], grid[i] - grid[i - 1]
        f, g = process.sde(x, t)
        s = _score64(score, x, t)
        x = x - (f - g**2 * s) * h + g * math.sqrt(h) * streams.randn()
    return x, len(grid) - 1


@continuous_sampler("exponential")
def _exponential(score, process, x, grid, streams, **_):
    """Exponential integrator of the reverse SDE: linear part exact, eps = -sigma s frozen.

    With ρ = sigma²/m² (so g² = m² dρ/dt for drift -a(t) x, m = exp(-∫a)), the reverse SDE
    integrated exactly over [t', t] with eps held at its value at t gives
    x' = (m'/m) x + 2 m' (sigma/m - sigma'/m') sigma s(x, t) + m' sqrt(ρ - ρ') z
    (DEIS with the eps parametrisation, Zhang & Chen 2023). It needs only m and sigma, so it
    serves every process; for a point mass its contraction factor 2 sigma'/sigma - m'/m stays
    within [-1, 1] however stiff the score, where Euler's 1 + (½β - β/sigma²)h does not.
    """
    for i in range(len(grid) - 1, 0, -1):
        t, tp = float(grid[i]), float(grid[i - 1])
        m, std = process.marginal(t)
        mp, stdp = process.marginal(tp)
        noise_var = mp**2 * ((std / m) ** 2 - (stdp / mp) ** 2)
        s = _score64(score, x, t)
        x = (mp / m) * x + 2.0 * mp * (std / m - stdp / mp) * std * s
        x = x + math.sqrt(max(noise_var, 0.0)) * streams.randn()
    return x, len(grid) - 1


def _pf_drift(score, process, x, t):
    return process.reverse_drift(x, float(t), _score64(score, x, t), probability_flow=True)


@continuous_sampler("heun")
def _heun(score, process, x, grid, streams, **_):
    """Heun's method (EDM Algorithm 1) on the probability-flow ODE, float64 state."""
    for i in range(len(grid) - 1, 0, -1):
        t, tp = grid[i], grid[i - 1]
        d = _pf_drift(score, process, x, t)
        x_euler = x + (tp - t) * d
        x = x + (tp - t) * 0.5 * (d + _pf_drift(score, process, x_euler, tp))
    return x, 2 * (len(grid) - 1)


@continuous_sampler("dpm2m")
def _dpm2m(score, process, x, grid, streams, **_):
    """Second-order multistep exponential integrator of the reverse SDE, one score evaluation
    per step (SDE-DPM-Solver++(2M), Lu et al. 2022; docs/theory.md §4, "Samplers").

    In data prediction x̂_0 = (x + sigma² s)/m and λ = log(m/sigma), the reverse SDE over
    [t', t] with h = λ' - λ > 0 and x̂_0 held fixed is solved exactly by
    x' = (sigma'/sigma) e^(-h) x + m' (1 - e^(-2h)) x̂_0 + sigma' sqrt(1 - e^(-2h)) z;
    the second-order term adds m' (1 - e^(-2h)) (h/2) D, D = (x̂_0 - x̂_0,prev)/h_prev the slope
    in λ from the previous step (none on the first): the midpoint form, which agrees with the
    exact integral of a linear x̂_0, m' (h - (1 - e^(-2h))/2) D, to O(h²) and stays bounded in
    h where that one grows (on coarse steps it overshoots; docs/decisions.md).
    """
    previous = None
    for i in range(len(grid) - 1, 0, -1):
        t, tp = float(grid[i]), float(grid[i - 1])
        m, std = process.marginal(t)
        mp, stdp = process.marginal(tp)
        h = math.log(mp / stdp) - math.log(m / std)
        shrink = -math.expm1(-2.0 * h)
        x0 = _denoise(score, process, x, t)
        x_new = (stdp / std) * math.exp(-h) * x + mp * shrink * x0
        if previous is not None:
            x0_prev, h_prev = previous
            x_new = x_new + (0.5 * mp * shrink * h / h_prev) * (x0 - x0_prev)
        x = x_new + stdp * math.sqrt(shrink) * streams.randn()
        previous = (x0, h)
    return x, len(grid) - 1


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980; scipy's RK45)
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
_DP_E = (  # b5 - b4 for the seven stages (the last is the FSAL stage)
    71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40,
)  # fmt: skip


@continuous_sampler("adaptive")
def _adaptive(score, process, x, grid, streams, *, rtol, atol, max_nfe):
    """Dormand-Prince 5(4) on the probability-flow ODE with error control, batched.

    One step size for the whole chunk; a step is accepted when, for every sample, the RMS over
    (E, D) of err / (atol + rtol·max(|x|, |x_new|)) is ≤ 1 (scipy's norm, maximised over samples).
    """
    t, t_stop = float(grid[-1]), float(grid[0])
    h = -(t - t_stop) / 100.0
    k_first = _pf_drift(score, process, x, t)
    nfe = 1
    while t > t_stop:
        if nfe > max_nfe:
            raise RuntimeError(f"adaptive sampler exceeded {max_nfe} evaluations at t={t:g}")
        h = max(h, t_stop - t)
        ks = [k_first]
        for j in range(1, 6):
            xi = x + h * sum(a * k for a, k in zip(_DP_A[j], ks, strict=False))
            ks.append(_pf_drift(score, process, xi, t + _DP_C[j] * h))
        x_new = x + h * sum(b * k for b, k in zip(_DP_B, ks, strict=True))
        k_last = _pf_drift(score, process, x_new, t + h)
        nfe += 6
        err = h * sum(e * k for e, k in zip(_DP_E, [*ks, k_last], strict=True))
        scale = atol + rtol * torch.maximum(x.abs(), x_new.abs())
        ratio = (err / scale).pow(2).mean(dim=(0, 2)).sqrt().max().item()
        if not math.isfinite(ratio):
            raise RuntimeError(f"adaptive sampler produced non-finite values at t={t:g}")
        if ratio <= 1.0:
            t, x, k_first = t + h, x_new, k_last
            if t - t_stop < 1e-12 * max(1.0, abs(t_stop)):
                t = t_stop
        factor = 0.9 * ratio ** (-0.2) if ratio > 0 else 10.0
        h = h * min(10.0, max(0.2, factor))
    return x, nfe
