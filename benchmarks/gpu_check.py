"""``make gpu-check``: everything a lent GPU should tell us, in one run of at most 8 minutes.

Runs on the GPU machine as it is: nothing is installed, ``PYTHONPATH=.``, no dask, any Python
≥ 3.11 with a CUDA build of torch. Each stage runs in its own process group under its own
timeout (a hang costs that stage, not the run), and the whole run stops starting stages when
its budget is spent. Results go to one folder (``--out``, default
``benchmarks/results/gpu-check``):

    summary.txt / summary.json   one line per stage: ok / failed / timeout / skipped, seconds, why
    env.json                     Python, torch, CUDA, GPU, packages, git commit, variables
    tests.log, tests.xml         (a) pytest -m gpu (tests/test_gpu.py) and the CPU-side pipeline
                                 tests; without pytest the GPU tests run directly (tests.json)
    paper_fit.json               (a) peak memory and rates of a paper-size DDPM fit
    bench_training.md, bench_samplers.md, bench_empirical.md
                                 (b) the benchmarks on CUDA, ratios against the plain loop of
                                 the same run
    e2e.json, e2e/               (c) a small `rate` study with --jobs 1 --gpus 0 (in-process)
                                 and --jobs 2 (a GPU worker pinned to cuda:0 + a CPU worker):
                                 the two tables must be equal

Without CUDA the CPU-safe stages run (environment, the CPU-side tests, the end-to-end study on
the CPU) and the CUDA-only ones are skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 480
#: (stage, timeout in seconds, needs CUDA)
STAGES = (
    ("env", 30, False),
    ("tests", 150, False),
    ("bench_training", 60, True),
    ("bench_samplers", 60, True),
    ("bench_empirical", 50, True),
    ("e2e", 120, False),
)
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "statsmodels", "joblib", "matplotlib",
            "tqdm", "pytest", "hypothesis", "dask", "distributed")  # fmt: skip
#: the end-to-end study: small, but every estimator kind (torch ensemble, torch control, KDE,
#: baselines), so both worker kinds of --gpus get work
E2E = ["rate", "--D", "1", "--s", "1", "--n", "500,1000,2000", "--replicates", "2",
       "--estimators", "ddpm,empirical-score,kde,uniform,gaussian", "--M", "20000",
       "--set", "ddpm.steps=400", "--set", "ddpm.sample_steps=50",
       "--set", "empirical-score.sample_steps=50", "--quiet", "--no-figures"]  # fmt: skip


#: on a CPU the same study smaller (the empirical score's n·M pairs per step dominate there)
E2E_CPU = ["--n", "250,500,1000", "--M", "4000"]


def _cuda() -> tuple[bool, str]:
    try:
        import torch
    except ImportError as exc:
        return False, f"torch is not importable ({exc})"
    if not torch.cuda.is_available():
        return False, "torch.cuda.is_available() is False"
    return True, torch.cuda.get_device_name()


def _env_vars(out: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["GPU_CHECK_OUT"] = str(out)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(k, "1")
    return env


def _run(cmd, timeout: float, out: Path, log: Path) -> tuple[str, float, str]:
    """Run ``cmd`` in its own process group; (status, seconds, note); stdout+stderr to ``log``."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env_vars(out), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            rc = proc.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the stage and any workers it started
            proc.wait()
            return "timeout", time.perf_counter() - start, f"killed after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return ("ok" if rc == 0 else "failed"), seconds, f"exit {rc}: {tail[0][:200]}"


# -- stages ------------------------------------------------------------------------------------
def stage_env(out: Path, timeout: float):
    return _run([sys.executable, __file__, "--env-only", "--out", str(out)], timeout, out,
                out / "env.log")  # fmt: skip


