"""Samples of a study's fitted models, beside the truth: the cells of a stored study refitted.

``python -m minimax.study samples DIR --estimator ddpm --arm A --n 250,8000`` rebuilds the
named cells of the results folder DIR from its ``study.json`` (the same spec, hence the same
training set, fitting, sampling and metric streams; ``Cell.streams``), refits the estimator,
draws the M samples the study drew for the TV and recomputes the TV from them. The recomputed
TV is compared with the stored row: equal values show that the samples drawn are the ones the
study scored (the code's numbers have not changed since); a difference is reported, never
hidden. It writes ``samples.parquet`` (the first ``keep`` samples of each cell),
``samples.csv`` (one line per cell: stored and recomputed TV) and ``figures/samples.png|pdf``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.study.registry import ESTIMATORS, METRICS, FittedCell
from minimax.study.spec import StudySpec, TargetSpec, WorkUnit
from minimax.study.worker import build_target

#: samples kept per cell (the figure's histogram; M itself is much larger at large n)
KEEP = 20_000


@dataclass
class CellSamples:
    """One refitted cell: its kept samples, the stored and recomputed TV."""

    spec: StudySpec = field(repr=False)
    n: int
    replicate: int
    estimator: str
    samples: np.ndarray
    tv_stored: float
    tv_recomputed: float
    M: int
    target: object = field(repr=False, default=None)

    @property
    def arm(self) -> str:
        return self.spec.arm_label()

    @property
    def reproduced(self) -> bool:
        """The recomputed TV equals the stored one to 1e-12 (relative)."""
        return bool(np.isclose(self.tv_recomputed, self.tv_stored, rtol=1e-12, atol=0))


def spec_from_record(d: dict) -> StudySpec:
    """A StudySpec from its ``to_dict`` record (study.json, samples.json)."""
    d = dict(d)
    target = TargetSpec(**d.pop("target"))
    options = json.dumps(d.pop("options", {}), sort_keys=True)
    for key in ("n", "estimators", "metrics"):
        d[key] = tuple(d[key])
    return StudySpec(target=target, options=options, **d)


def specs_from_results(folder) -> list[StudySpec]:
    """The StudySpecs of a results folder, from its ``study.json`` (as the run wrote them)."""
    path = Path(folder) / "study.json"
    if not path.is_file():
        raise ValueError(f"dir={str(folder)!r} is not allowed: no study.json in it")
    return [spec_from_record(d) for d in json.loads(path.read_text())["studies"]]


def select_cells(specs, stored: pd.DataFrame, estimator: str, arm: str | None, sizes,
                 replicate: int = 0):  # fmt: skip
    """The spec and sizes of n to refit; ValueError naming the parameter when one is not in
    the study, or when the estimator's stored TV was not sampled (nothing to reproduce)."""
    arms = [s.arm_label() for s in specs]
    if arm is None:
        if len(specs) > 1:
            raise ValueError(
                f"arm=None is not allowed: the study has {len(specs)} arms; expected one of "
                + "; ".join(repr(a) for a in arms)
            )
        spec = specs[0]
    else:
        if arm not in arms:
            raise ValueError(f"arm={arm!r} is not allowed: expected one of " +
                             "; ".join(repr(a) for a in arms))  # fmt: skip
        spec = specs[arms.index(arm)]
    if estimator not in spec.estimators:
        raise ValueError(
            f"estimator={estimator!r} is not allowed: expected one of {', '.join(spec.estimators)}"
        )
    if sampled_metric(stored, spec.arm_label(), estimator) is None:
        raise ValueError(
            f"estimator={estimator!r} is not allowed: its TV in this study is exact "
            "(quadrature), there is no sampled TV to reproduce; choose a sampled model"
        )
    sizes = sorted(spec.n) if not sizes else list(sizes)
    bad = [n for n in sizes if n not in spec.n]
    if bad:
        raise ValueError(f"n={bad[0]} is not allowed: expected one of {list(spec.n)}")
    if not 0 <= replicate < spec.replicates:
        raise ValueError(f"replicate={replicate} is not allowed: expected 0..{spec.replicates - 1}")
    return spec, sizes


def sampled_metric(stored: pd.DataFrame, arm: str, estimator: str) -> str | None:
    """The stored metric that scored this estimator's samples: ``tv_sampled`` for an explicit
    density's calibration row, ``tv`` for a sampled model, None when there is none."""
    rows = stored[(stored["arm"] == arm) & (stored["estimator"] == estimator)]
    if (rows["metric"] == "tv_sampled").any():
        return "tv_sampled"
    tv = rows[rows["metric"] == "tv"]
    if len(tv) and not tv["method"].astype(str).str.startswith("quadrature").all():
        return "tv"
    return None


