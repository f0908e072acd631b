"""One work unit, computed where it is sent: (target, n, estimator) with its replicates.

This is the only place that knows targets, estimators and metrics at once (docs/design.md): it
builds each through its registry entry (``minimax.study.registry``) and computes nothing itself.
Every random number comes from the cell's own streams (``Cell.streams``), so the rows do not
depend on which worker ran the unit or in what order. A failure in one replicate becomes that
cell's rows with ``status`` and ``error``, one per metric name a success would have; it never
removes the cell.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from minimax import code_version
from minimax.metrics.score_metric import SCORE_GRID, SCORE_POINTS, score_metric, score_times
from minimax.study.builtin_metrics import EXACT_TV_MAX_DIM, failed_results, oracle_tv
from minimax.study.registry import ESTIMATORS, METRICS, FittedCell, theory_exponent
from minimax.study.spec import Cell, TargetSpec, WorkUnit

#: still importable from here, where they were defined before they moved to their owners
__all__ = [
    "EXACT_TV_MAX_DIM", "SCORE_GRID", "SCORE_POINTS", "CellResult", "build_target",
    "oracle_tv", "run_unit", "score_metric", "score_times",
]  # fmt: skip


@dataclass
class CellResult:
    cell_id: str
    rows: list[dict]
    status: str

    def describe(self) -> str:
        """One log line: where, what and how long."""
        r = self.rows[0]
        what = (
            ", ".join(f"{x['metric']}={x['value']:.4g}" for x in self.rows)
            if self.status == "ok"
            else r["error"]
        )
        return (
            f"cell {self.cell_id} {r['arm']} n={r['n']} rep={r['replicate']} "
            f"{r['estimator']}: {self.status} {what} ({r['seconds']:.1f} s)"
        )


@functools.lru_cache(maxsize=8)
def build_target(target: TargetSpec, n_max: int):
    """The study's target, built once per worker process (its finest level follows n_max)."""
    from minimax.targets import make_target

    return make_target(
        target.kind,
        D=target.D,
        s=target.s,
        p=target.p,
        boundary=target.boundary,
        seed=target.seed,
        n_max=n_max,
    )


def run_unit(unit: WorkUnit, threads: int = 1, pin: str | None = None) -> list[CellResult]:
    """Compute every cell of ``unit``; ensembles train all its replicates together. ``pin``
    ("cuda:k"): the GPU this worker owns; "auto" and "cuda" then mean that device."""
    from minimax.study.plugins import install_plugins

    install_plugins(unit.spec.plugins)  # a user's estimator or target, sent with the spec
    entry = ESTIMATORS[unit.estimator]
    if entry.uses_torch:
        import torch

        if pin is not None and pin.startswith("cuda"):
            torch.cuda.set_device(pin)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        return _run_unit(unit, entry)
    finally:
        if entry.uses_torch:
            torch.set_num_threads(previous)


def _run_unit(unit: WorkUnit, entry) -> list[CellResult]:
    spec = unit.spec
    cells = unit.cells()
    t0 = time.perf_counter()
    target = build_target(spec.target, max(spec.n))
    streams = [c.streams() for c in cells]
    data = [target.sample(c.n, st["data"]) for c, st in zip(cells, streams, strict=True)]
    setup = time.perf_counter() - t0
    options = spec.estimator_options(unit.estimator)
    results = []
    if entry.ensemble:
        t1 = time.perf_counter()
        built = None
        try:
            built = entry.build(target, spec, unit.n, options)
            members = built.fit_ensemble(data, [st["fit"] for st in streams])
            shared_error = None
        except Exception as exc:  # a failed ensemble fails each of its cells, with the reason
            members, shared_error = [None] * len(cells), exc
        fit_each = (time.perf_counter() - t1) / len(cells)
        shared = {}
        if shared_error is None:
            t2 = time.perf_counter()
            shared = _unit_metrics(unit, entry, built, target, options, data[0], cells[0].seed)
            fit_each += (time.perf_counter() - t2) / len(cells)
        for cell, st, member in zip(cells, streams, members, strict=True):
            seconds = setup / len(cells) + fit_each
            results.append(
                _evaluate(cell, entry, target, member, built, st, seconds, shared_error, shared)
            )
    else:
        t2 = time.perf_counter()
        shared = _unit_metrics(unit, entry, None, target, options, data[0], cells[0].seed)
        shared_each = (time.perf_counter() - t2) / len(cells)
        for cell, st, X in zip(cells, streams, data, strict=True):
            t1 = time.perf_counter()
            est = built = error = None
            try:
                built = entry.build(target, spec, unit.n, options)
                est = built.fit(X, st["fit"])
            except Exception as exc:
                est, error = None, exc
            spent = setup / len(cells) + shared_each + time.perf_counter() - t1
            results.append(_evaluate(cell, entry, target, est, built, st, spent, error, shared))
    return results


