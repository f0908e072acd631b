"""The device in a torch cell's identity, GPU worker slots and --gpus (issue 17), on the CPU."""

from __future__ import annotations

import pytest
import torch

from minimax import runtime
from minimax.study.spec import spec_from_values


def _spec(estimators=("ddpm", "kde"), device="auto"):
    return spec_from_values(
        {"D": 1, "s": 1.0, "n": [100, 200, 400], "replicates": 2,
         "estimators": list(estimators), "device": device},
        name="t",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch):
    """Every test here runs as on a machine without CUDA (also on the GPU machine, where
    gpu-check runs them); those that need a GPU pretend one."""
    monkeypatch.setattr(runtime, "pin_cuda_determinism", lambda: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def _pretend_cuda(monkeypatch, name="NVIDIA H200"):
    # (the real CUDA resolution also pins torch's global determinism settings: not here)
    monkeypatch.setattr(runtime, "pin_cuda_determinism", lambda: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: name)


def _ids(spec):
    return {(c.estimator, c.n, c.replicate): c.cell_id for c in spec.cells()}


def test_torch_cells_are_keyed_by_the_resolved_device(monkeypatch):
    spec = _spec()
    cpu, cpu_torch = _ids(spec), torch.__version__
    assert runtime.device_identity("auto") == {"type": "cpu", "torch": torch.__version__}
    _pretend_cuda(monkeypatch)
    assert runtime.device_identity("auto") == {
        "type": "cuda",
        "torch": torch.__version__,
        "name": "NVIDIA H200",
    }
    h200 = _ids(spec)
    _pretend_cuda(monkeypatch, "NVIDIA A100-SXM4-80GB")
    a100 = _ids(spec)
    monkeypatch.setattr(torch, "__version__", "2.11.0+cu128")
    other_torch = _ids(spec)
    for key in cpu:
        if key[0] == "ddpm":  # a torch estimator: four devices, four identities
            assert len({cpu[key], h200[key], a100[key], other_torch[key]}) == 4
        else:  # the KDE never touches torch: one cell wherever it runs
            assert cpu[key] == h200[key] == a100[key] == other_torch[key]
    # "auto", "cuda" and "cuda:1" on one GPU model compute the same numbers: one identity
    _pretend_cuda(monkeypatch)
    assert _ids(_spec(device="cuda")) == _ids(_spec(device="cuda:1")) == _ids(_spec())
    # an explicit cpu on a GPU machine is a CPU cell
    monkeypatch.setattr(torch, "__version__", cpu_torch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu_again = _ids(spec)
    _pretend_cuda(monkeypatch)
    assert _ids(_spec(device="cpu")) == cpu_again == cpu


def test_a_worker_on_another_device_is_refused_in_one_line(tmp_path, monkeypatch):
    """A pool whose workers resolve 'auto' elsewhere (a GPU worker, this CPU process) must not
    file their cells under this study: the run stops with one line naming both devices."""
    from minimax.study import runner
    from minimax.study import spec as spec_module
    from minimax.study.worker import run_unit

    spec = spec_from_values(
        {"D": 1, "s": 1.0, "n": [100, 200, 400], "replicates": 1, "estimators": ["ddpm"],
         "M": 500, "options": {"ddpm": {"steps": 5, "sample_steps": 5, "width": 8}}},
        name="t",
    )  # fmt: skip
    gpu = {"type": "cuda", "name": "Pretend GPU", "torch": "0.0+pretend"}

    def gpu_worker(units, config):
        for unit in units:  # the worker's cell ids are those of a GPU process
            with pytest.MonkeyPatch.context() as m:
                m.setattr(spec_module, "device_identity", lambda device: gpu)
                yield run_unit(unit)

    monkeypatch.setattr(runner, "_execute", gpu_worker)
    with pytest.raises(RuntimeError) as info:
        runner.run_study([spec], tmp_path / "out", runner.RunConfig(jobs=1, quiet=True))
    message = str(info.value)
    assert "\n" not in message and "cpu, torch" in message and "mixed workers" in message
    assert not list((tmp_path / "out").glob("cells/*.parquet"))


# -- --gpus: validation, the slot policy, and the slot scheduler run on the CPU ----------------
def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gpus", "1"], "gpus=1 is not allowed: expected 'auto' or 0 (no CUDA device visible"),
        (["--gpus", "-1"], "gpus=-1 is not allowed: expected 'auto' or 0"),
        (["--gpus", "two"], "gpus='two' is not allowed: expected 'auto' or 0"),
        (["--gpus", "1.0"], "gpus='1.0' is not allowed"),
        (["--device", "cuda"], "device='cuda' is not allowed: no CUDA device is present"),
        (["--device", "cuda:1", "--estimators", "ddpm"], "device='cuda:1' is not allowed"),
    ],
)
def test_bad_gpus_or_device_is_one_line_exit_2_before_any_file(
    tmp_path, monkeypatch, capsys, argv, message
):
    from minimax.study.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["rate", "--D", "1", "--s", "1", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err
    assert _files(tmp_path) == []


def test_gpus_resolution_against_the_visible_devices():
    from minimax.study.runner import resolve_gpus

    torch_spec, kde_only, on_cpu = _spec(), _spec(("kde",)), _spec(device="cpu")
    assert resolve_gpus("auto", [torch_spec], visible=2) == 2
    assert resolve_gpus("auto", [kde_only], visible=2) == 0  # nothing runs torch
    assert resolve_gpus("auto", [on_cpu], visible=2) == 0  # torch pinned to the CPU
    assert resolve_gpus("auto", [torch_spec], visible=0) == 0
    assert resolve_gpus("1", [torch_spec], visible=2) == 1
    assert resolve_gpus(0, [torch_spec], visible=2) == 0
    with pytest.raises(
        ValueError, match=r"gpus=3 is not allowed: expected 'auto' or an integer from 0 to 2"
    ):
        resolve_gpus("3", [torch_spec], visible=2)


def test_slot_policy_one_torch_unit_per_gpu_and_cpu_units_on_the_other_cores():
    from minimax.study.runner import assign_slots

    G, C = True, False
    # two GPUs, three CPU workers: the first two torch units take a GPU each, the third waits;
    # CPU units fill the CPU workers in order
    assert assign_slots([G, C, G, G, C, C, C], [0, 1], 3) == [
        (0, 0), (1, None), (2, 1), (4, None), (5, None)
    ]  # fmt: skip
    # a torch unit never goes to a CPU worker, nor two to one GPU
    assert assign_slots([G, G], [1], 4) == [(0, 1)]
    assert assign_slots([G], [], 4) == []
    # CPU units may use an idle GPU's worker only once no torch unit waits
    assert assign_slots([C, C], [0], 1) == [(0, None), (1, 0)]
    assert assign_slots([G, C, C], [], 1) == [(1, None)]
    assert assign_slots([C, G], [], 0) == []
    assert assign_slots([], [0, 1], 2) == []


@pytest.mark.slow
def test_slot_scheduler_gives_the_table_of_one_worker(tmp_path, monkeypatch, capsys):
    # the scheduler of --gpus, run with its GPU slot on the CPU ("cpu" pins nothing): torch
    # units go to the slot's own process, the rest to the CPU pool; the numbers are those of
    # --jobs 1
    import pandas as pd

    from minimax.study import runner
    from minimax.study.cli import main

    argv = ["rate", "--D", "1", "--s", "1", "--n", "200,400,800", "--replicates", "2", "--quiet",
            "--estimators", "kde,gaussian,ddpm", "--M", "4000", "--set", "ddpm.steps=100",
            "--set", "ddpm.sample_steps=20", "--set", "ddpm.width=16", "--no-figures"]  # fmt: skip
    assert main([*argv, "--jobs", "1", "--out", str(tmp_path / "one")]) == 0
    seen = []

    def slots(units, config):
        seen.append([runner.needs_gpu(u) for u in units])
        yield from runner._execute_slots(units, config, ["cpu"])

    monkeypatch.setattr(runner, "_execute", slots)
    assert main([*argv, "--jobs", "3", "--out", str(tmp_path / "slots")]) == 0
    capsys.readouterr()
    assert sum(seen[0]) == 3 and len(seen[0]) == 9  # three ddpm units of nine
    keys = ["arm", "estimator", "n", "replicate", "metric"]
    a, b = (
        pd.read_parquet(tmp_path / d / "results.parquet")
        .drop(columns=["seconds", "timings"])
        .sort_values(keys)
        .reset_index(drop=True)
        for d in ("one", "slots")
    )
    pd.testing.assert_frame_equal(a, b)


def test_dask_cells_are_keyed_by_the_workers_device_and_mixed_pools_are_refused():
    """A dask run keys torch cells by what its workers resolve the device to (a CPU login node
    submitting to GPU workers), and refuses a pool whose workers disagree, in one line."""
    from minimax.study.runner import worker_devices

    gpu = {"type": "cuda", "name": "Pretend GPU", "torch": "0.0+pretend"}
    cpu = {"type": "cpu", "torch": "0.0+cpu"}

    class Client:
        def __init__(self, *answers):
            self.answers = answers

        def run(self, fn, devices):
            return {f"tcp://w{i}": {d: a for d in devices} for i, a in enumerate(self.answers)}

    spec = _spec()
    assert worker_devices([spec], Client(gpu, gpu)) == {"auto": gpu}
    assert worker_devices([_spec(("kde",))], Client(gpu, cpu)) == {}  # no torch: no question
    with pytest.raises(RuntimeError) as info:
        worker_devices([spec], Client(gpu, cpu, gpu))
    message = str(info.value)
    assert "\n" not in message and "cuda Pretend GPU" in message and "cpu, torch" in message
    # the declared identity is the one cells are keyed by, here and only inside the block
    here = _ids(spec)
    with runtime.declared_identities({"auto": gpu}):
        on_workers = _ids(spec)
    assert _ids(spec) == here
    assert all((on_workers[k] != here[k]) == (k[0] == "ddpm") for k in here)
