"""The Python API: RateStudy gives the command line's numbers, takes a user's Target and
Estimator, and a rerun recomputes failed cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimax import RateStudy
from minimax.estimator import Estimator
from minimax.study import store
from minimax.study.cli import main
from minimax.study.plugins import register_estimator, register_target, unregister
from minimax.study.registry import ESTIMATORS
from minimax.study.spec import spec_from_values, stable_hash
from minimax.targets import TARGET_KINDS
from minimax.targets.base import Target

pytestmark = pytest.mark.slow

TINY = dict(D=1, s=1.0, n=[200, 400, 800], replicates=2)
TINY_ARGV = ["rate", "--D", "1", "--s", "1", "--n", "200,400,800", "--replicates", "2"]


def numbers(df: pd.DataFrame) -> pd.DataFrame:
    """The table without wall-clock times (the only columns a rerun may change)."""
    keys = ["arm", "estimator", "n", "replicate", "metric"]
    return df.drop(columns=["seconds", "timings"]).sort_values(keys).reset_index(drop=True)


# -- a user's target and estimator, written against the documented contracts ---------------
class Parabola(Target):
    """q(x) = 3/4 (1 - x²) on [-1, 1]: exact pdf, sampler and cell masses."""

    dim = 1
    support = np.array([[-1.0, 1.0]])
    s = 1.0

    def pdf(self, x):
        x = self._points(x)[:, 0]
        return np.where(np.abs(x) <= 1, 0.75 * (1 - x**2), 0.0)

    def sample(self, n, rng):
        out = np.empty(0)
        while out.size < n:  # rejection from the uniform, acceptance 2/3
            x = rng.uniform(-1, 1, 2 * n)
            out = np.concatenate([out, x[rng.uniform(0, 1, x.size) < 1 - x**2]])
        return out[:n, None]

    def cell_masses(self, edges):
        e = np.clip(np.asarray(edges[0], dtype=float), -1, 1)
        cdf = 0.5 + 0.75 * (e - e**3 / 3)
        return np.diff(cdf)

    def describe(self):
        return {"target": "parabola"}


class Histogram(Estimator):
    """A regular histogram on [-1, 1] with about c·n^(1/3) bins."""

    has_pdf = True

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, rng):
        X = np.asarray(X)[:, 0]
        self.bins_ = max(2, int(self.c * len(X) ** (1 / 3)))
        counts, self.edges_ = np.histogram(X, bins=self.bins_, range=(-1, 1))
        self.heights_ = counts / (len(X) * np.diff(self.edges_))
        return self

    def pdf(self, x):
        x = np.asarray(x)[:, 0]
        k = np.clip(np.searchsorted(self.edges_, x, side="right") - 1, 0, self.bins_ - 1)
        return np.where(np.abs(x) <= 1, self.heights_[k], 0.0)

    def sample(self, m, rng):
        k = rng.choice(self.bins_, size=m, p=self.heights_ * np.diff(self.edges_))
        return rng.uniform(self.edges_[k], self.edges_[k + 1])[:, None]

    def describe(self):
        return {"c": self.c}


class RegisteredHistogram(Histogram):
    """The same histogram, registered by the decorator."""


class RegisteredParabola(Parabola):
    def __init__(self, D=1):
        assert D == 1


@pytest.fixture(autouse=True)
def registered():
    """The decorators, applied here rather than at import, and undone after each test: the
    registry is process-wide, and other test files see the built-in entries alone."""
    assert (
        register_estimator("test-hist", role="control")(RegisteredHistogram) is RegisteredHistogram
    )
    assert register_target("test-parabola")(RegisteredParabola) is RegisteredParabola
    yield
    unregister()
    assert "test-hist" not in ESTIMATORS and "parabola" not in TARGET_KINDS


def test_cli_and_api_give_identical_tables_and_summaries(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = [*TINY_ARGV, "--estimators", "kde,uniform,gaussian", "--jobs", "1", "--quiet"]
    assert main([*argv, "--no-figures", "--out", str(out)]) == 0
    capsys.readouterr()
    res = RateStudy(**TINY, estimators=["kde", "uniform", "gaussian"]).run(jobs=1)
    cli = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(numbers(cli), numbers(res.table))
    assert res.summary() == (out / "summary.txt").read_text()
    fits = pd.read_csv(out / "fits.csv")
    assert np.allclose(fits["exponent"], res.fits_table["exponent"], equal_nan=True)
    assert res.computed_cells == 18 and res.failed_cells == 0
    # cache=None ran in a folder of its own, now gone; nothing was written beside the CLI's
    assert res.files == [] and sorted(p.name for p in tmp_path.iterdir()) == ["cli"]
    fig = res.plot()
    assert type(fig).__name__ == "Figure" and len(fig.axes) == 1
    # the report's figure style (minimax.reporting.figures): one legend below the axes, the
    # estimators by their human names, then the key to the lines
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {lab.split(":")[0] for lab in labels if ":" in lab and not lab.startswith("open")} == {
        "KDE (positive control)",
        "uniform",
        "Gaussian",
    }


def test_a_user_target_and_estimator_run_through_rate_study(tmp_path):
    study = RateStudy(
        target=Parabola(),
        n=[250, 1000, 4000],
        replicates=2,
        estimators={"hist": Histogram(c=1.0), "uniform": "uniform", "test-hist": "test-hist"},
    )
    res = study.run(jobs=1, cache=tmp_path / "cache")
    tv = res.table[res.table["metric"] == "tv"]
    assert set(tv["estimator"]) == {"hist", "uniform", "test-hist"}
    assert (tv["status"] == "ok").all() and tv["value"].between(0, 1).all()
    hist = tv[tv["estimator"] == "hist"].groupby("n")["value"].mean()
    assert hist[4000] < hist[250] / 2  # the histogram learns the parabola
    uniform = tv[tv["estimator"] == "uniform"]["value"]
    assert np.allclose(uniform, 1 / (3 * np.sqrt(3)), atol=1e-3)  # TV(U[-1,1], parabola)
    fit = next(f for f in res.fits if f.estimator == "hist" and f.metric == "tv")
    assert 0.15 < fit.exponent < 0.6  # a histogram's rate on a C^1 density: 1/3
    # the registered class with role "control" is also scored from its samples
    assert (res.table.query("estimator == 'test-hist'")["metric"] == "tv_sampled").any()
    # the cells' identity holds the instance's parameters: another c is another cell
    other = RateStudy(
        target=Parabola(), n=[250, 1000, 4000], replicates=2, estimators={"hist": Histogram(c=2.0)}
    )
    ids = {c.cell_id for c in study.spec.cells() if c.estimator == "hist"}
    assert ids.isdisjoint(c.cell_id for c in other.spec.cells())
    # and a registered target kind by name, with the registered estimator by name
    by_name = RateStudy(
        target="test-parabola",
        D=1,
        s=1.0,
        n=[250, 500, 1000],
        replicates=2,
        estimators=["test-hist"],
        metrics=["tv"],
    ).run()
    assert (by_name.table["status"] == "ok").all()


def test_user_plugins_travel_to_worker_processes(tmp_path):
    res = RateStudy(
        target=Parabola(), n=[250, 500, 1000], replicates=2, estimators={"hist": Histogram(c=1.5)}
    ).run(jobs=2)
    tv = res.table[res.table["metric"] == "tv"]
    assert len(tv) == 6 and (tv["status"] == "ok").all()


def test_an_object_outside_the_contract_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"it lacks fit, sample, describe") as exc:
        RateStudy(**TINY, estimators={"bad": object()})
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match=r"estimator name='kde' is not allowed: it is a built-in"):
        RateStudy(**TINY, estimators={"kde": Histogram()})
    with pytest.raises(ValueError, match=r"s=None is not allowed with a Target instance"):
        RateStudy(target=type("T", (Parabola,), {"s": None})(), n=[1, 2, 3], replicates=1)


def test_a_registered_class_takes_its_init_keywords_as_checked_options():
    spec = RateStudy(target=Parabola(), **{**TINY, "s": None}, estimators=["test-hist"],
                     options={"test-hist": {"c": 2}}).spec  # fmt: skip
    assert spec.estimator_options("test-hist") == {"c": 2}
    with pytest.raises(ValueError, match=r"set test-hist.bins=8 is not allowed: test-hist takes c"):
        RateStudy(**TINY, estimators=["test-hist"], options={"test-hist": {"bins": 8}})
    with pytest.raises(
        ValueError, match=r"set test-hist.c='wide' is not allowed: expected a number"
    ):
        RateStudy(**TINY, estimators=["test-hist"], options={"test-hist": {"c": "wide"}})
    # an instance carries its parameters itself: options for it are refused
    with pytest.raises(ValueError, match=r"set hist.c=2 is not allowed: hist takes no options"):
        RateStudy(**TINY, estimators={"hist": Histogram()}, options={"hist": {"c": 2}})


def test_built_in_cells_keep_their_identity_and_seeds():
    """Content (less the code version) and seeds of built-in cells, pinned before the plugin
    mechanism existed: caches of built-in studies stay valid across it."""
    values = {
        "D": 1,
        "s": 1.0,
        "n": [200, 400, 800],
        "replicates": 2,
        "estimators": "kde,uniform,gaussian,wavelet",
        "options": {"kde": {"order": 2}},
    }
    spec = spec_from_values(values, name="pin")
    pinned = {
        ("kde", 0): ("81bbc734e1efd783d26a3e5b", 7603071660056810031, 6856684277737998456),
        ("kde", 1): ("2303d5f32c00de5884d97f5f", 8522836639229945701, 476659197562776935),
        ("uniform", 0): ("d4b0e1fa9fe07fa4762822f9", 4385754799219929990, 6856684277737998456),
        ("gaussian", 1): ("7765bf9616af426f03bdad19", 7642688371907836696, 476659197562776935),
        ("wavelet", 0): ("c54a830410d40c5756645a63", 2652633395529009260, 6856684277737998456),
    }
    for cell in spec.cells():
        key = (cell.estimator, cell.replicate)
        if cell.n != 800 or key not in pinned:
            continue
        content = cell.content()
        content.pop("version")
        assert (stable_hash(content)[:24], cell.seed, cell.data_seed) == pinned[key]
    assert spec.plugins == ()


def test_a_rerun_recomputes_failed_cells_unless_kept(tmp_path, monkeypatch, capsys):
    from minimax.baselines import KDE

    out = tmp_path / "run"
    argv = [
        *TINY_ARGV,
        "--estimators",
        "kde,uniform",
        "--jobs",
        "1",
        "--quiet",
        "--no-figures",
        "--out",
        str(out),
    ]
    real_fit = KDE.fit

    def oom(self, X, rng):
        if len(X) == 400:
            raise MemoryError("out of memory (a transient failure)")
        return real_fit(self, X, rng)

    monkeypatch.setattr(KDE, "fit", oom)
    assert main(argv) == 0
    first = pd.read_parquet(out / "results.parquet")
    failed = first[first["status"] != "ok"]
    assert set(failed["estimator"]) == {"kde"} and set(failed["n"]) == {400}
    bad_ids = set(failed["cell_id"])
    assert store.failed_cells(out, store.finished_cells(out)) == bad_ids
    capsys.readouterr()
    monkeypatch.setattr(KDE, "fit", real_fit)
    assert main([*argv, "--keep-failed"]) == 0  # kept: nothing computed, still failed
    assert "0 cells computed, 12 reused, 2 failed" in capsys.readouterr().out
    assert main(argv) == 0  # the default: the 2 failed cells are computed again
    assert "2 cells computed, 10 reused, 0 failed" in capsys.readouterr().out
    again = pd.read_parquet(out / "results.parquet")
    assert (again["status"] == "ok").all() and set(again["cell_id"]) == set(first["cell_id"])
    assert store.failed_cells(out, store.finished_cells(out)) == set()
    # the cells that were fine are untouched numbers
    ok = first["status"] == "ok"
    pd.testing.assert_frame_equal(
        numbers(first[ok]), numbers(again[again["cell_id"].isin(first[ok]["cell_id"])])
    )
