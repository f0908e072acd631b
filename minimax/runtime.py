"""Devices and random streams: everything explicit, nothing global (docs/design.md conventions)."""

from __future__ import annotations

import os

import numpy as np


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a CUDA device is present, else ``"cpu"``."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            pin_cuda_determinism()
        return device
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ValueError(f"device={device!r} is not allowed: no CUDA device is present")
            pin_cuda_determinism()
        return device
    raise ValueError(f"device={device!r} is not allowed: expected 'auto', 'cpu' or 'cuda[:k]'")


def pin_cuda_determinism() -> None:
    """Make CUDA runs repeatable on one GPU, where it is cheap (called whenever a device resolves
    to CUDA; a CPU-only process never calls it, so CPU numbers are untouched).

    cuBLAS gets a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``, read when its handle is made,
    so set before the first matmul), torch's deterministic kernels are required where they
    exist (``warn_only``: an op without one warns instead of failing a study), cuDNN autotuning
    is off, and float32 matmuls stay float32 (no TF32, whose 10-bit mantissa would make the
    network's numbers depend on the GPU generation). Uninitialised memory is not filled (the
    deterministic mode's default fill costs a pass over every new tensor and nothing here reads
    uninitialised memory)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def torch_generator(rng: np.random.Generator, device: str = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from (and advancing) the numpy Generator."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return g


#: identities declared for this process by the runner (device text -> identity): a dask run
#: keys its cells by what its workers resolve the device to, not by this process's device
_DECLARED: dict[str, dict] = {}


class declared_identities:
    """Inside the block, ``device_identity(device)`` returns ``mapping[device]`` where given."""

    def __init__(self, mapping: dict[str, dict]):
        self.mapping = dict(mapping)

    def __enter__(self):
        self.saved = dict(_DECLARED)
        _DECLARED.update(self.mapping)
        return self

    def __exit__(self, *exc):
        _DECLARED.clear()
        _DECLARED.update(self.saved)
        return False


def device_identity(device: str = "auto") -> dict:
    """What a torch computation's numbers depend on besides the code and the seeds: the resolved
    device type, the GPU model (CUDA) and the torch version. Part of a torch cell's cache
    identity, so cells computed on a CPU (MT19937-seeded CPU streams) and on a GPU (Philox
    streams, other kernels) never share an id, nor do two GPU models or torch releases."""
    if device in _DECLARED:
        return dict(_DECLARED[device])
    import torch

    dev = torch.device(resolve_device(device))
    ident = {"type": dev.type, "torch": torch.__version__}
    if dev.type == "cuda":
        ident["name"] = torch.cuda.get_device_name(dev.index)  # None: the current device
    return ident


def describe_identity(ident: dict) -> str:
    """'cpu, torch 2.13.0' or 'cuda NVIDIA H200, torch 2.11.0' (for messages)."""
    where = ident.get("type", "?") + (f" {ident['name']}" if ident.get("name") else "")
    return f"{where}, torch {ident.get('torch', '?')}"
