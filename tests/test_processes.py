"""Forward processes: DDPM arrays against their closed forms, SDE marginals against Monte Carlo."""

import math

import numpy as np
import pytest
import torch

from minimax.diffusion.processes import (
    PROCESSES,
    DDPMSchedule,
    OUProcess,
    SubVPProcess,
    VEProcess,
    VPProcess,
    make_process,
)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("T", [1, 7, 1000])
def test_ddpm_arrays_equal_closed_forms(schedule, T):
    s = DDPMSchedule(T=T, schedule=schedule)
    assert s.betas.dtype == np.float64 and s.betas.shape == (T,)
    np.testing.assert_allclose(s.alphas, 1 - s.betas, rtol=0, atol=0)
    np.testing.assert_allclose(s.alpha_bars, np.cumprod(1 - s.betas), rtol=1e-12)
    if schedule == "linear":
        np.testing.assert_allclose(s.betas, np.linspace(1e-4, 0.02, T), rtol=1e-14)
    else:
        f = np.cos((np.arange(T + 1) / T + 0.008) / 1.008 * np.pi / 2) ** 2
        ab = f[1:] / f[0]
        clipped = s.betas >= 0.999  # the clipped tail departs from f by design
        first = int(np.argmax(clipped)) if clipped.any() else T
        np.testing.assert_allclose(s.alpha_bars[:first], ab[:first], rtol=1e-10)
    # posterior by Gaussian conditioning: x_{k-1}|x_0 ~ N(sqrt(ab_prev) x0, 1-ab_prev),
    # x_k|x_{k-1} ~ N(sqrt(a) x_{k-1}, b); precision adds, means weight by precision
    ab_prev = np.concatenate([[1.0], np.cumprod(1 - s.betas)[:-1]])
    k = slice(1, None)
    prec = 1 / (1 - ab_prev[k]) + s.alphas[k] / s.betas[k]
    np.testing.assert_allclose(s.posterior_variance[k], 1 / prec, rtol=1e-9)
    np.testing.assert_allclose(s.coef_x0[k], np.sqrt(ab_prev[k]) / (1 - ab_prev[k]) / prec,
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(s.coef_xt[k], np.sqrt(s.alphas[k]) / s.betas[k] / prec, rtol=1e-9)
    assert s.posterior_variance[0] == 0.0  # β̃_1 = 0: the last step adds no noise
    # the VP limit is exact at the grid points t = k/T
    m, std = s.process().marginal(np.arange(1, T + 1) / T)
    np.testing.assert_allclose(m, np.sqrt(s.alpha_bars), rtol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(1 - s.alpha_bars), rtol=1e-9)


def test_respace_keeps_alpha_bars_and_recomputes_betas():
    s = DDPMSchedule()
    r = s.respace(50)
    assert r.T == 50 and r.timesteps[0] == 1 and r.timesteps[-1] == 1000
    np.testing.assert_allclose(r.alpha_bars, s.alpha_bars[r.timesteps - 1], rtol=1e-12)
    ab_prev = np.concatenate([[1.0], s.alpha_bars[r.timesteps[:-1] - 1]])
    np.testing.assert_allclose(r.betas, 1 - s.alpha_bars[r.timesteps - 1] / ab_prev, rtol=1e-10)
    m, _ = r.process().marginal(r.times)
    np.testing.assert_allclose(m, np.sqrt(r.alpha_bars), rtol=1e-12)
    full = s.respace(1000)
    np.testing.assert_allclose(full.betas, s.betas, rtol=1e-10)


def test_marginal_returns_the_kind_it_was_given():
    p = VPProcess()
    assert isinstance(p.marginal(0.3)[0], float)
    assert isinstance(p.marginal(np.array([0.3]))[1], np.ndarray)
    m, std = p.marginal(torch.tensor([0.3, 0.6]))
    assert m.dtype == torch.float64 and std.shape == (2,)
    # tiny times keep their digits: std ~ sqrt(beta_min t)
    _, small = p.marginal(1e-12)
    assert small == pytest.approx(math.sqrt(0.1e-12), rel=1e-6)


def _euler_maruyama(process, x0, t, steps, n, seed):
    """Forward SDE simulated by Euler-Maruyama from the point x0 (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((1, n, 1), x0, dtype=torch.float64)
    dt = t / steps
    for i in range(steps):
        f, diff = process.sde(x, i * dt)
        x = x + f * dt + diff * math.sqrt(dt) * torch.randn(x.shape, generator=g, dtype=x.dtype)
    return x.flatten().numpy()


@pytest.mark.parametrize(
    "process,t",
    [
        (VPProcess(), 0.3),
        (SubVPProcess(), 0.3),
        (VEProcess(sigma_max=5.0), 0.7),
        (OUProcess(beta=1.0), 0.8),
        (OUProcess(beta=lambda t: 1 + t, beta_integral=lambda t: t + t * t / 2), 0.6),
        (DDPMSchedule(T=200).process(), 0.5),
    ],
    ids=["vp", "subvp", "ve", "ou", "ou-varying", "ddpm"],
)
def test_marginals_match_monte_carlo(process, t):
    torch.set_num_threads(1)
    n, steps, x0 = 20_000, 2_000, 1.5
    x = _euler_maruyama(process, x0, t, steps, n, seed=7)
    m, std = process.marginal(t)
    # k = 4 standard errors: se(mean) = std/sqrt(n), se(var) = var*sqrt(2/(n-1)); the
    # Euler-Maruyama bias is O(max beta · dt) relative (<= 0.3% here), added to the tolerance
    disc = 0.003
    assert abs(x.mean() - m * x0) < 4 * std / math.sqrt(n) + disc * abs(m * x0)
    assert abs(x.var() - std**2) < 4 * std**2 * math.sqrt(2 / (n - 1)) + disc * std**2


def test_prior_sample_shapes_and_scale():
    g = torch.Generator().manual_seed(0)
    z = VEProcess(sigma_max=7.0).prior_sample((2, 50_000, 1), g)
    assert z.shape == (2, 50_000, 1) and z.dtype == torch.float64
    # 4 se of the sample std: se ≈ sigma/sqrt(2N)
    assert abs(z.std().item() - 7.0) < 4 * 7.0 / math.sqrt(2 * 100_000)


def test_make_process_names():
    assert set(PROCESSES) == {"ddpm", "vp", "subvp", "ve", "ou"}
    for name in PROCESSES:
        p = make_process(name)
        assert p.name == name and p.t_end > 0


@pytest.mark.parametrize(
    "build,param",
    [
        (lambda: DDPMSchedule(T=0), "T"),
        (lambda: DDPMSchedule(T=2.5), "T"),
        (lambda: DDPMSchedule(beta_min=0.0), "beta_min"),
        (lambda: DDPMSchedule(beta_max=1.0), "beta_max"),
        (lambda: DDPMSchedule(beta_min=0.5, beta_max=0.1), "beta_max"),
        (lambda: DDPMSchedule(schedule="sigmoid"), "schedule"),
        (lambda: VPProcess(beta_min=-1), "beta_min"),
        (lambda: VEProcess(sigma_min=1.0, sigma_max=0.5), "sigma_max"),
        (lambda: OUProcess(beta=0.0), "beta"),
        (lambda: OUProcess(beta=lambda t: t), "beta_integral"),
        (lambda: VPProcess(t_end=0.0), "t_end"),
        (lambda: make_process("edm"), "process"),
        (lambda: DDPMSchedule(T=10).respace(11), "steps"),
    ],
)
def test_bad_input_raises(build, param):
    with pytest.raises(ValueError, match=f"^{param}="):
        build()
