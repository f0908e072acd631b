"""Batched ensemble training: exact equivalence with separate trainings, stops, bad input."""

import math

import numpy as np
import pytest
import torch

from minimax.diffusion.processes import DDPMSchedule, OUProcess
from minimax.diffusion.training import TrainConfig, train_ensemble

torch.set_num_threads(1)
PROC = DDPMSchedule().process()


def _mixture(n, rng, D=1):
    c = np.where(rng.random(n) < 0.4, -1.0, 1.5)
    return c[:, None] + 0.4 * rng.standard_normal((n, D))


def _cfg(**kw):
    base = dict(width=32, depth=2, steps=120, batch_size=64, eval_every=40, block_steps=25,
                device="cpu", warmup_steps=10)  # fmt: skip
    return TrainConfig(**(base | kw))


@pytest.mark.parametrize("loss", ["simple", "elbo", "continuous"])
def test_ensemble_equals_separate_trainings_with_different_n(loss):
    rng = np.random.default_rng(0)
    Xs = [_mixture(n, rng) for n in (150, 60, 400)]
    seeds = (11, 12, 13)
    cfg = _cfg(loss=loss)
    ens = train_ensemble(Xs, PROC, cfg, [np.random.default_rng(s) for s in seeds])
    for e, (X, s) in enumerate(zip(Xs, seeds, strict=True)):
        alone = train_ensemble([X], PROC, cfg, [np.random.default_rng(s)])
        # identical random draws and arithmetic; only the batched vs single matmul kernels may
        # round differently (float32 ulp ≈ 1e-7 of values ≈ 1, grown over 120 Adam steps)
        np.testing.assert_allclose(ens.loss_history[e], alone.loss_history[0], rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(ens.network.flat[e], alone.network.flat[0], rtol=1e-4, atol=2e-5)
        assert ens.members[e].n_train + ens.members[e].n_heldout == X.shape[0]
        assert ens.members[e].heldout_loss == pytest.approx(alone.members[0].heldout_loss, rel=1e-4)
    # different data and seeds give different models
    assert not torch.allclose(ens.network.flat[0], ens.network.flat[1])


def test_huge_learning_rate_is_reported_as_diverged_with_reason():
    rng = np.random.default_rng(1)
    fit = train_ensemble([_mixture(200, rng)] * 2, PROC, _cfg(lr=1e6, grad_clip=None),
                         [np.random.default_rng(s) for s in (1, 2)])  # fmt: skip
    for r in fit.members:
        assert r.status == "diverged"
        assert "step" in r.reason and ("exceeded" in r.reason or "non-finite" in r.reason)
        assert r.steps < 120
    assert torch.isfinite(fit.network.flat).all()  # the kept weights are never NaN


def test_early_stop_freezes_a_member_and_leaves_the_others_unchanged():
    rng = np.random.default_rng(2)
    Xs = [_mixture(40, rng), _mixture(3000, rng)]
    # worse_z = 0 (any rise above the best counts) makes members stop at different steps
    cfg = _cfg(steps=1000, eval_every=50, patience=2, worse_z=0.0, width=64)
    seeds = (3, 4)
    fit = train_ensemble(Xs, PROC, cfg, [np.random.default_rng(s) for s in seeds])
    stopped = [r for r in fit.members if r.status == "early_stopped"]
    assert stopped and all(r.steps < 1000 and "held-out" in r.reason for r in stopped)
    assert len({r.steps for r in fit.members}) == 2  # they stopped at different steps
    for e, (X, s) in enumerate(zip(Xs, seeds, strict=True)):
        r = fit.members[e]
        assert np.isnan(fit.loss_history[e, r.steps :]).all()
        assert np.isfinite(fit.loss_history[e, : r.steps]).all()
        alone = train_ensemble([X], PROC, cfg, [np.random.default_rng(s)])
        assert alone.members[0].steps == r.steps and alone.members[0].best_step == r.best_step
        np.testing.assert_allclose(
            fit.loss_history[e, : r.steps], alone.loss_history[0, : r.steps], rtol=1e-4, atol=1e-5
        )


def test_kept_snapshot_is_the_latest_unless_significantly_worse():
    rng = np.random.default_rng(7)
    Xs = [_mixture(40, rng), _mixture(2000, rng)]
    # worse_z = 1e9: no snapshot is ever significantly worse, so the last one is kept and nobody
    # stops; worse_z = 0: the kept snapshot is the one with the lowest held-out loss
    never = _cfg(steps=600, eval_every=50, patience=2, worse_z=1e9, width=32)
    fit = train_ensemble(Xs, PROC, never, [np.random.default_rng(s) for s in (1, 2)])
    assert all(r.status == "completed" and r.best_step == 600 for r in fit.members)
    strict = _cfg(steps=600, eval_every=50, patience=0, worse_z=0.0, width=32)
    fit0 = train_ensemble(Xs, PROC, strict, [np.random.default_rng(s) for s in (1, 2)])
    # the 40-point member memorises: its held-out loss has a minimum before the end
    assert fit0.members[0].best_step < 600
    pairs = zip(fit0.members, fit.members, strict=True)
    assert all(r.heldout_loss <= q.heldout_loss + 1e-12 for r, q in pairs)


def test_training_reduces_the_denoising_loss_below_the_trivial_predictor():
    rng = np.random.default_rng(5)
    X = _mixture(2000, rng)
    fit = train_ensemble([X], PROC, _cfg(steps=600, lr=3e-3), [np.random.default_rng(6)])
    hist = fit.loss_history[0]
    # ε_θ ≡ 0 scores 1 (E‖ε‖²/D) and the untrained net is near it; minibatch losses of 64 points
    # have sd ≈ 0.2 per step, so a 5-step mean has se ≈ 0.09 (0.7 is 3 se below 1) and a 50-step
    # mean se ≈ 0.03 (a trained model scores ≈ 0.25 here, so 0.5 leaves > 5 se).
    assert hist[:5].mean() > 0.7
    assert hist[-50:].mean() < 0.5
    assert fit.members[0].status == "completed"


def test_box_standardisation_maps_the_box_to_unit_cube():
    rng = np.random.default_rng(7)
    X = rng.uniform([0.0, 2.0], [1.0, 6.0], size=(100, 2))
    cfg = _cfg(steps=5, standardize="box", box=[[0.0, 1.0], [2.0, 6.0]])
    fit = train_ensemble([X], PROC, cfg, [np.random.default_rng(8)])
    u = fit.standardizer.to_model(torch.as_tensor(X)[None])[0].numpy()
    assert u.min() >= -1 and u.max() <= 1
    np.testing.assert_allclose(fit.standardizer.scale[0, 0].numpy(), [0.5, 2.0])
    # an unbounded axis falls back to the training data's moments
    cfg = _cfg(steps=5, standardize="box", box=[[0.0, 1.0], [-np.inf, np.inf]], heldout_fraction=0)
    fit = train_ensemble([X], PROC, cfg, [np.random.default_rng(8)])
    np.testing.assert_allclose(fit.standardizer.scale[0, 0].numpy(), [0.5, X[:, 1].std()])
    np.testing.assert_allclose(fit.standardizer.shift[0, 0].numpy(), [0.5, X[:, 1].mean()])


def test_continuous_loss_on_ou_process_uses_its_time_range():
    rng = np.random.default_rng(9)
    fit = train_ensemble([_mixture(100, rng)], OUProcess(beta=1.0, t_end=3.0),
                         _cfg(loss="continuous", t_min=1e-3), [np.random.default_rng(10)])  # fmt: skip
    assert fit.extra["t_min"] == 1e-3 and fit.extra["t_end"] == 3.0
    assert math.isfinite(fit.members[0].heldout_loss)


@pytest.mark.parametrize(
    "Xs,kw,match",
    [
        ([np.array([[0.0], [np.nan], [1.0]])], {}, "NaN"),
        ([np.zeros((10, 1)), np.zeros((10, 2))], {}, "dimension"),
        ([np.zeros((1, 1))], {}, "at least 2"),
        ([np.zeros((10, 1))], {"loss": "l1"}, "loss='l1'"),
        ([np.zeros((10, 1))], {"lr_schedule": "step"}, "lr_schedule='step'"),
        ([np.zeros((10, 1))], {"standardize": "box"}, "box=None"),
        ([np.zeros((10, 1))], {"lr": -1.0}, "lr=-1.0"),
        ([np.zeros((10, 1))], {"t_min": 2.0}, "t_min=2.0"),
    ],
)
def test_bad_input_raises_value_error(Xs, kw, match):
    rngs = [np.random.default_rng(0) for _ in Xs]
    with pytest.raises(ValueError, match=match):
        train_ensemble(Xs, PROC, _cfg(**kw), rngs)


def test_rngs_must_match_datasets():
    with pytest.raises(ValueError, match="rngs"):
        train_ensemble([np.zeros((5, 1))] * 2, PROC, _cfg(), [np.random.default_rng(0)])


# -- no host sync inside a training step (issue 17) -------------------------------------------
#: the Tensor methods that read a value back to the host (a device sync on CUDA)
_HOST_READS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist", "numpy", "cpu")


class _HostReads:
    """Counts host reads of tensor values (Tensor.__bool__, .item(), .cpu(), ... and
    torch.nonzero, whose output size needs the values) while active."""

    def __init__(self, monkeypatch):
        self.count = 0
        for name in _HOST_READS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._counted(original))
        monkeypatch.setattr(torch, "nonzero", self._counted(torch.nonzero))

    def _counted(self, fn):
        def wrapper(*args, **kwargs):
            self.count += 1
            return fn(*args, **kwargs)

        return wrapper


