"""Forward noising processes: discrete DDPM and the continuous VP, sub-VP, VE and OU SDEs.

Every process has Gaussian conditionals x_t = m(t) x_0 + sigma(t) z (docs/theory.md §3-4). Closed
forms are evaluated in float64 with ``expm1``/``log1p`` so that small times keep their digits.
Shape of the classes: ``sde_lib.py`` of score_sde_pytorch (Song et al. 2021), without the image
broadcasting or the ``t*999`` rescaling.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from minimax.diffusion.base import Process, as_numpy_time
from minimax.validation import check_choice, check_int, check_real

#: names accepted by :func:`make_process`, with one line each
PROCESSES = {
    "ddpm": "discrete DDPM (Ho et al. 2020), read as a VP SDE at t = k/T",
    "vp": "variance-preserving SDE, beta(t) linear (Song et al. 2021)",
    "subvp": "sub-VP SDE (Song et al. 2021): VP mean, std 1 - exp(-B(t))",
    "ve": "variance-exploding SDE, sigma(t) = sigma_min (sigma_max/sigma_min)^t",
    "ou": "Ornstein-Uhlenbeck dX = -beta_t X dt + sqrt(2 beta_t) dB (Oko et al. 2023)",
}

SCHEDULES = ("linear", "cosine")


def _like(t, values: np.ndarray):
    """Return float64 ``values`` in the kind of object ``t`` was (float, ndarray or tensor)."""
    if isinstance(t, torch.Tensor):
        return torch.as_tensor(values, dtype=torch.float64, device=t.device)
    if np.ndim(values) == 0 and not isinstance(t, np.ndarray):
        return float(values)
    return values


def _to_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().to("cpu", torch.float64).numpy()
    return as_numpy_time(t)


class _VarPreserving(Process):
    """A process with drift -½ beta(t) x, i.e. m(t) = exp(-½ B(t)), B(t) = ∫_0^t beta.

    Subclasses give ``beta(t)`` and ``beta_integral(t)`` (numpy float64, vectorised).
    """

    def beta(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def beta_integral(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _std(self, big_b: np.ndarray) -> np.ndarray:
        # VP: variance 1 - exp(-B) (docs/theory.md §4)
        return np.sqrt(-np.expm1(-big_b))

    def _g2(self, t: np.ndarray) -> np.ndarray:
        return self.beta(t)

    def marginal(self, t):
        tn = _to_numpy(t)
        big_b = self.beta_integral(tn)
        return _like(t, np.exp(-0.5 * big_b)), _like(t, self._std(big_b))

    def sde(self, x: torch.Tensor, t: float):
        tn = np.float64(t)
        return -0.5 * float(self.beta(tn)) * x, math.sqrt(float(self._g2(tn)))

    def prior_sample(self, shape, generator: torch.Generator, device="cpu") -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device, dtype=torch.float64)


class VPProcess(_VarPreserving):
    """VP SDE dx = -½ beta(t) x dt + sqrt(beta(t)) dw, beta(t) = beta_min + t (beta_max - beta_min).

    Marginal (Song et al. 2021, docs/theory.md §4): m = exp(-½ B), sigma² = 1 - exp(-B),
    B(t) = beta_min t + ½ t² (beta_max - beta_min). Prior N(0, I).
    """

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_end: float = 1.0):
        self.beta_min = check_real("beta_min", beta_min, low=0.0, low_open=True)
        self.beta_max = check_real("beta_max", beta_max, low=self.beta_min)
        self.t_end = check_real("t_end", t_end, low=0.0, low_open=True)

    def beta(self, t):
        return self.beta_min + np.asarray(t, dtype=np.float64) * (self.beta_max - self.beta_min)

    def beta_integral(self, t):
        t = np.asarray(t, dtype=np.float64)
        return self.beta_min * t + 0.5 * t * t * (self.beta_max - self.beta_min)

    def describe(self) -> dict:
        return {"process": self.name, "beta_min": self.beta_min, "beta_max": self.beta_max,
                "t_end": self.t_end}  # fmt: skip


class SubVPProcess(VPProcess):
    """Sub-VP SDE (Song et al. 2021): drift -½ beta x, g² = beta(t) (1 - exp(-2 B(t))).

    Marginal: m = exp(-½ B), std = 1 - exp(-B) (the std, not the variance; docs/theory.md §4).
    """

    name = "subvp"

    def _std(self, big_b):
        return -np.expm1(-big_b)

    def _g2(self, t):
        return self.beta(t) * -np.expm1(-2.0 * self.beta_integral(t))


class OUProcess(_VarPreserving):
    """Oko et al.'s OU process dX = -beta_t X dt + sqrt(2 beta_t) dB.

    m(t) = exp(-∫_0^t beta), sigma² = 1 - m² (docs/theory.md §2). ``beta`` is a positive number or a
    callable beta(t) (numpy, vectorised), given together with its integral ``beta_integral(t)``.
    In VP terms this is the VP SDE with beta_vp = 2 beta. The default t_end = 8 leaves
    m(t_end) = e^-8 ≈ 3e-4 for beta = 1 (docs/theory.md §2 takes T̄ ∝ log n).
    """

    name = "ou"

    def __init__(self, beta: float | Callable = 1.0, beta_integral: Callable | None = None,
                 t_end: float = 8.0):  # fmt: skip
        if callable(beta):
            if not callable(beta_integral):
                raise ValueError(
                    f"beta_integral={beta_integral!r} is not allowed: a callable beta(t) needs "
                    "its integral ∫_0^t beta as a callable"
                )
            self._beta_fn, self._int_fn, self.beta_const = beta, beta_integral, None
        else:
            b = check_real("beta", beta, low=0.0, low_open=True)
            self.beta_const = b
            self._beta_fn = lambda t: np.full_like(np.asarray(t, dtype=np.float64), b)
            self._int_fn = lambda t: b * np.asarray(t, dtype=np.float64)
        self.t_end = check_real("t_end", t_end, low=0.0, low_open=True)

    def beta(self, t):
        return 2.0 * np.asarray(self._beta_fn(np.asarray(t, dtype=np.float64)), dtype=np.float64)

    def beta_integral(self, t):
        return 2.0 * np.asarray(self._int_fn(np.asarray(t, dtype=np.float64)), dtype=np.float64)

    def describe(self) -> dict:
        return {"process": self.name, "beta": self.beta_const if self.beta_const else "callable",
                "t_end": self.t_end}  # fmt: skip


class VEProcess(Process):
    """VE SDE dx = sqrt(d sigma²/dt) dw, sigma(t) = sigma_min (sigma_max/sigma_min)^t.

    Marginal (Song et al. 2021, docs/theory.md §4): m = 1, std² = sigma(t)² - sigma(0)²
    = sigma_min² expm1(2 t log(sigma_max/sigma_min)). Prior N(0, sigma(t_end)² I) (= sigma_max² at
    t_end = 1). The default sigma_max = 50 (Song et al.) keeps the prior mismatch of the ODE
    samplers, about data scale / sigma_max, small for data on [-1, 1]^D.
    """

    name = "ve"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, t_end: float = 1.0):
        self.sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
        self.sigma_max = check_real("sigma_max", sigma_max, low=self.sigma_min, low_open=True)
        self.t_end = check_real("t_end", t_end, low=0.0, low_open=True)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def marginal(self, t):
        tn = _to_numpy(t)
        std = self.sigma_min * np.sqrt(np.expm1(2.0 * self._log_ratio * tn))
        return _like(t, np.ones_like(tn)), _like(t, std)

    def sde(self, x: torch.Tensor, t: float):
        sigma = self.sigma_min * math.exp(self._log_ratio * float(t))
        return torch.zeros_like(x), sigma * math.sqrt(2.0 * self._log_ratio)

    def prior_sample(self, shape, generator: torch.Generator, device="cpu") -> torch.Tensor:
        scale = self.sigma_min * math.exp(self._log_ratio * self.t_end)
        return scale * torch.randn(shape, generator=generator, device=device, dtype=torch.float64)

    def describe(self) -> dict:
        return {"process": self.name, "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "t_end": self.t_end}  # fmt: skip


class DDPMProcess(_VarPreserving):
    """The VP limit of a DDPM schedule: log m(t)² interpolated linearly between its grid times.

    At the schedule's times t_k (k/T for a full schedule) the marginal is exact:
    m = sqrt(ᾱ_k), sigma = sqrt(1 - ᾱ_k); in between, beta(t) is piecewise constant
    (= -log(α_k) / Δt on the k-th interval), so this is a VP SDE whose Euler discretisation on the
    grid is the DDPM chain (docs/theory.md §4: beta_k ≈ beta(k/T)/T).
    """

    name = "ddpm"

    def __init__(self, schedule: DDPMSchedule):
        self.schedule = schedule
        self._times = np.concatenate([[0.0], schedule.times])
        self._cum = np.concatenate([[0.0], -np.cumsum(np.log1p(-schedule.betas))])  # B(t_k)
        self.t_end = float(schedule.times[-1])

    def beta_integral(self, t):
        t = np.asarray(t, dtype=np.float64)
        last_slope = (self._cum[-1] - self._cum[-2]) / (self._times[-1] - self._times[-2])
        inside = np.interp(t, self._times, self._cum)
        # beyond t_end: continue with the last beta (only reached when asked to)
        return np.where(t > self._times[-1], self._cum[-1] + last_slope * (t - self._times[-1]),
                        inside)  # fmt: skip

    def beta(self, t):
        t = np.asarray(t, dtype=np.float64)
        slope = np.diff(self._cum) / np.diff(self._times)
        idx = np.clip(np.searchsorted(self._times, t, side="left") - 1, 0, len(slope) - 1)
        return slope[idx]

    def describe(self) -> dict:
        return self.schedule.describe()


class DDPMSchedule:
    """Discrete DDPM noise schedule (Ho et al. 2020; docs/theory.md §3), all arrays float64.

    Arrays have length T and index k-1 holds step k = 1..T: ``betas`` β_k, ``alphas`` α_k = 1-β_k,
    ``alpha_bars`` ᾱ_k = Π_{j≤k} α_j, ``alpha_bars_prev`` ᾱ_{k-1} (ᾱ_0 = 1), posterior
    q(x_{k-1} | x_k, x_0) = N(coef_x0 x_0 + coef_xt x_k, posterior_variance) with
    coef_x0 = sqrt(ᾱ_{k-1}) β_k / (1-ᾱ_k), coef_xt = sqrt(α_k) (1-ᾱ_{k-1}) / (1-ᾱ_k),
    β̃_k = (1-ᾱ_{k-1}) / (1-ᾱ_k) β_k (so β̃_1 = 0). ``times`` are the continuous times of the
    steps (k/T); ``timesteps`` the integer steps k of the original schedule (differ after
    :meth:`respace`).

    schedule "linear": β linear from beta_min to beta_max (Ho et al.); "cosine": Nichol & Dhariwal
    2021, ᾱ(k) = f(k)/f(0), f(k) = cos²((k/T + 0.008)/1.008 · π/2), β clipped at 0.999.
    The linear β are per-step values, not rescaled with T: the defaults give ᾱ_T = 4e-5 at
    T = 1000, but e.g. ᾱ_T = 0.37 at T = 100, whose prior N(0, I) is then far off; for T ≠ 1000
    pass beta_min = 0.1/T, beta_max = 20/T (the VP SDE's discretisation, docs/theory.md §4).
    """

    def __init__(self, T: int = 1000, schedule: str = "linear", beta_min: float = 1e-4,
                 beta_max: float = 0.02):  # fmt: skip
        self.T = check_int("T", T, low=1)
        self.schedule = check_choice("schedule", schedule, SCHEDULES)
        self.beta_min = check_real("beta_min", beta_min, low=0.0, high=1.0, low_open=True,
                                   high_open=True)  # fmt: skip
        self.beta_max = check_real("beta_max", beta_max, low=self.beta_min, high=1.0,
                                   high_open=True)  # fmt: skip
        k = np.arange(1, self.T + 1, dtype=np.float64)
        if self.schedule == "linear":
            betas = np.linspace(self.beta_min, self.beta_max, self.T, dtype=np.float64)
        else:
            s = 0.008

            def log_f(u):
                return 2.0 * np.log(np.cos((u / self.T + s) / (1 + s) * np.pi / 2))

            # 1 - ᾱ_k/ᾱ_{k-1} = -expm1(log f(k) - log f(k-1))
            betas = np.minimum(-np.expm1(log_f(k) - log_f(k - 1)), 0.999)
        self._set(betas, k.astype(np.int64), k / self.T)

    @classmethod
    def _from_arrays(cls, parent: DDPMSchedule, betas, timesteps, times) -> DDPMSchedule:
        obj = cls.__new__(cls)
        obj.T, obj.schedule = len(betas), parent.schedule
        obj.beta_min, obj.beta_max = parent.beta_min, parent.beta_max
        obj._set(betas, timesteps, times)
        obj.parent_T = getattr(parent, "parent_T", parent.T)
        return obj

    def _set(self, betas, timesteps, times):
        betas = np.asarray(betas, dtype=np.float64)
        self.betas = betas
        self.alphas = 1.0 - betas
        log_ab = np.cumsum(np.log1p(-betas))
        self.log_alpha_bars = log_ab
        self.alpha_bars = np.exp(log_ab)
        log_ab_prev = np.concatenate([[0.0], log_ab[:-1]])
        self.alpha_bars_prev = np.exp(log_ab_prev)
        one_minus_ab = -np.expm1(log_ab)
        one_minus_ab_prev = 0.0 - np.expm1(log_ab_prev) + 0.0  # +0.0 turns -0.0 into 0.0
        self.sqrt_one_minus_alpha_bars = np.sqrt(one_minus_ab)
        self.coef_x0 = np.sqrt(self.alpha_bars_prev) * betas / one_minus_ab
        self.coef_xt = np.sqrt(self.alphas) * one_minus_ab_prev / one_minus_ab
        self.posterior_variance = one_minus_ab_prev / one_minus_ab * betas
        self.timesteps = np.asarray(timesteps, dtype=np.int64)
        self.times = np.asarray(times, dtype=np.float64)

    def process(self) -> DDPMProcess:
        """The continuous VP process read at t = k/T (marginals exact at the grid times)."""
        return DDPMProcess(self)

    def respace(self, steps: int, first: int = 1, spacing: str = "uniform") -> DDPMSchedule:
        """The schedule on ``steps`` of the original steps k = ``first`` … T.

        ``spacing`` places them: "uniform" evenly in k (as in Nichol & Dhariwal 2021 and
        diffusers), "log" geometrically in k, "quadratic" as first + (T − first)u² (DDIM). Steps
        that round to the same k are merged, so "log" may keep fewer than ``steps``. Keeps ᾱ at
        the retained steps k_1 < ... < k_S and recomputes β'_i = 1 - ᾱ_{k_i}/ᾱ_{k_{i-1}}
        (ᾱ_{k_0} = 1).
        """
        n_avail = self.T - check_int("first", first, low=1, high=self.T) + 1
        steps = check_int("steps", steps, low=1, high=n_avail)
        spacing = check_choice("spacing", spacing, ("uniform", "log", "quadratic"))
        # 0-based positions of the kept steps in [first - 1, T - 1]
        if spacing == "uniform":
            k = np.linspace(first - 1, self.T - 1, steps)
        elif spacing == "log":
            k = np.geomspace(first, self.T, steps) - 1
        else:
            k = first - 1 + (self.T - first) * np.linspace(0.0, 1.0, steps) ** 2
        idx = np.unique(np.round(k).astype(np.int64))
        log_ab = self.log_alpha_bars[idx]
        # the first retained step keeps its ᾱ relative to ᾱ_0 = 1
        betas = -np.expm1(np.diff(np.concatenate([[0.0], log_ab])))
        return DDPMSchedule._from_arrays(self, betas, self.timesteps[idx], self.times[idx])

    def describe(self) -> dict:
        return {"process": "ddpm", "T": int(getattr(self, "parent_T", self.T)),
                "steps": self.T, "schedule": self.schedule, "beta_min": self.beta_min,
                "beta_max": self.beta_max}  # fmt: skip


def make_process(name: str, **kw) -> Process:
    """Build a process by name (see ``PROCESSES``); keyword arguments go to its constructor."""
    check_choice("process", name, tuple(PROCESSES))
    if name == "ddpm":
        return DDPMSchedule(**kw).process()
    return {"vp": VPProcess, "subvp": SubVPProcess, "ve": VEProcess, "ou": OUProcess}[name](**kw)
