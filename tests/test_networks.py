"""Ensemble networks, the ε → score link, losses and sizing rules (fast, CPU)."""

import math

import numpy as np
import pytest
import torch

from minimax.diffusion.losses import ContinuousLoss, ELBOLoss, SimpleLoss, make_loss
from minimax.diffusion.networks import EnsembleMLP, NetworkScore, Standardizer, member_generators
from minimax.diffusion.processes import DDPMSchedule, OUProcess, VPProcess
from minimax.diffusion.sizing import mlp_parameter_count, network_inputs, size
from minimax.diffusion.training import adam_step


def _net(seeds, **kw):
    return EnsembleMLP(2, 32, 3, member_generators([np.random.default_rng(s) for s in seeds]), **kw)


def test_member_equals_lone_model_with_same_seed():
    ens = _net([11, 22, 33])
    lone = _net([22])
    # same generator stream → bit-identical initial weights
    assert torch.equal(ens.flat[1], lone.flat[0])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 2, generator=g)
    c = torch.randn(3, 50, generator=g)
    out = ens(x, c)
    # batched and single matmuls may round differently: a few float32 ulps
    torch.testing.assert_close(out[1], lone(x[1:2], c[1:2])[0], rtol=1e-5, atol=1e-6)


def test_members_do_not_interact():
    ens = _net([1, 2], x_finest_scale=0.05)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 20, 2, generator=g)
    c = torch.randn(2, 20, generator=g)
    base = ens(x, c)
    x2 = x.clone()
    x2[0] += 5.0
    out = ens(x2, c)
    assert torch.equal(out[1], base[1])
    assert not torch.allclose(out[0], base[0])


@pytest.mark.parametrize("xf", [None, 0.05])
def test_one_time_per_member_path_equals_the_per_point_features(xf):
    # the samplers' path folds the time features into a per-member bias: the same affine map,
    # so only float32 rounding may differ (a few ulps of activations of order one)
    ens = _net([4, 5, 6], x_finest_scale=xf)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 64, 2, generator=g)
    c = torch.tensor([-1.3, -0.2, 0.4])
    full = ens(x, c[:, None].expand(3, 64).contiguous())
    with torch.no_grad():
        fast = ens(x, c)
    torch.testing.assert_close(fast, full.detach(), rtol=1e-5, atol=1e-5)
    # with gradients on, the path is differentiable and gives the same parameter gradient
    (g_full,) = torch.autograd.grad(full.square().sum(), ens.flat)
    (g_fast,) = torch.autograd.grad(ens(x, c).square().sum(), ens.flat)
    torch.testing.assert_close(g_fast, g_full, rtol=1e-4, atol=1e-4)
    # a time shared by the points is not a time shared by the members
    assert not torch.allclose(fast[0], ens(x, torch.full((3,), 0.4))[0], atol=1e-3)


def test_parameter_count_matches_formula_and_x_features():
    for xf in (None, 0.01):
        net = _net([3], x_finest_scale=xf, x_frequencies=5)
        k = 0 if xf is None else 5
        assert net.parameter_count() == mlp_parameter_count(32, 3, network_inputs(2, k), 2)


def test_network_score_is_minus_eps_over_sigma_and_transforms_by_jacobian():
    proc = DDPMSchedule().process()
    net = _net([5])
    shift = torch.tensor([[[0.5, -1.0]]], dtype=torch.float64)
    scale = torch.tensor([[[2.0, 0.25]]], dtype=torch.float64)
    score = NetworkScore(net, proc, Standardizer(shift, scale))
    g = torch.Generator().manual_seed(2)
    u = torch.randn(1, 40, 2, generator=g, dtype=torch.float64)
    t = 0.3
    _, std = proc.marginal(t)
    c = torch.full((1, 40), 0.25 * math.log(std), dtype=torch.float32)
    eps = net(u.float(), c).double()
    torch.testing.assert_close(score(u, t), -eps / std, rtol=1e-6, atol=1e-9)
    x = u * scale + shift
    torch.testing.assert_close(score.score_data(x, t), -eps / std / scale, rtol=1e-5, atol=1e-7)