@pytest.mark.parametrize("loss", ["simple", "elbo", "continuous"])
def test_a_training_step_reads_nothing_back_to_the_host(monkeypatch, loss):
    # one minibatch block and one evaluation whatever the number of steps: any read-back per
    # step (the old `bool(bad.any())`) makes the count grow with the steps
    rng = np.random.default_rng(3)
    Xs = [_mixture(100, rng), _mixture(80, rng)]
    counts = {}
    for steps in (10, 40):
        cfg = _cfg(loss=loss, steps=steps, eval_every=steps, block_steps=steps)
        reads = _HostReads(monkeypatch)
        train_ensemble(Xs, PROC, cfg, [np.random.default_rng(s) for s in (1, 2)])
        counts[steps] = reads.count
        monkeypatch.undo()
    assert counts[10] == counts[40] > 0


def test_the_old_per_step_check_is_seen_by_the_counter(monkeypatch):
    # the counter can fail: with the check after every step, reads grow with the steps
    import minimax.diffusion.training as training

    rng = np.random.default_rng(3)
    Xs = [_mixture(100, rng)]
    counts = {}
    for steps in (10, 40):
        monkeypatch.setattr(training, "SYNC_EVERY_STEP", True)
        reads = _HostReads(monkeypatch)
        cfg = _cfg(steps=steps, eval_every=steps, block_steps=steps)
        train_ensemble(Xs, PROC, cfg, [np.random.default_rng(1)])
        counts[steps] = reads.count
        monkeypatch.undo()
    assert counts[40] - counts[10] >= 30


