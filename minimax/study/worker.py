"""One work unit, computed where it is sent: (target, n, estimator) with its replicates.

This is the only place that knows targets, estimators and metrics at once (docs/design.md). Every
random number comes from the cell's own streams (``Cell.streams``), so the rows do not depend on
which worker ran the unit or in what order. A failure in one replicate becomes that cell's rows
with ``status`` and ``error``; it never removes the cell.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from minimax import code_version
from minimax.study.registry import DERIVED_METRICS, ESTIMATORS, theory_exponent
from minimax.study.spec import Cell, TargetSpec, WorkUnit


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
        try:
            est = entry.build(target, spec, unit.n, options)
            members = est.fit_ensemble(data, [st["fit"] for st in streams])
            shared_error = None
        except Exception as exc:  # a failed ensemble fails each of its cells, with the reason
            members, shared_error = [None] * len(cells), exc
        fit_each = (time.perf_counter() - t1) / len(cells)
        extra = []
        if shared_error is None and "oracle_tv" in spec.metrics and entry.has_score:
            t2 = time.perf_counter()
            try:
                extra = oracle_tv(target, spec, unit.n, options, data[0], cells[0].seed)
            except Exception as exc:  # a budget component failing must not fail the DDPM's cells
                from minimax.metrics.result import MetricResult

                _, why = _describe_error(exc)
                extra = [MetricResult(k, math.nan, method=why, flag="failed")
                         for k in ("oracle_tv", "blur_tv")]  # fmt: skip
            fit_each += (time.perf_counter() - t2) / len(cells)
        for cell, st, member in zip(cells, streams, members, strict=True):
            results.append(
                _evaluate(
                    cell, target, member, st, setup / len(cells) + fit_each, shared_error, extra
                )
            )
    else:
        for cell, st, X in zip(cells, streams, data, strict=True):
            t1 = time.perf_counter()
            try:
                est = entry.build(target, spec, unit.n, options).fit(X, st["fit"])
                error = None
            except Exception as exc:
                est, error = None, exc
            spent = setup / len(cells) + time.perf_counter() - t1
            results.append(_evaluate(cell, target, est, st, spent, error))
    return results


def _evaluate(cell: Cell, target, est, streams, seconds: float, error, extra=()) -> CellResult:
    """The metric rows of one fitted estimator (or its failure rows); ``extra``: metric results
    computed once for the whole work unit (the oracle-score TV), shared by its replicates."""
    t0 = time.perf_counter()
    metrics: list = []
    if error is None:
        try:
            metrics = _metrics(cell, target, est, streams) + list(extra)
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
        for name in _metric_names(cell):
            rows.append({**base, **_failed_metric_columns(name, cell)})
    return CellResult(cell.cell_id, rows, status)


#: explicit densities are scored by quadrature up to this dimension, by tv_mc above it
EXACT_TV_MAX_DIM = 2


def _metrics(cell: Cell, target, est, streams) -> list:
    from minimax import metrics as M

    spec = cell.spec
    out = []
    samples = None

    def draw():
        nonlocal samples
        if samples is None:
            samples = np.asarray(
                est.sample(spec.samples_at(cell.n), streams["sample"]), dtype=np.float64
            )
        return samples

    for name in spec.metrics:
        if name == "tv":
            if getattr(est, "has_pdf", False):
                # a target with features finer than tv_exact's defaults states what it needs
                if target.dim <= EXACT_TV_MAX_DIM:
                    res = M.tv_exact(target, est.pdf, **getattr(target, "tv_exact_options", {}))
                else:  # quadrature's cost grows like (cells × nodes)^D: Monte Carlo instead
                    res = M.tv_mc(target, est.pdf, est.sample, rng=streams["metric"])
                if ESTIMATORS[cell.estimator].role == "control":
                    # the calibration arm (docs/tv.md §6): the same explicit-density fit scored
                    # by the sampled estimator at the study's M, so that its exponent can be
                    # compared with the exact one on the very rows the DDPM is measured with
                    out.append(_renamed(M.tv(target, draw(), rng=streams["metric"]), "tv_sampled"))
            else:
                res = M.tv(target, draw(), rng=streams["metric"])
            out.append(res)
            outside = (res.details or {}).get("outside_mass")
            if outside is not None:
                out.append(_derived("outside_mass", float(outside), res))
        elif name == "w1":
            out.append(M.w1(target, draw(), rng=streams["metric"]))
        elif name == "score":
            if ESTIMATORS[cell.estimator].has_score:
                res = score_metric(target, est, streams["metric"])
                # the unweighted time integral the theory bounds, from the same per-t errors
                out += [res, M.score_error_integral(res)]
        elif name == "oracle_tv":
            pass  # once per work unit (run_unit), for estimators with a learned score
        else:  # validated against METRICS before any work starts
            raise ValueError(f"metric={name!r} is not allowed")
    return out


def oracle_tv(target, spec, n: int, options: dict, X, seed: int) -> list:
    """[oracle_tv, blur_tv]: the sampler's and the early stop's parts of a DDPM's error budget.

    oracle_tv: the sampled TV of ``OracleScoreDiffusion`` (the true score through the DDPM's own
    sampler: same sizing rule, T̲, T̄, sampling steps and options), fitted on the unit's first
    data set (for n and the standardisation only), at the DDPM's own M so that both TVs have
    the same resolution. blur_tv: the exact TV of the same sampler without discretisation or
    prior error (diffusion.early_stop_blur, docs/tv.md §9). Random numbers come from a fourth
    child of the first cell's seed, so the cells' own streams are untouched.
    """
    import inspect

    from minimax import metrics as M
    from minimax.diffusion import OracleScoreDiffusion
    from minimax.diffusion.early_stop import early_stop_blur

    accepted = set(inspect.signature(OracleScoreDiffusion.__init__).parameters)
    kw = {k: v for k, v in options.items() if k in accepted}
    oracle = ESTIMATORS["oracle-score"].build(target, spec, n, kw)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    oracle.fit(X, rng)
    y = np.asarray(oracle.sample(spec.samples_at(n), rng), dtype=np.float64)
    return [_renamed(M.tv(target, y, rng=rng), "oracle_tv"), early_stop_blur(oracle, target)]


#: the fixed time grid of the score error (the same times at every n, so per-time errors
#: compare across n; issue 13) and points per time
SCORE_GRID, SCORE_POINTS = np.geomspace(1e-4, 1.0, 25), 2000


def score_times(t_min: float, t_end: float) -> np.ndarray:
    """T̲, the grid's times inside (T̲, T̄), and T̄: the integral runs over exactly [T̲, T̄]."""
    inside = SCORE_GRID[(SCORE_GRID > t_min * (1 + 1e-9)) & (SCORE_GRID < t_end * (1 - 1e-9))]
    return np.concatenate([[t_min], inside, [t_end]])