def test_adam_step_matches_torch_adam_and_masks_frozen_members():
    g = torch.Generator().manual_seed(3)
    p0 = torch.randn(2, 7, generator=g)
    ours, m1, m2 = p0.clone(), torch.zeros(2, 7), torch.zeros(2, 7)
    ref = torch.nn.Parameter(p0[0].clone())
    opt = torch.optim.Adam([ref], lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    active = torch.tensor([True, False])
    for step in range(1, 21):
        grad = torch.randn(2, 7, generator=g)
        k = torch.tensor([float(step), 1.0], dtype=torch.float64)
        adam_step(
            ours,
            grad,
            m1,
            m2,
            k,
            active,
            torch.full((2,), 0.01, dtype=torch.float64),
            0.9,
            0.99,
            1e-8,
        )
        ref.grad = grad[0].clone()
        opt.step()
    torch.testing.assert_close(ours[0], ref.detach(), rtol=1e-5, atol=1e-6)
    assert torch.equal(ours[1], p0[1]) and torch.equal(m1[1], torch.zeros(7))


def test_elbo_weights_equal_schedule_closed_form():
    sched = DDPMSchedule(T=100, beta_min=1e-3, beta_max=0.05)
    proc = sched.process()
    for variance in ("large", "small"):
        loss = ELBOLoss(proc, 1 / 100, 1.0, 100, variance)
        b, a, ab = sched.betas, sched.alphas, sched.alpha_bars
        var = (
            b if variance == "large" else np.where(np.arange(100) == 0, b, sched.posterior_variance)
        )
        w = b**2 / (2 * var * a * (1 - ab))
        got = loss.weight(torch.tensor(sched.times)).numpy()
        np.testing.assert_allclose(got, w / w.mean(), rtol=1e-9)


def test_simple_loss_draws_grid_times_inside_truncation():
    proc = DDPMSchedule().process()
    loss = SimpleLoss(proc, 0.0105, 0.5, 1000)
    t = loss.sample_times((20000,), torch.Generator().manual_seed(4))
    k = t * 1000
    assert torch.allclose(k, torch.round(k))
    assert int(k.min()) == 11 and int(k.max()) == 500
    # uniform on 490 values: each count ~ Binomial(20000, 1/490), 41 ± 6.4; the extremes of 490
    # counts stay within 5 sd (failure probability < 1e-3)
    counts = torch.bincount(k.round().long())[11:501].double()
    assert counts.max().item() < 20000 / 490 + 5 * math.sqrt(20000 / 490)


def test_continuous_loss_weight_has_mean_one_and_lambda_proportional_to_t():
    proc = OUProcess(beta=1.0, t_end=4.0)
    loss = ContinuousLoss(proc, 1e-3, 4.0)
    t = loss.sample_times((200000,), torch.Generator().manual_seed(5))
    assert float(t.min()) >= 1e-3 and float(t.max()) <= 4.0
    w = loss.weight(t)
    se = float(w.std()) / math.sqrt(len(w))
    assert abs(float(w.mean()) - 1.0) < 4 * se  # 4 standard errors
    _, std = proc.marginal(t)
    ratio = w * std**2 / t  # λ(t) = w σ² must be ∝ t
    assert float(ratio.max() - ratio.min()) < 1e-9 * float(ratio.mean())


def test_losses_reject_bad_names_and_times():
    proc = VPProcess()
    with pytest.raises(ValueError, match="loss='l2'"):
        make_loss("l2", proc, 1e-3, 1.0, steps=1000)
    with pytest.raises(ValueError, match="t_min"):
        make_loss("continuous", proc, 1.0, 0.5)
    with pytest.raises(ValueError, match="steps=None"):
        make_loss("simple", proc, 1e-3, 1.0)


@pytest.mark.parametrize("D,s", [(1, 1.0), (2, 1.5), (3, 1.0)])
def test_theory_rule_parameter_count_scales_as_n_power(D, s):
    proc = DDPMSchedule().process()
    ns = np.array([1e3, 1e4, 1e5, 1e6])
    counts = []
    for n in ns:
        z = size("theory", int(n), D, proc, s=s)
        # the rule's x Fourier features (8 scales) are part of the first layer
        assert z.x_finest_scale == pytest.approx(0.5 * n ** (-1 / (2 * s + D)))
        counts.append(mlp_parameter_count(z.width, z.depth, network_inputs(D, 8), D))
    slope = np.polyfit(np.log(ns), np.log(counts), 1)[0]
    # width is rounded up to an integer: relative count error ≤ 2/width ≤ 2/64 per point, so the
    # fitted slope over 3 decades moves by at most ~2·(2/64)/(3 ln 10) < 0.01
    assert abs(slope - D / (2 * s + D)) < 0.01


def test_sizing_overrides_and_bad_input():
    proc = DDPMSchedule().process()
    z = size("theory", 5000, 1, proc, s=1.0, width=17, t_min=0.02)
    assert z.width == 17 and z.t_min == 0.02
    f = size("fixed", 10, 1, proc)
    assert (f.width, f.sample_steps, f.t_min) == (128, 1000, 1e-3)
    with pytest.raises(ValueError, match="sizing='big'"):
        size("big", 100, 1, proc, s=1.0)
    with pytest.raises(ValueError, match="s=None"):
        size("theory", 100, 1, proc)
    with pytest.raises(ValueError, match="colour"):
        size("fixed", 100, 1, proc, colour=3)
    ou = size("theory", 10000, 1, OUProcess(beta=1.0), s=1.0)
    # m(T̄) = n^{-1.5 s/(2s+D)}
    m, _ = OUProcess(beta=1.0).marginal(ou.t_end)
    assert abs(math.log(m) + 1.5 / 3 * math.log(10000)) < 1e-9


def test_refined_ddpm_puts_a_grid_time_at_the_theory_early_stop_with_the_same_process():
    from minimax.diffusion.sizing import aligned_grid, refined_ddpm, theory_early_stop

    base = DDPMSchedule().process()
    assert refined_ddpm(base, 0.004, below=1) is base  # 4/1000 is already a grid time
    assert refined_ddpm(base, 0.004).schedule.T == 16000  # 64 steps below T̲
    for n, D, s in ((250, 1, 1.0), (8000, 2, 1.5), (32000, 1, 1.0)):
        fine = aligned_grid(base, n, D, s)
        raw = theory_early_stop(fine, n, D, s)
        z = size("theory", n, D, fine, s=s)
        # the rule's T̲ to 0.1% (it was rounded up by up to 50% on the default grid)
        assert abs(z.t_min - raw) <= 1e-3 * raw
        assert fine.schedule.T >= base.schedule.T
    # the same continuous VP process: both grids discretise β(t) = 0.1 + 19.9 t, and the coarse
    # grid's index offset (β_k at k - 1) moves σ(t) by a relative O(1/(t·1000))
    fine = refined_ddpm(base, theory_early_stop(base, 32000, 1, 1.0))
    t = np.array([0.01, 0.1, 0.5, 1.0])
    rel = np.abs(fine.marginal(t)[1] / base.marginal(t)[1] - 1)
    assert np.all(rel < 1 / (t * 1000))


def test_the_kde_control_smooths_as_much_as_the_ddpm_early_stop_blurs():
    """The stated rule of the KDE control (kde_recipe.KDE_C_RATIO): h = the DDPM's σ(T̲)/m(T̲)."""
    from minimax.baselines.kde_recipe import KDE_C_RATIO
    from minimax.diffusion.sizing import EARLY_STOP_RATIO
    from minimax.study.registry import ESTIMATORS
    from minimax.study.spec import spec_from_values
    from minimax.targets import make_target

    assert KDE_C_RATIO == EARLY_STOP_RATIO
    spec = spec_from_values({"D": 1, "s": 1.0, "n": [250, 1000, 8000]}, name="t")
    target = make_target("besov", D=1, s=1.0, p=2.0, boundary="band", seed=0, n_max=8000)
    half = float(np.diff(target.support[0])[0]) / 2
    assert ESTIMATORS["kde"].build(target, spec, 250, {}).c == pytest.approx(
        EARLY_STOP_RATIO * half
    )


def test_early_stop_scale_moves_the_blur_by_its_factor():
    from minimax.diffusion import DiffusionEstimator, OracleScoreDiffusion
    from minimax.diffusion.estimator import _early_stop_ratio, _process_for_rule
    from minimax.diffusion.sizing import EARLY_STOP_RATIO

    for scale in (1.0, 0.5):
        est = DiffusionEstimator(s=1.0, early_stop_scale=scale, box=[[-1, 1]])
        fine = _process_for_rule(est, est._check_params(1)[0], 1000, 1)
        sz = est._sizing(1000, 1, fine)
        m, sigma = (float(v) for v in fine.marginal(np.float64(sz.t_min)))
        # σ/m at the sized T̲ is the scaled rule's, to the grid's 0.1 %
        assert sigma / m == pytest.approx(scale * EARLY_STOP_RATIO * 1000 ** (-1 / 3), rel=2e-3)
    with pytest.raises(ValueError, match="early_stop_scale"):
        _early_stop_ratio(OracleScoreDiffusion(None, s=1.0, early_stop_scale=0.0))