def write_env(out: Path) -> None:
    info: dict = {
        "python": sys.version,
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "variables": {k: os.environ.get(k) for k in (
            "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "OMP_NUM_THREADS", "PYTHONPATH")},
    }  # fmt: skip
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["cudnn"] = torch.backends.cudnn.version()
            info["gpus"] = [
                {"name": p.name, "capability": f"{p.major}.{p.minor}",
                 "memory_gib": round(p.total_memory / 2**30, 1)}
                for p in (torch.cuda.get_device_properties(k)
                          for k in range(torch.cuda.device_count()))
            ]  # fmt: skip
            from minimax.runtime import device_identity

            info["device_identity"] = device_identity("auto")
    except ImportError as exc:
        info["torch"] = f"not importable: {exc}"
    packages = {}
    for name in PACKAGES:
        try:
            mod = importlib.import_module(name)
            packages[name] = getattr(mod, "__version__", "?")
        except Exception as exc:  # noqa: BLE001 - any import failure is what we record
            packages[name] = f"missing ({type(exc).__name__})"
    info["packages"] = packages
    for key, cmd in (
        ("git_commit", ["git", "rev-parse", "HEAD"]),
        ("nvidia_smi", ["nvidia-smi", "-L"]),
    ):
        try:
            info[key] = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                       timeout=10).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            info[key] = f"unavailable ({type(exc).__name__})"
    from minimax import code_version

    info["code_version"] = code_version()
    (out / "env.json").write_text(json.dumps(info, indent=1, default=str) + "\n")


def stage_tests(out: Path, timeout: float):
    """(a) the GPU tests, and the CPU-side tests of the GPU pipeline (identity, --gpus, syncs)."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        return _run([sys.executable, __file__, "--direct-tests", "--out", str(out)], timeout, out,
                    out / "tests.log")  # fmt: skip
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:xdist", "-p", "no:cacheprovider",
           f"--junitxml={out / 'tests.xml'}", "tests/test_gpu.py", "tests/test_devices.py",
           "tests/test_training.py", "-m", "gpu or not slow"]  # fmt: skip
    return _run(cmd, timeout, out, out / "tests.log")


def direct_tests(out: Path) -> int:
    """The GPU tests without pytest: each test_ function called in turn (tests.json)."""
    sys.path.insert(0, str(ROOT / "tests"))
    mod = importlib.import_module("test_gpu")
    results, failed = {}, 0
    for name in sorted(n for n in dir(mod) if n.startswith("test_")):
        start = time.perf_counter()
        try:
            getattr(mod, name)()
            status = "passed"
        except Exception as exc:  # noqa: BLE001 - a failed test is recorded, the next runs
            status, failed = f"failed: {type(exc).__name__}: {str(exc)[:500]}", failed + 1
        results[name] = {"status": status, "seconds": round(time.perf_counter() - start, 2)}
        print(name, status, flush=True)
    (out / "tests.json").write_text(json.dumps(results, indent=1) + "\n")
    return 1 if failed else 0


def stage_bench(name: str):
    def run(out: Path, timeout: float):
        code = (f"import benchmarks.{name} as b, pathlib; t = b.main(); print(t); "
                f"pathlib.Path({str(out / (name + '.md'))!r}).write_text(t)")  # fmt: skip
        return _run([sys.executable, "-c", code], timeout, out, out / f"{name}.log")

    return run


def stage_e2e(out: Path, timeout: float):
    """(c) the same small study in-process (--jobs 1 --gpus 0) and with --jobs 2 (on CUDA: one
    GPU worker pinned to cuda:0 and one CPU worker); the tables must be equal."""
    folder = out / "e2e"
    folder.mkdir(exist_ok=True)
    start = time.perf_counter()
    runs = {"jobs1": ["--jobs", "1", "--gpus", "0"], "jobs2": ["--jobs", "2"]}
    argv = E2E if _cuda()[0] else [*E2E, *E2E_CPU]
    record: dict = {"argv": argv, "runs": {}}
    for key, extra in runs.items():
        left = timeout - (time.perf_counter() - start)
        cmd = [sys.executable, "-m", "minimax.study", *argv, *extra, "--out", str(folder / key)]
        status, sec, note = _run(cmd, left, out, folder / f"{key}.log")
        record["runs"][key] = {"status": status, "seconds": round(sec, 1), "note": note,
                               "argv": extra}  # fmt: skip
        if status != "ok":
            (out / "e2e.json").write_text(json.dumps(record, indent=1) + "\n")
            return status, time.perf_counter() - start, f"{key}: {note}"
    import pandas as pd

    keys = ["arm", "estimator", "n", "replicate", "metric"]
    a, b = (
        pd.read_parquet(folder / k / "results.parquet").drop(columns=["seconds", "timings"])
        .sort_values(keys).reset_index(drop=True)
        for k in runs
    )  # fmt: skip
    try:
        pd.testing.assert_frame_equal(a, b)
        equal, why = True, ""
    except AssertionError as exc:
        equal, why = False, str(exc).splitlines()[0][:300]
    record.update(equal=equal, difference=why, rows=len(a), devices=sorted(set(a["device"])),
                  failed_cells=int((a["status"] != "ok").sum()))  # fmt: skip
    (out / "e2e.json").write_text(json.dumps(record, indent=1) + "\n")
    sec = time.perf_counter() - start
    seconds = ", ".join(f"{k} {v['seconds']} s" for k, v in record["runs"].items())
    if not equal:
        return "failed", sec, f"--jobs 1 and --jobs 2 tables differ: {why}"
    return "ok", sec, f"equal tables ({len(a)} rows, devices {record['devices']}; {seconds})"


RUNNERS = {
    "env": stage_env,
    "tests": stage_tests,
    "bench_training": stage_bench("bench_training"),
    "bench_samplers": stage_bench("bench_samplers"),
    "bench_empirical": stage_bench("bench_empirical"),
    "e2e": stage_e2e,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu-check"))
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for all stages")
    parser.add_argument("--stages", default=",".join(s for s, _, _ in STAGES))
    parser.add_argument("--env-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--direct-tests", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.env_only:
        write_env(out)
        return 0
    if args.direct_tests:
        return direct_tests(out)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(RUNNERS))
    if unknown:
        print(f"gpu_check: error: stage={unknown[0]!r} is not allowed: expected some of "
              f"{', '.join(RUNNERS)}", file=sys.stderr)  # fmt: skip
        return 2
    cuda, what = _cuda()
    print(f"gpu-check: CUDA {'available: ' + what if cuda else 'not available (' + what + ')'}; "
          f"results in {out}", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    summary = []
    for name, limit, needs_cuda in STAGES:
        if name not in wanted:
            continue
        left = args.budget - (time.perf_counter() - t0)
        if needs_cuda and not cuda:
            status, sec, note = (
                "skipped",
                0.0,
                f"needs CUDA ({what}); `make bench` measures the CPU",
            )
        elif left < 5:
            status, sec, note = "skipped", 0.0, f"the {args.budget:.0f} s budget is spent"
        else:
            status, sec, note = RUNNERS[name](out, min(limit, left))
        line = f"{name:<16}{status:<9}{sec:6.1f} s  {note}"
        print(line, flush=True)
        summary.append({"stage": name, "status": status, "seconds": round(sec, 1), "note": note})
    total = time.perf_counter() - t0
    text = "\n".join(
        f"{s['stage']:<16}{s['status']:<9}{s['seconds']:6.1f} s  {s['note']}" for s in summary
    )
    (out / "summary.txt").write_text(f"{text}\ntotal {total:.0f} s (budget {args.budget:.0f} s)\n")
    (out / "summary.json").write_text(
        json.dumps(
            {"cuda": cuda, "device": what, "total_seconds": round(total, 1), "stages": summary},
            indent=1,
        )
        + "\n"  # fmt: skip
    )
    print(f"total {total:.0f} s; wrote {out / 'summary.txt'}")
    return 1 if any(s["status"] in ("failed", "timeout") for s in summary) else 0


if __name__ == "__main__":
    raise SystemExit(main())