def _fit_both_ways(monkeypatch, Xs, cfg, seeds):
    import minimax.diffusion.training as training

    fits = []
    for every_step in (True, False):
        monkeypatch.setattr(training, "SYNC_EVERY_STEP", every_step)
        fits.append(train_ensemble(Xs, PROC, cfg, [np.random.default_rng(s) for s in seeds]))
    return fits


def _same_fit(a, b):
    assert torch.equal(a.network.flat, b.network.flat)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    for ra, rb in zip(a.members, b.members, strict=True):
        assert (ra.steps, ra.best_step, ra.status, ra.reason) == (
            rb.steps,
            rb.best_step,
            rb.status,
            rb.reason,
        )
        np.testing.assert_array_equal(
            [ra.train_loss, ra.heldout_loss], [rb.train_loss, rb.heldout_loss]
        )


def test_deferred_divergence_check_equals_the_per_step_check_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(4)
    Xs = [_mixture(200, rng), _mixture(50, rng)]
    every, deferred = _fit_both_ways(monkeypatch, Xs, _cfg(), (7, 8))
    assert all(r.status == "completed" for r in deferred.members)
    _same_fit(every, deferred)


def test_divergence_between_evaluations_is_reported_with_its_step_and_reason(monkeypatch):
    # member 0 exceeds 1.05 x its first loss at step 3 (the per-step check's reason); the
    # deferred check reads the flag at the evaluation of step 40 and must report the same, with
    # the member frozen from step 3 on (its history NaN from there) and the other untouched
    rng = np.random.default_rng(4)
    Xs = [_mixture(200, rng), _mixture(50, rng)]
    cfg = _cfg(divergence_factor=1.05, lr=5e-2)
    every, deferred = _fit_both_ways(monkeypatch, Xs, cfg, (7, 8))
    _same_fit(every, deferred)
    r = deferred.members[0]
    assert r.status == "diverged" and r.steps == 2 and r.steps < cfg.eval_every
    assert r.reason.startswith("training loss") and "at step 3" in r.reason
    assert np.isnan(deferred.loss_history[0, r.steps :]).all()
    assert deferred.members[1].status == "completed"


def test_divergence_read_only_at_the_final_evaluation_is_still_reported(monkeypatch):
    # non-finite from step 2 on; with one evaluation at the very end the flag is read only there
    rng = np.random.default_rng(1)
    cfg = _cfg(lr=1e6, grad_clip=None, eval_every=10_000)
    every, deferred = _fit_both_ways(monkeypatch, [_mixture(200, rng)], cfg, (1,))
    _same_fit(every, deferred)
    assert deferred.members[0].status == "diverged"
    assert deferred.members[0].reason == "non-finite gradient at step 2"


@pytest.mark.parametrize("name", ["simple", "elbo"])
def test_grid_coefficient_tables_equal_the_direct_float64_code(name):
    # off the CPU the grid losses read m, σ, c, w from a table (no time tensor to the host);
    # the table holds the same float64 code's values, so the lookup is exact
    from minimax.diffusion.losses import make_loss

    loss = make_loss(name, PROC, 0.02, 0.9, steps=1000)
    t = loss.sample_times((3, 500), torch.Generator().manual_seed(0))
    for a, b in zip(loss.table_coefficients(t), loss.coefficients(t), strict=True):
        assert a.dtype == b.dtype == torch.float32
        assert torch.equal(a, b)
