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

import json
import logging
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from minimax import code_version
from minimax.study import store
from minimax.study.provenance import study_record
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
    #: GPU worker slots: torch units run one per GPU, pinned to cuda:0..gpus-1, the other
    #: jobs - gpus workers (at least one) run the CPU-only units; 0: any worker runs any unit
    gpus: int = 0
    #: reuse stored cells that failed (default: compute them again, e.g. after an out-of-memory)
    keep_failed: bool = False

    def __post_init__(self):
        check_int("jobs", self.jobs, low=1, high=4096)
        check_choice("backend", self.backend, BACKENDS)
        check_int("threads", self.threads, low=1, high=1024)
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError(
                f"scheduler={self.scheduler!r} is not allowed: it needs --backend dask"
            )
        check_int("gpus", self.gpus, low=0, high=4096)
        if self.gpus and self.backend != "loky":
            raise ValueError(
                f"gpus={self.gpus!r} is not allowed with --backend {self.backend}: dask workers "
                "use their own GPU (start one worker per GPU); expected 0"
            )


def resolve_gpus(value, specs: list[StudySpec], visible: int | None = None) -> int:
    """The number of GPU slots for ``--gpus VALUE``: "auto" gives one per visible CUDA device
    when some torch estimator's device is not "cpu" (else 0); an integer must lie in
    [0, visible]. ValueError (one line, naming gpus) otherwise. ``visible``: the CUDA device
    count (default: torch's)."""
    if visible is None:
        visible = _cuda_count()
    wants = any(ESTIMATORS[e].uses_torch and s.device != "cpu" for s in specs for e in s.estimators)
    if value == "auto":
        return visible if wants else 0
    allowed = f"'auto' or an integer from 0 to {visible}" if visible else "'auto' or 0"
    where = f"{visible} CUDA device(s) visible here" if visible else "no CUDA device visible here"
    try:
        n = int(value)
        if isinstance(value, float | bool) or str(value).strip() != str(n):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"gpus={value!r} is not allowed: expected {allowed} ({where})") from None
    if not 0 <= n <= visible:
        raise ValueError(f"gpus={n!r} is not allowed: expected {allowed} ({where})")
    return n


def check_devices(specs: list[StudySpec]) -> None:
    """ValueError (one line) when a torch estimator asks for CUDA where none is present."""
    from minimax.runtime import device_identity

    for spec in specs:
        if any(ESTIMATORS[e].uses_torch for e in spec.estimators):
            device_identity(spec.device)


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def needs_gpu(unit: WorkUnit) -> bool:
    """True for a unit that runs torch on a CUDA device (its spec's device is not "cpu")."""
    return ESTIMATORS[unit.estimator].uses_torch and unit.spec.device != "cpu"


def assign_slots(
    waiting: list[bool], idle_gpus: list[int], idle_cpu: int
) -> list[tuple[int, int | None]]:
    """Which waiting units start now, and where (a pure function: the scheduler's policy).

    ``waiting[i]`` is True when waiting unit i needs a GPU (units in submission order, largest n
    first); ``idle_gpus`` the idle GPU slots (one worker per GPU); ``idle_cpu`` the idle CPU
    workers. Returns (waiting index, GPU slot or None for a CPU worker): GPU units go to idle
    GPU slots, one each, in order; CPU units go to idle CPU workers, and to idle GPU slots
    once no GPU unit waits (no new one can come, so the GPU's process may as well work).
    """
    gpus, cpu = list(idle_gpus), idle_cpu
    out: list[tuple[int, int | None]] = []
    gpu_waiting = sum(waiting)
    for i, gpu in enumerate(waiting):
        if gpu and gpus:
            out.append((i, gpus.pop(0)))
            gpu_waiting -= 1
    for i, gpu in enumerate(waiting):
        if gpu:
            continue
        if cpu:
            out.append((i, None))
            cpu -= 1
        elif gpus and gpu_waiting == 0:
            out.append((i, gpus.pop(0)))
    return sorted(out)


@dataclass
class RunSummary:
    table: pd.DataFrame
    total_cells: int  # cells of all specs (a cell shared by two arms counts twice)
    computed_cells: int
    cached_cells: int
    failed_cells: int
    seconds: float
    paths: dict


def pending_units(
    specs: list[StudySpec], out: Path, keep_failed: bool = False
) -> tuple[list[WorkUnit], int]:
    """The units still to compute and the number of cells they hold: the missing cells, and
    the stored ones that failed unless ``keep_failed``."""
    done = store.finished_cells(out)
    if not keep_failed:
        wanted = {c.cell_id for spec in specs for c in spec.cells()} & done
        done -= store.failed_cells(out, wanted)
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
    if config.backend != "dask":
        return _run_study(specs, out, config, t0)
    from minimax.runtime import declared_identities

    with _dask_client(config) as client, declared_identities(worker_devices(specs, client)):
        return _run_study(specs, out, config, t0)


