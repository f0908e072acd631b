"""Study specs: expansion into cells, stable seeds and cache keys, TOML study files."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from minimax.study.spec import (
    AUTO_M_RANGE,
    TargetSpec,
    geometric_grid,
    load_study_file,
    parse_n_list,
    parse_options,
    samples_for,
    spec_from_values,
)


def small(**kw):
    values = {"D": 1, "s": 1.0, "n": [100, 200, 400], "replicates": 2, "estimators": ["kde"]}
    values.update(kw)
    return spec_from_values(values, name="t")


def test_cells_are_the_full_product_and_units_hold_all_replicates():
    spec = small(estimators=["kde", "uniform"])
    cells = spec.cells()
    assert len(cells) == 3 * 2 * 2
    assert {(c.n, c.replicate, c.estimator) for c in cells} == {
        (n, r, e) for n in (100, 200, 400) for r in (0, 1) for e in ("kde", "uniform")
    }
    units = spec.units()
    assert len(units) == 6 and all(len(u.cells()) == 2 for u in units)
    assert units[0].n == 400  # largest first


def test_seeds_are_stable_distinct_and_independent_of_order():
    spec = small(estimators=["kde", "uniform"])
    seeds = [c.seed for c in spec.cells()]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds)
    # the same cell from a differently ordered spec has the same seed and id
    other = small(estimators=["uniform", "kde"], n=[400, 100, 200])
    by_key = {(c.n, c.replicate, c.estimator): (c.seed, c.cell_id) for c in other.cells()}
    for c in spec.cells():
        assert by_key[(c.n, c.replicate, c.estimator)] == (c.seed, c.cell_id)
    # the training data is shared across estimators (common random numbers)
    kde, uni = (
        next(c for c in spec.cells() if c.estimator == e and c.n == 100) for e in ("kde", "uniform")
    )
    assert kde.data_seed == uni.data_seed and kde.seed != uni.seed


def test_seeds_do_not_depend_on_python_hash_randomisation():
    code = (
        "from minimax.study.spec import spec_from_values as f;"
        "s=f({'D':1,'s':1.0,'n':[100,200,400],'replicates':2,'estimators':['kde']},name='t');"
        "print([c.seed for c in s.cells()], [c.cell_id for c in s.cells()])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": str(h), "PATH": ""},
            check=True,
        ).stdout
        for h in (1, 2)
    }
    assert len(outs) == 1
    spec = small()
    assert outs.pop().strip() == str([c.seed for c in spec.cells()]) + " " + str(
        [c.cell_id for c in spec.cells()]
    )


def test_streams_are_reproducible_and_independent():
    cell = small().cells()[0]
    a, b = cell.streams(), cell.streams()
    for k in a:
        assert a[k].integers(0, 2**62) == b[k].integers(0, 2**62)
    draws = {k: g.random() for k, g in cell.streams().items()}
    assert len(set(draws.values())) == 4


def test_cache_identity_follows_everything_that_changes_numbers():
    spec = small()
    cell = next(c for c in spec.cells() if c.n == 200)
    base = cell.cell_id
    changed = [
        replace(spec, samples=12_345),
        replace(spec, seed=1),
        replace(spec, target=replace(spec.target, s=1.5)),
        replace(spec, options='{"kde": {"c": 2.0}}'),
        replace(spec, n=(100, 200, 800)),  # n_max changes the target's finest level
        replace(spec, replicates=3),  # ensembles train all replicates together
    ]
    for other in changed:
        twin = next(c for c in other.cells() if (c.n, c.replicate) == (cell.n, cell.replicate))
        assert twin.cell_id != base

    # ... and not on what cannot change them
    def same(other):
        return next(c for c in other.cells() if (c.n, c.replicate) == (200, 0)).cell_id

    assert same(replace(spec, arm="relabelled")) == base
    assert same(small(s=1)) == base  # s as an int (TOML) or a float (CLI): the same study
    assert same(replace(spec, sampler="euler", sizing="fixed")) == base  # no diffusion in kde
    ddpm = small(estimators=["ddpm"])
    assert same(replace(ddpm, sampler="euler")) != same(ddpm)


def test_auto_samples_follow_the_resolution_rule_per_n():
    # M = 4^D n/(2πC²), C = 0.16, rounded up to 100 and clipped to [2e3, 1e6]: proportional to
    # n inside the range (docs/tv.md §4), so every row of a study has the same per-cell SNR
    assert samples_for(8000, 2) == 795_800  # 16·8000/(2π·0.0256) = 795,774
    assert samples_for(250, 2) == 24_900  # 24,868
    assert samples_for(8000, 1) == 199_000
    assert samples_for(80, 1) == AUTO_M_RANGE[0]
    assert samples_for(64_000, 3) == AUTO_M_RANGE[1]
    ns = [250 * 2**k for k in range(9)]
    for D in (1, 2, 3):
        m = [samples_for(n, D) for n in ns]
        assert m == sorted(m) and all(AUTO_M_RANGE[0] <= v <= AUTO_M_RANGE[1] for v in m)
        inside = [
            (n, v) for n, v in zip(ns, m, strict=True) if AUTO_M_RANGE[0] < v < AUTO_M_RANGE[1]
        ]
        ratios = [v / n for n, v in inside]
        assert max(ratios) / min(ratios) < 1.05  # proportional up to the rounding
    spec = small(D=2, n=[250, 2000, 8000], M="auto", estimators=["ddpm"])
    by_n = {c.n: c.content()["samples"] for c in spec.cells()}
    # the quick preset's cap (800,000, its CPU budget) keeps the rule in D = 2 up to n = 8000
    assert by_n == {250: 24_900, 2000: 199_000, 8000: 795_800}
    assert spec.samples_label() == "auto (24900 → 795800)"
    # a study file's M_cap replaces the preset's (the committed studies that ran under the
    # old cap of 200,000 name it, so that a rerun computes the same cells)
    capped = small(D=2, n=[250, 2000, 8000], M="auto", estimators=["ddpm"], M_cap=200_000)
    assert {c.n: c.content()["samples"] for c in capped.cells()}[8000] == 200_000
    assert capped.samples_label() == "auto (24900 → 200000)"
    with pytest.raises(ValueError, match="^M_cap="):
        small(M="auto", M_cap=10)
    fixed = small(M=30_000)
    assert {c.content()["samples"] for c in fixed.cells()} == {30_000}
    assert fixed.samples_label() == "30000"
    with pytest.raises(ValueError, match="M='lots' is not allowed"):
        small(M="lots")


def test_a_preset_cap_above_the_cpu_range_keeps_the_rule_and_the_plan_names_rows_past_it():
    from minimax.study.budget import tradeoffs

    # the paper preset (one GPU) caps "auto" at 8e6, above the CPU range's 1e6: in D = 2 every
    # size up to 64,000 gets the rule's M (6,366,200 at 64,000: 16·64000/(2π·0.0256))
    paper = small(D=2, n=[250, 8000, 64_000], M="auto", preset="paper", estimators=["ddpm"])
    assert [paper.samples_at(n) for n in paper.n] == [24_900, 795_800, 6_366_200]
    assert not [line for line in tradeoffs([paper]) if "below_rule" in line]
    # in D = 3 the rule asks 25,464,800 at 64,000 and 12,732,400 at 32,000: both past the cap
    d3 = small(D=3, n=[250, 16_000, 32_000, 64_000], M="auto", preset="paper", estimators=["ddpm"])
    assert d3.samples_at(16_000) == 6_366_200 and d3.samples_at(64_000) == 8_000_000
    (line,) = [line for line in tradeoffs([d3]) if "below_rule" in line]
    assert "n = 32000, 64000 will be flagged below_rule" in line
    with pytest.raises(ValueError, match="cap"):
        samples_for(1000, 1, cap=10)


def test_grids_and_option_parsing():
    assert geometric_grid(100, 1600, 5) == (100, 200, 400, 800, 1600)
    assert parse_n_list("256, 512,1_024,2e3") == (256, 512, 1024, 2000)
    assert parse_options(["kde.c=2.5", "kde.boundary='none'", "uniform.x=text"]) == {
        "kde": {"c": 2.5, "boundary": "none"},
        "uniform": {"x": "text"},
    }
    with pytest.raises(ValueError, match=r"n=\[100, 200\] is not allowed"):
        small(n=[100, 200])
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        small(n=[0, 100, 200])
    with pytest.raises(ValueError, match="set='kde.c' is not allowed"):
        parse_options(["kde.c"])


def test_study_file_grid_expands_per_table(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        """
name = "demo"
n = [100, 200, 400]
replicates = 2
estimators = ["kde", "uniform"]
[options.kde]
c = 1.5
[[grid]]
D = 1
s = [0.5, 1, 2]
[[grid]]
D = 2
s = [1.5]
boundary = ["band", "smooth"]
n = [200, 400, 800]
"""
    )
    specs = load_study_file(f)
    assert [(s.target.D, s.target.s, s.target.boundary) for s in specs] == [
        (1, 0.5, "band"),
        (1, 1.0, "band"),
        (1, 2.0, "band"),
        (2, 1.5, "band"),
        (2, 1.5, "smooth"),
    ]
    assert specs[-1].n == (200, 400, 800) and specs[0].n == (100, 200, 400)
    assert all(s.name == "demo" and s.estimator_options("kde") == {"c": 1.5} for s in specs)
    assert len({s.arm for s in specs}) == 5
    seeds = [c.seed for s in specs for c in s.cells()]
    assert len(set(seeds)) == len(seeds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "malformed TOML"),
        ("colour = 1", "study key='colour' is not allowed"),
        ("[[grid]]\nreplicates = [1, 2]", "grid key='replicates' is not allowed as a list"),
        ("[[grid]]\nD = 0", "D=0 is not allowed"),
        ("estimators = ['nope']", "estimator='nope' is not allowed"),
    ],
)
def test_bad_study_files_raise_value_errors(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_study_file(f)


def test_target_spec_key_is_canonical():
    assert TargetSpec(D=2, s=1.5).key() == TargetSpec(D=2, s=np.float64(1.5).item()).key()


def test_cache_identity_follows_the_code_that_computes_numbers(monkeypatch):
    """A changed recipe must recompute its cells, never reuse cells computed by older code."""
    import minimax
    import minimax.study.spec as spec_module

    cell = next(iter(small().cells()))
    base = cell.cell_id
    assert minimax.code_version().startswith(minimax.__version__ + "+")
    monkeypatch.setattr(spec_module, "code_version", lambda: minimax.__version__ + "+other")
    assert cell.cell_id != base


def test_an_unknown_key_is_refused_with_a_close_match():
    """A misspelt key would otherwise be ignored and the study run on defaults."""
    with pytest.raises(
        ValueError, match=r"replicate=2 is not allowed \(did you mean replicates\?\)"
    ):
        spec_from_values({"D": 1, "replicate": 2}, name="t")
    with pytest.raises(ValueError, match=r"^set=.* is not allowed"):
        spec_from_values({"D": 1, "set": {"ddpm": {"steps": 5}}}, name="t")