def score_metric(target, est, rng):
    """σ²-weighted integrated error of the model's score against the numerical oracle.

    Both in the model's standardised coordinates u = (x - shift)/scale, where the forward
    process acts; there the target is ``AffineTarget`` (exact pdf and cell masses mapped).
    """
    import torch

    from minimax.diffusion.estimator import AffineTarget
    from minimax.diffusion.scores import OracleScore
    from minimax.metrics import score_error

    shift = est.standardizer_.shift[0, 0].cpu().numpy()
    scale = est.standardizer_.scale[0, 0].cpu().numpy()
    model_target = AffineTarget(target, shift, scale)
    oracle = OracleScore(model_target, est.process_)
    network = est.score_source()
    device = est.device_

    def learned(x, t):
        u = torch.as_tensor(x, dtype=torch.float32, device=device)[None]
        with torch.no_grad():
            return network.score(u, t)[0].double().cpu().numpy()

    def exact(x, t):
        return oracle.score(torch.as_tensor(x, dtype=torch.float64)[None], t)[0].numpy()

    times = score_times(est.sizing_.t_min, est.sizing_.t_end)
    res = score_error(
        learned, exact, model_target, est.process_.marginal, times, m=SCORE_POINTS, rng=rng
    )
    return res if res.metric == "score" else _renamed(res, "score")


def _renamed(res, name: str):
    from dataclasses import replace

    return replace(res, metric=name)


def _derived(name: str, value: float, source):
    from minimax.metrics.result import MetricResult

    return MetricResult(metric=name, value=value, method=f"from {source.metric}", m=source.m)


def _metric_names(cell: Cell) -> list[str]:
    names = []
    for m in cell.spec.metrics:
        if m in ("score", "oracle_tv") and not ESTIMATORS[cell.estimator].has_score:
            continue
        names.append(m)
        if m == "score":
            names.append("score_integral")
        if m == "oracle_tv":
            names.append("blur_tv")
        if m == "tv" and ESTIMATORS[cell.estimator].role == "control":
            names.append("tv_sampled")
        names.extend(d for d, src in DERIVED_METRICS.items() if src == m)
    return names


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
              "drift", "drift_sd", "binning_loss_estimate", "L", "level", "per_t")  # fmt: skip


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
