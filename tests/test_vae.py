"""The Gaussian VAE estimator (minimax.generative.vae): its TV falls with n, its law has no
atoms (the decoder's noise is sampled), and it reports its ELBO and held-out ELBO."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from minimax import metrics as M
from minimax.generative import VAEEstimator
from minimax.study.cli import main
from minimax.targets import make_target


@pytest.fixture(scope="module")
def target():
    # target seed 1: the seed the recipe was tuned on (0 is the studies' reporting seed)
    return make_target("besov", D=1, s=1.0, p=2.0, boundary="band", seed=1, n_max=4000)


def _tvs(target, n, reps=3, seed=0):
    torch.set_num_threads(1)
    Xs = [target.sample(n, np.random.default_rng([seed, n, r])) for r in range(reps)]
    rngs = [np.random.default_rng([seed, n, r, 1]) for r in range(reps)]
    # a quarter of the recipe's step budget and one of its two learning rates (the recipe
    # before commit cd656c0, whose TV fell 0.127 -> 0.068 from n = 500 to 8000 on this seed),
    # so that the suite fits CI: the recipe itself is measured in studies/generative_confirm
    vae = VAEEstimator(s=1.0, box=target.support, device="cpu", steps0=3000, lr=4e-3)
    ests = vae.fit_ensemble(Xs, rngs)
    tvs = []
    for r, est in enumerate(ests):
        y = est.sample(40_000, np.random.default_rng([seed, n, r, 2]))
        assert np.all(np.abs(y) <= 1.0)  # folded into the box
        tvs.append(M.tv(target, y, rng=np.random.default_rng([seed, n, r, 3])).value)
    return np.array(tvs), ests


def test_vae_tv_falls_with_n(target):
    """Mean TV over 3 replicates (fresh data and fit each) at n = 4000 is below the one at
    n = 250 by more than 2 combined standard errors (se = replicate sd / √3 at each n: data,
    training and measurement noise together): a one-sided test at ≈ 5 %."""
    small, _ = _tvs(target, 250)
    large, ests = _tvs(target, 4000)
    se = np.hypot(small.std(ddof=1), large.std(ddof=1)) / np.sqrt(3)
    assert small.mean() - large.mean() > 2 * se, (small, large)
    d = ests[0].describe()
    assert d["status"] == "completed"
    # ELBO per point in nats: in expectation the held-out ELBO ≤ E log p̂ ≤ E log q (Gibbs)
    # ≤ log max q; 0.1 nat of slack for the 400 held-out points' noise (sd ≈ 0.05 nat)
    top = np.log(target.describe()["pdf_max_certified"])
    assert np.isfinite(d["elbo"]) and np.isfinite(d["heldout_elbo"])
    assert -3.0 < d["heldout_elbo"] < top + 0.1


@pytest.fixture(scope="module")
def small_fit(target):
    torch.set_num_threads(1)
    X = target.sample(500, np.random.default_rng(7))
    return VAEEstimator(s=1.0, box=target.support, device="cpu", steps=300).fit(
        X, np.random.default_rng(8)
    )


def test_sampled_vae_has_no_atoms(small_fit):
    """An atom of mass a gives about C(10⁴, 2)·a² ≥ 50 coincidences among 10⁴ draws when
    a ≥ 10⁻³ (and 10⁸·a² between two independent batches): none may occur."""
    a = small_fit.sample(10_000, np.random.default_rng(1))[:, 0]
    b = small_fit.sample(10_000, np.random.default_rng(2))[:, 0]
    assert np.unique(a).size == a.size
    assert np.intersect1d(a, b).size == 0
    # not the decoder means alone: the noise spreads each mean's draws (sd ≥ the floor > 0)
    mu, sd = small_fit.decoder_moments(1000, torch.Generator().manual_seed(0))
    assert np.all(sd >= small_fit.sizes_["sd_min"]) and small_fit.sizes_["sd_min"] > 0


def test_vae_describe_reports_elbos(small_fit):
    d = small_fit.describe()
    for key in ("elbo", "heldout_elbo", "elbo_gap", "sd_min", "width", "steps", "best_step"):
        assert key in d
    assert d["elbo_gap"] == pytest.approx(d["elbo"] - d["heldout_elbo"])
    assert 0 < d["best_step"] <= d["steps"]


def test_a_list_of_learning_rates_keeps_each_members_best_heldout_run(target):
    """lr=[a, b]: every lr trains from the same weights and draws, and member e keeps the run
    with the better held-out ELBO; the kept run is exactly the fit at that lr alone."""
    torch.set_num_threads(1)
    Xs = [target.sample(400, np.random.default_rng([3, r])) for r in range(2)]

    def fits(lr):
        rngs = [np.random.default_rng([4, r]) for r in range(2)]
        return VAEEstimator(s=1.0, box=target.support, device="cpu", steps=200,
                            lr=lr).fit_ensemble(Xs, rngs)  # fmt: skip

    grid = fits([1e-3, 2e-2])
    alone = {lr: fits(lr) for lr in (1e-3, 2e-2)}
    for e, est in enumerate(grid):
        d = est.describe()
        by_lr = {lr: d[f"heldout_elbo_lr{lr:g}"] for lr in (1e-3, 2e-2)}
        assert d["lr_selected"] == max(by_lr, key=by_lr.get)
        assert d["heldout_elbo"] == pytest.approx(max(by_lr.values()))
        kept = alone[d["lr_selected"]][e]
        assert torch.equal(est.decoder_[1], kept.decoder_[1])
        for lr in by_lr:
            assert by_lr[lr] == pytest.approx(alone[lr][e].describe()["heldout_elbo"])
    with pytest.raises(ValueError, match=r"lr\[1\]=-1"):
        VAEEstimator(lr=[1e-3, -1]).fit(Xs[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"lr=\(\) is not allowed"):
        VAEEstimator(lr=[]).fit(Xs[0], np.random.default_rng(0))


def test_vae_through_the_study_runner(tmp_path, capsys):
    out = tmp_path / "vae"
    argv = ["rate", "--D", "1", "--s", "1", "--n", "200,400,800", "--replicates", "2",
            "--estimators", "vae,uniform", "--set", "vae.steps=200", "--M", "4000",
            "--jobs", "1", "--device", "cpu", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    df = pd.read_parquet(out / "results.parquet")
    vae = df[(df["estimator"] == "vae") & (df["metric"] == "tv")]
    assert len(vae) == 6 and (vae["status"] == "ok").all()
    assert vae["estimator_params"].str.contains("heldout_elbo").all()
    assert ((vae["value"] > 0) & (vae["value"] < 1)).all()