def _unit_metrics(unit: WorkUnit, entry, built, target, options, X, seed) -> dict[str, list]:
    """{metric: results} of the spec's per-unit metrics that apply to ``entry``, computed once
    and shared by the unit's cells; a failing one becomes NaN results flagged "failed" (a
    budget component failing must not fail the estimator's cells)."""
    out = {}
    for name in unit.spec.metrics:
        m = METRICS.get(name)
        if m is None or not m.per_unit or not m.applies(entry):
            continue
        try:
            out[name] = list(m.compute(target, unit.spec, unit.n, options, X, seed))
        except Exception as exc:
            _, why = _describe_error(exc)
            out[name] = failed_results(m.row_names(entry, built, target), why)
    return out


def _evaluate(
    cell: Cell, entry, target, est, built, streams, seconds: float, error, shared
) -> CellResult:
    """The metric rows of one fitted estimator ``est``, or its failure rows (one per metric
    name its rows would carry; ``built``: the estimator as built, None where building
    failed); ``shared``: the per-unit metrics' results, shared by the unit's replicates."""
    t0 = time.perf_counter()
    metrics: list = []
    if error is None:
        try:
            metrics = _metrics(FittedCell(cell, target, est, entry, streams), shared)
        except Exception as exc:
            error = exc
    status, message = ("ok", "") if error is None else _describe_error(error)
    seconds += time.perf_counter() - t0
    base = _base_row(cell, target, est, status, message, seconds)
    rows = []
    if status == "ok":
        for res in metrics:
            rows.append({**base, **_metric_columns(res, cell)})
    else:
        for name in _row_names(cell, entry, built, target):
            rows.append({**base, **_failed_metric_columns(name, cell)})
    return CellResult(cell.cell_id, rows, status)


def _metrics(fit: FittedCell, shared: dict) -> list:
    out = []
    for name in fit.cell.spec.metrics:
        m = METRICS.get(name)
        if m is None:  # validated against METRICS before any work starts
            raise ValueError(f"metric={name!r} is not allowed")
        if m.applies(fit.entry):
            out += shared.get(name, []) if m.per_unit else m.compute(fit)
    return out


def _row_names(cell: Cell, entry, built, target) -> list[str]:
    return [k for m in cell.spec.metrics for k in METRICS[m].row_names(entry, built, target)]


def _describe_error(exc: BaseException) -> tuple[str, str]:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if type(exc).__name__ == "TrainingDiverged":
        return "diverged", f"diverged: {text}" if not text.startswith("diverged") else text
    return "failed", f"{type(exc).__name__}: {text}"


def _jsonable(d: dict) -> str:
    def conv(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
        return str(v)

    return json.dumps(d, sort_keys=True, default=conv)


def _base_row(cell: Cell, target, est, status: str, error: str, seconds: float) -> dict:
    spec = cell.spec
    t = spec.target
    try:
        est_desc = est.describe() if est is not None else {}
    except Exception:  # a failed member may not describe itself; its error row still counts
        est_desc = {}
    return {
        "study": spec.name,
        "arm": spec.arm_label(),
        "target": t.kind,
        "D": t.D,
        "s": t.s,
        "p": t.p,
        "boundary": t.boundary,
        "target_seed": t.seed,
        "n": cell.n,
        "replicate": cell.replicate,
        "estimator": cell.estimator,
        "role": ESTIMATORS[cell.estimator].role,
        "status": status,
        "error": error,
        "seconds": float(seconds),
        "device": str(est_desc.get("device", "cpu")),
        "version": code_version(),
        "seed": cell.seed,
        "data_seed": cell.data_seed,
        "cell_id": cell.cell_id,
        "sampler": spec.sampler,
        "sizing": spec.sizing,
        "preset": spec.preset,
        # wall-clock entries go to their own column, so the parameters are reproducible
        "estimator_params": _jsonable({k: v for k, v in est_desc.items() if "seconds" not in k}),
        "timings": _jsonable({k: v for k, v in est_desc.items() if "seconds" in k}),
        "target_params": _jsonable(target.describe()),
    }


#: what a row rests on, kept so that a reader can audit it: the sampled TV's partition and bias
#: bound (docs/tv.md §4), the score error's per-time errors
AUDIT_KEYS = ("partition", "cells", "bias_bound", "plugin", "b0", "fold_values", "value_quarter",
              "quarter_values",
              "drift", "drift_sd", "binning_loss_estimate", "m_rule", "L", "level", "per_t")  # fmt: skip


def _metric_columns(res, cell: Cell) -> dict:
    t = cell.spec.target
    details = res.details or {}
    return {
        "audit": _jsonable({k: details[k] for k in AUDIT_KEYS if k in details}),
        "metric": res.metric,
        "value": float(res.value),
        "se": float(res.se),
        "ci_low": float(res.ci_low),
        "ci_high": float(res.ci_high),
        "floor": float(res.floor),
        "flag": str(res.flag),
        "method": str(res.method),
        "m": int(res.m),
        "theory": theory_exponent(res.metric, t.s, t.D),
    }


def _failed_metric_columns(name: str, cell: Cell) -> dict:
    t = cell.spec.target
    nan = math.nan
    return {
        "audit": "{}",
        "metric": name,
        "value": nan,
        "se": nan,
        "ci_low": nan,
        "ci_high": nan,
        "floor": nan,
        "flag": "failed",
        "method": "",
        "m": 0,
        "theory": theory_exponent(name, t.s, t.D),
    }
