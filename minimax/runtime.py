"""Devices and random streams: everything explicit, nothing global (design.md conventions)."""

from __future__ import annotations

import numpy as np


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a CUDA device is present, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} is not allowed: no CUDA device is present")
        return device
    raise ValueError(f"device={device!r} is not allowed: expected 'auto', 'cpu' or 'cuda[:k]'")


def torch_generator(rng: np.random.Generator, device: str = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from (and advancing) the numpy Generator."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return g


def device_identity(device: str = "auto") -> dict:
    """What a torch computation's numbers depend on besides the code and the seeds: the resolved
    device type, the GPU model (CUDA) and the torch version. Part of a torch cell's cache
    identity, so cells computed on a CPU (MT19937-seeded CPU streams) and on a GPU (Philox
    streams, other kernels) never share an id, nor do two GPU models or torch releases."""
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
