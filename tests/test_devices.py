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


def _pretend_cuda(monkeypatch, name="NVIDIA H200"):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: name)


def _ids(spec):
    return {(c.estimator, c.n, c.replicate): c.cell_id for c in spec.cells()}


def test_torch_cells_are_keyed_by_the_resolved_device(monkeypatch):
    spec = _spec()
    cpu = _ids(spec)
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
    monkeypatch.undo()
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
    gpu = {"type": "cuda", "name": "NVIDIA H200", "torch": "2.11.0+cu128"}

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
