"""Samplers: exact discretised laws on a Gaussian, each sampler on Gaussian mixtures, streams."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from minimax.diffusion.processes import (
    DDPMSchedule,
    OUProcess,
    SubVPProcess,
    VEProcess,
    VPProcess,
)
from minimax.diffusion.samplers import NOISE_BLOCK, SAMPLERS, generate, time_grid
from minimax.diffusion.scores import ExactGMMScore
from minimax.targets import GaussianMixture

GMM1 = GaussianMixture([0.3, 0.7], [[-1.0], [1.0]], [0.3, 0.5])
GMM2 = GaussianMixture([0.4, 0.6], [[-1.0, -0.5], [1.0, 0.8]], [[0.4, 0.3], [0.5, 0.6]])


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------- time grids
@pytest.mark.parametrize("spacing", ["uniform", "log", "quadratic", "snr"])
def test_time_grid_is_increasing_from_t_min_to_t_end(spacing):
    p = VPProcess()
    g = time_grid(p, 40, 1e-3, spacing=spacing)
    assert g.dtype == np.float64 and g.shape == (41,)
    assert g[0] == 1e-3 and g[-1] == 1.0 and np.all(np.diff(g) > 0)
    if spacing == "log":
        np.testing.assert_allclose(np.diff(np.log(g)), np.log(1e3) / 40, rtol=1e-10)
    if spacing == "snr":
        m, s = p.marginal(g)
        np.testing.assert_allclose(np.diff(np.log(m / s)), np.diff(np.log(m / s))[0], rtol=1e-9)


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"steps": 0, "t_min": 1e-3}, "steps"),
        ({"steps": 10, "t_min": 1.0}, "t_min"),
        ({"steps": 10, "t_min": 0.0}, "t_min"),
        ({"steps": 10, "t_min": 0.5, "t_end": 0.4}, "t_min"),
        ({"steps": 10, "t_min": 0.1, "t_end": 2.0}, "t_end"),
        ({"steps": 10, "t_min": 0.1, "spacing": "cosine"}, "spacing"),
    ],
)
def test_time_grid_bad_input(kw, param):
    with pytest.raises(ValueError, match=f"^{param}="):
        time_grid(VPProcess(), **kw)


# ------------------------------------------------ exact discretised law on a Gaussian target
MU, C = 0.5, 0.4  # data N(MU, C²): every sampler is then affine in x, its output law Gaussian


def _predicted_moments(sampler, process, grid=None, schedule=None, variance="beta"):
    """Mean and variance of the sampler's output, by pushing (mean, var) through the affine
    steps written from the reverse SDE / ODE of docs/theory.md §3-4 (independent of samplers.py)."""

    def lin_score(t):  # s(x) = k x + l for the marginal N(m MU, m² C² + sigma²)
        m, s = process.marginal(float(t))
        v = m * m * C * C + s * s
        return -1.0 / v, m * MU / v

    mean, var = 0.0, 1.0
    if sampler == "dpm2m":
        return _dpm2m_moments(process, grid, lin_score)
    if sampler == "ancestral":
        for i in range(schedule.T - 1, -1, -1):
            k, l = lin_score(schedule.times[i])
            b = schedule.betas[i]
            # x' = (x - b/sqrt(1-ᾱ) eps)/sqrt(1-b) with eps = -sqrt(1-ᾱ) s: (x + b s)/sqrt(1-b)
            a, c = (1 + b * k) / math.sqrt(1 - b), b * l / math.sqrt(1 - b)
            noise = 0.0 if i == 0 else (b if variance == "beta" else schedule.posterior_variance[i])
            mean, var = a * mean + c, a * a * var + noise
        return mean, var
    for i in range(len(grid) - 1, 0, -1):
        t, tp = grid[i], grid[i - 1]
        h = t - tp
        k, l = lin_score(t)
        beta = float(process.beta(t))
        if sampler == "euler":  # x' = x + (½ β x + β s) h + sqrt(β h) z
            a, c, noise = 1 + 0.5 * beta * h + beta * h * k, beta * h * l, beta * h
        elif sampler == "exponential":
            # VP reverse SDE in y = x/m: dy = -(dρ/dt) s dt + sqrt(dρ/dt) dw̄, ρ = sigma²/m²;
            # with eps = -sigma s frozen, ∫ dρ/sigma(ρ) · m = 2 (sqrt ρ - sqrt ρ')
            m, s = process.marginal(float(t))
            mp, sp = process.marginal(float(tp))
            w = 2 * mp * (s / m - sp / mp) * s
            a, c, noise = mp / m + w * k, w * l, mp * mp * ((s / m) ** 2 - (sp / mp) ** 2)
        else:  # heun on dx/dt = -½ β (x + s)

            def drift(tt):
                kk, ll = lin_score(tt)
                bb = float(process.beta(tt))
                return -0.5 * bb * (1 + kk), -0.5 * bb * ll

            d1, e1 = drift(t)
            d2, e2 = drift(tp)
            # x~ = x - h (d1 x + e1); x' = x - h/2 (d1 x + e1 + d2 x~ + e2)
            a = 1 - 0.5 * h * (d1 + d2 * (1 - h * d1))
            c = -0.5 * h * (e1 + e2 - d2 * h * e1)
            noise = 0.0
        mean, var = a * mean + c, a * a * var + noise
    m, s = process.marginal(float(grid[0]))  # Tweedie: (x + sigma² s)/m
    k, l = lin_score(grid[0])
    a, c = (1 + s * s * k) / m, s * s * l / m
    return a * mean + c, a * a * var


def _dpm2m_moments(process, grid, lin_score):
    """Mean and variance after the dpm2m steps: the reverse SDE in λ = log(m/sigma) with the
    denoiser held at its linear fit through the last two steps, integrated exactly in x and by
    the midpoint rule in the slope. The state (x, previous denoiser) is jointly Gaussian, so its
    mean vector and 2x2 covariance are pushed through each affine step."""
    mean, cov = np.zeros(2), np.diag([1.0, 0.0])
    h_prev = None
    for i in range(len(grid) - 1, 0, -1):
        t, tp = float(grid[i]), float(grid[i - 1])
        m, s = process.marginal(t)
        mp, sp = process.marginal(tp)
        h = math.log(mp / sp) - math.log(m / s)
        k, l = lin_score(t)
        a, b = (1 + s * s * k) / m, s * s * l / m  # denoiser x0(x) = a x + b (Tweedie)
        keep, pull = (sp / s) * math.exp(-h), mp * (1 - math.exp(-2 * h))
        slope = 0.0 if h_prev is None else 0.5 * pull * h / h_prev
        # x' = keep x + pull x0 + slope (x0 - x0_prev) + noise;  x0_prev' = x0
        A = np.array([[keep + (pull + slope) * a, -slope], [a, 0.0]])
        c = np.array([(pull + slope) * b, b])
        noise = np.diag([sp * sp * (1 - math.exp(-2 * h)), 0.0])
        mean, cov = A @ mean + c, A @ cov @ A.T + noise
        h_prev = h
    m, s = process.marginal(float(grid[0]))
    k, l = lin_score(grid[0])
    a, c = (1 + s * s * k) / m, s * s * l / m
    return a * mean[0] + c, a * a * cov[0, 0]


@pytest.mark.parametrize(
    "sampler,steps,variance",
    [
        ("euler", 8, "beta"),
        ("dpm2m", 6, "beta"),
        ("exponential", 8, "beta"),
        ("heun", 4, "beta"),
        ("ancestral", 6, "beta"),
        ("ancestral", 6, "beta_tilde"),
        ("ancestral", 100, "beta"),
    ],
)
def test_output_law_equals_the_discretised_law_on_a_gaussian(sampler, steps, variance):
    gauss = GaussianMixture([1.0], [[MU]], [C])
    sched = DDPMSchedule(T=100)
    process = sched.process() if sampler == "ancestral" else VPProcess()
    n = 40_000
    y, info = generate(ExactGMMScore(gauss, process), n, sampler=sampler, steps=steps,
                       t_min=0.01, generator=_gen(3), variance=variance)  # fmt: skip
    if sampler == "ancestral":
        mean, var = _predicted_moments(sampler, process, schedule=sched.respace(steps),
                                       variance=variance)  # fmt: skip
    else:
        mean, var = _predicted_moments(sampler, process, grid=time_grid(process, steps, 0.01))
    y = y.flatten().numpy()
    # the output is exactly N(mean, var): 4 standard errors of mean and variance
    assert abs(y.mean() - mean) < 4 * math.sqrt(var / n)
    assert abs(y.var() - var) < 4 * var * math.sqrt(2 / (n - 1))
    assert info["nfe"] == (2 * steps + 1 if sampler == "heun" else steps + (sampler != "ancestral"))


def test_discretised_laws_converge_to_the_target():
    """The moment recursions of the test above tend to N(MU, C²) as the steps grow (so that a
    sampler matching them is consistent), and are visibly off at 8 steps (test power)."""
    p = VPProcess()
    for sampler in ("euler", "exponential", "heun", "dpm2m"):
        fine = _predicted_moments(sampler, p, grid=time_grid(p, 4000, 1e-4))
        assert abs(fine[0] - MU) < 2e-3 and abs(fine[1] - C * C) < 2e-3
    coarse = _predicted_moments("euler", p, grid=time_grid(p, 8, 0.01))
    assert abs(coarse[1] - C * C) > 4 * C * C * math.sqrt(2 / 40_000)
    sched = DDPMSchedule(T=1000)
    full = _predicted_moments("ancestral", sched.process(), schedule=sched)
    assert abs(full[0] - MU) < 2e-3 and abs(full[1] - C * C) < 2e-3


def test_dpm2m_is_second_order_where_exponential_is_first():
    """On log-spaced steps, doubling the steps divides the variance error of the discretised
    law by about 4 for the two-step sampler and about 2 for its one-step parent (same grid,
    t_min, target), and the two-step sampler is at least 10 times closer (docs/theory.md §4,
    "Samplers"). Below ~64 steps neither is in its asymptotic regime on this target."""
    p = VPProcess()

    def err(sampler, steps):
        limit = _predicted_moments(sampler, p, grid=time_grid(p, 20_000, 1e-2, spacing="log"))
        grid = time_grid(p, steps, 1e-2, spacing="log")
        return abs(_predicted_moments(sampler, p, grid=grid)[1] - limit[1])

    for steps in (64, 128):
        two, one = err("dpm2m", steps), err("exponential", steps)
        assert two < one / 10
        assert 3.0 < two / err("dpm2m", 2 * steps) < 5.0
        assert 1.6 < one / err("exponential", 2 * steps) < 2.5


# ------------------------------------------------------- each sampler on Gaussian mixtures
def _cell_test(gmm, y, bins):
    """Chi-square p-value of the counts in a grid whose outer cells reach far into the tails
    (so that every cell expects at least ~5 counts)."""
    inner = np.linspace(-2.5, 2.5, bins - 1)
    edges = [np.concatenate([[-1e3], inner, [1e3]])] * gmm.dim
    p = gmm.cell_masses(edges).ravel()
    counts = np.histogramdd(np.clip(y, -999, 999), bins=edges)[0].ravel()
    return stats.chisquare(counts, len(y) * p / p.sum()).pvalue


SETTINGS = {  # sampler: (process, steps, spacing)
    "ancestral": (DDPMSchedule().process(), 250, "uniform"),
    "euler": (VPProcess(), 400, "uniform"),
    "exponential": (VPProcess(), 400, "uniform"),
    "heun": (VPProcess(), 60, "snr"),
    "dpm2m": (VPProcess(), 100, "log"),
    "adaptive": (VPProcess(), None, "uniform"),
}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("gmm", [GMM1, GMM2], ids=["D1", "D2"])
def test_exact_score_sampling_reproduces_the_mixture(sampler, gmm):
    process, steps, spacing = SETTINGS[sampler]
    n = 12_000
    y, info = generate(ExactGMMScore(gmm, process), n, sampler=sampler, steps=steps,
                       spacing=spacing, generator=_gen(11))  # fmt: skip
    y = y[0].numpy()
    mean, cov = gmm.mean(), np.diag(gmm.cov())
    # 4 standard errors, plus the discretisation + early-stop bias measured for these settings
    # with 2e5 samples (D=1): |bias| <= 0.0045 in mean and variance; allowance 0.01
    allowance = 0.01
    assert np.all(np.abs(y.mean(0) - mean) < 4 * np.sqrt(cov / n) + allowance)
    fourth = ((y - y.mean(0)) ** 4).mean(0)
    se_var = np.sqrt((fourth - y.var(0) ** 2) / n)
    assert np.all(np.abs(y.var(0) - cov) < 4 * se_var + allowance * cov)
    assert _cell_test(gmm, y, 16 if gmm.dim == 1 else 8) > 1e-3
    if sampler == "adaptive":
        assert 20 < info["nfe"] < 1000


@pytest.mark.parametrize(
    "process,sampler,steps,spacing",
    [
        (SubVPProcess(), "heun", 60, "snr"),
        (VEProcess(sigma_max=400.0), "heun", 60, "snr"),
        (OUProcess(t_end=10.0), "heun", 60, "snr"),
        (SubVPProcess(), "exponential", 500, "log"),
        (VEProcess(), "exponential", 500, "log"),
        (OUProcess(), "exponential", 500, "log"),
        (SubVPProcess(), "dpm2m", 200, "log"),
        (VEProcess(), "dpm2m", 200, "log"),
        (OUProcess(), "dpm2m", 200, "log"),
    ],
    ids=[
        "subvp-heun",
        "ve-heun",
        "ou-heun",
        "subvp-exp",
        "ve-exp",
        "ou-exp",
        "subvp-dpm2m",
        "ve-dpm2m",
        "ou-dpm2m",
    ],  # fmt: skip
)
def test_every_process_reproduces_the_mixture(process, sampler, steps, spacing):
    n = 6_000
    y, _ = generate(ExactGMMScore(GMM1, process), n, sampler=sampler, steps=steps,
                    spacing=spacing, generator=_gen(5))  # fmt: skip
    y = y[0, :, 0].numpy()
    # 4 standard errors plus 0.02 for discretisation, early stop and (VE ODE) prior mismatch
    # |mean| · data std / sigma_max <= 0.001
    assert abs(y.mean() - GMM1.mean()[0]) < 4 * math.sqrt(GMM1.cov()[0, 0] / n) + 0.02
    assert _cell_test(GMM1, y[:, None], 16) > 1e-3


# ------------------------------------------------------------------- streams and chunks
@pytest.mark.parametrize("sampler", ["euler", "heun", "ancestral"])
def test_results_do_not_depend_on_chunk_size(sampler):
    process = DDPMSchedule(T=50).process() if sampler == "ancestral" else VPProcess()
    score = ExactGMMScore(GMM2, process)
    kw = dict(sampler=sampler, steps=20)
    m = 2 * NOISE_BLOCK + 100
    a, _ = generate(score, m, chunk_size=NOISE_BLOCK, generator=_gen(9), **kw)
    b, _ = generate(score, m, chunk_size=10 * NOISE_BLOCK, generator=_gen(9), **kw)
    c, _ = generate(score, 700, generator=_gen(9), **kw)
    assert a.shape == (1, m, 2) and a.dtype == torch.float64
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a[:, :700], c, rtol=0, atol=0)  # prefix property
    d, _ = generate(score, 700, generator=_gen(10), **kw)
    assert not torch.equal(c, d)


def test_ensemble_members_share_the_shape_and_differ_in_noise():
    from minimax.diffusion.scores import EmpiricalScore

    rng = np.random.default_rng(0)
    sets = [GMM1.sample(30, rng), GMM1.sample(50, rng), GMM1.sample(40, rng)]
    y, info = generate(EmpiricalScore(sets, VPProcess()), 500, sampler="exponential",
                       steps=50, t_min=0.05, generator=_gen(1))  # fmt: skip
    assert y.shape == (3, 500, 1) and info["nfe"] == 51 and info["t_min"] == 0.05
    assert not torch.equal(y[0], y[1])


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"sampler": "leapfrog"}, "sampler"),
        ({"sampler": "ancestral"}, "schedule"),
        ({"sampler": "euler", "t_min": 1.0}, "t_min"),
        ({"sampler": "euler", "steps": 0}, "steps"),
        ({"sampler": "euler", "variance": "large"}, "variance"),
        ({"sampler": "euler", "m": 0}, "m"),
        ({"sampler": "euler", "generator": 3}, "generator"),
        ({"sampler": "euler", "chunk_size": 0}, "chunk_size"),
        ({"sampler": "euler", "device": "tpu"}, "device"),
        ({"sampler": "ancestral", "t_end": 0.5}, "t_end"),
    ],
)
def test_generate_bad_input(kw, param):
    args = {"m": 10, "generator": _gen(0), **kw}
    with pytest.raises(ValueError, match=f"^{param}="):
        generate(ExactGMMScore(GMM1, VPProcess()), args.pop("m"), **args)


def test_ancestral_rejects_a_schedule_that_does_not_match_the_process():
    score = ExactGMMScore(GMM1, DDPMSchedule(T=100).process())
    with pytest.raises(ValueError, match="^schedule"):
        generate(score, 10, sampler="ancestral", schedule=DDPMSchedule(T=100, schedule="cosine"),
                 generator=_gen(0))  # fmt: skip


@pytest.mark.parametrize("spacing", ["log", "quadratic"])
def test_ancestral_sampler_respaces_by_the_requested_spacing(spacing):
    sched = DDPMSchedule()  # T = 1000
    r = sched.respace(60, first=5, spacing=spacing)
    k = np.rint(r.times * sched.T).astype(int)
    assert k[0] == 5 and k[-1] == sched.T and np.all(np.diff(k) > 0)
    steps = np.diff(k)
    # both spacings put short steps near t = 0 and long ones near T (uniform: all ≈ 17)
    assert steps[:5].max() < steps[-5:].min()
    # the kept steps keep ᾱ: the product of the respaced (1 - β') equals ᾱ at each kept step
    np.testing.assert_allclose(np.cumprod(1 - r.betas), sched.alpha_bars[k - 1], rtol=1e-10)
    n = 6_000
    y, info = generate(ExactGMMScore(GMM1, sched.process()), n, sampler="ancestral", steps=100,
                       spacing=spacing, generator=_gen(21))  # fmt: skip
    assert info["spacing"] == spacing
    y = y[0, :, 0].numpy()
    # 4 standard errors plus 0.02 for discretisation and early stop (as for the other samplers)
    assert abs(y.mean() - GMM1.mean()[0]) < 4 * math.sqrt(GMM1.cov()[0, 0] / n) + 0.02
    assert _cell_test(GMM1, y[:, None], 16) > 1e-3


def test_ancestral_sampler_refuses_snr_spacing():
    score = ExactGMMScore(GMM1, DDPMSchedule().process())
    with pytest.raises(ValueError, match="spacing='snr' is not allowed"):
        generate(score, 10, sampler="ancestral", steps=50, spacing="snr", generator=_gen(1))
