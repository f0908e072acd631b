"""Run study specs: skip finished cells, compute the rest in parallel, write the tidy table.

Backends (joblib): ``loky`` processes on this machine (default), or ``dask`` through
``joblib.parallel_config(backend="dask")`` with a ``dask.distributed`` Client, connected to
``scheduler`` when given (a real cluster, e.g. dask-jobqueue's SLURMCluster) and otherwise to a
LocalCluster on the loopback interface. Each worker uses ``threads`` torch/BLAS threads.

A work unit is (target, n, estimator) with its replicates. Units whose estimator trains an
ensemble are recomputed whole when any of their cells is missing (so an ensemble member never
depends on which siblings happened to be missing); other units compute only missing replicates.
Results come back to this process as they finish and are written one file per cell, so a run
killed at any point resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from minimax import code_version
from minimax.study import store
from minimax.study.registry import ESTIMATORS
from minimax.study.spec import BACKENDS, StudySpec, WorkUnit
from minimax.study.worker import run_unit
from minimax.validation import check_choice, check_int

log = logging.getLogger("minimax.study")


@dataclass(frozen=True)
class RunConfig:
    """How to run (never what to compute: none of this changes a number)."""

    jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    threads: int = 1
    quiet: bool = False

    def __post_init__(self):
        check_int("jobs", self.jobs, low=1, high=4096)
        check_choice("backend", self.backend, BACKENDS)
        check_int("threads", self.threads, low=1, high=1024)
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError(
                f"scheduler={self.scheduler!r} is not allowed: it needs --backend dask"
            )


@dataclass
class RunSummary:
    table: pd.DataFrame
    total_cells: int  # cells of all specs (a cell shared by two arms counts twice)
    computed_cells: int
    cached_cells: int
    failed_cells: int
    seconds: float
    paths: dict


def pending_units(specs: list[StudySpec], out: Path) -> tuple[list[WorkUnit], int]:
    """The units still to compute and the number of cells they hold."""
    done = store.finished_cells(out)
    todo: list[WorkUnit] = []
    planned: set[str] = set()  # arms of a sweep may share cells (e.g. controls of an ablation)
    for spec in specs:
        for unit in spec.units():
            cells = unit.cells()
            missing = tuple(c.replicate for c in cells if c.cell_id not in done)
            if not missing or all(c.cell_id in planned for c in cells):
                continue
            planned.update(c.cell_id for c in cells)
            if ESTIMATORS[unit.estimator].ensemble or len(missing) == len(cells):
                todo.append(unit)
            else:
                todo.append(replace(unit, replicates=missing))
    return todo, sum(len(u.cells()) for u in todo)


def run_study(specs: list[StudySpec], out, config: RunConfig = RunConfig()) -> RunSummary:
    """Compute every missing cell of ``specs`` under OUT, then write the tidy table."""
    out = Path(out)
    t0 = time.perf_counter()
    all_cells = [c for spec in specs for c in spec.cells()]
    units, n_pending = pending_units(specs, out)
    out.mkdir(parents=True, exist_ok=True)
    store.write_json(out / "study.json", {"studies": [s.to_dict() for s in specs]})
    computed = failed = 0
    if units:
        from tqdm.contrib.logging import logging_redirect_tqdm

        progress = _progress(n_pending, config.quiet)
        with progress, logging_redirect_tqdm():
            expected = {c.cell_id for u in units for c in u.cells()}
            for results in _execute(units, config):
                for res in results:
                    if res.cell_id not in expected:
                        # the worker hashed the cell with other code (a checkout edited during
                        # the run, or a cluster worker with another version): its numbers must
                        # not be filed under this study; the cells written so far are kept
                        raise RuntimeError(_foreign_cell_message(res, units))
                    store.write_cell(out, res.cell_id, res.rows)
                    log.info(res.describe())
                    computed += 1
                    failed += res.status != "ok"
                progress.update(len(results))
    table = store.sort_table(pd.concat([_spec_rows(spec, out) for spec in specs]))
    paths = store.write_table(out, table)
    return RunSummary(
        table=table,
        total_cells=len(all_cells),
        computed_cells=computed,
        cached_cells=len(all_cells) - n_pending,
        failed_cells=int((table.drop_duplicates("cell_id")["status"] != "ok").sum()),
        seconds=time.perf_counter() - t0,
        paths=paths,
    )


def _foreign_cell_message(res, units: list[WorkUnit]) -> str:
    """One line: which code and device the worker used, and what this run expects."""
    row = res.rows[0] if res.rows else {}
    text = (
        f"a worker returned cell {res.cell_id} computed by code version {row.get('version', '?')} "
        f"on device {row.get('device', '?')!r}, but this run expects {code_version()}"
    )
    torch_specs = {u.spec.device for u in units if ESTIMATORS[u.estimator].uses_torch}
    if torch_specs:
        from minimax.runtime import describe_identity, device_identity

        here = "; ".join(sorted(describe_identity(device_identity(d)) for d in torch_specs))
        text += (
            f" and, for torch estimators, this process's device ({here}): torch cells are keyed "
            "by device type, GPU model and torch version, so a pool of mixed workers is refused"
        )
    return (
        text
        + "; run the same code on one kind of device everywhere, then rerun the same command (finished cells are kept)"
    )


def _spec_rows(spec: StudySpec, out: Path) -> pd.DataFrame:
    """The rows of one spec's cells, labelled by this spec (a shared cell serves several)."""
    df = store.read_cells(out, [c.cell_id for c in spec.cells()])
    df["study"], df["arm"], df["preset"] = spec.name, spec.arm_label(), spec.preset
    df["sampler"], df["sizing"] = spec.sampler, spec.sizing
    return df


def _progress(total: int, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="cells", unit="cell", disable=quiet, smoothing=0.1)


def _execute(units: list[WorkUnit], config: RunConfig):
    """Yield each unit's results as it finishes (order not guaranteed)."""
    if config.jobs == 1 and config.backend == "loky":
        for unit in units:
            yield run_unit(unit, config.threads)
        return
    from joblib import Parallel, delayed, parallel_config

    tasks = (delayed(run_unit)(u, config.threads) for u in units)
    if config.backend == "loky":
        with parallel_config(backend="loky", inner_max_num_threads=config.threads):
            yield from Parallel(n_jobs=config.jobs, return_as="generator_unordered")(tasks)
        return
    with _dask_client(config) as _client, parallel_config(backend="dask"):
        yield from Parallel(n_jobs=config.jobs, return_as="generator_unordered")(tasks)


class _dask_client:
    """A distributed Client on ``scheduler``, or on a LocalCluster bound to 127.0.0.1."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.cluster = None
        self.client = None

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.config.scheduler:
            self.client = Client(self.config.scheduler)
        else:
            env = {k: str(self.config.threads) for k in _THREAD_VARS}
            self.cluster = LocalCluster(
                n_workers=self.config.jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                env=env,
            )
            self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