def worker_devices(specs: list[StudySpec], client) -> dict[str, dict]:
    """What every dask worker resolves each torch spec's device to (``device_identity``); the
    cells are keyed by that. Workers that disagree would mix devices: RuntimeError, one line."""
    devices = sorted(
        {s.device for s in specs if any(ESTIMATORS[e].uses_torch for e in s.estimators)}
    )
    if not devices:
        return {}
    from minimax.runtime import describe_identity

    answers = client.run(_identities, devices)  # {worker address: {device: identity}}
    out = {}
    for device in devices:
        kinds = {json.dumps(a[device], sort_keys=True) for a in answers.values()}
        if len(kinds) > 1:
            seen = "; ".join(sorted(describe_identity(json.loads(k)) for k in kinds))
            raise RuntimeError(
                f"the dask workers resolve device={device!r} to different devices ({seen}): a "
                "pool of mixed workers would mix their numbers; start workers of one kind, or "
                "run one study per kind"
            )
        if kinds:
            out[device] = json.loads(kinds.pop())
    return out


def _identities(devices):
    from minimax.runtime import device_identity

    return {d: device_identity(d) for d in devices}


def _run_study(specs: list[StudySpec], out: Path, config: RunConfig, t0: float) -> RunSummary:
    all_cells = [c for spec in specs for c in spec.cells()]
    units, n_pending = pending_units(specs, out, config.keep_failed)
    out.mkdir(parents=True, exist_ok=True)
    study_json = out / "study.json"
    store.write_json(study_json, study_record(study_json, [s.to_dict() for s in specs]))
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


#: seconds a loky worker may sit idle before loky retires it
LOKY_IDLE_TIMEOUT = 3600


def _execute(units: list[WorkUnit], config: RunConfig):
    """Yield each unit's results as it finishes (order not guaranteed)."""
    if config.gpus:
        yield from _execute_slots(units, config, [f"cuda:{k}" for k in range(config.gpus)])
        return
    if config.jobs == 1 and config.backend == "loky":
        for unit in units:
            yield run_unit(unit, config.threads)
        return
    from joblib import Parallel, delayed, parallel_config

    tasks = (delayed(run_unit)(u, config.threads) for u in units)
    if config.backend == "loky":
        # loky restarts a worker whose memory grew by 300 MB since its first task (its leak
        # heuristic: torch's and glibc's allocators keep freed memory, so a D = 2 DDPM unit
        # trips it) or that sat idle past its timeout, and warns "A worker stopped while some
        # jobs were given to the executor" although every result came back; the idle timeout
        # is raised to an hour and that one warning silenced
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs",
                                    category=UserWarning)  # fmt: skip
            with parallel_config(backend="loky", inner_max_num_threads=config.threads,
                                 idle_worker_timeout=LOKY_IDLE_TIMEOUT):  # fmt: skip
                yield from Parallel(n_jobs=config.jobs, return_as="generator_unordered")(tasks)
        return
    with parallel_config(backend="dask"):  # the client run_study opened
        yield from Parallel(n_jobs=config.jobs, return_as="generator_unordered")(tasks)


def _execute_slots(units: list[WorkUnit], config: RunConfig, slots: list[str]):
    """Run torch units on one worker process per GPU slot (pinned to its device, ``slots[k]``)
    and the other units on max(jobs - len(slots), 1) CPU workers (``assign_slots``)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky import ProcessPoolExecutor

    env = {k: str(config.threads) for k in _THREAD_VARS}
    gpu_pools = [ProcessPoolExecutor(max_workers=1, env=env) for _ in slots]
    n_cpu = max(config.jobs - len(slots), 1)
    cpu_pool = ProcessPoolExecutor(max_workers=n_cpu, env=env)
    waiting = list(units)
    running: dict = {}  # future -> GPU slot index, or None for a CPU worker
    finished = False
    try:
        while waiting or running:
            busy = set(running.values())
            idle = [k for k in range(len(slots)) if k not in busy]
            idle_cpu = n_cpu - sum(v is None for v in running.values())
            starts = assign_slots([needs_gpu(u) for u in waiting], idle, idle_cpu)
            for i, slot in starts:
                unit = waiting[i]
                if slot is None:
                    fut = cpu_pool.submit(run_unit, unit, config.threads)
                else:
                    fut = gpu_pools[slot].submit(run_unit, unit, config.threads, slots[slot])
                running[fut] = slot
            for i, _ in sorted(starts, reverse=True):
                waiting.pop(i)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                running.pop(fut)
                yield fut.result()
        finished = True
    finally:  # an error or an interrupted run stops the workers at once
        for pool in [*gpu_pools, cpu_pool]:
            pool.shutdown(wait=finished, kill_workers=not finished)


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