def refit_cells(spec: StudySpec, n: int, estimator: str, replicates, threads: int = 1):
    """The study's cells of ``estimator`` at n for the given replicates, refitted exactly as
    the worker fitted them: (target, [FittedCell per replicate]). ``threads``: torch threads,
    the study's ``--threads``, 1 by default as in every study.

    An ensemble estimator (the DDPM) trains every replicate of the work unit together, as in
    the study, so that each replicate's network is the one the study scored.
    """
    entry = ESTIMATORS[estimator]
    if entry.uses_torch:  # as the worker runs it: one thread (reductions, and so the numbers,
        import torch  # depend on the thread count), and no oversubscribed cores

        torch.set_num_threads(threads)
    cells = WorkUnit(spec=spec, n=n, estimator=estimator).cells()
    target = build_target(spec.target, max(spec.n))
    streams = [c.streams() for c in cells]
    data = [target.sample(c.n, st["data"]) for c, st in zip(cells, streams, strict=True)]
    options = spec.estimator_options(estimator)
    if entry.ensemble:
        fitted = entry.build(target, spec, n, options).fit_ensemble(
            data, [st["fit"] for st in streams]
        )
    else:
        fitted = {r: entry.build(target, spec, n, options).fit(data[r], streams[r]["fit"])
                  for r in replicates}  # fmt: skip
    return target, [FittedCell(cells[r], target, fitted[r], entry, streams[r]) for r in replicates]


def refit_samples(spec: StudySpec, n: int, estimator: str, stored: pd.DataFrame,
                  replicate: int = 0, keep: int = KEEP, threads: int = 1) -> CellSamples:  # fmt: skip
    """Refit one cell of ``spec`` exactly as the worker did (``refit_cells``) and draw its TV's
    M samples."""
    target, (fit,) = refit_cells(spec, n, estimator, [replicate], threads)
    # the worker's own TV metric on the cell: the same draw from the same streams, in its order
    metric = sampled_metric(stored, spec.arm_label(), estimator)
    tv = next(r for r in METRICS["tv"].compute(fit) if r.metric == metric)
    row = stored[(stored["arm"] == spec.arm_label()) & (stored["n"] == n)
                 & (stored["replicate"] == replicate) & (stored["estimator"] == estimator)
                 & (stored["metric"] == metric)]  # fmt: skip
    tv_stored = float(row["value"].iloc[0]) if len(row) else float("nan")
    y = fit.samples()
    return CellSamples(spec, n, replicate, estimator, y[:keep], tv_stored, float(tv.value),
                       len(y), target)  # fmt: skip


_RECORD = ("n", "replicate", "estimator", "M", "tv_stored", "tv_recomputed")


def check_samples_folder(folder) -> tuple[Path, Path]:
    """(samples.json, samples.parquet) of ``folder``; ValueError when either is missing."""
    folder = Path(folder)
    meta, data = folder / "samples.json", folder / "samples.parquet"
    if not (meta.is_file() and data.is_file()):
        raise ValueError(f"samples={str(folder)!r} is not allowed: no samples.json and "
                         "samples.parquet in it (written by the samples command)")  # fmt: skip
    return meta, data


def load_samples(folder) -> list[CellSamples]:
    """The cells a ``samples`` run wrote to ``folder`` (samples.json and samples.parquet), with
    their targets rebuilt; ValueError when the folder holds none."""
    meta, data = check_samples_folder(folder)
    frame = pd.read_parquet(data)
    out = []
    for rec in json.loads(meta.read_text())["cells"]:
        spec = spec_from_record(rec["spec"])
        rows = frame[(frame["arm"] == spec.arm_label()) & (frame["n"] == rec["n"])
                     & (frame["estimator"] == rec["estimator"])]  # fmt: skip
        x = rows[[f"x{i + 1}" for i in range(spec.target.D)]].to_numpy(dtype=np.float64)
        out.append(CellSamples(spec, samples=x, target=build_target(spec.target, max(spec.n)),
                               **{k: rec[k] for k in _RECORD}))  # fmt: skip
    return out


def write_samples(drawn: list[CellSamples], out: Path, figures: bool = True) -> list[Path]:
    """samples.parquet, samples.csv, samples.json and figures/samples.png|pdf under ``out``."""
    from minimax.reporting.figures.samples import plot_samples
    from minimax.study.store import atomic_write_frame, write_json

    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for c in drawn:
        f = pd.DataFrame(c.samples, columns=[f"x{i + 1}" for i in range(c.samples.shape[1])])
        f.insert(0, "n", c.n)
        f.insert(0, "estimator", c.estimator)
        f.insert(0, "arm", c.arm)
        frames.append(f)
    files = [out / "samples.parquet"]
    atomic_write_frame(files[0], pd.concat(frames, ignore_index=True))
    summary = pd.DataFrame(
        [
            {
                "arm": c.arm,
                "estimator": c.estimator,
                "n": c.n,
                "replicate": c.replicate,
                "M": c.M,
                "kept": len(c.samples),
                "tv_stored": c.tv_stored,
                "tv_recomputed": c.tv_recomputed,
                "reproduced": c.reproduced,
            }
            for c in drawn
        ]  # fmt: skip
    )
    files.append(out / "samples.csv")
    atomic_write_frame(files[-1], summary, kind="csv")
    files.append(out / "samples.json")
    write_json(files[-1], {"cells": [{"spec": c.spec.to_dict(), **{k: getattr(c, k) for k in _RECORD}}
                                     for c in drawn]})  # fmt: skip
    if figures:
        files += plot_samples(drawn, out / "figures" / "samples")
    return files
