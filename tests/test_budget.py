"""The DDPM's error budget per n: columns in the results table, the budget table and its verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from minimax.reporting.report import build_report
from minimax.study.budget import COMPONENTS, budget_components, budget_table, largest_component


def _row(est, role, n, rep, metric, value, floor=math.nan, params=None):
    return {
        "study": "t", "arm": "a", "target": "besov", "D": 1, "s": 1.0, "p": 2.0,
        "boundary": "band", "n": n, "replicate": rep, "estimator": est, "role": role,
        "metric": metric, "value": value, "se": 0.001, "floor": floor, "flag": "ok",
        "status": "ok", "error": "", "theory": 1 / 3, "m": 10000,
        "estimator_params": json.dumps(params or {}),
    }  # fmt: skip


def synthetic(oracle: bool, blur: bool = False) -> pd.DataFrame:
    """A DDPM whose TV is sampler-dominated (oracle 0.05 of 0.06) at the largest n, and
    learned-score-dominated (0.04 of 0.10) at the smallest; two trivial baselines; with
    ``blur`` an exact early-stop blur of 0.03, 0.025, 0.02."""
    rows = []
    for n, tv, orc, blr in ((500, 0.10, 0.04, 0.03), (2000, 0.08, 0.045, 0.025),
                            (8000, 0.06, 0.05, 0.02)):  # fmt: skip
        for rep in range(2):
            d = 0.002 * (rep - 0.5)
            gap = {"loss_gap": 0.01 * rep}
            rows.append(_row("ddpm", "diffusion", n, rep, "tv", tv + d, 0.005, gap))
            rows.append(_row("ddpm", "diffusion", n, rep, "outside_mass", 0.01))
            if oracle:
                rows.append(_row("ddpm", "diffusion", n, rep, "oracle_tv", orc, 0.005))
            if blur:
                rows.append(_row("ddpm", "diffusion", n, rep, "blur_tv", blr))
            rows.append(_row("uniform", "trivial", n, rep, "tv", 0.25))
            rows.append(_row("gaussian", "trivial", n, rep, "tv", 0.09))
    return pd.DataFrame(rows)


def test_budget_components_split_tv_into_sampler_and_learned_parts():
    comps = budget_components(synthetic(oracle=True), "ddpm")
    assert sorted(comps) == [500, 2000, 8000]
    c = comps[8000]
    assert c["tv"] == pytest.approx(0.06) and c["sampler"] == pytest.approx(0.05)
    assert c["learned"] == pytest.approx(0.01) and c["outside"] == pytest.approx(0.01)
    assert largest_component(c) == ("sampler", pytest.approx(0.05))
    assert largest_component(comps[500])[0] == "learned"


def test_budget_parts_telescope_with_the_exact_blur():
    comps = budget_components(synthetic(oracle=True, blur=True), "ddpm")
    for c in comps.values():
        assert c["blur"] + c["sampler"] + c["learned"] == pytest.approx(c["tv"])
        assert c["inconsistent"] == []
    c = comps[8000]
    assert (c["blur"], c["sampler"]) == (pytest.approx(0.02), pytest.approx(0.03))
    # the oracle value enters once per unit: its se is the row's own, not a replicate spread
    assert c["sampler_se"] == pytest.approx(0.001)
    assert c["learned_se"] == pytest.approx(math.hypot(c["tv_se"], 0.001))
    assert c["tv_se"] == pytest.approx(0.001)  # replicates 0.059, 0.061
    assert c["design_share"] == pytest.approx(0.05 / 0.06)
    text = budget_table(synthetic(oracle=True, blur=True))
    assert "TV = blur + sampler + learned" in text
    assert "the design (early-stop blur + sampler) is more than 20% of the TV" in text


def test_a_part_below_zero_beyond_its_ci_is_reported_inconsistent():
    df = synthetic(oracle=True, blur=True)
    df.loc[(df["metric"] == "blur_tv") & (df["n"] == 8000), "value"] = 0.058  # > oracle 0.05
    comps = budget_components(df, "ddpm")
    assert comps[8000]["inconsistent"] == ["sampler"]
    assert "inconsistent: sampler < 0 by more than 2 se at n = 8000" in budget_table(df)


def test_budget_without_oracle_names_the_unsplit_part():
    comps = budget_components(synthetic(oracle=False), "ddpm")
    assert "sampler" not in comps[8000]
    # the floor is a property of the measurement, not a part of the error: unsplit is the TV
    assert largest_component(comps[8000]) == ("unsplit", pytest.approx(0.06))


def test_budget_table_names_largest_component_and_baselines():
    text = budget_table(synthetic(oracle=True))
    assert f"largest component at n = 8000: {COMPONENTS['sampler']}" in text
    assert "held-out − train loss = +0.0050" in text
    lines = {int(ln.split()[0]): ln for ln in text.splitlines() if ln.strip()[:1].isdigit()}
    assert lines[500].endswith("uniform (NOT gaussian)")  # 0.10 > gaussian's 0.09
    assert lines[8000].endswith("gaussian,uniform") or lines[8000].endswith("uniform,gaussian")


def test_report_prints_the_budget_and_does_not_fit_the_oracle_as_a_rate():
    rep = build_report(synthetic(oracle=True))
    assert "error budget" in rep.text and "largest component at n = 8000" in rep.text
    assert {f.metric for f in rep.fits} == {"tv"}


@pytest.mark.slow
def test_tiny_study_writes_every_budget_column(tmp_path, capsys):
    """Through the CLI: oracle_tv rows (one oracle run per n, shared by the replicates), the
    mass outside the box, the TV floor and the loss gap; the printed summary names the largest
    component at the largest n."""
    import torch

    from minimax.study.cli import main

    torch.set_num_threads(1)
    out = tmp_path / "b"
    argv = ["rate", "--D", "1", "--s", "1", "--n", "200,400,800", "--replicates", "2",
            "--estimators", "ddpm,uniform,gaussian", "--metrics", "tv,oracle_tv", "--M", "3000",
            "--set", "ddpm.steps=100", "--set", "ddpm.sample_steps=20",
            # ancestral at 20 steps: a sampler part large enough to resolve at M = 3000
            "--set", "ddpm.sampler=ancestral",
            "--set", "ddpm.width=16", "--jobs", "1", "--no-figures", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    df = pd.read_parquet(out / "results.parquet")
    ddpm = df[df["estimator"] == "ddpm"]
    assert set(ddpm["metric"]) == {"tv", "outside_mass", "oracle_tv", "blur_tv"}
    assert (ddpm["status"] == "ok").all()
    orc = ddpm[ddpm["metric"] == "oracle_tv"]
    assert len(orc) == 6 and orc.groupby("n")["value"].nunique().eq(1).all()
    assert np.isfinite(orc["floor"]).all() and ((orc["value"] > 0) & (orc["value"] < 1)).all()
    gaps = ddpm[ddpm["metric"] == "tv"]["estimator_params"].map(lambda p: json.loads(p)["loss_gap"])
    assert np.isfinite(gaps.to_numpy(float)).all()
    blur = ddpm[ddpm["metric"] == "blur_tv"]
    assert (blur["flag"] == "ok").all() and blur.groupby("n")["value"].nunique().eq(1).all()
    # the blur falls with n (T̲ does) and is never more than the sampler's whole TV by > 3 se
    means = blur.groupby("n")["value"].mean()
    assert means.is_monotonic_decreasing
    joined = orc.groupby("n")[["value", "se"]].mean().join(means.rename("blur"))
    assert (joined["blur"] <= joined["value"] + 3 * joined["se"]).all()
    # the trivial baselines and controls get no oracle row
    assert "oracle_tv" not in set(df.loc[df["estimator"] != "ddpm", "metric"])
    assert "largest component at n = 800:" in printed
    assert "largest component at n = 800:" in (out / "summary.txt").read_text()


def test_learned_part_fit_recovers_the_exponent_a_constant_oracle_part_hides():
    from minimax.study.budget import learned_part_fit

    rng = np.random.default_rng(5)
    rows = []
    for n in 250 * 2 ** np.arange(6):
        for rep in range(3):
            learned = 0.5 * n**-0.4 * np.exp(0.05 * rng.standard_normal())
            rows.append(_row("ddpm", "diffusion", int(n), rep, "tv", 0.01 + learned))
            rows.append(_row("ddpm", "diffusion", int(n), rep, "oracle_tv", 0.01))
    df = pd.DataFrame(rows)
    fit = learned_part_fit(df, "ddpm")
    assert fit.measured and fit.ci_low <= 0.4 <= fit.ci_high
    # the whole TV, with its constant part, is flatter
    from minimax.study.rates import fit_rate

    assert fit_rate(df, "tv", "ddpm", arm="a").exponent < fit.ci_low


def test_an_unresolved_oracle_tv_is_not_split_off_as_the_sampler_part():
    df = synthetic(oracle=True, blur=True)
    sel = (df["metric"] == "oracle_tv") & (df["n"] == 8000)
    df.loc[sel, "flag"] = "unresolved"
    c = budget_components(df, "ddpm")[8000]
    assert c.get("sampler_unresolved") and "sampler" not in c and "learned" not in c
    assert c["unsplit"] == pytest.approx(c["tv"] - c["blur"])
    assert "sampler part not resolved at n = 8000" in budget_table(df)
