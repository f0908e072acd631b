"""Properties of the denoising losses (minimax/diffusion/losses.py) that follow from what they
promise: each is a weighted denoising score-matching loss whose minimiser is the true score.

For Gaussian data x₀ ~ N(μ, s² I) the forward law is Gaussian at every t, so the best ε-predictor
is known in closed form, ε*(x_t, t) = σ (x_t - m μ)/(m² s² + σ²), and so is its loss (the Bayes
risk), m² s²/(m² s² + σ²) per coordinate at time t. Statistical checks allow 4 standard errors
(a two-sided false-failure rate ≈ 3e-4 each with 40 batches, t with 39 df; 1e-4 for the large
samples) and run at fixed seeds (hypothesis derandomised), so a pass or failure is reproducible.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from minimax.diffusion.losses import ContinuousLoss, ELBOLoss, SimpleLoss, make_loss
from minimax.diffusion.processes import DDPMSchedule, SubVPProcess, VEProcess, VPProcess

torch.set_num_threads(1)
PROPS = settings(max_examples=15, deadline=None, derandomize=True)
DDPM = DDPMSchedule().process()
VP = VPProcess()
GROUPS, PER = 40, 2000  # loss estimates: the mean of 40 independent batches of 2000 draws


def _loss(name: str, t_min: float, t_end: float, variance: str = "large"):
    if name == "continuous":
        return ContinuousLoss(VP, t_min, t_end)
    return make_loss(name, DDPM, t_min, t_end, steps=DDPM.schedule.T, variance=variance)


def _gaussian_batches(loss, mu: float, s: float, D: int, seed: int):
    """The loss's inputs for x₀ ~ N(μ, s² I) in GROUPS batches (as members), with the exact
    ε-predictor: (x_t, ε, w, ε*), each (GROUPS, PER, ...)."""
    g = torch.Generator().manual_seed(seed)
    x0 = mu + s * torch.randn((GROUPS, PER, D), generator=g, dtype=torch.float64)
    t = loss.sample_times((GROUPS, PER), g)
    noise = torch.randn((GROUPS, PER, D), generator=g)
    xt, _, w = loss.inputs(x0.to(torch.float32), t, noise)
    m, sigma = (a.unsqueeze(-1) for a in loss.process.marginal(t))
    eps_star = sigma * (xt.double() - m * mu) / (m**2 * s**2 + sigma**2)
    return xt, noise, w, eps_star.to(torch.float32)


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.double().numpy()
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def _bayes_risk_per_time(process, t, mu, s):
    """m² s²/(m² s² + σ²): the mean squared error per coordinate of the best ε-predictor."""
    m, sigma = process.marginal(np.asarray(t, dtype=np.float64))
    return m**2 * s**2 / (m**2 * s**2 + sigma**2)


@PROPS
@given(
    name=st.sampled_from(["simple", "elbo", "continuous"]),
    mu=st.floats(-2.0, 2.0),
    s=st.floats(0.1, 3.0),
    t_min=st.floats(1e-3, 0.3),
    D=st.integers(1, 3),
)
def test_the_exact_gaussian_denoiser_attains_the_bayes_risk(name, mu, s, t_min, D):
    loss = _loss(name, t_min, 1.0)
    _, noise, w, eps_star = _gaussian_batches(loss, mu, s, D, seed=1)
    got, se = _mean_se(loss.per_member(eps_star, noise, w))
    if name == "continuous":
        # λ(t) ∝ t under log-uniform t: the loss is ∫ risk(t)/σ(t)² dt / ∫ 1/σ(t)² dt (t on
        # [T̲, T̄]), integrated here in u = log t by adaptive quadrature
        def integrand(u, with_risk):
            t = math.exp(u)
            _, sigma = VP.marginal(np.float64(t))
            risk = _bayes_risk_per_time(VP, t, mu, s) if with_risk else 1.0
            return t / float(sigma) ** 2 * risk

        span = (math.log(loss.t_min), math.log(loss.t_end))
        top = integrate.quad(integrand, *span, args=(True,), limit=200, epsrel=1e-8)[0]
        want = top / integrate.quad(integrand, *span, args=(False,), limit=200, epsrel=1e-8)[0]
    else:
        # t uniform on the grid times inside [T̲, T̄]: the risk averaged over them, each
        # weighted by the loss's own weight (1 for "simple")
        k = np.arange(loss.k_lo, loss.k_hi + 1)
        t = torch.as_tensor(k / loss.steps, dtype=torch.float64)
        risk = _bayes_risk_per_time(DDPM, t.numpy(), mu, s)
        want = float(np.mean(loss.weight(t).numpy() * risk))
    assert abs(got - want) < 4 * se, (got, want, se)


@PROPS
@given(
    name=st.sampled_from(["simple", "elbo", "continuous"]),
    mu=st.floats(-2.0, 2.0),
    s=st.floats(0.1, 3.0),
    a=st.floats(-1.0, 1.0),
    b=st.floats(-1.0, 1.0),
    delta=st.floats(0.05, 0.5),
)
def test_the_true_score_is_the_minimiser(name, mu, s, a, b, delta):
    # moving ε* along any direction h changes the loss by E[w‖δh‖²]/D (≥ 0) plus a cross term
    # 2 E[w (ε* - ε)·δh]/D that is zero for every h exactly when ε* = E[ε | x_t] for the x_t the
    # loss forms: then the loss rises by the square alone, and ε* is its minimiser
    assume(abs(a) + abs(b) > 0.1)
    loss = _loss(name, 1e-3, 1.0)
    xt, noise, w, eps_star = _gaussian_batches(loss, mu, s, 2, seed=2)
    moved = eps_star + delta * (a * xt + b)
    rise = loss.per_member(moved, noise, w) - loss.per_member(eps_star, noise, w)
    square = loss.per_member(moved, eps_star, w)  # E[w ‖δh‖²]/D per batch
    cross, se_cross = _mean_se(rise - square)
    assert abs(cross) < 4 * se_cross, (cross, se_cross)


@PROPS
@given(
    name=st.sampled_from(["simple", "elbo"]),
    T=st.integers(10, 2000),
    t_min=st.floats(1e-3, 0.9),
    width=st.floats(0.01, 1.0),
)
def test_grid_times_are_uniform_on_the_grid_inside_the_truncation(name, T, t_min, width):
    t_end = min(1.0, t_min + width)
    lo, hi = math.ceil(t_min * T - 1e-9), math.floor(t_end * T + 1e-9)
    assume(1 <= lo <= hi)
    proc = DDPMSchedule(T=T).process()
    loss = make_loss(name, proc, t_min, t_end, steps=T)
    n = 20 * (hi - lo + 1) + 2000  # ≥ 20 expected draws per grid time
    t = loss.sample_times((n,), torch.Generator().manual_seed(3)).numpy()
    k = t * T
    assert np.allclose(k, np.round(k), rtol=0, atol=1e-9 * T)
    k = np.round(k).astype(np.int64)
    assert k.min() >= lo and k.max() <= hi  # never outside [T̲, T̄]
    counts = np.bincount(k - lo, minlength=hi - lo + 1)
    if hi > lo:  # uniform over every grid time inside: chi-square at a 1e-4 false-failure rate
        assert stats.chisquare(counts).pvalue > 1e-4


@PROPS
@given(t_min=st.floats(1e-5, 0.1), ratio=st.floats(1.5, 1e4))
def test_continuous_times_are_log_uniform_between_the_truncations(t_min, ratio):
    t_end = min(1.0, t_min * ratio)
    assume(t_end > t_min * 1.01)
    loss = ContinuousLoss(VPProcess(), t_min, t_end)
    t = loss.sample_times((20000,), torch.Generator().manual_seed(4)).numpy()
    assert t.min() >= t_min and t.max() <= t_end
    u = np.log(t / t_min) / math.log(t_end / t_min)
    assert stats.kstest(u, "uniform").pvalue > 1e-4


@PROPS
@given(
    T=st.integers(25, 2000),
    schedule=st.sampled_from(["linear", "cosine"]),
    t_min=st.floats(1e-3, 0.5),
    variance=st.sampled_from(["large", "small"]),
)
def test_elbo_weights_average_one_over_the_drawn_grid(T, schedule, t_min, variance):
    proc = DDPMSchedule(T=T, schedule=schedule, beta_min=0.1 / T, beta_max=20 / T).process()
    loss = ELBOLoss(proc, t_min, 1.0, T, variance)
    k = np.arange(loss.k_lo, loss.k_hi + 1)
    w = loss.weight(torch.as_tensor(k / T, dtype=torch.float64)).numpy()
    assert np.all(w > 0) and np.mean(w) == pytest.approx(1.0, rel=1e-9)


@PROPS
@given(
    which=st.sampled_from(["vp", "subvp", "ve"]),
    t_min=st.floats(1e-4, 0.1),
    t_end=st.floats(0.2, 1.0),
)
def test_continuous_weights_have_mean_one_under_their_own_times(which, t_min, t_end):
    proc = {"vp": VPProcess(), "subvp": SubVPProcess(), "ve": VEProcess()}[which]
    loss = ContinuousLoss(proc, t_min, t_end)
    w = loss.weight(loss.sample_times((100_000,), torch.Generator().manual_seed(5)))
    mean, se = _mean_se(w)
    assert abs(mean - 1.0) < 4 * se


@PROPS
@given(T=st.integers(25, 2000), schedule=st.sampled_from(["linear", "cosine"]))
def test_elbo_small_variance_weights_are_the_snr_decrement(T, schedule):
    # with reverse variance β̃ the bound's ε-form weight is ½ (SNR(k-1)/SNR(k) - 1), SNR = m²/σ²
    # (Kingma et al. 2021, the variational diffusion model's L_T), up to the normalisation;
    # with reverse variance β it is that times β̃_k/β_k (the weight is ∝ 1/σ_k²)
    sched = DDPMSchedule(T=T, schedule=schedule, beta_min=0.1 / T, beta_max=20 / T)
    proc = sched.process()
    k = np.arange(2, T + 1)  # k = 1 uses β_1 (β̃_1 = 0): excluded
    t = torch.as_tensor(k / T, dtype=torch.float64)
    m, sigma = proc.marginal(np.arange(1, T + 1) / T)
    snr = np.concatenate([[np.inf], m**2 / sigma**2])  # SNR(0) = ∞ is never used (k ≥ 2)
    decrement = snr[k - 1] / snr[k] - 1
    small = ELBOLoss(proc, 1 / T, 1.0, T, "small").weight(t).numpy()
    ratio = small / decrement
    assert np.ptp(ratio) <= 1e-8 * ratio.mean()
    large = ELBOLoss(proc, 1 / T, 1.0, T, "large").weight(t).numpy()
    ratio = large / (decrement * sched.posterior_variance[k - 1] / sched.betas[k - 1])
    assert np.ptp(ratio) <= 1e-8 * ratio.mean()


@PROPS
@given(E=st.integers(2, 4), B=st.integers(1, 300), D=st.integers(1, 3), seed=st.integers(0, 99))
def test_member_losses_ignore_the_other_members_and_the_batch_order(E, B, D, seed):
    g = torch.Generator().manual_seed(seed)
    pred, noise = torch.randn((E, B, D), generator=g), torch.randn((E, B, D), generator=g)
    w = torch.rand((E, B), generator=g) + 0.5
    base = SimpleLoss.per_member(pred, noise, w)
    other = pred.clone()
    other[1:] = torch.randn((E - 1, B, D), generator=g)
    assert torch.equal(SimpleLoss.per_member(other, noise, w)[0], base[0])
    perm = torch.randperm(B, generator=g)
    shuffled = SimpleLoss.per_member(pred[:, perm], noise[:, perm], w[:, perm])
    torch.testing.assert_close(shuffled, base, rtol=1e-5, atol=0)  # float32 summation order


def test_a_truncation_without_a_grid_time_or_in_the_wrong_order_is_refused():
    with pytest.raises(ValueError, match="no grid time"):
        SimpleLoss(DDPM, 0.1001, 0.1009, 1000)
    with pytest.raises(ValueError, match="t_min"):
        ELBOLoss(DDPM, 0.5, 0.4, 1000)
    with pytest.raises(ValueError, match="t_min"):
        ContinuousLoss(DDPM, 0.0, 1.0)
