"""Properties the sizing rules promise (minimax/diffusion/sizing.py), checked over many (n, D, s).

Each test states a promise of the module's docstrings (monotone budgets, caps, the T̲ rule and
its grid, the OU terminal time) and checks it at hypothesis-drawn points; none recomputes a
rule's number by the rule's own formula.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minimax.diffusion.processes import DDPMSchedule, OUProcess, SubVPProcess, VPProcess
from minimax.diffusion.sizing import (
    DEPTH,
    EARLY_STOP_RATIO,
    GRID_STEPS_BELOW_T_MIN,
    MAX_STEPS,
    aligned_grid,
    mlp_parameter_count,
    network_inputs,
    rate_exponent,
    refined_ddpm,
    size,
    theory_early_stop,
    time_for_ratio,
    width_for,
)

PROPS = settings(max_examples=40, deadline=None, derandomize=True)
DDPM = DDPMSchedule().process()
PROCESSES = {"ddpm": DDPM, "vp": VPProcess(), "subvp": SubVPProcess(), "ou": OUProcess(beta=1.0)}

ns = st.integers(2, 10**7)
Ds = st.integers(1, 4)
ss = st.floats(0.25, 4.0)
processes = st.sampled_from(sorted(PROCESSES))


def _noise_to_signal(process, t: float) -> float:
    m, sigma = process.marginal(np.float64(t))
    return float(sigma) / float(m)


@PROPS
@given(params=st.floats(1.0, 1e8), depth=st.integers(1, 5), n_in=st.integers(1, 100), dim=Ds)
def test_width_for_is_the_smallest_width_reaching_the_parameter_target(params, depth, n_in, dim):
    w = width_for(params, depth, n_in, dim)
    # ≥ 1e-9 relative below the target is allowed: the rule's guard against float noise
    # (a target that is exactly a width's count must not round up to the next width)
    assert w >= 8 and mlp_parameter_count(w, depth, n_in, dim) >= params * (1 - 1e-9)
    assert w == 8 or mlp_parameter_count(w - 1, depth, n_in, dim) < params


@PROPS
@given(D=Ds, s=ss, k=st.integers(0, 12), name=processes)
def test_the_theory_rule_at_the_reference_n_is_the_64_wide_3_deep_network(D, s, k, name):
    # "N(1000) = the parameters of a 64-wide, 3-deep MLP", whatever s, D and the x features
    z = size("theory", 1000, D, PROCESSES[name], s=s, x_frequencies=k)
    assert (z.width, z.depth) == (64, 3)


@PROPS
@given(n1=ns, n2=ns, D=Ds, s=ss, name=processes)
def test_every_theory_budget_is_monotone_in_n(n1, n2, D, s, name):
    n1, n2 = sorted((n1, n2))
    a, b = (size("theory", n, D, PROCESSES[name], s=s) for n in (n1, n2))
    # more data: a network at least as large, trained and sampled at least as long, with a
    # step size, an early stop and a finest x scale no larger, and a terminal time no shorter
    assert a.width <= b.width and a.steps <= b.steps and a.sample_steps <= b.sample_steps
    assert a.lr >= b.lr and a.t_min >= b.t_min and a.x_finest_scale >= b.x_finest_scale
    assert a.t_end <= b.t_end and a.depth == b.depth == DEPTH


@PROPS
@given(n=ns, D=Ds, s=ss, name=processes)
def test_theory_budgets_stay_within_their_floors_and_caps(n, D, s, name):
    process = PROCESSES[name]
    z = size("theory", n, D, process, s=s)
    T = getattr(getattr(process, "schedule", None), "T", None)
    assert 2000 <= z.steps <= MAX_STEPS and z.batch_size == 256 and z.width >= 8
    assert 100 <= z.sample_steps <= (T or 1000)
    # the training budget is a constant number of passes (1600) over the 0.9 n training points:
    # at least that many unless capped, and at most one step more unless raised to the floor
    epochs = z.steps * z.batch_size / (0.9 * n)
    assert epochs >= 1600 or z.steps == MAX_STEPS
    assert z.steps == 2000 or (z.steps - 1) * z.batch_size < 1600 * 0.9 * n
    # the sampler's first-order error ∝ 1/steps stays 25x below the rate unless at the cap
    assert z.sample_steps >= 25 * n ** rate_exponent(s, D) or z.sample_steps == (T or 1000)


@PROPS
@given(n1=ns, n2=ns, D=Ds, s=ss, k=st.integers(0, 8))
def test_the_parameter_count_grows_as_n_to_the_d_over_2s_plus_d(n1, n2, D, s, k):
    n1, n2 = sorted((n1, n2))
    n_in = network_inputs(D, k)
    widths = [size("theory", n, D, DDPM, s=s, x_frequencies=k).width for n in (n1, n2)]
    assume(min(widths) > 8)  # the floor of 8 breaks the power law
    count = [mlp_parameter_count(w, DEPTH, n_in, D) for w in widths]
    below = [mlp_parameter_count(w - 1, DEPTH, n_in, D) for w in widths]
    # each count lies in [target, count(w)/count(w-1) · target) (smallest width reaching the
    # target), so the ratio of counts brackets the ratio of targets (n2/n1)^{D/(2s+D)}
    want = (n2 / n1) ** (D / (2 * s + D))
    ratio = count[1] / count[0]
    assert (
        want * below[0] / count[0] * (1 - 1e-9) <= ratio <= want * count[1] / below[1] * (1 + 1e-9)
    )


@PROPS
@given(n=ns, D=Ds, s=ss, scale=st.floats(0.05, 4.0), name=st.sampled_from(["vp", "subvp", "ou"]))
def test_the_early_stop_sets_the_noise_to_signal_ratio(n, D, s, scale, name):
    process = PROCESSES[name]
    ratio = scale * EARLY_STOP_RATIO
    target = ratio * n ** (-1.0 / (2 * s + D))
    t = theory_early_stop(process, n, D, s, ratio)
    # the bisection starts at t = 1e-12: a ratio reached only below that (n ≈ 10^7 with s < 1)
    # is outside the rule's range
    assume(t > 1e-11)
    if target >= _noise_to_signal(process, process.t_end):
        assert t == process.t_end  # the whole process is less noisy than asked: stop at T̄
    else:
        assert _noise_to_signal(process, t) == pytest.approx(target, rel=1e-9)
        # a smaller ratio stops earlier
        assert time_for_ratio(process, 0.5 * target) < t


@PROPS
@given(t_min=st.floats(2e-4, 0.5), below=st.integers(1, 128))
def test_a_refined_grid_has_a_time_at_t_min_with_enough_steps_below_it(t_min, below):
    fine = refined_ddpm(DDPM, t_min, below)
    T = fine.schedule.T
    k = round(t_min * T)
    # a grid time within a relative 1/(2T') of t_min, at least `below` steps above 0, T' ≥ T
    assert abs(k / T - t_min) <= t_min / (2 * T) * (1 + 1e-9) and k >= below
    assert T >= DDPM.schedule.T
    # the same continuous process: the grids' σ(t) differ by O(1/(t T)) (β_k at k vs k - 1)
    t = np.geomspace(max(t_min, 1e-2), 1.0, 9)
    rel = np.abs(fine.marginal(t)[1] / DDPM.marginal(t)[1] - 1)
    assert np.all(rel < 1 / (t * DDPM.schedule.T))


@PROPS
@given(k=st.integers(1, 1000), below=st.integers(1, 64))
def test_a_grid_that_already_has_the_time_is_kept(k, below):
    assume(k >= below)
    assert refined_ddpm(DDPM, k / 1000, below) is DDPM


@PROPS
@given(n=st.integers(2, 10**5), D=Ds, s=ss)
def test_the_rule_t_min_lies_on_its_grid_with_64_steps_below(n, D, s):
    # refined grids for T̲ below 2e-4 need ≥ 320,000 steps: beyond what a test should build
    assume(theory_early_stop(DDPM, n, D, s) >= 2e-4)
    fine = aligned_grid(DDPM, n, D, s)
    z = size("theory", n, D, fine, s=s)
    k = z.t_min * fine.schedule.T
    assert abs(k - round(k)) < 1e-6 and round(k) >= GRID_STEPS_BELOW_T_MIN
    # "two passes reach the rule's T̲ to within 0.1%"
    raw = theory_early_stop(fine, n, D, s)
    assert abs(z.t_min - raw) <= 1e-3 * raw


@PROPS
@given(n=ns, D=Ds, s=ss, beta=st.floats(0.25, 4.0))
def test_the_ou_terminal_time_puts_the_prior_mismatch_below_the_rate(n, D, s, beta):
    process = OUProcess(beta=beta)
    z = size("theory", n, D, process, s=s)
    m, _ = process.marginal(np.float64(z.t_end))
    # m(T̄) is the prior mismatch of starting the sampler at N(0, I) instead of the law at T̄
    assert float(m) <= n ** (-rate_exponent(s, D)) * (1 + 1e-9)


@PROPS
@given(n1=ns, n2=ns, D=Ds, name=processes)
def test_the_fixed_rule_is_the_same_at_every_n(n1, n2, D, name):
    a, b = (size("fixed", n, D, PROCESSES[name]) for n in (n1, n2))
    assert a == b


@PROPS
@given(
    n=ns,
    D=Ds,
    s=ss,
    rule=st.sampled_from(["theory", "fixed"]),
    given_=st.fixed_dictionaries(
        {},
        optional={
            "width": st.integers(1, 500),
            "depth": st.integers(1, 6),
            "steps": st.integers(1, 10**6),
            "batch_size": st.integers(1, 4096),
            "lr": st.floats(1e-6, 1.0),
            "t_min": st.floats(1e-5, 0.5),
            "t_end": st.floats(0.6, 1.0),
            "sample_steps": st.integers(1, 5000),
        },
    ),
)
def test_overrides_are_returned_as_given_and_none_keeps_the_rule(n, D, s, rule, given_):
    z = size(rule, n, D, VPProcess(), s=s, **given_)
    plain = size(rule, n, D, VPProcess(), s=s)
    nones = size(rule, n, D, VPProcess(), s=s, **dict.fromkeys(given_))
    for name in ("width", "depth", "steps", "batch_size", "lr", "t_min", "t_end", "sample_steps"):
        assert getattr(z, name) == given_.get(name, getattr(plain, name))
    assert nones == plain


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="t_min"):
        size("theory", 100, 1, VPProcess(), s=1.0, t_min=0.9, t_end=0.5)
    with pytest.raises(ValueError, match="width=0"):
        size("fixed", 100, 1, VPProcess(), width=0)
    with pytest.raises(ValueError, match="n=1"):
        size("fixed", 1, 1, VPProcess())
    with pytest.raises(ValueError, match="s=None"):
        size("theory", 100, 1, VPProcess())
    with pytest.raises(ValueError, match="colour"):
        size("theory", 100, 1, VPProcess(), s=1.0, colour=3)
